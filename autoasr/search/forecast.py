"""What a budget can buy: a forecast of tuning WER from data size, machine speed and past runs.

Each finished ``fit`` appends a line to ``runs.jsonl`` in the autoasr cache (data size, budget,
training throughput, the best WER reached after each number of epochs). A forecast converts the
budget into affordable training epochs with the throughput measured on this machine, and reads
the expected WER off the learning curves of past runs — or, before any run, off a built-in curve
measured on FSDD with the default search on 2 CPU cores (docs/benchmarks.md).

>>> forecast_budget(audio_seconds=900, time_limit=300).expected_wer        # doctest: +SKIP
0.03
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from autoasr.core.paths import cache_dir
from autoasr.core.resources import machine

# best greedy tuning WER the default search had reached after N passes over FSDD's ~35 minutes of
# training audio (epochs of a continued trial counted on from its parent's), median of the three 300 s
# seeds of 2026-12-02 (docs/benchmarks.md, 2 CPU cores); LM decoding, chosen afterwards, reads lower still
PRIOR_CURVE = {1: 0.71, 3: 0.2, 5: 0.13, 7: 0.074, 10: 0.044, 13: 0.035, 16: 0.029, 20: 0.026, 30: 0.024, 60: 0.021}
PRIOR_AUDIO_SECONDS_PER_SECOND = 360.0  # the default search's trials together, 2 CPU cores (326-411 measured)
SEARCH_SHARE_OF_BEST_TRIAL = 0.55  # the winner trains for ~55% of the budget (its trial + continuation: 158-168 s of 300)
# how far one curve is from a promise: the default search's best tuning WER on speakers held out of training,
# 180 s, one seed, 2 CPU cores, on the development suite's corpora (benchmarks/suite.py; benchmarks/results/
# suite_*_default_180s_seed0.json and after_selection/): the FSDD curve above is the easy end of this range
SUITE_TUNING_WER_180S = {"fsdd, a speaker held out": 0.317, "speech_commands": 0.237, "sc_small": 0.28,
                         "demo": 0.074, "espeak_es": 0.0}


def history_file() -> Path:
    return cache_dir("runs.jsonl")


@dataclass(frozen=True)
class Forecast:
    expected_wer: float
    epochs_affordable: float
    seconds_per_epoch: float
    basis: str
    low_wer: float = 0.0  # the range the expectation comes from: past runs here, or the development suite
    high_wer: float = 1.0
    spread: str = ""  # where that range was seen

    def describe(self) -> str:
        return (f"about {self.epochs_affordable:.0f} passes over the data for the best model "
                f"({self.seconds_per_epoch:.1f} s each); expected tuning WER around {self.expected_wer:.0%} "
                f"({self.basis}), but anywhere from {self.low_wer:.0%} to {self.high_wer:.0%} {self.spread}")

    def to_dict(self) -> dict:
        return asdict(self)


def _past_runs() -> list[dict]:
    path = history_file()
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def _interpolate(curve: dict[int, float], epochs: float) -> float:
    points = sorted((int(k), float(v)) for k, v in curve.items())
    if epochs <= points[0][0]:
        return points[0][1]
    for (e0, w0), (e1, w1) in zip(points, points[1:]):
        if epochs <= e1:
            return w0 + (w1 - w0) * (epochs - e0) / (e1 - e0)
    return points[-1][1]


def forecast_budget(audio_seconds: float, time_limit: float, cpu_count: int | None = None) -> Forecast:
    """Expected tuning WER of the best model for ``time_limit`` seconds on ``audio_seconds`` of training audio."""
    cpu_count = cpu_count or machine().cores
    runs = [r for r in _past_runs() if r.get("cpu_count") == cpu_count and r.get("audio_per_second")]
    if runs:
        throughput = statistics.median(r["audio_per_second"] for r in runs)
        similar = sorted(runs, key=lambda r: abs(math.log(max(r["audio_seconds"], 1) / max(audio_seconds, 1))))[:5]
        curves = [r["curve"] for r in similar if r.get("curve")]
        basis = f"learned from {len(runs)} earlier run{'s' * (len(runs) > 1)} on this machine"
    else:
        throughput = PRIOR_AUDIO_SECONDS_PER_SECOND * cpu_count / 2
        curves = []
        basis = "built-in estimate from FSDD; improves after your first run"
    seconds_per_epoch = max(audio_seconds, 1.0) / throughput
    epochs = SEARCH_SHARE_OF_BEST_TRIAL * time_limit / seconds_per_epoch
    if curves:
        outcomes = [_interpolate(curve, epochs) for curve in curves]
        expected = statistics.median(outcomes)
        spread = f"in the {len(outcomes)} most similar earlier run{'s' * (len(outcomes) > 1)}"
    else:
        expected = _interpolate(PRIOR_CURVE, epochs)
        outcomes = [expected, *SUITE_TUNING_WER_180S.values()]
        spread = (f"on voices held out of training across the {len(SUITE_TUNING_WER_180S)} corpora of the "
                  "development suite at 180 s")
    return Forecast(expected_wer=expected, epochs_affordable=epochs, seconds_per_epoch=seconds_per_epoch, basis=basis,
                    low_wer=min(outcomes), high_wer=max(outcomes), spread=spread)


def epochs_from_scratch(trials: list[dict]) -> list[dict]:
    """The history rows of ``trials`` with each epoch counted from untrained weights: a trial continued
    from another's checkpoint (``config["continued_from"]``) goes on from its parent's epoch count."""
    by_id = {trial["trial_id"]: trial for trial in trials}

    def epochs_before(trial: dict) -> int:
        parent = by_id.get(trial.get("config", {}).get("continued_from"))
        return len(parent.get("history", [])) + epochs_before(parent) if parent else 0

    return [{**row, "epoch": row["epoch"] + epochs_before(trial)} for trial in trials for row in trial.get("history", [])]


def record_run(audio_seconds: float, time_limit: float, history_rows: list[dict], audio_seconds_trained: float,
               training_seconds: float) -> None:
    """Remember a finished fit so later forecasts on this machine learn from it."""
    if not history_rows or training_seconds <= 0:
        return
    curve: dict[int, float] = {}
    for row in history_rows:  # best WER reached by any trial after N epochs
        curve[row["epoch"]] = min(curve.get(row["epoch"], 1.0), row["best_val_wer"])
    entry = {"audio_seconds": audio_seconds, "time_limit": time_limit, "cpu_count": machine().cores,
             "audio_per_second": audio_seconds_trained / training_seconds, "curve": curve}
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
