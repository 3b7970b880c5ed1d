"""Latency, RTF and size of a model, and choosing the most accurate model within limits."""
import math

import numpy as np
import pandas
import pytest

from autoasr.core.text import CharVocabulary
from autoasr.inference.model import TrainedModel
from autoasr.models.registry import count_parameters
from autoasr.results.model_costs import (
    best_within,
    measure_inference_cost,
    pareto_front,
    weights_megabytes,
    within_limits,
)


def board(rows):
    columns = ["trial_id", "model", "status", "val_wer", "val_cer", "start_time", "latency_ms", "size_mb", "parameters"]
    return pandas.DataFrame([dict(zip(columns, row)) for row in rows], columns=columns)


TRIALS = board([
    ("001", "crnn", "ok", 0.10, 0.05, 1, 5.0, 0.5, 120_000),
    ("002", "conformer", "ok", 0.02, 0.01, 2, 40.0, 4.0, 1_000_000),
    ("003", "convnet", "ok", 0.05, 0.02, 3, 8.0, 0.3, 70_000),
    ("004", "crnn", "failed", math.nan, math.nan, 4, math.nan, math.nan, math.nan),
    ("005", "conformer", "ok", 0.06, 0.03, 5, 30.0, 2.0, 800_000),  # slower and worse than 003: off the front
    ("006", "crnn", "ok", 0.01, 0.01, 6, math.nan, math.nan, 120_000),  # never measured
])


def test_best_within_picks_the_most_accurate_trial_that_keeps_every_limit():
    assert best_within(TRIALS) == "006"
    assert best_within(TRIALS, max_latency_ms=50) == "002"
    assert best_within(TRIALS, max_latency_ms=10) == "003"
    assert best_within(TRIALS, max_latency_ms=10, max_size_mb=0.4) == "003"
    assert best_within(TRIALS, max_latency_ms=6) == "001"
    assert best_within(TRIALS, max_size_mb=0.1) is None


def test_best_within_keeps_the_fits_tie_order_a_single_model_then_a_refit_first():
    tied = board([("001", "convnet", "ok", 0.1, 0.01, 1, 5.0, 0.5, 1), ("002", "whisper", "ok", 0.1, 0.05, 2, 5.0, 0.5, 1),
                  ("003", "ensemble", "ok", 0.1, 0.0, 3, 9.0, 1.0, 2), ("004", "whisper", "ok", 0.1, 0.05, 4, 5.0, 0.5, 1)])
    tied["config"] = [{}, {}, {"members": ["001", "002"]}, {"refit": True, "refit_of": "002"}]
    assert best_within(tied) == "004"  # the refit of 002, though 001 reads the tuning clips' letters better
    assert best_within(tied.iloc[:3]) == "001"  # the ensemble's lower CER does not beat a single model's equal WER


def test_unmeasured_and_failed_trials_never_count_as_within_a_limit():
    kept = within_limits(TRIALS, max_latency_ms=1000)
    assert list(TRIALS.loc[kept, "trial_id"]) == ["001", "002", "003", "005"]


def test_pareto_front_keeps_only_trials_nothing_beats_on_both_wer_and_cost():
    assert list(pareto_front(TRIALS, "latency_ms")["trial_id"]) == ["001", "003", "002"]
    assert list(pareto_front(TRIALS, "parameters")["trial_id"]) == ["003", "006"]
    assert pareto_front(TRIALS[TRIALS["status"] == "failed"], "latency_ms").empty


def test_measured_cost_is_a_real_timing_of_the_model_on_the_clip():
    vocabulary = CharVocabulary.from_texts(["yes no"])
    small = TrainedModel.build({"model": "crnn", "size": "tiny"}, vocabulary)
    large = TrainedModel.build({"model": "conformer", "size": "medium"}, vocabulary)
    clip = np.random.default_rng(0).normal(0, 0.1, 16000 * 2).astype(np.float32)
    small_cost, large_cost = measure_inference_cost(small, clip), measure_inference_cost(large, clip)
    assert 0 < small_cost["latency_ms"] < large_cost["latency_ms"]
    assert small_cost["rtf"] == pytest.approx(small_cost["latency_ms"] / 1000 / 2.0, rel=0.01)
    assert small_cost["size_mb"] == pytest.approx(count_parameters(small.network) * 4 / 1e6, rel=0.05)
    assert large_cost["size_mb"] == pytest.approx(weights_megabytes(large.network), abs=0.001)
