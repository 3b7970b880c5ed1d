"""Pretrained by default: the real hub client downloads the default model from a loopback hub (never the internet),
once, with progress; a fit leads with it; a cut download resumes; pickles are refused; no network means from scratch,
said plainly, within seconds."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoasr.models.encoder_sources import available_pretrained_encoders, cached_whisper_source
from autoasr.models.hub_download import DEFAULT_MODEL, ModelUnavailable, fetch_model
from conftest import closed_port, repeated_words_manifest
from loopback_hub import LoopbackHub

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_model_downloads_once_with_progress_and_only_safetensors_config_and_tokenizer(
        served_model, online, whisper_dir, monkeypatch):
    progress = []
    with LoopbackHub({DEFAULT_MODEL: served_model}) as hub:
        online(hub.endpoint)
        folder = fetch_model(DEFAULT_MODEL, on_progress=lambda *update: progress.append(update))
        fetched = sorted(path.name for path in folder.iterdir())
        assert "model.safetensors" in fetched and "config.json" in fetched and "tokenizer.json" in fetched
        assert not {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"} & set(fetched)
        assert (folder / "model.safetensors").read_bytes() == (whisper_dir / "model.safetensors").read_bytes()
        weights = [update for update in progress if update[0] == "model.safetensors"]
        assert weights[-1] == ("model.safetensors", 75_539_400, 75_539_400) and len(weights) >= 2
        assert cached_whisper_source() == DEFAULT_MODEL
        asked = len(hub.requests)
        encoders = available_pretrained_encoders()  # the automatic choice finds it in the cache, offline
        assert [e.source for e in encoders] == [DEFAULT_MODEL] and encoders.origin == "the local Hugging Face cache"
        assert len(hub.requests) == asked  # nothing asked of the hub again


def test_a_download_cut_short_resumes_where_it_stopped(served_model, online, whisper_dir, monkeypatch):
    with LoopbackHub({DEFAULT_MODEL: served_model}, cut_after={"model.safetensors": 20_000_000}) as hub:
        online(hub.endpoint)
        try:
            folder = fetch_model(DEFAULT_MODEL)
        except ModelUnavailable as error:  # the client may give up on this call: the next one resumes
            assert "resume" in str(error)
            folder = fetch_model(DEFAULT_MODEL)
        ranges = hub.downloads("model.safetensors")
        assert ranges[0] == "" and len(ranges) == 2
        resumed_at = int(ranges[1].removeprefix("bytes=").split("-")[0])
        assert 0 < resumed_at <= 20_000_000  # the second request asked only for what was missing
        assert (folder / "model.safetensors").read_bytes() == (whisper_dir / "model.safetensors").read_bytes()


def test_a_repo_with_only_pickled_weights_is_refused_with_the_reason(whisper_dir, online, tmp_path, monkeypatch):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((whisper_dir / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04 a pickle")
    with LoopbackHub({"someone/whisper-pickled": pickled}) as hub:
        online(hub.endpoint)
        found = available_pretrained_encoders("someone/whisper-pickled")
        assert found == [] and "only as pickles (pytorch_model.bin)" in found.reason
        assert "unpickling" in found.reason
        assert not hub.downloads("pytorch_model.bin")  # refused before a byte of it was fetched


def test_an_unreachable_or_silent_hub_costs_seconds_and_the_reason_is_given(online, monkeypatch):
    online(f"http://127.0.0.1:{closed_port()}")
    found = available_pretrained_encoders()
    assert found == [] and "could not reach" in found.reason and DEFAULT_MODEL in found.reason
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        online(f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.time()
        with pytest.raises(ModelUnavailable, match="within 1 s"):
            fetch_model(DEFAULT_MODEL, timeout=1.0)
        assert time.time() - started < 10


@pytest.mark.slow
def test_a_fit_without_a_flag_downloads_the_listener_and_leads_with_it_and_the_next_fit_uses_the_cache(
        served_model, online, tiny_corpus, tmp_path, monkeypatch, capsys):
    from autoasr import ASRPredictor, load_dataset

    train = load_dataset(repeated_words_manifest(tiny_corpus, tmp_path), split="train", domain="commands")
    with LoopbackHub({DEFAULT_MODEL: served_model}) as hub:
        online(hub.endpoint)
        downloads = []

        class Heard:
            def on_download(self, name, done, total):
                downloads.append((name, done, total))

            def __getattr__(self, _event):
                return lambda *args: None

        predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
        started = time.time()
        predictor.fit(train, time_limit=30, callbacks=[Heard()])
        assert time.time() - started < 30 * 1.1 + 10 + 20  # the download (seconds on loopback) is outside the budget
        summary = predictor.fit_summary["pretrained"]
        assert summary["pretrained_origin"] == "downloaded once into the local Hugging Face cache"
        assert "Starting from the pretrained listener whisper-tiny.en" in capsys.readouterr().out
        assert ("model.safetensors", 75_539_400, 75_539_400) in downloads
        best = predictor.leaderboard().iloc[0]
        assert best["model"] == "whisper" and bool(best["pretrained"])
        assert "whisper-tiny.en" in (predictor.path / "run_card.json").read_text()

        asked = len(hub.requests)
        again = ASRPredictor(path=tmp_path / "again", domain="commands", verbosity=0)
        again.fit(train, time_limit=20)
        assert len(hub.requests) == asked  # the second fit found the model in the cache
        assert again.fit_summary["pretrained"]["pretrained_origin"] == "the local Hugging Face cache"


@pytest.mark.slow
def test_offline_a_fit_trains_from_scratch_and_says_why(tiny_corpus, tmp_path, capsys):
    from autoasr import ASRPredictor, load_dataset

    train = load_dataset(tiny_corpus, split="train", domain="digits")
    predictor = ASRPredictor(path=tmp_path / "run", domain="digits", verbosity=0)
    predictor.fit(train, time_limit=12)  # tests/conftest.py: HF_HUB_OFFLINE=1 and an empty cache
    said = capsys.readouterr().out
    assert "autoasr: Training from scratch: no pretrained listener" in said and "HF_HUB_OFFLINE" in said
    assert predictor.fit_summary["pretrained"]["pretrained"] == []
    assert not any(bool(flag) for flag in predictor.leaderboard()["pretrained"])
    assert "HF_HUB_OFFLINE" in (predictor.path / "run_card.json").read_text()


@pytest.mark.slow
def test_autoasr_models_fetches_once_and_then_says_it_is_there(served_model, tmp_path):
    environment = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(tmp_path / "cache"),
                   "PYTHONPATH": str(ROOT)}
    with LoopbackHub({DEFAULT_MODEL: served_model}) as hub:
        environment["HF_ENDPOINT"] = hub.endpoint
        first = subprocess.run([sys.executable, "-m", "autoasr.cli", "models"], env=environment, capture_output=True,
                               text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert "openai/whisper-tiny.en: 79 MB in" in first.stdout
        second = subprocess.run([sys.executable, "-m", "autoasr.cli", "models"], env=environment, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 0 and "already in the local Hugging Face cache" in second.stdout
    environment["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    refused = subprocess.run([sys.executable, "-m", "autoasr.cli", "models", "--model", "openai/whisper-base"],
                             env=environment, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "could not reach" in refused.stderr and "AUTOASR_PRETRAINED" in refused.stderr
