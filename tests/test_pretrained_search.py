"""Pretrained wav2vec2 encoders in the search: a tiny random checkpoint fine-tuned as a trial, saved, reloaded
without the checkpoint, exported; and a search without weights that says why none ran."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from torchaudio.models import wav2vec2_model

from autoasr import ASRPredictor, load_dataset
from autoasr.cli import build_parser
from autoasr.core.callbacks import FitCallback, PrintProgress
from autoasr.data.audio import read_audio
from autoasr.inference.model import TrainedModel
from autoasr.models.frontends import FrontendConfig
from autoasr.models.wav2vec2 import (
    ENVIRONMENT_VARIABLE,
    Wav2Vec2CTC,
    available_pretrained_encoders,
    save_wav2vec2_checkpoint,
    tiny_wav2vec2_config,
)
from autoasr.search.candidates import (
    pretrained_search_info,
    resolve_trial_config,
    with_pretrained_candidates,
)
from autoasr.search.local import PortfolioSearcher
from autoasr.search.presets import PORTFOLIO, get_preset
from autoasr.training.feature_cache import compute_features


class SearchStart(FitCallback):
    def on_search_start(self, info):
        self.info = info


def write_tiny_checkpoint(folder, name="tiny_w2v2", seed=0, **sizes):
    torch.manual_seed(seed)
    config = tiny_wav2vec2_config(**sizes)
    return save_wav2vec2_checkpoint(wav2vec2_model(**config, aux_num_out=None), config, folder / f"{name}.safetensors")


@pytest.fixture(scope="module")
def pretrained_run(tiny_corpus, tmp_path_factory):
    """A 40 s search with a tiny random wav2vec2 checkpoint (the second trial of the portfolio, so the first
    must leave room for it on a loaded machine); the checkpoint is deleted afterwards, so every
    test below shows that the saved run no longer needs it."""
    checkpoint = write_tiny_checkpoint(tmp_path_factory.mktemp("encoders"))
    recorder, printed = SearchStart(), io.StringIO()
    predictor = ASRPredictor(path=tmp_path_factory.mktemp("runs") / "pretrained", domain="commands")
    threads = torch.get_num_threads()
    try:
        predictor.fit(tiny_corpus, time_limit=40, pretrained=checkpoint, callbacks=[recorder, PrintProgress(printed)])
    finally:
        torch.set_num_threads(threads)
    checkpoint.unlink()
    return predictor, recorder.info, printed.getvalue()


@pytest.mark.slow
def test_a_local_checkpoint_runs_as_a_wav2vec2_trial_in_the_leaderboard(pretrained_run):
    predictor, info, printed = pretrained_run
    assert [line.split(":")[0] for line in info["pretrained"]] == ["tiny_w2v2"] and info["pretrained_reason"] == ""
    assert "wav2vec2" in info["search_space"]["model"]
    assert "pretrained encoders in the search: tiny_w2v2" in printed
    board = predictor.leaderboard()
    rows = board[board["model"] == "wav2vec2"]
    assert len(rows) >= 1, board[["trial_id", "model", "status", "error"]]
    row = rows.iloc[0]
    assert row["status"] == "ok" and row["epochs"] >= 1 and row["size"] == "tiny_w2v2", row.to_dict()
    assert row["config"]["frontend"] == "waveform" and row["config"]["augment"] == 0.0
    assert row["config"]["learning_rate"] <= 3e-4
    assert set(board["model"]) - {"wav2vec2"}, "the other families still ran"


def test_saved_wav2vec2_trial_reloads_and_transcribes_without_the_checkpoint(pretrained_run, tiny_corpus):
    predictor, _, _ = pretrained_run
    trial_id = predictor.leaderboard().query("model == 'wav2vec2'")["trial_id"].iloc[0]
    spec = json.loads((predictor.path / "trials" / trial_id / "model.json").read_text())
    assert spec["config"]["num_features"] == 160 and spec["config"]["encoder_config"]["encoder_num_layers"] == 2
    reloaded = ASRPredictor.load(predictor.path)
    model = reloaded.model(trial_id)
    assert isinstance(model.network, Wav2Vec2CTC)
    clips = [u.audio for u in list(load_dataset(tiny_corpus))[:4]]
    assert model.features(clips[0]).shape[1] == 160
    texts = reloaded.transcribe(clips, model=trial_id)
    assert len(texts) == 4 and all(isinstance(text, str) for text in texts)
    assert texts == predictor.model(trial_id).transcribe(clips)  # the fitted and the reloaded model agree


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_wav2vec2_trial_exports_with_the_same_outputs(pretrained_run, tiny_corpus, tmp_path, format):
    from autoasr.export.runtime import load_exported
    from autoasr.export.writers import export_model
    from autoasr.inference.long_audio import segment_log_probs

    predictor, _, _ = pretrained_run
    trial_id = predictor.leaderboard().query("model == 'wav2vec2'")["trial_id"].iloc[0]
    model = TrainedModel.load(predictor.path / "trials" / trial_id)
    clips = [read_audio(u.audio) for u in list(load_dataset(tiny_corpus))[:3]]
    exported = load_exported(export_model(model, tmp_path / ("model.onnx" if format == "onnx" else "model.pt"), format))
    assert exported.frontend_settings["kind"] == "waveform"
    for ours, theirs in zip(exported.log_probs(clips), segment_log_probs(model, clips)):
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 1e-3
    assert exported.transcribe(clips) == model.transcribe(clips)


@pytest.mark.slow
def test_without_weights_the_search_goes_on_and_says_why(tiny_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    recorder, printed = SearchStart(), io.StringIO()
    predictor = ASRPredictor(path=tmp_path / "run", domain="commands")
    threads = torch.get_num_threads()
    try:
        predictor.fit(tiny_corpus, time_limit=10, presets="fast", callbacks=[recorder, PrintProgress(printed)])
    finally:
        torch.set_num_threads(threads)
    assert recorder.info["pretrained"] == [] and ENVIRONMENT_VARIABLE in recorder.info["pretrained_reason"]
    # the first line of the fit's output, whatever the verbosity (tests/conftest.py keeps the hub offline)
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("autoasr: Training from scratch: no pretrained listener") and "HF_HUB_OFFLINE" in said[0]
    assert recorder.info["listener"] == said[0].removeprefix("autoasr: ")
    assert "wav2vec2" not in recorder.info["search_space"]["model"]
    board = predictor.leaderboard()
    assert (board["status"] == "ok").any() and "wav2vec2" not in set(board["model"])


def test_a_missing_or_unusable_checkpoint_is_named_in_the_reason(tmp_path):
    preset = get_preset("default")
    encoders = available_pretrained_encoders(tmp_path / "missing.safetensors")
    info = pretrained_search_info(with_pretrained_candidates(preset, encoders), encoders)
    assert info["pretrained"] == [] and "missing.safetensors: no such file or folder" in info["pretrained_reason"]


def test_candidates_come_right_after_the_first_portfolio_entry(tmp_path):
    encoders = available_pretrained_encoders([write_tiny_checkpoint(tmp_path, "small_one"),
                                              write_tiny_checkpoint(tmp_path, "larger_one", embed_dim=48)])
    default = get_preset("default")
    searched = with_pretrained_candidates(default, encoders)
    assert [c["model"] for c in searched.portfolio[:4]] == [PORTFOLIO[0]["model"], "wav2vec2", "wav2vec2",
                                                            PORTFOLIO[1]["model"]]
    assert "wav2vec2" in searched.space["model"].data and "wav2vec2" not in default.space["model"].data
    assert sorted(searched.extra["pretrained_checkpoints"]) == sorted(str(e.path) for e in encoders)
    assert with_pretrained_candidates(default, []) is default
    single = with_pretrained_candidates(get_preset("single"), encoders)
    assert single.space == get_preset("single").space
    assert "not tried" in pretrained_search_info(single, encoders)["pretrained_reason"]


def test_a_sampled_wav2vec2_config_is_made_trainable(tmp_path):
    encoders = available_pretrained_encoders([write_tiny_checkpoint(tmp_path, "small_one"),
                                              write_tiny_checkpoint(tmp_path, "larger_one", embed_dim=48)])
    sampled = {"model": "wav2vec2", "size": "medium", "learning_rate": 3e-3, "augment": 1.5, "frontend": "mfcc",
               "batch_size": 16, "dropout": 0.2}
    resolved = resolve_trial_config(sampled, encoders)
    assert resolved["size"] == "larger_one" and resolved["checkpoint"].endswith("larger_one.safetensors")
    assert resolved["frontend"] == "waveform" and resolved["augment"] == 0.0 and resolved["learning_rate"] == 3e-4
    assert resolve_trial_config({**sampled, "size": "tiny"}, encoders)["size"] == "small_one"
    assert resolve_trial_config({**sampled, "size": "small_one"}, encoders)["size"] == "small_one"
    crnn = {**sampled, "model": "crnn"}
    assert resolve_trial_config(crnn, encoders) is crnn
    with pytest.raises(ValueError, match="no pretrained encoder"):
        resolve_trial_config(sampled, [])


def test_the_searcher_proposes_and_records_a_candidate_outside_the_sampled_space(tmp_path):
    encoders = available_pretrained_encoders(write_tiny_checkpoint(tmp_path))
    preset = with_pretrained_candidates(get_preset("default"), encoders)
    searcher = PortfolioSearcher(search_space=preset.space, reward_attribute="reward", portfolio=preset.portfolio)
    first = searcher.get_config()
    searcher.update(first, reward=0.2)
    candidate = searcher.get_config()
    assert candidate["model"] == "wav2vec2" and candidate["frontend"] == "waveform"
    searcher.update(candidate, reward=0.9)  # AutoGluon's searcher refused values outside the space
    assert searcher.get_best_config() == candidate
    assert searcher.get_config()["model"] == "convnet"
    resumed = PortfolioSearcher(search_space=preset.space, reward_attribute="reward", portfolio=preset.portfolio,
                                skip=[resolve_trial_config(candidate, encoders)])
    assert all(c["model"] != "wav2vec2" for c in resumed._portfolio)  # a resumed run does not repeat it


def test_waveform_frontend_features_are_raw_10_ms_frames_and_cached(tiny_corpus, tmp_path):
    dataset = load_dataset(tiny_corpus).subset(list(load_dataset(tiny_corpus))[:5])
    config = FrontendConfig(kind="waveform")
    first = compute_features(dataset, config, cache_dir=tmp_path, progress=False)
    second = compute_features(dataset, config, cache_dir=tmp_path, progress=False)
    assert not first.from_cache and second.from_cache
    samples = torch.from_numpy(read_audio(dataset.utterances[0].audio))
    frames = second.features[0]
    assert frames.shape == (-(-len(samples) // 160), 160)
    assert torch.allclose(frames.reshape(-1)[: len(samples)], samples, atol=1e-3)  # stored as float16


def test_cli_fit_passes_pretrained_paths(monkeypatch, tmp_path):
    arguments = build_parser().parse_args(["fit", "data.csv", "--pretrained", "a.safetensors", "--pretrained", "enc/"])
    assert arguments.pretrained == ["a.safetensors", "enc/"]
    seen = {}

    def fake_fit(self, data, **options):
        seen.update(options)
        return self

    monkeypatch.setattr(ASRPredictor, "fit", fake_fit)
    from autoasr.cli import main

    assert main(["fit", "data.csv", "--output", str(tmp_path / "run"), "--pretrained", "a.safetensors"]) == 0
    assert seen["pretrained"] == ["a.safetensors"]


def test_a_trial_that_fine_tunes_an_encoder_gets_a_few_of_its_own_epochs_not_a_cached_heads():
    from types import SimpleNamespace

    from autoasr.results.leaderboard import TrialBook
    from autoasr.search.budget import MIN_EPOCHS_PER_TRIAL, BudgetPlan
    from autoasr.search.candidates import trains_encoder_weights
    from autoasr.search.presets import get_preset
    from autoasr.search.run import SearchRun

    assert trains_encoder_weights({"model": "whisper", "size": "pooled_tuned"})
    assert trains_encoder_weights({"model": "wav2vec2", "size": "tiny"})
    assert not any(trains_encoder_weights({"model": "whisper", "size": size}) for size in ("pooled", "pooled_mix", "tiny"))
    plan = BudgetPlan.plan(0.0, 180, get_preset("default"), num_tuning=300, now=0.0)
    heads = [0.5] * 20  # a cached head's epochs: half a second
    plain = plan.trial_deadline(10.0, heads + [8.0, 8.0])
    own = plan.trial_deadline(10.0, heads + [8.0, 8.0], own_epoch_seconds=[8.0, 8.0])
    assert plain == pytest.approx(10.0 + plan.trial_seconds)  # the median epoch is a head's: no floor above the share
    assert own == pytest.approx(10.0 + max(plan.trial_seconds, min(MIN_EPOCHS_PER_TRIAL * 8.0, 0.4 * plan.exploration_seconds)))
    assert own > plain
    # a fine-tuned trial with short epochs keeps the common floor
    assert plan.trial_deadline(10.0, [4.0] * 5, own_epoch_seconds=[1.0]) == plan.trial_deadline(10.0, [4.0] * 5)
    # the running trial is the book's latest
    book = TrialBook()
    for trial_id, seconds in (("001", 0.5), ("002", 9.0)):
        book.add({"trial_id": trial_id, "status": "running", "config": {}, "history": [{"epoch_seconds": seconds}]})
    search = SimpleNamespace(book=book)
    assert SearchRun._epoch_seconds(search, latest_only=True) == [9.0]
    assert sorted(SearchRun._epoch_seconds(search)) == [0.5, 9.0]


def test_a_new_encoder_pass_is_not_started_when_it_would_use_up_the_exploration(tmp_path):
    from types import SimpleNamespace

    from autoasr.core.text import CharVocabulary
    from autoasr.data.dataset import Dataset
    from autoasr.search.presets import get_preset
    from autoasr.search.run import SearchRun
    from autoasr.training.tensors import FeatureStore

    empty = Dataset([], "empty")
    store = FeatureStore(empty, empty, CharVocabulary.from_texts(["yes"]), cache_dir=tmp_path)
    assert store.longest_pass_seconds == 0.0 and not store.ready("logmel")
    store("logmel")
    assert store.ready("logmel") and len(store.pass_seconds) == 1 and not store.ready("mfcc")
    store.pass_seconds.append(40.0)  # an encoder pass as FSDD's cost
    search = SimpleNamespace(features=store, settings=SimpleNamespace(preset=get_preset("default")),
                             plan=SimpleNamespace(exploration_deadline=100.0))
    assert SearchRun._no_time_for_features(search, {"frontend": "mfcc"}, now=70.0)  # 30 s left: too little
    assert not SearchRun._no_time_for_features(search, {"frontend": "mfcc"}, now=10.0)  # 90 s left
    assert not SearchRun._no_time_for_features(search, {"frontend": "logmel"}, now=99.0)  # ready: starts at once
    store.pass_seconds[-1] = 1.0  # a tiny corpus: a pass of a second still fits in 7 s
    assert not SearchRun._no_time_for_features(search, {"frontend": "mfcc"}, now=93.0)
