"""One trial as the search sees it: a record on disk that follows the training as it happens.

Shared by every backend (the local scheduler in-process, Ray workers in other processes), so a
trial is written the same way wherever it runs: ``trial.json`` after every evaluation, the best
weights (safetensors) and model spec whenever the tuning WER improves.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TypedDict

from autoasr.core.storage import save_weights, write_json
from autoasr.core.text import CharVocabulary
from autoasr.inference.model_files import (
    MODEL_SPEC_FILE,
    MODEL_WEIGHTS_FILE,
    model_spec_config,
    write_tuning_transcripts,
)
from autoasr.training.loop import train_trial
from autoasr.training.tensors import SplitTensors

TRIAL_FILE = "trial.json"
# how a trial was run, not what was searched: left out when configs are compared or shown as settings
BOOKKEEPING_KEYS = ("patience", "continued_from", "anneal", "refit", "refit_of", "max_epochs")


class TrialRecord(TypedDict, total=False):
    """What one trial's ``trial.json`` holds, and what the trial book, the leaderboard and the cards read.

    Figures are named once: ``train_seconds`` is time spent training (not evaluating), ``eval_seconds``
    time spent scoring the tuning set, ``audio_seconds_trained`` the audio the model saw, repeats included.
    """

    trial_id: str
    model: str
    size: str
    config: dict  # the searched settings plus bookkeeping keys (BOOKKEEPING_KEYS)
    status: str  # running, ok, failed
    start_time: float
    end_time: float | None
    history: list[dict]  # one row per evaluation: epoch, train_loss, val_wer, val_cer, epoch_seconds, ...
    val_wer: float
    val_cer: float
    epochs: int
    best_epoch: int
    parameters: int
    train_seconds: float
    eval_seconds: float
    audio_seconds_trained: float
    stop_reason: str  # deadline, plateau, perfect, pruned, stopped, interrupted, error, max_epochs
    error: str | None
    latency_ms: float  # added once the model is measured (autoasr.results.model_costs)
    rtf: float
    size_mb: float
    decoder: str  # greedy or lm, after the decoder choice
    refit_of: str  # a refit on all data (autoasr.search.refit): the trial whose configuration it trained again
    note: str  # what a reader of the leaderboard must know about the row (a refit's borrowed val_wer)


def new_trial_record(trial_id: str, config: dict) -> TrialRecord:
    return {"trial_id": trial_id, "model": config["model"], "size": config["size"], "config": dict(config),
            "status": "running", "start_time": time.time(), "end_time": None, "history": [],
            "val_wer": float("nan"), "val_cer": float("nan")}


def close_interrupted(trial: TrialRecord, trial_dir: Path) -> None:
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
    record: TrialRecord,
    trial_dir: Path,
    tensors: Callable[[], tuple[SplitTensors, SplitTensors]],
    vocabulary: CharVocabulary,
    deadline,
    on_epoch: Callable[[dict], None] = lambda metrics: None,
    should_stop: Callable[[], bool] = lambda: False,
    initial_state: dict | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> TrialRecord:
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

    tuning_texts: list[str] = []  # filled once the tensors exist

    def save_best(state: dict, metrics: dict) -> None:
        save_weights(trial_dir / MODEL_WEIGHTS_FILE, state)
        write_json(trial_dir / MODEL_SPEC_FILE, {"config": model_spec_config(config),
                                                "vocabulary": list(vocabulary.symbols)})
        if "hypotheses" in metrics:  # which words the best epoch gets wrong (autoasr.results.word_errors)
            write_tuning_transcripts(trial_dir, tuning_texts, metrics["hypotheses"])

    try:
        train_tensors, tuning_tensors = tensors()
        tuning_texts[:] = tuning_tensors.texts
        outcome = train_trial(config, train_tensors, tuning_tensors, vocabulary, deadline, report=report,
                              should_stop=should_stop, on_improvement=save_best, seed=seed,
                              initial_state=initial_state, device=device)
        record.update(
            status="ok" if outcome.state_dict is not None else "failed",
            val_wer=outcome.best_wer, val_cer=outcome.best_cer, epochs=outcome.epochs,
            best_epoch=outcome.best_epoch, parameters=outcome.parameters,
            train_seconds=outcome.train_seconds, eval_seconds=outcome.eval_seconds,
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
