"""Shared fixtures: a tiny synthesized corpus, the FSDD folder when present, a quickly trained predictor."""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

# a Ray started inside the test process serves this machine only: loopback addresses, not the LAN's
# (read by Ray when it is imported, so it is set before any test module imports it)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# keep every cache of the test session out of the user's home
os.environ.setdefault("AUTOASR_CACHE", tempfile.mkdtemp(prefix="autoasr-test-cache-"))
# nothing is downloaded in tests, and no Whisper model of the user's Hugging Face cache joins a search
# (read by huggingface_hub when it is imported, so set before any test module imports it)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="autoasr-test-hf-cache-")
os.environ.pop("AUTOASR_PRETRAINED", None)
# rows of pretrained recognizers used as they are (PocketSphinx is installed here) are asked for by the tests that
# check them (tests/test_zero_shot.py, zero_shot=...): in every other test the leaderboard holds the trained models
os.environ["AUTOASR_ZERO_SHOT"] = "none"

SHARED_DIR = Path(__file__).resolve().parents[1] / ".." / "shared"
WHISPER_DIR = Path(os.environ.get("AUTOASR_WHISPER", SHARED_DIR / "models" / "whisper-tiny.en"))
FSDD_DIR = Path(os.environ.get("AUTOASR_FSDD", Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd"))


# fixtures that fit or train for tens of seconds (session- or module-scoped, so their cost lands on whichever test
# asks first): every test that uses one belongs to the slow tier, which `make test-fast` leaves out
SLOW_FIXTURES = {"trained_predictor", "robust_digit_model", "finished_app", "pretrained_run", "finished_run",
                 "searched"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    if not (FSDD_DIR / "recordings").is_dir():
        pytest.skip(f"FSDD not found at {FSDD_DIR} (set AUTOASR_FSDD to its folder)")
    return FSDD_DIR.resolve()


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    """The shared Whisper tiny.en model (transformers layout, safetensors)."""
    if not (WHISPER_DIR / "model.safetensors").is_file():
        pytest.skip(f"Whisper tiny.en not found at {WHISPER_DIR} (set AUTOASR_WHISPER to its folder)")
    return WHISPER_DIR.resolve()


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory) -> Path:
    """A tiny random Whisper (tens of thousands of parameters) saved as transformers saves models: the fast code path."""
    from autoasr.models.whisper import save_tiny_whisper

    return save_tiny_whisper(tmp_path_factory.mktemp("tiny_whisper") / "tiny-whisper")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """Manifest of a small synthesized corpus (4 voices, digits, digit strings and commands)."""
    from autoasr.data.demo_corpus import prepare_demo_corpus

    return prepare_demo_corpus(tmp_path_factory.mktemp("tiny_corpus"), num_speakers=4, repeats=1)


@pytest.fixture(scope="session")
def fsdd_subset(fsdd_dir, tmp_path_factory) -> Path:
    """A manifest of 400 FSDD training takes and 100 test takes: real speech, small enough for seconds of training."""
    import csv

    from autoasr.core.text import DIGIT_WORDS
    from autoasr.data.layouts import FSDD_NAME

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


@pytest.fixture(scope="session")
def robust_digit_model(fsdd_subset, tmp_path_factory):
    """A small convnet trained on the FSDD subset's training takes plus copies of them with 0.05-0.4 s of
    low noise before and after.

    FSDD takes are trimmed tightly: a model that never heard a pause around a word misreads the
    segments of a long recording (0.05 s of silence around each take raised such a model's WER from
    21% to 37% here), so the copies teach it what the segmenter's padding sounds like. Training runs
    a fixed number of epochs (about 40 s on one busy core). The model is kept in the session's cache
    folder, so the export and long-audio tests share it.
    """
    import time
    from dataclasses import replace

    import numpy as np
    import soundfile
    import torch

    from autoasr import load_dataset
    from autoasr.core.storage import save_weights, write_json
    from autoasr.core.text import CharVocabulary
    from autoasr.data.dataset import Dataset
    from autoasr.data.split import split_tuning
    from autoasr.inference.model import TrainedModel
    from autoasr.models.frontends import FrontendConfig
    from autoasr.training.feature_cache import compute_features
    from autoasr.training.loop import train_trial
    from autoasr.training.tensors import SplitTensors

    kept = Path(os.environ["AUTOASR_CACHE"]) / "test-models" / "robust-digits-convnet"
    if (kept / "model.safetensors").is_file():
        return TrainedModel.load(kept)

    train = load_dataset(fsdd_subset, split="train", domain="digits")
    padded_dir = tmp_path_factory.mktemp("padded_takes")
    generator = np.random.default_rng(0)
    copies = []
    for utterance in train:
        samples, rate = soundfile.read(utterance.audio, dtype="float32")
        level = 10 ** generator.uniform(-4.5, -2.5)

        def margin():
            return (generator.standard_normal(int(generator.uniform(0.05, 0.4) * rate)) * level).astype(np.float32)

        path = padded_dir / f"padded_{Path(utterance.audio).name}"
        soundfile.write(path, np.concatenate([margin(), samples, margin()]), rate)
        copies.append(replace(utterance, audio=path, duration=None, utterance_id=f"padded-{utterance.utterance_id}"))
    combined = Dataset(list(train) + copies, name="fsdd-subset+padded")
    train_split, tuning_split = split_tuning(combined, seed=0, min_speakers_for_holdout=8)  # this model's tests were set on held-out takes
    vocabulary = CharVocabulary.from_texts(combined.texts)
    config = {"model": "convnet", "size": "small", "learning_rate": 3e-3, "dropout": 0.1, "augment": 1.0,
              "batch_size": 32, "frontend": "logmel", "max_epochs": 40, "patience": 100}
    tensors = [SplitTensors.build(compute_features(split, FrontendConfig(), progress=False).features, split.texts,
                                  vocabulary) for split in (train_split, tuning_split)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared 2-core machine, 2 threads made epochs 15x slower (busy-waiting)
    try:
        outcome = train_trial(config, *tensors, vocabulary, deadline=time.time() + 600, seed=0)
    finally:
        torch.set_num_threads(threads)
    assert outcome.state_dict is not None
    model = TrainedModel.build({**config, "num_features": 40}, vocabulary, outcome.state_dict)
    write_json(kept / "model.json", {"config": model.config, "vocabulary": list(vocabulary.symbols)})
    save_weights(kept / "model.safetensors", outcome.state_dict)
    return model


def repeated_words_manifest(corpus: Path, folder: Path, train_only: bool = False) -> Path:
    """A manifest of ``corpus``'s clips whose transcript is said more than once (clip labels a pooled head can
    learn), audio paths made absolute; with ``train_only`` its training split alone."""
    import collections
    import csv

    rows = list(csv.DictReader(open(corpus)))
    counts = collections.Counter(row["text"] for row in rows)
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "audio": str(corpus.parent / row["audio"])} for row in rows
                         if counts[row["text"]] > 1 and (not train_only or row["split"] == "train"))
    return manifest


@pytest.fixture
def served_model(whisper_dir, tmp_path) -> Path:
    """The shared tiny.en folder as a hub repo holds it: also pickled, TensorFlow and Flax copies nobody should fetch."""
    folder = tmp_path / "served"
    folder.mkdir()
    for file in whisper_dir.iterdir():
        (folder / file.name).symlink_to(file)
    for extra in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"):
        (folder / extra).write_bytes(b"not for autoasr")
    return folder


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the socket is closed


@pytest.fixture
def online(monkeypatch, tmp_path):
    """The hub client allowed online again, with an empty cache of its own (tests/conftest.py sets it offline).
    Call it with an endpoint: the hub is on loopback, never the internet (the client's own default endpoint
    is pointed at a closed local port, so a request that missed the setting fails here at once)."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("AUTOASR_PRETRAINED", raising=False)

    def serve(endpoint: str) -> None:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", endpoint)  # read at import: set both
        monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            endpoint + "/{repo_id}/resolve/{revision}/{filename}")

    serve(f"http://127.0.0.1:{closed_port()}")
    return serve
