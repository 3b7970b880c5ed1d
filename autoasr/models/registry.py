"""A registry of CTC acoustic model families, each with size presets.

Every model maps features (batch, time, num_features) and their lengths to log-probabilities
(batch, time', vocabulary) and output lengths; time' is time divided by the subsampling factor.

>>> model = build_model("crnn", "tiny", num_features=40, vocabulary_size=30)
>>> log_probs, lengths = model(torch.zeros(2, 100, 40), torch.tensor([100, 80]))
>>> log_probs.shape, lengths.tolist()
(torch.Size([2, 50, 30]), [50, 40])
"""
from __future__ import annotations

from torch import nn

from autoasr.models.family import ModelFamily
from autoasr.models.networks import CRNN, ConformerCTC, ConvNet

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
# a CTC head on a frozen Whisper encoder (autoasr.models.whisper): the encoder is the "whisper" frontend,
# the network the head alone; also only where an encoder is at hand
WHISPER_FAMILY = "whisper"


def build_model(family: str, size: str, num_features: int, vocabulary_size: int, dropout: float = 0.1,
                **pretrained) -> nn.Module:
    """Instantiate a model family at a size preset.

    ``wav2vec2`` takes ``checkpoint`` (fine-tuning starts from its pretrained weights) or ``encoder_config``
    and ``normalize_waveform`` (the architecture alone, for fine-tuned weights loaded afterwards).
    """
    if family == PRETRAINED_FAMILY:
        from autoasr.models.wav2vec2 import pretrained_model_family

        if not pretrained.get("checkpoint") and not pretrained.get("encoder_config"):
            raise ValueError("a wav2vec2 model needs its encoder: a 'checkpoint' path or an 'encoder_config'")
        return pretrained_model_family([]).build(num_features, vocabulary_size, dropout=dropout, **pretrained)
    if family == WHISPER_FAMILY:
        from autoasr.models.whisper import build_whisper_head

        return build_whisper_head(num_features, vocabulary_size, dropout, size, **pretrained)
    if family not in MODEL_FAMILIES:
        raise ValueError(f"unknown model family '{family}' (choose from {', '.join(MODEL_FAMILIES)}, "
                         f"or {PRETRAINED_FAMILY} / {WHISPER_FAMILY} with a pretrained encoder)")
    sizes = MODEL_FAMILIES[family].sizes
    if size not in sizes:
        raise ValueError(f"unknown size '{size}' for {family} (choose from {', '.join(sizes)})")
    return MODEL_FAMILIES[family].build(num_features, vocabulary_size, dropout=dropout, **sizes[size])


def build_network(config: dict, num_features: int, vocabulary_size: int, pretrained_weights: bool = True,
                  symbols: tuple[str, ...] | None = None) -> nn.Module:
    """The network a trial config (or a saved model's config) describes.

    A wav2vec2 config starts from its ``checkpoint``'s weights when ``pretrained_weights`` (training);
    otherwise it is built from the ``encoder_config`` a saved model keeps, so that loading fine-tuned
    weights does not need the checkpoint file any more. A pooled Whisper head spells its config's
    ``labels`` with the vocabulary's ``symbols``.

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
    elif config["model"] == WHISPER_FAMILY and config.get("labels"):
        options = {"labels": list(config["labels"]), "symbols": symbols, "encoder": str(config.get("encoder", ""))}
    return build_model(config["model"], config["size"], num_features, vocabulary_size, config.get("dropout", 0.1),
                       **options)


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
