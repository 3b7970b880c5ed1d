"""The time limit is a promise: fit returns within time_limit × 1.1 + 10 s, preparation and saving included."""
import time

import pytest

from autoasr import ASRPredictor


@pytest.mark.slow
@pytest.mark.parametrize("time_limit", [10, 30, 45])
def test_fit_returns_within_its_time_limit(fsdd_subset, tmp_path, time_limit):
    predictor = ASRPredictor(path=tmp_path / "run", domain="digits", verbosity=0)
    started = time.time()
    predictor.fit(fsdd_subset, time_limit=time_limit)
    elapsed = time.time() - started
    assert elapsed <= time_limit * 1.1 + 10, f"fit took {elapsed:.1f} s for a {time_limit} s limit"
    assert predictor.best_trial_id is not None  # even the smallest budget leaves the best quick model
    assert predictor.fit_summary["fit_seconds"] <= time_limit * 1.1 + 10
