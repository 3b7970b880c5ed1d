"""The saved model format: ``model.json`` (config, vocabulary, decoder) beside ``model.safetensors``; a pretrained
recognizer's ``model.json`` names its ``kind`` and source instead (no weights file)."""
from __future__ import annotations

from pathlib import Path

from autoasr.core.storage import read_json, write_json
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
# a trial's tuning references and what its model heard (autoasr.results.word_errors)
TUNING_TRANSCRIPTS_FILE = "tuning_transcripts.json"


def write_tuning_transcripts(trial_dir: Path, references: list[str], hypotheses: list[str]) -> None:
    """What a row heard on the tuning clips beside what was said (training and the reference rows both write it)."""
    write_json(Path(trial_dir) / TUNING_TRANSCRIPTS_FILE,
               {"references": list(references), "hypotheses": list(hypotheses)})


def read_tuning_transcripts(trial_dir: Path) -> tuple[list[str], list[str]] | None:
    path = Path(trial_dir) / TUNING_TRANSCRIPTS_FILE
    if not path.is_file():
        return None
    saved = read_json(path)
    return saved["references"], saved["hypotheses"]
# what a model.json describes: a trained CTC model (no "kind" key, as every model saved before) or a pretrained
# recognizer used as it is (autoasr.inference.recognizers), saved without weights
CTC_KIND = "ctc"
# several trained trials combined (autoasr.inference.ensemble): its model.json names the member trial folders
ENSEMBLE_KIND = "ensemble"


def model_kind(spec: dict) -> str:
    return spec.get("kind", CTC_KIND)
