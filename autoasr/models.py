"""A registry of CTC acoustic model families, each with size presets.

Every model maps features (batch, time, num_features) and their lengths to log-probabilities
(batch, time', vocabulary) and output lengths; time' is time divided by the subsampling factor.

>>> model = build_model("crnn", "tiny", num_features=40, vocabulary_size=30)
>>> log_probs, lengths = model(torch.zeros(2, 100, 40), torch.tensor([100, 80]))
>>> log_probs.shape, lengths.tolist()
(torch.Size([2, 50, 30]), [50, 40])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torchaudio.models import Conformer


@dataclass(frozen=True)
class ModelFamily:
    name: str
    description: str
    build: Callable[..., nn.Module]
    sizes: dict[str, dict]


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


MODEL_FAMILIES: dict[str, ModelFamily] = {
    "crnn": ModelFamily(
        "crnn", "convolutions then bidirectional GRUs: strong on small data", CRNN,
        {"tiny": {"hidden": 64, "layers": 1}, "small": {"hidden": 128, "layers": 2},
         "medium": {"hidden": 192, "layers": 3}},
    ),
    "conformer": ModelFamily(
        "conformer", "convolution-augmented transformer (torchaudio): strong with more data", ConformerCTC,
        {"tiny": {"dim": 64, "layers": 1, "heads": 2}, "small": {"dim": 96, "layers": 2, "heads": 4},
         "medium": {"dim": 144, "layers": 4, "heads": 4}},
    ),
    "convnet": ModelFamily(
        "convnet", "purely convolutional (QuartzNet-like): fastest inference", ConvNet,
        {"tiny": {"channels": 64, "blocks": 2}, "small": {"channels": 128, "blocks": 3},
         "medium": {"channels": 192, "blocks": 5}},
    ),
}


# a pretrained wav2vec2 encoder with a CTC head (autoasr.pretrained): a family only where weights are at
# hand, so it is not in MODEL_FAMILIES; its "size" names the encoder, and its weights come from the config
PRETRAINED_FAMILY = "wav2vec2"


def build_model(family: str, size: str, num_features: int, vocabulary_size: int, dropout: float = 0.1,
                **pretrained) -> nn.Module:
    """Instantiate a model family at a size preset.

    ``wav2vec2`` takes ``checkpoint`` (fine-tuning starts from its pretrained weights) or ``encoder_config``
    and ``normalize_waveform`` (the architecture alone, for fine-tuned weights loaded afterwards).
    """
    if family == PRETRAINED_FAMILY:
        from autoasr.pretrained import pretrained_model_family

        if not pretrained.get("checkpoint") and not pretrained.get("encoder_config"):
            raise ValueError("a wav2vec2 model needs its encoder: a 'checkpoint' path or an 'encoder_config'")
        return pretrained_model_family([]).build(num_features, vocabulary_size, dropout=dropout, **pretrained)
    if family not in MODEL_FAMILIES:
        raise ValueError(f"unknown model family '{family}' (choose from {', '.join(MODEL_FAMILIES)}, "
                         f"or {PRETRAINED_FAMILY} with a pretrained encoder)")
    sizes = MODEL_FAMILIES[family].sizes
    if size not in sizes:
        raise ValueError(f"unknown size '{size}' for {family} (choose from {', '.join(sizes)})")
    return MODEL_FAMILIES[family].build(num_features, vocabulary_size, dropout=dropout, **sizes[size])


def build_network(config: dict, num_features: int, vocabulary_size: int, pretrained_weights: bool = True) -> nn.Module:
    """The network a trial config (or a saved model's config) describes.

    A wav2vec2 config starts from its ``checkpoint``'s weights when ``pretrained_weights`` (training);
    otherwise it is built from the ``encoder_config`` a saved model keeps, so that loading fine-tuned
    weights does not need the checkpoint file any more.

    >>> build_network({"model": "crnn", "size": "tiny"}, 40, 30).__class__.__name__
    'CRNN'
    """
    options = {}
    if config["model"] == PRETRAINED_FAMILY:
        if config.get("encoder_config") and not (pretrained_weights and config.get("checkpoint")):
            options = {"encoder_config": config["encoder_config"],
                       "normalize_waveform": bool(config.get("normalize_waveform", False))}
        else:
            options = {"checkpoint": config.get("checkpoint")}
    return build_model(config["model"], config["size"], num_features, vocabulary_size, config.get("dropout", 0.1),
                       **options)


def model_spec_config(config: dict) -> dict:
    """The config a saved model's ``model.json`` keeps: the trial's settings, its feature width and, for
    a pretrained encoder, the encoder's architecture (so the saved model loads without the checkpoint).
    """
    from autoasr.features import FrontendConfig

    spec = {**config, "num_features": FrontendConfig(kind=config.get("frontend", "logmel")).num_features}
    if config["model"] == PRETRAINED_FAMILY and not spec.get("encoder_config"):
        from autoasr.pretrained import read_encoder

        encoder = read_encoder(config["checkpoint"])
        spec.update(encoder_config=encoder.config, normalize_waveform=encoder.normalize_waveform)
    return spec


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
