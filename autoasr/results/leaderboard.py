"""The trials of one run and the leaderboard they make: rows, order, and the best model within limits."""
from __future__ import annotations

import pandas

from autoasr.results.model_costs import best_within, within_limits
from autoasr.training.trial import TrialRecord

LEADERBOARD_COLUMNS = ["trial_id", "model", "size", "val_wer", "val_cer", "status", "decoder", "pretrained",
                       "latency_ms", "rtf", "size_mb", "epochs", "best_epoch",
                       "parameters", "train_seconds", "eval_seconds", "start_time", "end_time", "stop_reason",
                       "config", "error", "note"]
LIMIT_UNITS = {"max_latency_ms": "ms latency", "max_size_mb": "MB"}


def parse_limits(max_latency_ms: float | None = None, max_size_mb: float | None = None) -> dict:
    """The latency/size limits that were given, as floats; a limit that is not a positive number is refused."""
    limits = {"max_latency_ms": max_latency_ms, "max_size_mb": max_size_mb}
    for name, value in limits.items():
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    return {name: float(value) for name, value in limits.items() if value is not None}


def describe_limits(limits: dict) -> str:
    """>>> describe_limits({"max_latency_ms": 5.0})
    '5 ms latency'
    """
    return " and ".join(f"{value:g} {LIMIT_UNITS[name]}" for name, value in limits.items()) or "no limits"


def leaderboard_row(trial: TrialRecord) -> dict:
    """One trial record as a leaderboard row (the run's settings such as patience left out of ``config``)."""
    row = {column: trial.get(column) for column in LEADERBOARD_COLUMNS}
    row["config"] = {k: v for k, v in trial["config"].items() if k != "patience"}
    # a row that started from a pretrained model (an encoder, or a pretrained recognizer used as it is)
    row["pretrained"] = bool(trial.get("pretrained") or trial["config"].get("encoder")
                             or trial["config"].get("checkpoint") or trial.get("model") == "wav2vec2")
    if trial.get("status") == "ok" and not row["decoder"]:
        row["decoder"] = "greedy"
    return row


class TrialBook:
    """Every trial record of a run by id, and which one is the best (within ``limits`` when set).

    A record (:class:`~autoasr.training.trial.TrialRecord`) is what a trial writes as ``trial.json``.
    """

    def __init__(self, limits: dict | None = None):
        self.trials: dict[str, TrialRecord] = {}
        self.limits: dict = dict(limits or {})
        self.best_trial_id: str | None = None

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, trial_id: str) -> TrialRecord:
        return self.trials[trial_id]

    def records(self) -> list[TrialRecord]:
        return list(self.trials.values())

    def next_id(self) -> str:
        return f"{len(self.trials) + 1:03d}"

    def add(self, record: TrialRecord) -> None:
        self.trials[record["trial_id"]] = record

    def replace_all(self, records: dict[str, TrialRecord]) -> None:
        self.trials = dict(records)
        self.refresh_best()

    def histories(self, fresh_only: bool = False) -> dict[str, list]:
        """Per-epoch metrics by trial; ``fresh_only`` leaves out continuations (they start from trained weights)."""
        return {trial_id: trial.get("history", []) for trial_id, trial in self.trials.items()
                if not (fresh_only and "continued_from" in trial.get("config", {}))}

    def refresh_best(self) -> None:
        finished = [t for t in self.trials.values() if t["status"] == "ok"]
        if finished:
            within = best_within(self.leaderboard(), **self.limits) if self.limits else None
            # at equal WER a single model beats the ensemble of it and others (as accurate, smaller and faster), and
            # a refit on all data its parent; after a refit no ensemble leads (see _refit_done)
            refit = self._refit_done()
            self.best_trial_id = within or min(finished, key=lambda t: (refit and t["model"] == "ensemble", t["val_wer"],
                                                                        t["model"] == "ensemble", not t.get("refit_of"),
                                                                        t["val_cer"], t["start_time"]))["trial_id"]

    def _refit_done(self) -> bool:
        """Whether a refit on all data finished. Its members trained without the tuning clips, an ensemble's edge on
        them is then no reason to pass over the refit: on a tuning set small enough to be refit, that edge is a
        clip or two (a tiny corpus: 80% against 85% on 20 words), and the refit is what the search chose for the
        corpus, trained on every clip (AutoGluon's refit_full replaces its models the same way)."""
        return any(t.get("refit_of") and t["status"] == "ok" for t in self.trials.values())

    def leaderboard(self) -> pandas.DataFrame:
        """One row per trial, finished trials first, lowest validation WER first (within the limits first, when set)."""
        frame = pandas.DataFrame([leaderboard_row(trial) for trial in self.trials.values()], columns=LEADERBOARD_COLUMNS)
        if frame.empty:
            return frame
        frame["_failed"] = frame["status"] != "ok"
        # with latency/size limits, models within them come first: the first row is the best model
        frame["_outside"] = ~within_limits(frame, **self.limits) if self.limits else False
        # a refit on all data carries its parent's scores and is the model the search chose among the rows of its
        # WER (autoasr.search.refit): it comes first among them; a tie goes to a single model over the ensemble
        frame["_not_refit"] = [not t.get("refit_of") for t in self.trials.values()]
        frame["_ensemble"] = frame["model"] == "ensemble"
        frame["_after_a_refit"] = frame["_ensemble"] & self._refit_done()
        frame = frame.sort_values(["_failed", "_outside", "_after_a_refit", "val_wer", "_ensemble", "_not_refit",
                                   "val_cer", "start_time"])
        return frame.drop(columns=["_failed", "_outside", "_after_a_refit", "_ensemble", "_not_refit"]).reset_index(drop=True)

    def history(self) -> pandas.DataFrame:
        """Per-epoch metrics of every trial (trial_id, model, epoch, val_wer, ...), for learning curves."""
        return pandas.DataFrame([{"trial_id": t["trial_id"], "model": t["model"], **row}
                                 for t in self.trials.values() for row in t.get("history", [])])

    def limits_note(self) -> dict:
        """What a fit summary says about the limits: which were asked for and whether the best model keeps to them."""
        if not self.limits:
            return {}
        kept = best_within(self.leaderboard(), **self.limits) is not None
        note = {"limits": dict(self.limits), "limits_met": kept}
        if not kept and self.best_trial_id:
            note["limits_note"] = (f"no finished model is within {describe_limits(self.limits)}; the most accurate "
                                   f"model ({self.best_trial_id}) was kept")
        return note
