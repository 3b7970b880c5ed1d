"""How fast a recogniser reads: seconds of computing per second of audio, the same clock for every kind of model."""
from __future__ import annotations

import time
from typing import Callable

from autoasr.data.audio import as_samples


def real_time_factor(transcribe: Callable[[list], list[str]], audio: list, sample_rate: int) -> float:
    """Seconds ``transcribe`` takes per second of ``audio`` (paths or sample arrays), decoding included; read once
    before the clock starts, so file reading is not counted.

    >>> import numpy as np
    >>> real_time_factor(lambda clips: ["" for _ in clips], [np.zeros(16000)], 16000) < 1.0
    True
    """
    samples = [as_samples(item, sample_rate) for item in audio]
    started = time.perf_counter()
    transcribe(samples)
    return (time.perf_counter() - started) / max(sum(len(s) for s in samples) / sample_rate, 1e-9)
