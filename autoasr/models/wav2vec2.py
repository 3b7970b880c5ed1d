"""Pretrained wav2vec 2.0 encoders as a search candidate, fine-tuned with a CTC head.

No weights can be downloaded at run time, so an encoder is used only when one is at hand: a local
checkpoint given as an argument or through the ``AUTOASR_PRETRAINED`` environment variable (files or
folders, separated by ``os.pathsep``). A checkpoint is one safetensors file: the state dict of a
``torchaudio.models.wav2vec2_model(...)`` and, in the file's metadata, the JSON of the arguments
that build it, so loading reads plain tensors and runs no code (no pickle).

>>> encoders = available_pretrained_encoders()          # doctest: +SKIP
>>> encoders.reason                                     # doctest: +SKIP
'no pretrained encoder configured: set AUTOASR_PRETRAINED to a wav2vec2 checkpoint (.safetensors) ...'
>>> model = build_pretrained_ctc(encoders[0], vocabulary_size=29)        # doctest: +SKIP
>>> log_probs, lengths = model(WaveformFrames()(torch.zeros(16000)).unsqueeze(0), torch.tensor([100]))  # doctest: +SKIP

A checkpoint from a torchaudio pipeline bundle (where the network allows the download) is made with
:func:`export_torchaudio_bundle`; any ``Wav2Vec2Model`` with its arguments with
:func:`save_wav2vec2_checkpoint`.
"""
from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torchaudio.models import Wav2Vec2Model, wav2vec2_model

from autoasr.models.frontends import SAMPLES_PER_FRAME

ENVIRONMENT_VARIABLE = "AUTOASR_PRETRAINED"
CONFIG_METADATA_KEY = "autoasr.wav2vec2_config"
FORMAT_METADATA_KEY = "autoasr.format"
FORMAT_NAME = "wav2vec2-encoder"
_BUILDER_PARAMETERS = tuple(p for p in inspect.signature(wav2vec2_model).parameters if p != "aux_num_out")


@dataclass(frozen=True)
class PretrainedEncoder:
    """A pretrained encoder: a wav2vec2 checkpoint on disk and the arguments that build its network, or (``kind``
    "whisper", see :mod:`autoasr.models.encoder_sources`) a Whisper model's ``source``, a hub id or a folder."""

    name: str
    path: Path
    config: dict
    normalize_waveform: bool = False  # large (LV-60k) wav2vec2 models expect zero-mean unit-variance audio
    parameters: int = 0
    kind: str = "wav2vec2"
    source: str = ""

    def describe(self) -> str:
        count = f"{self.parameters / 1e6:.1f} M" if self.parameters >= 100_000 else f"{self.parameters / 1e3:.0f} k"
        if self.kind == "whisper":
            return (f"{self.name}: Whisper encoder, {self.config['encoder_layers']} layers of {self.config['d_model']} "
                    f"dims{f', {count} parameters' if self.parameters else ''}, frozen, with a CTC head or, for clip labels, a pooled one ({self.source})")
        return (f"{self.name}: wav2vec2 encoder, {self.config['encoder_num_layers']} layers of "
                f"{self.config['encoder_embed_dim']} dims, {count} parameters ({self.path})")


class PretrainedEncoders(list):
    """A list of :class:`PretrainedEncoder` that also says why it is empty (or what was skipped)."""

    def __init__(self, encoders=(), reason: str = "", origin: str = ""):
        super().__init__(encoders)
        self.reason = reason
        self.origin = origin  # where they were found: "the local Hugging Face cache", "downloaded now ...", ...


def save_wav2vec2_checkpoint(model: Wav2Vec2Model, config: dict, path: str | Path,
                             normalize_waveform: bool = False) -> Path:
    """Write ``model``'s encoder weights and its ``wav2vec2_model`` arguments to one safetensors file.

    >>> config = tiny_wav2vec2_config()
    >>> path = save_wav2vec2_checkpoint(wav2vec2_model(**config, aux_num_out=None), config, "tiny.safetensors")  # doctest: +SKIP
    """
    missing = [name for name in _BUILDER_PARAMETERS if name not in config]
    if missing:
        raise ValueError(f"wav2vec2 config lacks {', '.join(missing)} (the arguments of torchaudio.models.wav2vec2_model)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()
             if not key.startswith("aux.")}  # a fine-tuned bundle's own output layer is not reused
    encoder_config = {name: config[name] for name in _BUILDER_PARAMETERS}
    save_file(state, str(path), metadata={FORMAT_METADATA_KEY: FORMAT_NAME,
                                          CONFIG_METADATA_KEY: json.dumps(encoder_config),
                                          "normalize_waveform": json.dumps(bool(normalize_waveform))})
    return path


def read_encoder(path: str | Path) -> PretrainedEncoder:
    """Describe a checkpoint from its header alone (no tensors are read). Raises ValueError with the
    reason when the file is not an autoasr wav2vec2 checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            parameters = 0
            for key in handle.keys():
                shape = handle.get_slice(key).get_shape()
                count = 1
                for size in shape:
                    count *= size
                parameters += count
    except Exception as error:  # not a safetensors file
        raise ValueError(f"{path}: not a safetensors file ({error})") from None
    if metadata.get(FORMAT_METADATA_KEY) != FORMAT_NAME or CONFIG_METADATA_KEY not in metadata:
        raise ValueError(f"{path}: a safetensors file without autoasr's wav2vec2 metadata "
                         "(write it with autoasr.models.wav2vec2.save_wav2vec2_checkpoint)")
    config = json.loads(metadata[CONFIG_METADATA_KEY])
    if config.get("extractor_conv_layer_config") is not None:
        config["extractor_conv_layer_config"] = [tuple(layer) for layer in config["extractor_conv_layer_config"]]
    return PretrainedEncoder(path.stem, path, config, json.loads(metadata.get("normalize_waveform", "false")),
                             parameters)


def available_pretrained_encoders(path: str | Path | list | None = None) -> PretrainedEncoders:
    """Encoders at ``path`` (a checkpoint file, a folder of them, or a list), else at the paths in
    ``$AUTOASR_PRETRAINED``. Empty, with ``.reason`` saying why, when none is usable.

    >>> available_pretrained_encoders("/nowhere").reason           # doctest: +ELLIPSIS
    'no usable pretrained encoder: /nowhere: no such file or folder'
    """
    if path is None:
        configured = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
        if not configured:
            return PretrainedEncoders(reason=(
                f"no pretrained encoder configured: set {ENVIRONMENT_VARIABLE} to a wav2vec2 checkpoint "
                "(.safetensors written by autoasr.models.wav2vec2.save_wav2vec2_checkpoint or "
                "export_torchaudio_bundle) or a folder of them; model weights cannot be downloaded here"))
        candidates = [Path(p) for p in configured.split(os.pathsep) if p]
    else:
        candidates = [Path(p) for p in (path if isinstance(path, (list, tuple)) else [path])]
    encoders, problems = [], []
    for candidate in candidates:
        if candidate.is_dir():
            files = sorted(candidate.glob("*.safetensors"))
            if not files:
                problems.append(f"{candidate}: no .safetensors file in the folder")
        elif candidate.is_file():
            files = [candidate]
        else:
            problems.append(f"{candidate}: no such file or folder")
            files = []
        for file in files:
            try:
                encoders.append(read_encoder(file))
            except ValueError as error:
                problems.append(str(error))
    if not encoders:
        return PretrainedEncoders(reason="no usable pretrained encoder: " + "; ".join(problems))
    return PretrainedEncoders(encoders, reason="; ".join(f"skipped {p}" for p in problems))


def load_wav2vec2(encoder: PretrainedEncoder | str | Path) -> Wav2Vec2Model:
    """Build the encoder network from its arguments and load its weights (safetensors: no pickle)."""
    encoder = encoder if isinstance(encoder, PretrainedEncoder) else read_encoder(encoder)
    model = wav2vec2_model(**encoder.config, aux_num_out=None)
    state = load_file(str(encoder.path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{encoder.path}: weights do not fit the configured network "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model


def normalize_padded_waveform(waveform: torch.Tensor, sample_lengths: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per utterance over its real samples; the padding stays zero."""
    mask = (torch.arange(waveform.shape[1], device=waveform.device)[None] < sample_lengths[:, None]).float()
    count = mask.sum(1, keepdim=True).clamp(min=1)
    mean = (waveform * mask).sum(1, keepdim=True) / count
    variance = (((waveform - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return (waveform - mean) / (variance + 1e-7).sqrt() * mask


class Wav2Vec2CTC(nn.Module):
    """A wav2vec2 encoder with a linear CTC head, speaking the models' interface:
    (features (batch, time, 160) from :class:`WaveformFrames`, lengths in frames) ->
    (log-probs (batch, time', vocabulary), lengths'), at 50 output frames per second.
    """

    def __init__(self, encoder: Wav2Vec2Model, vocabulary_size: int, dropout: float = 0.1,
                 freeze_feature_extractor: bool = True, normalize_waveform: bool = False):
        super().__init__()
        self.encoder = encoder
        self.normalize_waveform = normalize_waveform
        self.dropout = nn.Dropout(dropout)
        embed_dim = encoder.encoder.feature_projection.projection.out_features
        self.output = nn.Linear(embed_dim, vocabulary_size)
        if freeze_feature_extractor:  # the convolutional front of wav2vec2 is kept as pretrained
            for parameter in self.encoder.feature_extractor.parameters():
                parameter.requires_grad_(False)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if features.ndim == 3:  # (batch, frames, 160) -> (batch, samples)
            waveform = features.reshape(features.shape[0], -1)
            sample_lengths = lengths * features.shape[-1]
        else:
            waveform, sample_lengths = features, lengths
        if self.normalize_waveform:
            waveform = normalize_padded_waveform(waveform, sample_lengths)
        hidden, out_lengths = self.encoder(waveform, sample_lengths)
        if out_lengths is None:
            out_lengths = torch.full((hidden.shape[0],), hidden.shape[1], dtype=torch.long, device=hidden.device)
        return self.output(self.dropout(hidden)).log_softmax(dim=-1), out_lengths.clamp(min=1)

    @classmethod
    def from_config(cls, encoder_config: dict, vocabulary_size: int, dropout: float = 0.1,
                    normalize_waveform: bool = False) -> "Wav2Vec2CTC":
        """The architecture only (random weights): for loading a fine-tuned state dict afterwards."""
        config = dict(encoder_config)
        if config.get("extractor_conv_layer_config") is not None:
            config["extractor_conv_layer_config"] = [tuple(layer) for layer in config["extractor_conv_layer_config"]]
        return cls(wav2vec2_model(**config, aux_num_out=None), vocabulary_size, dropout,
                   normalize_waveform=normalize_waveform)


def build_pretrained_ctc(encoder: PretrainedEncoder | str | Path, vocabulary_size: int, dropout: float = 0.1,
                         freeze_feature_extractor: bool = True) -> Wav2Vec2CTC:
    """The pretrained encoder (weights loaded) with a new CTC head of ``vocabulary_size`` outputs."""
    encoder = encoder if isinstance(encoder, PretrainedEncoder) else read_encoder(encoder)
    return Wav2Vec2CTC(load_wav2vec2(encoder), vocabulary_size, dropout, freeze_feature_extractor,
                       encoder.normalize_waveform)


def pretrained_model_family(encoders: list[PretrainedEncoder]):
    """A :class:`autoasr.models.family.ModelFamily` named ``wav2vec2`` whose sizes are the encoders' names.

    Its builder takes ``checkpoint`` (fine-tuning starts from the pretrained weights) or
    ``encoder_config`` (the architecture alone, to load a fine-tuned state dict at inference).
    """
    from autoasr.models.family import ModelFamily

    def build(num_features: int, vocabulary_size: int, dropout: float = 0.1, checkpoint: str | None = None,
              encoder_config: dict | None = None, normalize_waveform: bool = False) -> Wav2Vec2CTC:
        if num_features != SAMPLES_PER_FRAME:
            raise ValueError(f"wav2vec2 models read the 'waveform' frontend ({SAMPLES_PER_FRAME} samples a frame)")
        if checkpoint is not None:
            return build_pretrained_ctc(checkpoint, vocabulary_size, dropout)
        return Wav2Vec2CTC.from_config(encoder_config, vocabulary_size, dropout, normalize_waveform=normalize_waveform)

    sizes = {encoder.name: {"checkpoint": str(encoder.path)} for encoder in encoders}
    return ModelFamily("wav2vec2", "a pretrained wav2vec2 encoder fine-tuned with a CTC head", build, sizes)


def tiny_wav2vec2_config(embed_dim: int = 32, layers: int = 2, heads: int = 2) -> dict:
    """Arguments of a very small wav2vec2 (tens of thousands of parameters): for tests and demos."""
    return {
        "extractor_mode": "group_norm",
        "extractor_conv_layer_config": [(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2,  # 20 ms hop
        "extractor_conv_bias": False, "encoder_embed_dim": embed_dim, "encoder_projection_dropout": 0.0,
        "encoder_pos_conv_kernel": 16, "encoder_pos_conv_groups": 4, "encoder_num_layers": layers,
        "encoder_num_heads": heads, "encoder_attention_dropout": 0.0, "encoder_ff_interm_features": 2 * embed_dim,
        "encoder_ff_interm_dropout": 0.0, "encoder_dropout": 0.0, "encoder_layer_norm_first": False,
        "encoder_layer_drop": 0.0,
    }


def export_torchaudio_bundle(bundle_name: str, path: str | Path) -> Path:
    """Save a torchaudio pipeline bundle (e.g. ``"WAV2VEC2_BASE"``) as an autoasr checkpoint.

    Needs the network (torchaudio downloads the weights from its model hub); run it once where the
    network allows, then point ``AUTOASR_PRETRAINED`` at the file anywhere.
    """
    import torchaudio.pipelines as pipelines

    bundle = getattr(pipelines, bundle_name, None)
    if bundle is None or not hasattr(bundle, "_params"):
        raise ValueError(f"unknown wav2vec2 bundle '{bundle_name}' in torchaudio.pipelines")
    model = bundle.get_model()
    if not isinstance(model, Wav2Vec2Model) and isinstance(getattr(model, "model", None), Wav2Vec2Model):
        model = model.model  # torchaudio wraps the network when the bundle normalises its input
    config = {key: value for key, value in bundle._params.items() if key != "aux_num_out"}
    return save_wav2vec2_checkpoint(model, config, path, normalize_waveform=bool(getattr(bundle, "_normalize_waveform", False)))
