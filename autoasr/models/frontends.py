"""Acoustic frontends: waveforms into feature frames (log-mel, MFCC, raw 10 ms waveform frames for
pretrained wav2vec2 encoders, or a frozen Whisper encoder's vectors). :mod:`autoasr.training.feature_cache`
keeps their outputs on disk."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch
import torchaudio.transforms as audio_transforms
from torch import nn

from autoasr.data.audio import MODEL_SAMPLE_RATE


@dataclass(frozen=True)
class FrontendConfig:
    """How waveforms become feature frames (25 ms windows every 10 ms; raw 10 ms frames for "waveform").

    >>> FrontendConfig(kind="waveform").num_features      # the samples of one 10 ms frame
    160
    """

    kind: str = "logmel"  # "logmel", "mfcc", "waveform" (pretrained wav2vec2 input) or "whisper" (its encoder)
    num_features: int = 40
    sample_rate: int = MODEL_SAMPLE_RATE
    encoder: str = ""  # "whisper": the pretrained model's hub id or folder
    below_top: bool = False  # "whisper": the input of the encoder's top layer (a pooled head runs that layer)
    # "whisper": every layer's mean and max pooled vectors instead of frames (a pooled head mixing the layers)
    pooled_layers: bool = False

    def __post_init__(self):
        if self.kind == "waveform":  # the frame width is fixed by the encoders' 10 ms frames
            object.__setattr__(self, "num_features", SAMPLES_PER_FRAME)
        if self.kind == "whisper" and not self.encoder:
            raise ValueError("the whisper frontend needs its encoder: a hub id or a folder")

    def key(self) -> str:
        fields = asdict(self)
        if not self.encoder:  # the other frontends keep the cache keys they always had
            fields.pop("encoder")
        if not self.below_top:
            fields.pop("below_top")
        if not self.pooled_layers:
            fields.pop("pooled_layers")
        return json.dumps(fields, sort_keys=True)

    @property
    def frames_per_second(self) -> float:
        """Feature frames a second of audio gives: 100 (10 ms frames), 50 for the Whisper encoder."""
        return 50.0 if self.kind == "whisper" else 100.0

    @classmethod
    def of(cls, config: dict | str) -> "FrontendConfig":
        """The frontend a trial config (or a bare frontend kind) reads.

        >>> FrontendConfig.of({"frontend": "whisper", "encoder": "openai/whisper-tiny.en", "num_features": 384}).frames_per_second
        50.0
        """
        if isinstance(config, str):
            config = {"frontend": config}
        kind = config.get("frontend", "logmel")
        if kind == "whisper":
            from autoasr.models.whisper import POOLED_HEADS, reads_pooled_layers

            pooled_layers = reads_pooled_layers(config)
            return cls(kind=kind, num_features=int(config["num_features"]), encoder=str(config.get("encoder", "")),
                       below_top=config.get("size") in POOLED_HEADS and not pooled_layers, pooled_layers=pooled_layers)
        return cls(kind=kind, num_features=int(config.get("num_features", 40)))


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
        if config.kind == "whisper":
            from autoasr.models.whisper import WhisperEncoderFrontend

            self.transform = WhisperEncoderFrontend(config.encoder, config.below_top, config.pooled_layers)
            self.hop_length = self.transform.hop_length
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
            raise ValueError(f"unknown frontend '{config.kind}' (choose logmel, mfcc, waveform or whisper)")

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.config.kind in ("waveform", "whisper"):  # pretrained encoders read their input as they were trained
            return self.transform(waveform)
        frames = self.transform(waveform)
        if self.config.kind == "logmel":
            frames = torch.log(frames + 1e-6)
        frames = frames.transpose(-1, -2)
        # per-utterance mean and variance normalisation: robust to gain and channel differences
        mean = frames.mean(dim=-2, keepdim=True)
        std = frames.std(dim=-2, keepdim=True) if frames.shape[-2] > 1 else torch.ones_like(mean)
        return (frames - mean) / (std + 1e-5)


ENCODER_SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = 160  # the waveform "frontend" cuts audio into 10 ms frames, like the other frontends


class WaveformFrames(nn.Module):
    """The frontend of waveform models: samples (..., S) -> (..., S // 160, 160) raw 10 ms frames.

    The trainer, the batching and the feature cache all handle (time, features) matrices; raw audio
    cut into 10 ms frames is one, and :class:`Wav2Vec2CTC` joins the frames back into a waveform.

    >>> WaveformFrames()(torch.zeros(16000)).shape
    torch.Size([100, 160])
    """

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        remainder = waveform.shape[-1] % SAMPLES_PER_FRAME
        if remainder:
            waveform = nn.functional.pad(waveform, (0, SAMPLES_PER_FRAME - remainder))
        return waveform.reshape(*waveform.shape[:-1], -1, SAMPLES_PER_FRAME)
