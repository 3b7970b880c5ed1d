"""Median stopping at equal training time: a trial behind the median of earlier trials after as many seconds
trained is pruned."""
from __future__ import annotations

import statistics


def training_seconds_curve(history: list[dict]) -> list[tuple[float, float]]:
    """(seconds trained so far, best tuning WER then) after each evaluation of one trial."""
    curve, elapsed = [], 0.0
    for row in history:
        elapsed += row["epoch_seconds"]
        curve.append((elapsed, row["best_val_wer"]))
    return curve


def median_stopping(history_by_trial: dict[str, list[dict]], trial_id: str, grace_seconds: float,
                    min_trials: int = 2, grace_steps: int = 0) -> bool:
    """True when a trial's best WER is worse than the median of earlier trials' after as many seconds of training.

    The median stopping rule (Golovin et al., 2017) with training time as the resource, as ASHA counts
    it: a search under a time limit buys WER per second, so a model that learns slowly per second
    stops early however cheap its epochs look, and its time goes to new configs. The trial is judged at
    its latest evaluation in ``history_by_trial[trial_id]``, not before ``grace_seconds`` of training;
    only trials that trained at least as long are compared.

    Nor before ``grace_steps`` updates (rows record ``steps``): a CTC model emits only blanks for its first
    hundred or so updates however fast it will learn after, and a slow family (a CRNN, a Conformer) makes
    fewer of them per second, so a grace in seconds alone prunes it before its learning starts.
    """
    history = history_by_trial.get(trial_id, [])
    own = training_seconds_curve(history)
    if not own or own[-1][0] < grace_seconds or history[-1].get("steps", grace_steps) < grace_steps:
        return False
    seconds_trained, value = own[-1]
    others = []
    for other_id, history in history_by_trial.items():
        curve = training_seconds_curve(history) if other_id != trial_id else []
        if curve and curve[-1][0] >= seconds_trained:
            others.append(next(wer for elapsed, wer in reversed(curve) if elapsed <= seconds_trained)
                          if curve[0][0] <= seconds_trained else 1.0)
    return len(others) >= min_trials and value > statistics.median(others)
