"""One trial as the search sees it: a record on disk that follows the training as it happens.

Shared by every backend (the local scheduler in-process, Ray workers in other processes), so a
trial is written the same way wherever it runs: ``trial.json`` after every evaluation, the best
weights (safetensors) and model spec whenever the tuning WER improves.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from autoasr.core.storage import save_weights, write_json
from autoasr.core.text import CharVocabulary
from autoasr.inference.model_files import (
    MODEL_SPEC_FILE,
    MODEL_WEIGHTS_FILE,
    model_spec_config,
)
from autoasr.training.loop import train_trial
from autoasr.training.tensors import SplitTensors

TRIAL_FILE = "trial.json"
# how a trial was run, not what was searched: left out when configs are compared or shown as settings
BOOKKEEPING_KEYS = ("patience", "continued_from", "anneal")


def new_trial_record(trial_id: str, config: dict) -> dict:
    return {"trial_id": trial_id, "model": config["model"], "size": config["size"], "config": dict(config),
            "status": "running", "start_time": time.time(), "end_time": None, "history": [],
            "val_wer": float("nan"), "val_cer": float("nan")}


def close_interrupted(trial: dict, trial_dir: Path) -> None:
    """A trial cut off mid-way keeps its best epoch when that epoch's weights reached the disk."""
    history = trial.get("history") or []
    trial.update(stop_reason="interrupted", end_time=trial.get("end_time") or time.time())
    if history and (trial_dir / MODEL_WEIGHTS_FILE).is_file():
        best = min(history, key=lambda row: (row["val_wer"], row["val_cer"]))
        trial.update(status="ok", val_wer=best["val_wer"], val_cer=best["val_cer"], epochs=len(history),
                     best_epoch=best["epoch"])
    else:
        trial.update(status="failed", error="interrupted before its first evaluation")


def run_recorded_trial(
    record: dict,
    trial_dir: Path,
    tensors: Callable[[], tuple[SplitTensors, SplitTensors]],
    vocabulary: CharVocabulary,
    deadline,
    on_epoch: Callable[[dict], None] = lambda metrics: None,
    should_stop: Callable[[], bool] = lambda: False,
    initial_state: dict | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> dict:
    """Train ``record["config"]``, keeping ``record`` and its files current; returns the final record.

    A failing configuration is recorded as failed with its reason (never raised); Ctrl-C closes the
    record as interrupted, keeping its best epoch, and is raised again for the caller to stop.
    """
    config = record["config"]
    write_json(trial_dir / TRIAL_FILE, record)

    def report(metrics: dict) -> None:
        record["history"].append(metrics)
        write_json(trial_dir / TRIAL_FILE, record)
        on_epoch(metrics)

    def save_best(state: dict, metrics: dict) -> None:
        save_weights(trial_dir / MODEL_WEIGHTS_FILE, state)
        write_json(trial_dir / MODEL_SPEC_FILE, {"config": model_spec_config(config),
                                                "vocabulary": list(vocabulary.symbols)})

    try:
        train_tensors, tuning_tensors = tensors()
        outcome = train_trial(config, train_tensors, tuning_tensors, vocabulary, deadline, report=report,
                              should_stop=should_stop, on_improvement=save_best, seed=seed,
                              initial_state=initial_state, device=device)
        record.update(
            status="ok" if outcome.state_dict is not None else "failed",
            val_wer=outcome.best_wer, val_cer=outcome.best_cer, epochs=outcome.epochs,
            best_epoch=outcome.best_epoch, parameters=outcome.parameters,
            train_seconds=outcome.seconds_training, eval_seconds=outcome.seconds_evaluating,
            audio_seconds_trained=outcome.audio_seconds_trained, stop_reason=outcome.stop_reason,
            error=None if outcome.state_dict is not None else "no evaluation finished within the budget")
    except KeyboardInterrupt:
        close_interrupted(record, trial_dir)
        write_json(trial_dir / TRIAL_FILE, record)
        raise
    except Exception as error:  # one broken configuration must not end the search
        record.update(status="failed", error=f"{type(error).__name__}: {error}", stop_reason="error")
    record["end_time"] = time.time()
    write_json(trial_dir / TRIAL_FILE, record)
    return record
