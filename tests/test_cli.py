import json
import re
import subprocess
import sys

import pytest

from autoasr.cli import main
from autoasr.data.load import load_dataset


def run_cli(*arguments, cwd=None):
    return subprocess.run([sys.executable, "-m", "autoasr.cli", *map(str, arguments)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def fitted_dir(tiny_corpus, tmp_path_factory):
    output = tmp_path_factory.mktemp("cli") / "model"
    result = run_cli("fit", tiny_corpus, "--time-limit", 20, "--domain", "commands", "--presets", "fast",
                     "--output", output, "--test-data", tiny_corpus)
    assert result.returncode == 0, result.stderr
    assert "best model: trial" in result.stdout
    # feature preparation is reported before the search starts (computed or read from the cache)
    assert re.search(r"^prepared \w+ features of .*: \d+ clips$", result.stderr.split("search:")[0], re.M), result.stderr
    # every run leaves its report beside the model
    assert f"report: {output / 'report.html'}" in result.stdout
    report = (output / "report.html").read_text()
    assert "<h2>Leaderboard</h2>" in report and "<h2>Test set</h2>" in report  # --test-data is scored in it
    assert re.search(r"^test WER [\d.]+% \(CER [\d.]+%\) on 26 utterances$", result.stdout, re.M), result.stdout
    return output


@pytest.mark.slow
def test_leaderboard_json_lists_trials_with_the_contract_fields(fitted_dir):
    result = run_cli("leaderboard", fitted_dir, "--json")
    trials = json.loads(result.stdout)
    trials = trials["trials"] if isinstance(trials, dict) else trials
    assert len(trials) >= 1
    for trial in trials:
        assert {"trial_id", "model", "config", "val_wer", "start_time", "end_time", "status"} <= set(trial)
        assert isinstance(trial["config"], dict) and trial["end_time"] >= trial["start_time"]


@pytest.mark.slow
def test_evaluate_json_and_transcribe_json(fitted_dir, tiny_corpus):
    evaluation = json.loads(run_cli("evaluate", fitted_dir, tiny_corpus, "--json").stdout)
    assert {"wer", "cer", "num_utterances"} <= set(evaluation)
    test = load_dataset(tiny_corpus, split="test")
    assert evaluation["num_utterances"] == len(test)  # the test split of a manifest with splits
    files = [str(u.audio) for u in test][:3]
    transcripts = json.loads(run_cli("transcribe", fitted_dir, *files, "--json").stdout)
    assert [t["audio"] for t in transcripts] == files and all(isinstance(t["text"], str) for t in transcripts)


@pytest.mark.slow
def test_bad_input_gives_one_clear_line_and_no_traceback(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("path_to_audio,words\nx.wav,hello\n")
    assert main(["inspect", str(tmp_path / "m.csv")]) == 2
    error = capsys.readouterr().err
    assert "m.csv" in error and "Traceback" not in error
    result = run_cli("fit", tmp_path / "absent.csv", "--time-limit", 5, "--output", tmp_path / "out")
    assert result.returncode == 2 and "absent.csv" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("evaluate", tmp_path / "no-model", tmp_path / "m.csv")
    assert result.returncode == 2 and "not an autoasr run" in result.stderr


@pytest.mark.slow
def test_select_prints_the_pareto_front_and_keeps_a_latency_limit(fitted_dir, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(fitted_dir, copy)
    trials = json.loads(run_cli("leaderboard", copy, "--json").stdout)
    trials = trials["trials"] if isinstance(trials, dict) else trials
    fastest = min((t for t in trials if t["status"] == "ok"), key=lambda t: t["latency_ms"])
    result = run_cli("select", copy, "--max-latency-ms", fastest["latency_ms"])
    assert result.returncode == 0, result.stderr
    assert "Pareto front on latency_ms" in result.stdout and f"best model now: trial {fastest['trial_id']}" in result.stdout
    assert json.loads((copy / "predictor.json").read_text())["best_trial_id"] == fastest["trial_id"]
    impossible = run_cli("select", copy, "--max-size-mb", "0.000001")
    assert impossible.returncode == 2 and "no finished model is within" in impossible.stderr
    assert "Traceback" not in impossible.stderr


def test_fit_and_demo_start_from_the_pretrained_listener_unless_told_not_to():
    from autoasr.cli import _pretrained_choice, build_parser

    parser = build_parser()
    assert _pretrained_choice(parser.parse_args(["demo"])) == "auto"
    assert _pretrained_choice(parser.parse_args(["fit", "data.csv"])) == "auto"
    assert _pretrained_choice(parser.parse_args(["demo", "--no-pretrained"])) is None
    assert _pretrained_choice(parser.parse_args(["fit", "data.csv", "--pretrained", "a", "--pretrained", "b"])) == ["a", "b"]
