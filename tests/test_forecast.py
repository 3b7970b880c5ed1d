from autoasr.search.forecast import (
    PRIOR_CURVE,
    SUITE_TUNING_WER_180S,
    forecast_budget,
    history_file,
    record_run,
)


def test_larger_budgets_forecast_lower_wer_and_more_epochs(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path))
    small, large = forecast_budget(900, 30, cpu_count=2), forecast_budget(900, 600, cpu_count=2)
    assert large.epochs_affordable > small.epochs_affordable
    assert large.expected_wer < small.expected_wer
    assert "built-in" in small.basis
    assert min(PRIOR_CURVE.values()) <= large.expected_wer <= 1.0
    # the FSDD curve is one corpus: the range says how differently the suite's corpora came out
    assert small.low_wer <= small.expected_wer <= small.high_wer
    assert large.low_wer < large.expected_wer < large.high_wer == max(SUITE_TUNING_WER_180S.values())
    assert f"to {large.high_wer:.0%} on voices held out" in large.describe()


def test_forecast_learns_from_recorded_runs_on_this_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path))
    prior = forecast_budget(100, 60)
    history = [{"epoch": e, "best_val_wer": 1.0 / e} for e in range(1, 11)]
    # a machine ten times faster than the prior: same budget, many more epochs
    prior_throughput = 100 / prior.seconds_per_epoch  # audio seconds trained per second
    record_run(audio_seconds=100, time_limit=60, history_rows=history, audio_seconds_trained=10 * prior_throughput * 10,
               training_seconds=10)
    assert history_file().is_file()
    learned = forecast_budget(100, 60)
    assert "learned from 1 earlier run" in learned.basis
    assert abs(learned.seconds_per_epoch - prior.seconds_per_epoch / 10) < 1e-9
    assert abs(learned.expected_wer - 0.1) < 1e-9  # past the recorded curve's end: its last value
    assert learned.low_wer == learned.high_wer == learned.expected_wer and "1 most similar earlier run" in learned.describe()
    slower = [{"epoch": e, "best_val_wer": 3.0 / e} for e in range(1, 11)]
    record_run(audio_seconds=100, time_limit=60, history_rows=slower, audio_seconds_trained=10 * prior_throughput * 10,
               training_seconds=10)
    two = forecast_budget(100, 60)
    assert (two.low_wer, two.high_wer) == (0.1, 0.3) and two.low_wer <= two.expected_wer <= two.high_wer


def test_a_continued_trial_counts_its_epochs_on_from_its_parent():
    from autoasr.search.forecast import epochs_from_scratch

    parent = {"trial_id": "001", "config": {}, "history": [{"epoch": 1, "best_val_wer": 0.9}, {"epoch": 2, "best_val_wer": 0.5}]}
    child = {"trial_id": "002", "config": {"continued_from": "001"}, "history": [{"epoch": 1, "best_val_wer": 0.2}]}
    grandchild = {"trial_id": "003", "config": {"continued_from": "002"}, "history": [{"epoch": 1, "best_val_wer": 0.1}]}
    rows = epochs_from_scratch([parent, child, grandchild])
    # the child's first epoch is the third from untrained weights: a learned curve must not credit epoch 1 with 20%
    assert [(row["epoch"], row["best_val_wer"]) for row in rows] == [(1, 0.9), (2, 0.5), (3, 0.2), (4, 0.1)]
