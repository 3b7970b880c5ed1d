"""Audio files the tests make for themselves."""
from __future__ import annotations

import zlib
from pathlib import Path

import av
import numpy as np
import soundfile


def write_audio(path: Path, seconds: float = 0.3, rate: int = 16000, channels: int = 1) -> Path:
    """A short noise clip; the seed comes from the name, so no two files share content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(zlib.crc32(path.name.encode()))
    samples = (0.1 * generator.standard_normal((int(seconds * rate), channels))).astype(np.float32)
    soundfile.write(str(path), samples if channels > 1 else samples[:, 0], rate)
    return path


TONE_HZ = 440


def encode_tone(path: Path, codec: str, rate: int, seconds: float = 1.0, channels: int = 2) -> np.ndarray:
    """Write a sine tone with PyAV's FFmpeg encoder; return the mono signal at the file's rate."""
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame_size = 960 if codec == "libopus" else 1024
        planar = np.stack([tone] * channels) if channels == 2 else tone[None, :]
        for start in range(0, len(tone), frame_size):
            block = np.ascontiguousarray(planar[:, start:start + frame_size])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return tone
