"""Reading audio: any file soundfile understands, mixed to mono, resampled to the model rate.

torchaudio >= 2.9 hands ``load``/``save`` to torchcodec (which needs FFmpeg), so files are read with
soundfile and only the resampling uses torchaudio.functional.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional as audio_functional

MODEL_SAMPLE_RATE = 16000


class AudioError(ValueError):
    """The file cannot be read as audio (missing, corrupt, empty)."""


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array; pass 1-D arrays through."""
    if samples.ndim == 2:
        return samples.mean(axis=1)
    return samples


def resample(samples: np.ndarray, from_rate: int, to_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Resample a mono float array (band-limited sinc interpolation from torchaudio)."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    return audio_functional.resample(tensor, from_rate, to_rate).numpy()


def read_audio(path: str | Path, sample_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Return the file's samples as float32 mono at ``sample_rate``.

    >>> samples = read_audio("clip.wav")            # doctest: +SKIP
    >>> samples.dtype, samples.ndim
    (dtype('float32'), 1)
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        samples, file_rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except Exception as error:  # soundfile raises several types for corrupt input
        raise AudioError(f"cannot read audio {path}: {error}") from None
    if samples.size == 0:
        raise AudioError(f"audio file is empty: {path}")
    return resample(to_mono(samples), int(file_rate), sample_rate)


def audio_info(path: str | Path) -> tuple[int, int, float]:
    """(sample rate, channels, duration in seconds) from the header, without decoding."""
    if not Path(path).is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        info = soundfile.info(str(path))
    except Exception as error:
        raise AudioError(f"cannot read audio {path}: {error}") from None
    return int(info.samplerate), int(info.channels), float(info.duration)


def as_samples(audio: str | Path | np.ndarray, sample_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Accept a path or an array already at ``sample_rate``; return float32 mono samples."""
    if isinstance(audio, np.ndarray):
        return to_mono(audio).astype(np.float32, copy=False)
    return read_audio(audio, sample_rate)
