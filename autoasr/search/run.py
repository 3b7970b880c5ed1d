from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from autoasr.data.dataset import Dataset
from autoasr.training.trial import (
    BOOKKEEPING_KEYS,
)


def _typical_clip(dataset: Dataset):
    """The samples of the utterance of median duration: the clip every trial's latency is timed on."""
    from autoasr.data.audio import read_audio

    by_duration = sorted(dataset, key=lambda u: u.duration or 0.0)
    return read_audio(by_duration[len(by_duration) // 2].audio)
def _searched_part(config: dict) -> dict:
    """The searched settings of a trial config, without bookkeeping keys."""
    return {k: v for k, v in config.items() if k not in BOOKKEEPING_KEYS}
@dataclass
class _FitContext:
    """What every trial of one ``fit`` call shares."""

    preset: object
    callbacks: list
    tensors_for: Callable
    seed: int
    histories: dict
    trial_seconds: float
    latency_clip: object  # a typical tuning utterance (16 kHz samples): every trial's latency is timed on it
