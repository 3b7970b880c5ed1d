"""Shared fixtures: a tiny synthesized corpus, the FSDD folder when present, a quickly trained predictor."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# a Ray started inside the test process serves this machine only: loopback addresses, not the LAN's
# (read by Ray when it is imported, so it is set before any test module imports it)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# keep every cache of the test session out of the user's home
os.environ.setdefault("AUTOASR_CACHE", tempfile.mkdtemp(prefix="autoasr-test-cache-"))

FSDD_DIR = Path(os.environ.get("AUTOASR_FSDD", Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd"))


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    if not (FSDD_DIR / "recordings").is_dir():
        pytest.skip(f"FSDD not found at {FSDD_DIR} (set AUTOASR_FSDD to its folder)")
    return FSDD_DIR.resolve()


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """Manifest of a small synthesized corpus (4 voices, digits, digit strings and commands)."""
    from autoasr.demo_corpus import prepare_demo_corpus

    return prepare_demo_corpus(tmp_path_factory.mktemp("tiny_corpus"), num_speakers=4, repeats=1)


@pytest.fixture(scope="session")
def fsdd_subset(fsdd_dir, tmp_path_factory) -> Path:
    """A manifest of 400 FSDD training takes and 100 test takes: real speech, small enough for seconds of training."""
    import csv

    from autoasr.layouts import DIGIT_WORDS, FSDD_NAME

    rows = []
    for file in sorted((fsdd_dir / "recordings").glob("*.wav")):
        match = FSDD_NAME.match(file.stem)
        take = int(match["take"])
        if take < 2 or 5 <= take < 13:
            rows.append({"audio": str(file), "text": DIGIT_WORDS[int(match["digit"])], "speaker": match["speaker"],
                         "split": "test" if take < 5 else "train"})
    manifest = tmp_path_factory.mktemp("fsdd_subset") / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["audio", "text", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="session")
def trained_predictor(tmp_path_factory, fsdd_subset):
    """A predictor fitted for 40 s on the FSDD subset (single preset: one trial, the baseline config)."""
    from autoasr import ASRPredictor, load_dataset

    train = load_dataset(fsdd_subset, split="train", domain="digits")
    predictor = ASRPredictor(path=tmp_path_factory.mktemp("runs") / "fsdd", domain="digits", verbosity=0)
    return predictor.fit(train, time_limit=40, presets="single")
