"""A microphone recorder for notebooks and Voilà: record/stop, a level meter and playback in the browser,
the take in the kernel as 16 kHz mono float32 (``recorder.audio``).

The browser half (``recorder.js``, an anywidget) records with getUserMedia + WebAudio at the browser's own
rate and sends 16-bit PCM; this half resamples it to the model rate. ``feed`` puts a file or an array in
place of a recording, so notebooks and tests run headless with the same code path.

>>> recorder = Recorder(on_recorded=lambda samples: print(len(samples) / 16000, "s"))   # doctest: +SKIP
>>> recorder                                       # shows the widget; press Record, speak, Stop   # doctest: +SKIP
>>> recorder.feed("hello.wav")                     # headless: as if hello.wav had been recorded    # doctest: +SKIP
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import anywidget
import numpy as np
import soundfile
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

from autoasr.data.audio import MODEL_SAMPLE_RATE, read_audio, resample

INT16_SCALE = 32768.0

CSS = """
.autoasr-recorder { display: flex; flex-direction: column; gap: 6px; margin: 6px 0; }
.autoasr-recorder-prompt { font-size: 1.6em; font-weight: 600; }
.autoasr-recorder-row { display: flex; align-items: center; gap: 10px; }
.autoasr-recorder-button { min-width: 110px; font-weight: 600; }
.autoasr-recorder-button.recording { animation: autoasr-pulse 1s infinite; }
@keyframes autoasr-pulse { 50% { opacity: 0.6; } }
.autoasr-recorder-meter { width: 200px; height: 12px; background: #e5e7eb; border-radius: 6px; overflow: hidden; }
.autoasr-recorder-level { width: 0%; height: 100%; background: #16a34a; transition: width 60ms linear; }
.autoasr-recorder-level.clipping { background: #dc2626; }
.autoasr-recorder-status { color: #4b5563; }
.autoasr-recorder-player { height: 32px; max-width: 360px; }
"""


def pcm_to_samples(pcm: bytes, sample_rate: int, to_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """16-bit little-endian mono PCM at ``sample_rate`` as float32 in [-1, 1) at ``to_rate``."""
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM has an even number of bytes, got {len(pcm)}")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / INT16_SCALE
    return resample(samples, int(sample_rate), to_rate) if len(samples) else samples


def samples_to_pcm(samples: np.ndarray) -> bytes:
    """float samples (clipped to [-1, 1]) as 16-bit little-endian PCM."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return np.round(clipped * (INT16_SCALE - 1)).astype("<i2").tobytes()


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = MODEL_SAMPLE_RATE) -> Path:
    """Save mono float samples as a 16-bit WAV file (the format every corpus layout of autoasr reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(samples, dtype=np.float32), sample_rate, subtype="PCM_16")
    return path


class Recorder(anywidget.AnyWidget):
    """Record from the browser's microphone; ``audio`` is the latest take, ``on_recorded`` hears each new one."""

    _esm = Path(__file__).with_name("recorder.js")
    _css = CSS
    # the browser sends a binary buffer (a memoryview in the kernel); bytes_serialization turns it into bytes
    pcm = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    sample_rate = traitlets.Int(MODEL_SAMPLE_RATE).tag(sync=True)
    take = traitlets.Int(0).tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    max_seconds = traitlets.Float(10.0).tag(sync=True)

    def __init__(self, on_recorded: Callable[[np.ndarray], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._callbacks: list[Callable[[np.ndarray], None]] = []
        if on_recorded is not None:
            self.on_recorded(on_recorded)
        # the browser sets pcm, sample_rate and take in one message; take is the signal that a take is complete
        self.observe(self._on_take, names="take")

    @property
    def audio(self) -> np.ndarray:
        """The latest take as float32 mono samples at 16 kHz (empty before the first one)."""
        return pcm_to_samples(self.pcm, self.sample_rate)

    def on_recorded(self, callback: Callable[[np.ndarray], None]) -> None:
        """Call ``callback(samples)`` (16 kHz float32) after every take."""
        self._callbacks.append(callback)

    def feed(self, audio: str | Path | np.ndarray, sample_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
        """Use a file (any rate) or an array at ``sample_rate`` as if it had just been recorded."""
        if isinstance(audio, np.ndarray):
            samples, rate, source = np.asarray(audio, np.float32), int(sample_rate), "an array"
        else:
            samples, rate, source = read_audio(audio), MODEL_SAMPLE_RATE, Path(audio).name
        with self.hold_trait_notifications():
            self.pcm = samples_to_pcm(samples)
            self.sample_rate = rate
            self.status = f"Took {len(samples) / rate:.1f} s from {source}."
            self.take += 1
        return self.audio

    def _on_take(self, change=None) -> None:
        samples = self.audio
        for callback in list(self._callbacks):
            try:
                callback(samples)
            except Exception as error:  # a failing listener must not lose the take or stop the others
                self.status = f"Recorded, but handling the take failed: {type(error).__name__}: {error}"
                print(f"recorder: {getattr(callback, '__qualname__', callback)} failed: {error}", file=sys.stderr)
