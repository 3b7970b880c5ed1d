"""Acoustic frontends (log-mel, MFCC, raw waveform frames) and an on-disk feature cache shared by every trial.

Features are computed once per (dataset content, frontend settings) and stored as one safetensors
file, so a search of twenty trials reads audio once and a second run reads none.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torchaudio.transforms as audio_transforms
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from autoasr.audio import MODEL_SAMPLE_RATE, read_audio
from autoasr.data import Dataset
from autoasr.paths import cache_dir
from autoasr.pretrained import ENCODER_SAMPLE_RATE, SAMPLES_PER_FRAME, WaveformFrames

FEATURE_CACHE_VERSION = 1


@dataclass(frozen=True)
class FrontendConfig:
    """How waveforms become feature frames (25 ms windows every 10 ms; raw 10 ms frames for "waveform").

    >>> FrontendConfig(kind="waveform").num_features      # the samples of one 10 ms frame
    160
    """

    kind: str = "logmel"  # "logmel", "mfcc" or "waveform" (the input of pretrained wav2vec2 encoders)
    num_features: int = 40
    sample_rate: int = MODEL_SAMPLE_RATE

    def __post_init__(self):
        if self.kind == "waveform":  # the frame width is fixed by the encoders' 10 ms frames
            object.__setattr__(self, "num_features", SAMPLES_PER_FRAME)

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class Frontend(torch.nn.Module):
    """Waveform (samples,) or (batch, samples) -> normalised frames (..., time, num_features).

    >>> frontend = Frontend(FrontendConfig())
    >>> frontend(torch.zeros(16000)).shape
    torch.Size([101, 40])
    >>> Frontend(FrontendConfig(kind="waveform"))(torch.zeros(16000)).shape     # samples, not normalised
    torch.Size([100, 160])
    """

    def __init__(self, config: FrontendConfig):
        super().__init__()
        self.config = config
        window = int(0.025 * config.sample_rate)
        hop = int(0.010 * config.sample_rate)
        self.hop_length = hop  # samples between frames
        if config.kind == "waveform":
            if config.sample_rate != ENCODER_SAMPLE_RATE:
                raise ValueError("the waveform frontend reads 16 kHz audio (wav2vec2 encoders are trained on it)")
            self.transform = WaveformFrames()
            return
        mel_options = {"n_fft": 512, "win_length": window, "hop_length": hop, "n_mels": max(config.num_features, 40)}
        if config.kind == "logmel":
            mel_options["n_mels"] = config.num_features
            self.transform = audio_transforms.MelSpectrogram(sample_rate=config.sample_rate, **mel_options)
        elif config.kind == "mfcc":
            self.transform = audio_transforms.MFCC(
                sample_rate=config.sample_rate, n_mfcc=config.num_features, melkwargs=mel_options
            )
        else:
            raise ValueError(f"unknown frontend '{config.kind}' (choose logmel, mfcc or waveform)")

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.config.kind == "waveform":  # the encoder normalises (or not) as it was pretrained
            return self.transform(waveform)
        frames = self.transform(waveform)
        if self.config.kind == "logmel":
            frames = torch.log(frames + 1e-6)
        frames = frames.transpose(-1, -2)
        # per-utterance mean and variance normalisation: robust to gain and channel differences
        mean = frames.mean(dim=-2, keepdim=True)
        std = frames.std(dim=-2, keepdim=True) if frames.shape[-2] > 1 else torch.ones_like(mean)
        return (frames - mean) / (std + 1e-5)


def default_cache_dir() -> Path:
    return cache_dir("features")


def feature_cache_key(dataset: Dataset, config: FrontendConfig) -> str:
    digest = hashlib.sha256(f"{FEATURE_CACHE_VERSION}|{dataset.fingerprint()}|{config.key()}".encode())
    return digest.hexdigest()[:20]


@dataclass
class FeatureSet:
    """Per-utterance feature matrices aligned with the dataset's utterances."""

    features: list[torch.Tensor]
    seconds_computing: float = 0.0
    from_cache: bool = False

    def __len__(self) -> int:
        return len(self.features)


def compute_features(
    dataset: Dataset,
    config: FrontendConfig = FrontendConfig(),
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> FeatureSet:
    """Features for every utterance, from the cache when the data and settings are unchanged."""
    started = time.perf_counter()
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_file = cache_dir / f"{feature_cache_key(dataset, config)}.safetensors"
    if cache_file.is_file():
        try:
            stored = load_file(str(cache_file))
            offsets = stored["offsets"].tolist()
            frames = stored["frames"].float()
            features = [frames[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            if len(features) == len(dataset):
                return FeatureSet(features, time.perf_counter() - started, from_cache=True)
        except Exception:
            pass  # a damaged cache file is rebuilt below
    frontend = Frontend(config)
    features = []
    with torch.inference_mode():
        for utterance in tqdm(dataset.utterances, desc=f"features {dataset.name}", disable=not progress, leave=False):
            samples = torch.from_numpy(read_audio(utterance.audio, config.sample_rate))
            features.append(frontend(samples).contiguous())
    _write_cache(cache_file, features)
    return FeatureSet(features, time.perf_counter() - started, from_cache=False)


def _write_cache(cache_file: Path, features: list[torch.Tensor]) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    lengths = torch.tensor([0] + [len(f) for f in features], dtype=torch.int64)
    payload = {
        "frames": torch.cat(features).half() if features else torch.zeros(0, 1),
        "offsets": torch.cumsum(lengths, dim=0),
    }
    handle, temporary = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    os.close(handle)
    save_file(payload, temporary)
    os.replace(temporary, cache_file)
