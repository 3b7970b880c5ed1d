"""Running exported files: ONNX Runtime and TorchScript models that transcribe like a ``TrainedModel``."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from autoasr.decoding.greedy import greedy_decode_array
from autoasr.export.writers import METADATA_FILE

EXPORTED_SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript", ".torchscript": "torchscript"}


class ExportedModel:
    """An exported file ready to transcribe and evaluate, with the interface of a trained model.

    Use :func:`load_exported` (chooses the runtime from the file's suffix).
    """

    def __init__(self, path: str | Path, metadata: dict[str, str]):
        self.path = Path(path)
        self.metadata = dict(metadata)
        self.symbols: tuple[str, ...] = tuple(json.loads(metadata["autoasr.vocabulary"]))
        self.frontend_settings: dict = json.loads(metadata["autoasr.frontend"])
        self.config: dict = json.loads(metadata.get("autoasr.config", "{}"))
        self.sample_rate = int(self.frontend_settings["sample_rate"])
        self.hop_length = int(self.frontend_settings["hop_length"])
        decoder = metadata.get("autoasr.decoder")
        self.decoder_spec: dict | None = json.loads(decoder) if decoder else None
        self._decoder = None
        self.best_trial_id = None

    @property
    def vocabulary(self):
        from autoasr.core.text import CharVocabulary

        return CharVocabulary(self.symbols)

    @property
    def decoder(self):
        """The model's lexicon + LM decoder rebuilt from the metadata (None: greedy decoding)."""
        if self.decoder_spec is not None and self._decoder is None:
            from autoasr.decoding.lm import LexiconDecoder

            self._decoder = LexiconDecoder.from_spec(self.decoder_spec)
        return self._decoder

    def decode_log_probs(self, log_probs: list[np.ndarray]) -> list[str]:
        """Text for each (frames, vocabulary) array, with the model's decoder (greedy without one)."""
        if self.decoder_spec is None:
            return [greedy_decode_array(item, len(item), self.symbols) for item in log_probs]
        return self.decoder.decode_each([torch.from_numpy(np.ascontiguousarray(item)) for item in log_probs])

    def leaderboard(self):
        raise ValueError(f"{self.path} is an exported model: it has no leaderboard (give the run folder)")

    def model(self, trial_id: str | None = None) -> "ExportedModel":
        return self

    def run(self, waveform: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(batch, samples) float32 and (batch,) int64 -> log-probs (batch, frames, vocabulary), lengths."""
        raise NotImplementedError

    def log_probs(self, audio: list, batch_size: int = 32) -> list[np.ndarray]:
        """Per item, its valid (frames, vocabulary) log-probabilities, in order."""
        from autoasr.data.audio import as_samples
        from autoasr.models.batching import length_sorted_batches

        samples = [as_samples(item, self.sample_rate) for item in audio]
        results: list[np.ndarray] = [np.zeros((0, len(self.symbols)), np.float32)] * len(samples)
        longest = self.frontend_settings.get("max_seconds")
        if longest and samples and max(len(s) for s in samples) > longest * self.sample_rate:
            raise ValueError(f"{self.path} reads clips of at most {longest} s (one Whisper encoder window): "
                             "transcribe() cuts longer recordings, or cut them first")
        # the same batches as the PyTorch model forms (sorted by frame count), so padding matches too
        frame_counts = [self.frame_count(len(s)) for s in samples]
        for batch in length_sorted_batches(frame_counts, batch_size, shuffle=False):
            longest = max(len(samples[i]) for i in batch)
            waveform = np.zeros((len(batch), longest), dtype=np.float32)
            for row, position in enumerate(batch):
                waveform[row, : len(samples[position])] = samples[position]
            lengths = np.array([len(samples[i]) for i in batch], dtype=np.int64)
            log_probs, out_lengths = self.run(waveform, lengths)
            for row, position in enumerate(batch):
                results[position] = log_probs[row, : int(out_lengths[row])]
        return results

    def frame_count(self, num_samples: int) -> int:
        """The feature frames the PyTorch model computes for a clip (what it sorts its batches by)."""
        settings = self.frontend_settings
        if settings.get("kind") == "whisper":  # short clips padded, 10 ms mel frames halved by the encoder
            mel_frames = max(num_samples, int(settings["min_samples"])) // int(settings["mel_hop_length"])
            return (mel_frames + 1) // 2
        return num_samples // self.hop_length + 1

    def transcribe(self, audio, batch_size: int = 32) -> list[str]:
        """Transcripts for paths or float arrays (already at ``sample_rate``), in order."""
        from autoasr.inference.long_audio import transcribe_routed

        items = list(audio) if isinstance(audio, (list, tuple)) else [audio]

        def transcribe_short(short: list) -> list[str]:
            return self.decode_log_probs(self.log_probs(short, batch_size))

        return transcribe_routed(self, items, transcribe_short)  # recordings over 20 s are segmented

    def real_time_factor(self, audio: list) -> float:
        """Seconds of computing per second of audio (frontend and decoding included)."""
        from autoasr.data.audio import as_samples

        samples = [as_samples(item, self.sample_rate) for item in audio]
        started = time.perf_counter()
        self.transcribe(samples)
        return (time.perf_counter() - started) / max(sum(len(s) for s in samples) / self.sample_rate, 1e-9)

    def evaluate(self, data, domain: str | None = None, return_details: bool = False) -> dict:
        """WER, CER, S/D/I counts on labelled data (the ``test`` split of a path when it has one)."""
        from autoasr.domains.presets import get_domain
        from autoasr.results.evaluation import evaluation_dataset, score

        saved_spec = json.loads(self.metadata.get("autoasr.domain_spec") or "null")
        domain = domain or saved_spec or self.metadata.get("autoasr.domain") or "general"
        dataset = evaluation_dataset(data, get_domain(domain).normalizer)
        return score(dataset, self.transcribe, str(self.path), return_details)


class OnnxModel(ExportedModel):
    """An exported ``.onnx`` file run by onnxruntime (CPU).

    >>> OnnxModel("digits.onnx").transcribe(["clip.wav"])                      # doctest: +SKIP
    ['four two']
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        metadata = self.session.get_modelmeta().custom_metadata_map
        if "autoasr.vocabulary" not in metadata:
            raise ValueError(f"{path}: not an autoasr export (no autoasr.vocabulary in its metadata)")
        super().__init__(path, metadata)

    def run(self, waveform: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_probs, out_lengths = self.session.run(
            ["log_probs", "frame_lengths"], {"waveform": waveform, "waveform_lengths": lengths})
        return log_probs, out_lengths


class TorchScriptModel(ExportedModel):
    """An exported TorchScript file (``.pt``). Loading TorchScript runs its code: load trusted files only."""

    def __init__(self, path: str | Path):
        extra = {METADATA_FILE: ""}
        self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.module.eval()
        if not extra[METADATA_FILE]:
            raise ValueError(f"{path}: not an autoasr export (no {METADATA_FILE} inside)")
        super().__init__(path, json.loads(extra[METADATA_FILE]))

    def run(self, waveform: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            log_probs, out_lengths = self.module(torch.from_numpy(waveform), torch.from_numpy(lengths))
        return log_probs.numpy(), out_lengths.numpy()


def is_exported_file(path: str | Path) -> bool:
    """True for a file whose suffix names an export format (``.onnx``, ``.pt``, ``.ts``)."""
    path = Path(path)
    return path.suffix.lower() in EXPORTED_SUFFIXES and not path.is_dir()


def load_exported(path: str | Path) -> ExportedModel:
    """Open an exported file with the runtime its suffix names (onnxruntime for ``.onnx``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported model not found: {path}")
    if EXPORTED_SUFFIXES.get(path.suffix.lower()) == "onnx":
        return OnnxModel(path)
    return TorchScriptModel(path)
