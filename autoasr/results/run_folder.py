"""The run folder on disk: ``predictor.json``, ``trials/<id>/trial.json`` with the trial's model files,
``leaderboard.csv`` and ``best/`` (a copy of the best model)."""
from __future__ import annotations

import shutil
from pathlib import Path

from autoasr.core.storage import read_json, write_json, write_text
from autoasr.inference.encoder_copy import keep_encoder_copy
from autoasr.inference.model_files import MODEL_SPEC_FILE, MODEL_WEIGHTS_FILE
from autoasr.training.trial import TRIAL_FILE, close_interrupted

PREDICTOR_FILE = "predictor.json"
FORMAT_VERSION = 1


def unreadable_weights(path: Path) -> str | None:
    """Why a weights file cannot be used, or None when its safetensors header reads cleanly."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except Exception as error:  # safetensors parses a header only: no code runs, whatever the file holds
        return f"checkpoint unreadable ({path.name}: {error})"
    return None


class RunFolder:
    """Reads and writes one run's files; knows nothing of how the trials were trained."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def settings_file(self) -> Path:
        return self.path / PREDICTOR_FILE

    def is_run(self) -> bool:
        return self.settings_file.is_file()

    def trial_dir(self, trial_id: str) -> Path:
        return self.path / "trials" / trial_id

    def read_settings(self) -> dict:
        return read_json(self.settings_file) if self.settings_file.is_file() else {}

    def write_settings(self, **fields) -> None:
        """Merge ``fields`` into ``predictor.json`` (what an earlier call wrote and these do not name is kept)."""
        settings = self.read_settings()
        settings.update({"format_version": FORMAT_VERSION, **fields})
        write_json(self.settings_file, settings)

    def write_trial(self, record: dict) -> None:
        write_json(self.trial_dir(record["trial_id"]) / TRIAL_FILE, record)

    def clear_trials(self) -> None:
        shutil.rmtree(self.path / "trials", ignore_errors=True)

    def load_trials(self) -> dict[str, dict]:
        """Every trial on disk by id; one cut off mid-way is closed (keeping its best epoch) and one with a
        damaged checkpoint is marked failed, so the next best takes its place."""
        trials = {}
        for trial_file in sorted((self.path / "trials").glob(f"*/{TRIAL_FILE}")):
            trial = read_json(trial_file)
            if trial.get("status") in ("running", "interrupted"):  # the process died mid-trial
                close_interrupted(trial, trial_file.parent)
                write_json(trial_file, trial)
            # a recognizer row and the ensemble row (its members' weights) have no weights file of their own
            if trial.get("status") == "ok" and not trial.get("recognizer") and not trial.get("ensemble"):
                problem = unreadable_weights(trial_file.parent / MODEL_WEIGHTS_FILE)
                if problem:
                    trial.update(status="failed", error=problem)
            trials[trial["trial_id"]] = trial
        for trial in trials.values():  # an ensemble stands on its members (autoasr.inference.ensemble)
            lost = [m for m in trial.get("ensemble") or [] if trials.get(m, {}).get("status") != "ok"]
            if trial.get("status") == "ok" and lost:
                trial.update(status="failed", error=f"ensemble member {lost[0]} unusable: "
                                                    f"{trials.get(lost[0], {}).get('error') or 'missing'}")
        return trials

    def save_results(self, leaderboard, best_trial_id: str | None) -> None:
        """``leaderboard.csv``, and the best trial's model files copied to ``best/``."""
        write_text(self.path / "leaderboard.csv", leaderboard.to_csv(index=False))
        if best_trial_id:
            best_dir = self.path / "best"
            best_dir.mkdir(exist_ok=True)
            for name in (MODEL_SPEC_FILE, MODEL_WEIGHTS_FILE):
                source = self.trial_dir(best_trial_id) / name
                if source.is_file():
                    shutil.copyfile(source, best_dir / name)
                else:  # a pretrained recognizer has no weights file: no earlier best's weights stay beside its spec
                    (best_dir / name).unlink(missing_ok=True)
        # a pretrained encoder read from a folder travels with the run (autoasr.inference.encoder_copy): every
        # trial's, since any row may be chosen or reloaded later (the trials share one encoder: one copy)
        for path in sorted((self.path / "trials").glob(f"*/{MODEL_SPEC_FILE}")):
            spec = read_json(path)  # a recognizer's kind beside its config: a zero-shot Whisper's folder travels too
            keep_encoder_copy(self.path, {"kind": spec.get("kind"), **spec.get("config", {})})
