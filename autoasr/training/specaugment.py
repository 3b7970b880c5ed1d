"""SpecAugment on feature frames during training: time and frequency masks scaled by one strength."""
from __future__ import annotations

import torch
import torchaudio.transforms as audio_transforms


class SpecAugment(torch.nn.Module):
    """Mask random bands of frequency and spans of time; ``strength`` 0 turns it off.

    Operates on (batch, time, features) like the models' inputs.

    >>> SpecAugment(strength=1.0)(torch.ones(2, 50, 40)).shape
    torch.Size([2, 50, 40])
    """

    def __init__(self, strength: float = 1.0, num_features: int = 40):
        super().__init__()
        self.strength = strength
        self.frequency_mask = audio_transforms.FrequencyMasking(max(1, int(num_features * 0.15 * strength)))
        self.time_mask = audio_transforms.TimeMasking(max(1, int(10 * strength)), p=0.2)
        self.num_masks = 1 if strength <= 1.0 else 2

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if not self.training or self.strength <= 0:
            return frames
        spectrogram = frames.transpose(1, 2)  # masks expect (..., freq, time)
        for _ in range(self.num_masks):
            spectrogram = self.frequency_mask(spectrogram)
            spectrogram = self.time_mask(spectrogram)
        return spectrogram.transpose(1, 2)
