"""The development suite's splits keep test speakers unseen, and its table reports mean and spread per preset."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from autoasr.data.dataset import Dataset, Utterance

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"


def load_suite():
    spec = importlib.util.spec_from_file_location("suite", ROOT / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def utterances(speakers, words, takes):
    return [Utterance(audio=Path(f"/x/{s}_{w}_{t}.wav"), text=w, speaker=s)
            for s in speakers for w in words for t in range(takes)]


def test_small_cut_takes_three_speakers_ten_takes_of_five_words():
    suite = load_suite()
    words = [*suite.SMALL_WORDS, "left", "right"]
    train = Dataset(utterances(["a", "b"], words, 12) + utterances(["c", "d"], words, 4), name="sc")
    test = Dataset(utterances(["z"], words, 1), name="sc-test")
    small_train, small_test = suite._small_cut(train, test)
    assert small_train.speakers == ["a", "b", "c"] and set(small_train.texts) == set(suite.SMALL_WORDS)
    assert len(small_train) == 2 * 5 * 10 + 5 * 4
    assert sorted(small_test.texts) == sorted(suite.SMALL_WORDS)


def test_table_gives_mean_and_spread_per_corpus_and_preset():
    suite = load_suite()
    base = {"corpus": "fsdd", "num_train": 2000, "train_speakers": 4, "num_test": 500, "test_speakers": 1,
            "trials": 3, "trials_ok": 3, "best_model": "crnn small"}
    results = [dict(base, presets="default", test_wer=0.10, fit_seconds=190),
               dict(base, presets="default", test_wer=0.20, fit_seconds=200),
               dict(base, presets="single", test_wer=0.05, fit_seconds=185)]
    table = suite.suite_table(results, {"fsdd": [{"wer": 0.3}]})
    default_row, single_row = table.splitlines()[2:]
    assert "| default |" in default_row and "15.00% ± 7.07%" in default_row and "2 runs" in default_row
    assert "| single |" in single_row and "5.00% (1 run)" in single_row and "30.00% (1 run)" in single_row


def test_fsdd_rotation_holds_out_one_unseen_speaker():
    if not (SHARED / "fsdd").is_dir():
        pytest.skip(f"FSDD not found at {SHARED / 'fsdd'}")
    suite = load_suite()
    held = set()
    for rotation in (0, 1):
        train, test = suite.corpus_splits("fsdd", rotation, SHARED, ROOT)
        assert len(test.speakers) == 1 and len(train.speakers) == 4
        assert not set(test.speakers) & set(train.speakers)
        held |= set(test.speakers)
    assert len(held) == 2
