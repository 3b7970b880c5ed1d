"""A trained model ready to use: frontend + network + vocabulary, rebuilt from files without pickle."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from autoasr.core.storage import load_weights, read_json
from autoasr.core.text import CharVocabulary
from autoasr.data.audio import as_samples
from autoasr.inference.speed import real_time_factor
from autoasr.decoding.greedy import greedy_decode
from autoasr.inference.encoder_copy import encoder_at_hand
from autoasr.inference.model_files import CTC_KIND, ENSEMBLE_KIND, MODEL_SPEC_FILE, MODEL_WEIGHTS_FILE
from autoasr.models.batching import transcribe_features
from autoasr.models.frontends import Frontend, FrontendConfig
from autoasr.models.registry import build_network


@dataclass
class TrainedModel:
    """Everything needed to turn audio into text."""

    config: dict
    vocabulary: CharVocabulary
    frontend: Frontend
    network: torch.nn.Module
    decoder: object | None = None  # a LexiconDecoder (lexicon + n-gram LM) when it beat greedy decoding

    @classmethod
    def build(cls, config: dict, vocabulary: CharVocabulary, state_dict: dict | None = None) -> "TrainedModel":
        frontend = Frontend(FrontendConfig.of(config))
        # a saved model is rebuilt from its config alone (a pretrained encoder from its stored architecture)
        network = build_network(config, frontend.config.num_features, len(vocabulary),
                                pretrained_weights=state_dict is None, symbols=vocabulary.symbols)
        if state_dict is not None:
            network.load_state_dict(state_dict)
        network.eval()
        return cls(dict(config), vocabulary, frontend, network)

    @classmethod
    def load(cls, folder: str | Path) -> "TrainedModel":
        """Read ``model.json`` and ``model.safetensors`` (plain data: loading runs no code).

        A ``model.json`` of another ``kind`` (``whisper-zero-shot``, ``pocketsphinx``) gives that recognizer
        (:mod:`autoasr.inference.recognizers`), of kind ``ensemble`` an :class:`~autoasr.inference.ensemble.EnsembleModel`
        of trained members: each transcribes, is timed and evaluated like a trained model."""
        folder = Path(folder)
        spec = read_json(folder / MODEL_SPEC_FILE)
        if spec.get("kind") == ENSEMBLE_KIND:  # several trained members combined: their folders, no weights file
            from autoasr.inference.ensemble import EnsembleModel

            return EnsembleModel.load(folder, cls.load, spec)
        if spec.get("kind", CTC_KIND) != CTC_KIND:  # a pretrained recognizer used as it is: no weights file
            from autoasr.inference.recognizers import load_recognizer

            if spec.get("config", {}).get("source"):  # a zero-shot Whisper's moved model folder: the run's copy
                spec["config"]["source"] = encoder_at_hand(str(spec["config"]["source"]), folder)
            return load_recognizer(spec)
        if spec["config"].get("encoder"):  # a moved or deleted encoder folder: the run's own copy
            spec["config"]["encoder"] = encoder_at_hand(spec["config"]["encoder"], folder)
        model = cls.build(spec["config"], CharVocabulary(tuple(spec["vocabulary"])),
                          load_weights(folder / MODEL_WEIGHTS_FILE))
        if spec.get("decoder"):
            from autoasr.decoding.lm import LexiconDecoder

            model.decoder = LexiconDecoder.from_spec(spec["decoder"])
        return model

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Model outputs to text with the chosen decoder (greedy unless an LM decoder was chosen)."""
        if self.decoder is not None:
            return self.decoder.decode(log_probs, lengths)
        return greedy_decode(log_probs, lengths, self.vocabulary)

    def spec(self) -> dict:
        return {"config": self.config, "vocabulary": list(self.vocabulary.symbols),
                "decoder": self.decoder.spec() if self.decoder is not None else None,
                "frontend": {"kind": self.frontend.config.kind, "num_features": self.frontend.config.num_features,
                             "sample_rate": self.frontend.config.sample_rate,
                             **({"encoder": self.frontend.config.encoder} if self.frontend.config.encoder else {})}}

    @property
    def sample_rate(self) -> int:
        return self.frontend.config.sample_rate

    @property
    def hop_length(self) -> int:
        """Samples between feature frames."""
        return self.frontend.hop_length

    def features(self, audio) -> torch.Tensor:
        samples = torch.from_numpy(as_samples(audio, self.sample_rate))
        with torch.inference_mode():
            return self.frontend(samples)

    def transcribe(self, audio: list, batch_size: int = 32) -> list[str]:
        """Transcripts for paths or float arrays (already at ``sample_rate``), in order.

        Recordings longer than 20 s are cut at pauses and transcribed piece by piece (``autoasr.long_audio``).
        """
        from autoasr.inference.long_audio import transcribe_routed

        return transcribe_routed(self, list(audio), lambda short: transcribe_features(
            self.network, [self.features(item) for item in short], self.vocabulary, batch_size=batch_size,
            decode=self.decode))

    def real_time_factor(self, audio: list) -> float:
        """Seconds of computing per second of audio (features and decoding included)."""
        return real_time_factor(self.transcribe, audio, self.sample_rate)

