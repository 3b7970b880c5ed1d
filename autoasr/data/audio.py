"""Reading audio: WAV/FLAC/OGG through soundfile, phone and browser formats through PyAV, mixed to mono,
resampled to the model rate.

torchaudio >= 2.9 hands ``load``/``save`` to torchcodec (which needs a system FFmpeg), so files are read with
soundfile and only the resampling uses torchaudio.functional. What libsndfile cannot open (a phone's m4a/AAC
voice memo, a browser's webm/opus recording, mp3 on older libsndfile) is decoded by PyAV, whose wheels carry
their own FFmpeg, so no system step is needed.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile
import torch
import torchaudio.functional as audio_functional

MODEL_SAMPLE_RATE = 16000
# Every suffix read_audio is meant to read; the upload widgets accept exactly these.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm")


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
    except Exception as sndfile_error:  # soundfile raises several types for corrupt or unknown input
        samples, file_rate = _decode_with_av(path, sndfile_error)
    if samples.size == 0:
        raise AudioError(f"audio file is empty: {path}")
    return resample(to_mono(samples), int(file_rate), sample_rate)


def _decode_with_av(path: Path, sndfile_error: Exception) -> tuple[np.ndarray, int]:
    """Decode the first audio stream with FFmpeg (through PyAV) to mono float32 at the stream's own rate.

    The rate is kept so that resampling is done by the same torchaudio filter as for every other file.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"cannot read audio {path}: the file holds no audio stream")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            mixer = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = [frame.to_ndarray().reshape(-1)
                      for packet_frame in container.decode(stream)
                      for frame in mixer.resample(packet_frame)]
            chunks += [frame.to_ndarray().reshape(-1) for frame in mixer.resample(None)]
    except AudioError:
        raise
    except Exception as error:  # av.error.* for unknown formats, corrupt streams, missing codecs
        raise AudioError(f"cannot read audio {path}: not a format soundfile ({sndfile_error}) or FFmpeg "
                         f"({error}) can decode; supported: {', '.join(AUDIO_EXTENSIONS)}") from None
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    return samples, int(rate)


def audio_info(path: str | Path) -> tuple[int, int, float]:
    """(sample rate, channels, duration in seconds) from the header, without decoding."""
    if not Path(path).is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        info = soundfile.info(str(path))
    except Exception as sndfile_error:
        return _av_info(Path(path), sndfile_error)
    return int(info.samplerate), int(info.channels), float(info.duration)


def _av_info(path: Path, sndfile_error: Exception) -> tuple[int, int, float]:
    """The header facts PyAV reads; a container without a stated duration (a browser's webm) is decoded."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"cannot read audio {path}: the file holds no audio stream")
            stream = container.streams.audio[0]
            rate, channels = int(stream.codec_context.sample_rate or stream.rate), int(stream.codec_context.channels)
            if stream.duration is not None and stream.time_base is not None:
                return rate, channels, float(stream.duration * stream.time_base)
            if container.duration is not None:
                return rate, channels, container.duration / av.time_base
    except AudioError:
        raise
    except Exception as error:
        raise AudioError(f"cannot read audio {path}: not a format soundfile ({sndfile_error}) or FFmpeg "
                         f"({error}) can decode; supported: {', '.join(AUDIO_EXTENSIONS)}") from None
    samples, rate = _decode_with_av(path, sndfile_error)
    return rate, channels, len(samples) / rate


def as_samples(audio: str | Path | np.ndarray, sample_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Accept a path or an array already at ``sample_rate``; return float32 mono samples."""
    if isinstance(audio, np.ndarray):
        return to_mono(audio).astype(np.float32, copy=False)
    return read_audio(audio, sample_rate)
