from __future__ import annotations

from dataclasses import dataclass

import torch

from autoasr.core.text import CharVocabulary


@dataclass
class SplitTensors:
    """Features and transcripts of one split, ready for batching."""

    features: list[torch.Tensor]
    texts: list[str]
    targets: list[torch.Tensor]

    @classmethod
    def build(cls, features, texts, vocabulary: CharVocabulary) -> "SplitTensors":
        targets = [torch.tensor(vocabulary.encode(text), dtype=torch.long) for text in texts]
        return cls(list(features), list(texts), targets)

    @property
    def audio_seconds(self) -> float:
        return sum(len(f) for f in self.features) / 100.0  # 10 ms frames
