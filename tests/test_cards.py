"""Model card and run card on every save; a finished run reopens in a new process."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from autoasr.results.cards import (
    EVALUATIONS_JSON,
    MODEL_CARD_JSON,
    MODEL_CARD_MD,
    RUN_CARD_JSON,
    build_model_card,
    record_evaluation,
    render_model_card,
)


@pytest.fixture
def run_copy(trained_predictor, tmp_path):
    """A copy of the fitted run, so that writing evaluations does not touch the shared fixture."""
    from autoasr import ASRPredictor

    folder = tmp_path / "run"
    shutil.copytree(trained_predictor.path, folder)
    return ASRPredictor.load(folder)


@pytest.mark.slow
def test_fit_and_save_write_both_cards(trained_predictor):
    folder = trained_predictor.path
    for name in (MODEL_CARD_MD, MODEL_CARD_JSON, RUN_CARD_JSON):
        assert (folder / name).is_file(), name
    card = json.loads((folder / MODEL_CARD_JSON).read_text())
    best = trained_predictor.leaderboard().iloc[0]
    assert card["model"]["trial_id"] == trained_predictor.best_trial_id == best["trial_id"]
    assert card["model"]["family"] == best["model"] and card["model"]["config"]["model"] == best["model"]
    assert card["domain"]["name"] == "digits"
    assert card["data"]["train"]["utterances"] > 0 and card["data"]["tuning"]["utterances"] > 0
    assert card["budget"]["time_limit_seconds"] == 40
    assert card["search"]["presets"] == "single" and card["search"]["space"]
    assert card["metrics"]["validation"]["wer"] == pytest.approx(best["val_wer"])
    assert card["metrics"]["test"] is None  # not evaluated yet
    assert card["hardware"]["cpu_cores"] >= 1 and card["software"]["torch"]
    assert card["intended_use"] and card["limitations"]

    text = (folder / MODEL_CARD_MD).read_text()
    for heading in ("## Intended use", "## Limitations", "## Data", "## Search", "## Chosen model",
                    "## Hardware and software"):
        assert heading in text
    assert "Validation WER / CER" in text

    run = json.loads((folder / RUN_CARD_JSON).read_text())
    assert run["seeds"]["fit"] == 0
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in run["data_fingerprints"].values())
    assert set(run["data_fingerprints"]) == {"train", "tuning"}
    assert run["software"]["autoasr"] and run["software"]["python"]
    assert set(run["trials"]) == set(trained_predictor.leaderboard()["trial_id"])


def test_recorded_test_scores_appear_in_the_card(run_copy, fsdd_subset):
    from autoasr import load_dataset

    test = load_dataset(fsdd_subset, split="test", domain="digits")
    result = run_copy.evaluate(test)
    record_evaluation(run_copy, result, test)
    assert (run_copy.path / EVALUATIONS_JSON).is_file()
    card = json.loads((run_copy.path / MODEL_CARD_JSON).read_text())
    assert card["metrics"]["test"]["wer"] == pytest.approx(result["wer"])
    assert card["metrics"]["test"]["num_utterances"] == 100
    assert "Test WER / CER" in (run_copy.path / MODEL_CARD_MD).read_text()
    run = json.loads((run_copy.path / RUN_CARD_JSON).read_text())
    assert run["evaluations"][-1]["data_fingerprint"] == test.fingerprint()

    run_copy.save()  # saving again keeps the recorded test scores
    assert json.loads((run_copy.path / MODEL_CARD_JSON).read_text())["metrics"]["test"]["wer"] == pytest.approx(
        result["wer"])


def test_card_renders_without_a_finished_trial(tmp_path):
    from autoasr import ASRPredictor

    predictor = ASRPredictor(path=tmp_path / "empty", domain="commands")
    card = build_model_card(predictor)
    assert card["model"]["trial_id"] is None and card["metrics"]["test"] is None
    assert "# Model card" in render_model_card(card)


@pytest.mark.slow
def test_a_finished_run_reopens_in_a_new_process(run_copy):
    """Leaderboard, per-epoch histories, plots and the model, from the files alone."""
    script = f"""
import json
from autoasr import ASRPredictor
from autoasr.results import plots
predictor = ASRPredictor.load({str(run_copy.path)!r})
history = predictor.history()
figure = plots.learning_curves(history)
print(json.dumps({{
    "best": predictor.best_trial_id,
    "leaderboard": predictor.leaderboard()[["trial_id", "val_wer", "status"]].to_dict(orient="records"),
    "history_rows": len(history),
    "epochs": sorted(history["epoch"].tolist()),
    "figure_traces": len(figure.data),
    "vocabulary": list(predictor.vocabulary.symbols),
    "domain": predictor.domain,
}}))
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    reopened = json.loads(completed.stdout.strip().splitlines()[-1])
    assert reopened["best"] == run_copy.best_trial_id
    expected = run_copy.leaderboard()[["trial_id", "val_wer", "status"]].to_dict(orient="records")
    assert reopened["leaderboard"] == json.loads(json.dumps(expected))
    assert reopened["history_rows"] == len(run_copy.history()) > 0
    assert reopened["figure_traces"] >= 1
    assert reopened["vocabulary"] == list(run_copy.vocabulary.symbols) and reopened["domain"] == "digits"


def test_pocketsphinx_baseline_row_on_the_same_test_data(trained_predictor, fsdd_subset):
    pytest.importorskip("pocketsphinx")
    from autoasr.results.baselines import leaderboard_with_baselines

    table = leaderboard_with_baselines(trained_predictor, fsdd_subset)
    assert list(table["model"]).count("pocketsphinx") == 1 and len(table) == 2
    baseline = table[table["model"] == "pocketsphinx"].iloc[0]
    assert baseline["num_utterances"] == 100 and 0 <= baseline["test_wer"] <= 1.5
    assert baseline["config"]["words"] == sorted(
        "zero one two three four five six seven eight nine".split())  # the digits of the test references
    print(f"\n{table[['model', 'size', 'test_wer', 'test_cer', 'real_time_factor']].to_string(index=False)}")
