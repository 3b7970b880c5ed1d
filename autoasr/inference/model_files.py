"""The saved model format: ``model.json`` (config, vocabulary, decoder) beside ``model.safetensors``."""
from __future__ import annotations

from autoasr.models.registry import PRETRAINED_FAMILY


def model_spec_config(config: dict) -> dict:
    """The config a saved model's ``model.json`` keeps: the trial's settings, its feature width and, for
    a pretrained encoder, the encoder's architecture (so the saved model loads without the checkpoint).
    """
    from autoasr.models.frontends import FrontendConfig

    spec = {**config, "num_features": FrontendConfig.of(config).num_features}
    if config["model"] == PRETRAINED_FAMILY and not spec.get("encoder_config"):
        from autoasr.models.wav2vec2 import read_encoder

        encoder = read_encoder(config["checkpoint"])
        spec.update(encoder_config=encoder.config, normalize_waveform=encoder.normalize_waveform)
    return spec


MODEL_SPEC_FILE = "model.json"
MODEL_WEIGHTS_FILE = "model.safetensors"
