"""Features and transcripts as tensors, ready for batching: one split at a time, and every frontend of a search."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from autoasr.core.text import CharVocabulary
from autoasr.data.dataset import Dataset
from autoasr.models.frontends import FrontendConfig
from autoasr.training.feature_cache import compute_features, default_cache_dir


@dataclass
class SplitTensors:
    """Features and transcripts of one split, ready for batching."""

    features: list[torch.Tensor]
    texts: list[str]
    targets: list[torch.Tensor]
    frames_per_second: float = 100.0  # 10 ms frames; 50 for the Whisper encoder's vectors

    @classmethod
    def build(cls, features, texts, vocabulary: CharVocabulary, frames_per_second: float = 100.0) -> "SplitTensors":
        targets = [torch.tensor(vocabulary.encode(text), dtype=torch.long) for text in texts]
        return cls(list(features), list(texts), targets, frames_per_second)

    @property
    def audio_seconds(self) -> float:
        return sum(len(f) for f in self.features) / self.frames_per_second


class FeatureStore:
    """The train and tuning tensors of every frontend a search asks for, each computed once.

    Calling the store with a frontend kind ("logmel", "mfcc", "waveform") or a trial config (a "whisper"
    config names its encoder) gives ``(train, tuning)``
    :class:`SplitTensors`; audio is read at most once per kind thanks to the on-disk feature cache,
    and the tensors stay in memory for the trials that follow. ``on_progress(done, total)`` hears about
    every clip read, so a UI can show feature preparation as it happens.
    """

    def __init__(self, train: Dataset, tuning: Dataset, vocabulary: CharVocabulary, cache_dir: str | Path | None = None,
                 progress: bool = False, on_progress: Callable[[str, int, int], None] | None = None):
        self.splits = (train, tuning)
        self.vocabulary = vocabulary
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.progress = progress
        self.on_progress = on_progress
        # a time.time() value: a pretrained encoder's training clips are encoded until then (the rest is left
        # out of its trials); the tuning clips always all are, so every row is scored on the same set
        self.encoder_deadline: float | None = None
        self.partial: dict[str, dict] = {}  # frontend kind -> training clips encoded / in all, where not all were
        self._tensors: dict[str, tuple[SplitTensors, SplitTensors]] = {}
        self.pass_seconds: list[float] = []  # what each frontend's features cost to compute (0 from the disk cache)

    def ready(self, frontend: str | dict) -> bool:
        """Whether ``frontend``'s tensors are in memory, so a trial of it starts at once (True for a frontend that
        cannot be read: its trial fails at once and says why)."""
        try:
            return FrontendConfig.of(frontend).key() in self._tensors
        except Exception:
            return True

    @property
    def seconds_computing(self) -> float:
        """Every frontend's features together: the fit's feature preparation."""
        return sum(self.pass_seconds)

    @property
    def longest_pass_seconds(self) -> float:
        """The costliest features computed so far: what a new frontend of the same encoder may cost."""
        return max(self.pass_seconds, default=0.0)

    def __call__(self, frontend: str | dict) -> tuple[SplitTensors, SplitTensors]:
        config = FrontendConfig.of(frontend)
        key = config.key()
        if key not in self._tensors:
            computed = {}
            for index, deadline in ((1, None), (0, self.encoder_deadline)):  # tuning first: it must be complete
                split = self.splits[index]
                report = None
                if self.on_progress is not None:
                    def report(done, total, stage=f"{config.kind} features of {split.name}"):
                        self.on_progress(stage, done, total)
                computed[index] = compute_features(split, config, cache_dir=self.cache_dir, progress=self.progress,
                                                        on_progress=report, deadline=deadline)
            self.pass_seconds.append(sum(c.seconds_computing for c in computed.values()))
            self._tensors[key] = tuple(self._tensors_of(computed[i], split, config) for i, split in enumerate(self.splits))
        return self._tensors[key]

    def _tensors_of(self, computed, split: Dataset, config: FrontendConfig) -> SplitTensors:
        kept = [i for i, features in enumerate(computed.features) if features is not None]
        if len(kept) < len(computed.features):
            self.partial[config.kind] = {"encoded": len(kept), "total": len(computed.features)}
        return SplitTensors.build([computed.features[i] for i in kept], [split.texts[i] for i in kept],
                                  self.vocabulary, config.frames_per_second)
