"""Audio files the tests make for themselves."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import soundfile


def write_audio(path: Path, seconds: float = 0.3, rate: int = 16000, channels: int = 1) -> Path:
    """A short noise clip; the seed comes from the name, so no two files share content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(zlib.crc32(path.name.encode()))
    samples = (0.1 * generator.standard_normal((int(seconds * rate), channels))).astype(np.float32)
    soundfile.write(str(path), samples if channels > 1 else samples[:, 0], rate)
    return path
