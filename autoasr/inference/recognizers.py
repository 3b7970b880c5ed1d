"""Pretrained recognizers used as they are — Whisper transcribing zero-shot, PocketSphinx — as saved models.

They are what a user would get without training: the search scores them on the tuning set as leaderboard
rows (:mod:`autoasr.search.reference_rows`), and one may win. A saved one is a ``model.json`` of its own
``kind`` and no weights file: it names where its model comes from (a Whisper folder or hub id, PocketSphinx's
bundled US-English model) instead of copying hundreds of megabytes into every run, so it reloads offline
as long as that folder (or the Hugging Face cache) is still there. :meth:`TrainedModel.load
<autoasr.inference.model.TrainedModel.load>` dispatches on ``kind``, so ``predictor.transcribe``,
``evaluate``, ``save``/``load`` and long recordings work unchanged. They have no CTC outputs, so they
cannot be exported to ONNX/TorchScript: :attr:`Recognizer.export_refusal` says why.

>>> recognizer = WhisperZeroShot({"source": "whisper-tiny.en", "normalizer": "digits"})  # doctest: +SKIP
>>> recognizer.transcribe(["four.wav"])                                   # doctest: +SKIP
['four']
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from autoasr.core.text import normalize_text
from autoasr.data.audio import as_samples
from autoasr.inference.speed import real_time_factor

WHISPER_ZERO_SHOT = "whisper-zero-shot"
POCKETSPHINX = "pocketsphinx"
RECOGNIZER_RATE = 16000
WHISPER_BATCH = 8
# tokens Whisper may write per clip: enough for the longest training transcript (about two tokens a word with
# punctuation), bounded so a model that rambles (or a random test model) cannot stall the search
MIN_NEW_TOKENS, MAX_NEW_TOKENS = 16, 224


def whisper_token_budget(texts: list[str]) -> int:
    """The ``max_new_tokens`` for transcripts like ``texts``.

    >>> whisper_token_budget(["one two three"]), whisper_token_budget(["word " * 100])
    (17, 224)
    """
    longest = max((len(text.split()) for text in texts), default=0)
    return int(min(MAX_NEW_TOKENS, max(MIN_NEW_TOKENS, 3 * longest + 8)))


class Recognizer:
    """What every pretrained recognizer shares: its config (``model``, ``size``, ``kind``, ``normalizer``),
    16 kHz input, transcripts normalised the way the domain scores them, long recordings cut at pauses."""

    kind = ""
    sample_rate = RECOGNIZER_RATE
    reads_text_only = True  # no CTC frames: long recordings are cut at pauses (autoasr.inference.long_audio)
    decoder = None

    def __init__(self, config: dict):
        self.config = {"kind": self.kind, "model": self.kind, **config}

    @property
    def export_refusal(self) -> str:
        return (f"the {self.config['model']} row is a pretrained recognizer used as it is: it writes text, not the "
                "CTC outputs an ONNX/TorchScript export carries; export a trained row instead "
                "(predictor.leaderboard() lists them)")

    def spec(self) -> dict:
        return {"kind": self.kind, "config": self.config}

    def _normalised(self, texts: list[str]) -> list[str]:
        return [normalize_text(text, self.config.get("normalizer", "general")) for text in texts]

    def transcribe_samples(self, samples: list[np.ndarray], batch_size: int) -> list[str]:
        raise NotImplementedError

    def transcribe(self, audio: list, batch_size: int = WHISPER_BATCH) -> list[str]:
        """Normalised transcripts of paths or float arrays (at 16 kHz), in order; recordings over 20 s are cut."""
        from autoasr.inference.long_audio import transcribe_routed

        def short(items: list) -> list[str]:
            samples = [as_samples(item, self.sample_rate) for item in items]
            return self._normalised(self.transcribe_samples(samples, batch_size)) if samples else []

        return transcribe_routed(self, list(audio), short)

    def real_time_factor(self, audio: list) -> float:
        return real_time_factor(self.transcribe, audio, self.sample_rate)


class WhisperZeroShot(Recognizer):
    """A Whisper model (``WhisperForConditionalGeneration`` and its processor, from the same folder or hub id
    through :mod:`autoasr.models.whisper`'s loader, safetensors only) transcribing with greedy search, in English.

    ``config``: ``source`` (folder or hub id), ``normalizer`` (the domain's rule), ``max_new_tokens``.
    """

    kind = WHISPER_ZERO_SHOT

    def __init__(self, config: dict):
        from autoasr.models.whisper import load_whisper, load_whisper_processor

        source = str(config["source"])
        super().__init__({"size": source.rstrip("/").rsplit("/", 1)[-1], **config})
        self.model = load_whisper(source)
        self.processor = load_whisper_processor(source)
        # an English-only (.en) model refuses a language; a multilingual one is told to write English
        multilingual = bool(getattr(self.model.generation_config, "is_multilingual", False))
        self.generate_options = {"language": "en", "task": "transcribe"} if multilingual else {}

    def transcribe_samples(self, samples: list[np.ndarray], batch_size: int) -> list[str]:
        texts: list[str] = []
        for start in range(0, len(samples), batch_size):
            batch = samples[start:start + batch_size]
            inputs = self.processor.feature_extractor(batch, sampling_rate=self.sample_rate, return_tensors="pt",
                                                      return_attention_mask=True)
            with torch.inference_mode(), _quiet_transformers():
                ids = self.model.generate(inputs.input_features, attention_mask=inputs.attention_mask,
                                          max_new_tokens=int(self.config.get("max_new_tokens", MIN_NEW_TOKENS)),
                                          do_sample=False, num_beams=1, **self.generate_options)
            texts += self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return texts

    def weights_megabytes(self) -> float:
        return sum(t.numel() * t.element_size() for t in self.model.state_dict().values()) / 1e6

    def parameters(self) -> int:
        return sum(t.numel() for t in self.model.parameters())


@contextlib.contextmanager
def _quiet_transformers():
    """``generate`` warns on every batch about settings it resolves itself (max_length beside max_new_tokens)."""
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(level)


def pocketsphinx_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pocketsphinx") is not None


class PocketSphinxRecognizer:
    """PocketSphinx with its bundled US-English model, restricted to ``words`` when given (raw, unnormalised text).

    >>> PocketSphinxRecognizer(words=["yes", "no"]).transcribe(["clip.wav"])   # doctest: +SKIP
    ['yes']
    """

    sample_rate = RECOGNIZER_RATE

    def __init__(self, words: list[str] | None = None, max_words: int | None = None):
        if not pocketsphinx_available():
            raise RuntimeError("PocketSphinx needs: pip install pocketsphinx")
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=RECOGNIZER_RATE, loglevel="FATAL")
        self.words = sorted({w for w in (words or []) if w and self.knows(w)})
        self.unknown_words = sorted({w for w in (words or []) if w and not self.knows(w)})
        if self.words:
            self.decoder.add_jsgf_string("autoasr", word_grammar(self.words, max_words))
            self.decoder.activate_search("autoasr")

    def knows(self, word: str) -> bool:
        try:
            return self.decoder.lookup_word(word) is not None
        except Exception:
            return False

    def transcribe(self, audio: list) -> list[str]:
        texts = []
        for item in audio:
            samples = as_samples(item, RECOGNIZER_RATE)
            pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hypothesis = self.decoder.hyp()
            words = (hypothesis.hypstr if hypothesis else "").lower().split()
            texts.append(" ".join(w.split("(")[0] for w in words if not w.startswith("<")))
        return texts


def word_grammar(words: list[str], max_words: int | None = None) -> str:
    """A JSGF grammar of ``words``: any number of them, or between one and ``max_words`` when the training
    transcripts are that short. On one-second command clips an open loop let noise and breath become extra
    words (\"up up go\" for \"go\"); one word a clip read them as the speakers said them.

    >>> print(word_grammar(["no", "yes"], max_words=2).splitlines()[-1])
    public <utterance> = <word> [ <word> ] ;
    """
    loop = "<word>+" if not max_words else " ".join(["<word>"] + ["[ <word> ]"] * (max_words - 1))
    return ("#JSGF V1.0;\ngrammar autoasr;\n<word> = " + " | ".join(words) + " ;\n"
            f"public <utterance> = {loop} ;")


def pocketsphinx_model_path() -> Path:
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us"


class PocketSphinxModel(Recognizer):
    """PocketSphinx as a leaderboard row: ``config["words"]`` (a closed vocabulary: a grammar of those words)
    or none (its bundled English language model)."""

    kind = POCKETSPHINX

    def __init__(self, config: dict):
        words = config.get("words") or None
        super().__init__({"size": "en-us grammar" if words else "en-us LM", **config})
        self.recognizer = PocketSphinxRecognizer(words=words, max_words=config.get("max_words"))

    def transcribe_samples(self, samples: list[np.ndarray], batch_size: int) -> list[str]:
        return self.recognizer.transcribe(samples)

    def weights_megabytes(self) -> float:
        """The bundled acoustic model, dictionary and language model as stored."""
        folder = pocketsphinx_model_path()
        return sum(f.stat().st_size for f in folder.parent.rglob("*") if f.is_file()) / 1e6 if folder.exists() else 0.0


RECOGNIZERS = {WHISPER_ZERO_SHOT: WhisperZeroShot, POCKETSPHINX: PocketSphinxModel}


def load_recognizer(spec: dict) -> Recognizer:
    """The recognizer a ``model.json`` of a recognizer ``kind`` describes (nothing but plain data is read)."""
    kind = spec.get("kind")
    if kind not in RECOGNIZERS:
        raise ValueError(f"unknown model kind '{kind}' (known: ctc, {', '.join(RECOGNIZERS)})")
    return RECOGNIZERS[kind](dict(spec["config"]))
