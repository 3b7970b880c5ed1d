"""The CTC networks autoasr trains from scratch: CRNN, Conformer and a separable ConvNet."""
from __future__ import annotations

import torch
from torch import nn
from torchaudio.models import Conformer


class ConvSubsampling(nn.Module):
    """Two 2-D convolutions over (time, frequency); the first halves the time axis."""

    def __init__(self, num_features: int, channels: int, output_dim: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, stride=(2, 2), padding=1),
            nn.GELU(),
            nn.Conv2d(channels, channels, kernel_size=3, stride=(1, 2), padding=1),
            nn.GELU(),
        )
        reduced = (num_features + 1) // 2
        reduced = (reduced + 1) // 2
        self.projection = nn.Linear(channels * reduced, output_dim)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor):
        hidden = self.layers(features.unsqueeze(1))  # (batch, channels, time/2, freq/4)
        batch, channels, time, frequency = hidden.shape
        hidden = hidden.permute(0, 2, 1, 3).reshape(batch, time, channels * frequency)
        return self.projection(hidden), torch.div(lengths + 1, 2, rounding_mode="floor")


class CRNN(nn.Module):
    """Convolutional subsampling followed by bidirectional GRUs (DeepSpeech2-like)."""

    def __init__(self, num_features, vocabulary_size, hidden=128, layers=2, channels=16, dropout=0.1):
        super().__init__()
        self.subsampling = ConvSubsampling(num_features, channels, hidden)
        self.recurrent = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                                dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * hidden, vocabulary_size)

    def forward(self, features, lengths):
        hidden, lengths = self.subsampling(features, lengths)
        hidden, _ = self.recurrent(self.dropout(hidden))
        return self.output(self.dropout(hidden)).log_softmax(dim=-1), lengths


class ConformerCTC(nn.Module):
    """Convolutional subsampling followed by torchaudio's Conformer encoder."""

    def __init__(self, num_features, vocabulary_size, dim=96, layers=2, heads=4, kernel=15, channels=16, dropout=0.1):
        super().__init__()
        self.subsampling = ConvSubsampling(num_features, channels, dim)
        self.encoder = Conformer(input_dim=dim, num_heads=heads, ffn_dim=dim * 4, num_layers=layers,
                                 depthwise_conv_kernel_size=kernel, dropout=dropout)
        self.output = nn.Linear(dim, vocabulary_size)

    def forward(self, features, lengths):
        hidden, lengths = self.subsampling(features, lengths)
        lengths = lengths.clamp(max=hidden.shape[1])
        hidden, lengths = self.encoder(hidden, lengths)
        return self.output(hidden).log_softmax(dim=-1), lengths


class SeparableBlock(nn.Module):
    """Depthwise-separable 1-D convolutions with a residual path (QuartzNet-like)."""

    def __init__(self, channels, kernel, repeats, dropout):
        super().__init__()
        layers = []
        for _ in range(repeats):
            layers += [
                nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels),
                nn.Conv1d(channels, channels, 1),
                nn.BatchNorm1d(channels),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, hidden):
        return torch.relu(hidden + self.layers(hidden))


class ConvNet(nn.Module):
    """A purely convolutional model: a strided stem and residual separable blocks."""

    def __init__(self, num_features, vocabulary_size, channels=128, blocks=3, kernel=11, repeats=2, dropout=0.1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(num_features, channels, kernel, stride=2, padding=kernel // 2),
                                  nn.BatchNorm1d(channels), nn.ReLU())
        self.blocks = nn.Sequential(*[SeparableBlock(channels, kernel, repeats, dropout) for _ in range(blocks)])
        self.output = nn.Conv1d(channels, vocabulary_size, 1)

    def forward(self, features, lengths):
        hidden = self.blocks(self.stem(features.transpose(1, 2)))
        log_probs = self.output(hidden).transpose(1, 2).log_softmax(dim=-1)
        return log_probs, torch.div(lengths + 1, 2, rounding_mode="floor")
