"""Fault injection: kills, interrupts, damaged and hostile model files, failing trials, too little data."""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import autoasr.models.registry as models
from autoasr import ASRPredictor, DataError
from autoasr.core.text import CharVocabulary
from autoasr.search.presets import PORTFOLIO
from autoasr.training.loop import train_trial
from autoasr.training.tensors import SplitTensors


def start_fit(data, output, *extra):
    command = [sys.executable, "-m", "autoasr.cli", "fit", str(data), "--output", str(output), *map(str, extra)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trials_on_disk(output: Path) -> dict:
    trials = {}
    for file in (output / "trials").glob("*/trial.json"):
        try:
            trials[file.parent.name] = json.loads(file.read_text())
        except (json.JSONDecodeError, OSError):
            pass  # being replaced this instant
    return trials


def wait_for(condition, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_sigkill_mid_run_loses_only_the_trial_in_flight_and_resume_continues(tiny_corpus, tmp_path):
    output = tmp_path / "run"
    process = start_fit(tiny_corpus, output, "--time-limit", 90, "--presets", "fast", "--domain", "commands")
    finished_then_running = lambda: (sum(t["status"] == "ok" for t in trials_on_disk(output).values()) >= 1
                                     and any(t["status"] == "running" for t in trials_on_disk(output).values()))
    assert wait_for(finished_then_running), process.communicate(timeout=5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    before = {i: t for i, t in trials_on_disk(output).items() if t["status"] == "ok"}
    assert before
    weights_before = {i: (output / "trials" / i / "model.safetensors").read_bytes() for i in before}

    resumed = subprocess.run([sys.executable, "-m", "autoasr.cli", "fit", str(tiny_corpus), "--output", str(output),
                              "--time-limit", "15", "--presets", "fast", "--resume"], capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    after = trials_on_disk(output)
    for trial_id, trial in before.items():  # kept as they were: not retrained, not lost
        kept = after[trial_id]
        assert kept["status"] == "ok" and kept["history"] == trial["history"]
        assert (output / "trials" / trial_id / "model.safetensors").read_bytes() == weights_before[trial_id]
        # the resumed run may choose LM decoding for an old trial that is still the best: its WER is then
        # the LM's, and the greedy WER it had stays beside it
        assert kept.get("val_wer_greedy", kept["val_wer"]) == trial["val_wer"]
    assert len(after) > len(before)
    assert not any(t["status"] == "running" for t in after.values())


@pytest.mark.slow
def test_ctrl_c_ends_the_run_gracefully_with_the_best_model_saved(tiny_corpus, tmp_path):
    output = tmp_path / "run"
    process = start_fit(tiny_corpus, output, "--time-limit", 120, "--presets", "single")
    assert wait_for(lambda: any(len(t.get("history", [])) >= 2 for t in trials_on_disk(output).values()))
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert (output / "best" / "model.safetensors").is_file()
    assert ASRPredictor.load(output).best_trial_id is not None


@pytest.fixture(scope="module")
def finished_run(tiny_corpus, tmp_path_factory):
    predictor = ASRPredictor(path=tmp_path_factory.mktemp("runs") / "run", domain="commands", verbosity=0)
    predictor.fit(tiny_corpus, time_limit=20, presets="fast")
    assert (predictor.leaderboard()["status"] == "ok").sum() >= 2
    return predictor.path


@pytest.mark.slow
def test_corrupt_best_checkpoint_falls_back_to_the_next_trial(finished_run, tmp_path):
    run = shutil.copytree(finished_run, tmp_path / "copy")
    loaded = ASRPredictor.load(run)
    best = loaded.best_trial_id
    # an ensemble row has no weights of its own: a damaged member takes it down with it
    weights = run / "trials" / (loaded.trials[best].get("ensemble") or [best])[0] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    reloaded = ASRPredictor.load(run)
    assert reloaded.best_trial_id != best
    row = reloaded.leaderboard().set_index("trial_id").loc[best]
    assert row["status"] == "failed" and "checkpoint unreadable" in row["error"]
    assert isinstance(reloaded.transcribe(torch.zeros(8000).numpy())[0], str)


class PlantedPayload:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_pickle_is_never_executed(finished_run, tmp_path):
    run = shutil.copytree(finished_run, tmp_path / "copy")
    marker = tmp_path / "pwned"
    payload = PlantedPayload()
    payload.marker = marker
    best = ASRPredictor.load(run).best_trial_id
    hostile = pickle.dumps(payload)
    (run / "trials" / best / "model.safetensors").write_bytes(hostile)
    torch.save({"x": payload}, run / "trials" / best / "model.pt")  # a tempting file beside it
    reloaded = ASRPredictor.load(run)
    reloaded.transcribe(torch.zeros(8000).numpy())
    assert not marker.exists()
    assert reloaded.best_trial_id != best


@pytest.mark.slow
def test_a_trial_that_raises_is_recorded_as_failed_and_the_search_goes_on(tiny_corpus, tmp_path, monkeypatch):
    first = PORTFOLIO[0]["model"]  # the family the search tries first is sure to run within the budget
    family = models.MODEL_FAMILIES[first]

    def broken(*args, **kwargs):
        raise RuntimeError(f"injected failure in the {first} family")

    monkeypatch.setitem(models.MODEL_FAMILIES, first, models.ModelFamily(
        family.name, family.description, broken, family.sizes))
    predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
    predictor.fit(tiny_corpus, time_limit=25)
    leaderboard = predictor.leaderboard()
    failed = leaderboard[leaderboard["model"] == first]
    assert len(failed) >= 1 and (failed["status"] == "failed").all()
    assert failed["error"].str.contains("injected failure").all()
    assert (leaderboard["status"] == "ok").sum() >= 1


def test_nan_loss_fails_the_trial_with_a_reason():
    vocabulary = CharVocabulary.from_texts(["ab"])
    features = [torch.full((30, 40), float("nan")) for _ in range(100)]
    split = SplitTensors.build(features, ["ab"] * 100, vocabulary)
    config = {"model": "crnn", "size": "tiny", "learning_rate": 1e-3, "batch_size": 4}
    with pytest.raises(FloatingPointError, match="NaN"):
        train_trial(config, split, split, vocabulary, deadline=time.time() + 60)


def test_configuration_too_large_for_free_memory_is_skipped_with_a_reason(monkeypatch):
    import autoasr.training.loop as trainer

    monkeypatch.setattr(trainer, "available_memory_bytes", lambda device="cpu": 10_000_000)
    vocabulary = CharVocabulary.from_texts(["ab"])
    split = SplitTensors.build([torch.randn(300, 40)] * 8, ["ab"] * 8, vocabulary)
    config = {"model": "conformer", "size": "medium", "learning_rate": 1e-3, "batch_size": 64}
    with pytest.raises(MemoryError, match="needs about"):
        train_trial(config, split, split, vocabulary, deadline=time.time() + 60)


def test_too_little_data_is_a_clear_error(tiny_corpus, tmp_path):
    lines = Path(tiny_corpus).read_text().splitlines()
    small = tmp_path / "small.csv"
    small.write_text("\n".join(lines[:3]).replace("audio,", "audio,", 1) + "\n")
    # paths in the manifest are relative to the corpus folder
    small.write_text(lines[0] + "\n" + "\n".join(
        str(Path(tiny_corpus).parent / line.split(",", 1)[0]) + "," + line.split(",", 1)[1] for line in lines[1:3]))
    with pytest.raises(DataError, match="usable training utterances|tuning set"):
        ASRPredictor(path=tmp_path / "run", verbosity=0).fit(small, time_limit=10)


def write_clip(path, seconds, rate=16000):
    import numpy as np
    import soundfile

    soundfile.write(path, (0.1 * np.random.default_rng(0).standard_normal(int(seconds * rate))).astype("float32"), rate)


@pytest.mark.slow
def test_fit_skips_bad_rows_and_says_so_then_trains_on_the_rest(tiny_corpus, tmp_path, capsys):
    """Missing, corrupt and empty audio, empty text, a too-long recording and a duplicate id in one manifest."""
    lines = Path(tiny_corpus).read_text().splitlines()
    base = Path(tiny_corpus).parent
    good = [str(base / l.split(",", 1)[0]) + "," + l.split(",", 1)[1] for l in lines[1:] if ",train" in l]
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    write_clip(tmp_path / "empty.wav", 0)
    write_clip(tmp_path / "long.wav", 45)
    bad = [f"{tmp_path / 'missing.wav'},yes,spk,,train", f"{tmp_path / 'corrupt.wav'},no,spk,,train",
           f"{tmp_path / 'empty.wav'},go,spk,,train", f"{good[0].split(',')[0]},,spk,,train",
           f"{tmp_path / 'long.wav'},stop,spk,,train", good[1]]
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join([lines[0]] + good + bad) + "\n")
    predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=1)
    predictor.fit(manifest, time_limit=12, presets="fast")
    said = capsys.readouterr().err
    assert "skipped 5 rows" in said and "m.csv, row" in said
    assert "long.wav is 45 s long" in (predictor.path / "predictor.json").read_text()
    assert "Traceback" not in said
    assert predictor.best_trial_id is not None


def test_non_utf8_manifest_and_duplicate_ids_are_read(tiny_corpus, tmp_path):
    from autoasr.data.load import load_dataset

    first = next(l for l in Path(tiny_corpus).read_text().splitlines()[1:])
    audio = Path(tiny_corpus).parent / first.split(",", 1)[0]
    manifest = tmp_path / "latin1.csv"
    manifest.write_bytes(f"audio,text,id\n{audio},café,a\n{audio},naïve,a\n".encode("latin-1"))
    dataset = load_dataset(manifest)
    assert dataset.texts == ["café", "naïve"]
    assert len({u.utterance_id for u in dataset}) == 2


@pytest.mark.slow
def test_characters_unseen_in_training_do_not_break_training_or_evaluation(tiny_corpus, tmp_path):
    from autoasr.data.load import load_dataset

    train = load_dataset(tiny_corpus, split="train")
    test = load_dataset(tiny_corpus, split="test")
    odd = test.subset([type(u)(**{**u.__dict__, "text": u.text + " ñandú"}) for u in test])
    predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
    predictor.fit(train, time_limit=10, presets="fast")
    result = predictor.evaluate(odd)
    assert result["num_utterances"] == len(test) and result["wer"] > 0
