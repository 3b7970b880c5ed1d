"""Refit on all data (AutoGluon's refit_full): a small corpus's winner is trained again on training + tuning clips
and used; a large corpus is not refit; the epoch a tiny tuning set cannot tell apart goes to the fitter model."""
from __future__ import annotations

import time

import pytest

from autoasr.results.leaderboard import TrialBook
from autoasr.search import budget
from autoasr.search.budget import BudgetPlan, plans_refit
from autoasr.search.presets import get_preset
from autoasr.search.refit import REFIT_NOTE, epochs_needed, lineage, refit_parent
from autoasr.training.progress import ProgressJudge


def test_a_refit_is_planned_for_small_corpora_and_its_time_is_kept_from_the_search():
    assert plans_refit("auto", 30) and not plans_refit("auto", budget.REFIT_MAX_UTTERANCES + 1)
    assert plans_refit(True, 10**6) and not plans_refit(False, 30) and not plans_refit("auto", 30, get_preset("single"))
    with pytest.raises(ValueError):
        plans_refit("sometimes", 30)
    preset, now = get_preset("default"), 1000.0
    plain = BudgetPlan.plan(now, 180, preset, num_tuning=10, now=now)
    with_refit = BudgetPlan.plan(now, 180, preset, num_tuning=10, now=now, refit=True)
    assert not plain.refit_planned and with_refit.refit_planned
    assert with_refit.search_deadline == plain.search_deadline  # saving keeps its reserve
    kept = with_refit.search_deadline - with_refit.decoder_deadline
    assert kept == pytest.approx(budget.REFIT_SHARE * (plain.search_deadline - now))
    assert with_refit.exploration_deadline == pytest.approx(plain.exploration_deadline - kept)


def test_a_tie_on_the_tuning_set_keeps_the_later_better_fitted_epoch_without_delaying_a_plateau():
    judge = ProgressJudge(patience=2, tuning_size=10)
    assert judge.judge(1, 0.1, 0.05, train_loss=1.0, step=500) == (True, False)
    assert judge.judge(2, 0.1, 0.05, train_loss=0.5, step=505)[0]  # same scores, lower loss: the new best model
    assert judge.best_epoch == 2
    assert not judge.judge(3, 0.1, 0.05, train_loss=0.7, step=510)[0]  # same scores, higher loss: kept the old
    assert judge.best_epoch == 2 and judge.stop_reason(3) == "plateau"  # ties are not progress


def _record(trial_id, val_wer, start, **extra):
    return {"trial_id": trial_id, "model": "whisper", "size": "pooled", "config": extra.pop("config", {}),
            "status": "ok", "val_wer": val_wer, "val_cer": 0.0, "start_time": start, **extra}


def test_the_refit_row_leads_its_parent_on_the_same_score_and_counts_the_lineage_epochs():
    book = TrialBook()
    book.add(_record("001", 0.1, 1.0, best_epoch=20, epochs=23))
    book.add(_record("002", 0.1, 2.0, best_epoch=5, epochs=9, config={"continued_from": "001"}))
    book.add(_record("003", 0.2, 3.0))
    assert [t["trial_id"] for t in lineage(book, "002")] == ["001", "002"] and epochs_needed(lineage(book, "002")) == 25
    book.add(_record("004", 0.1, 4.0, refit_of="002", note=f"{REFIT_NOTE}: ..."))
    book.refresh_best()
    assert book.best_trial_id == "004"
    assert list(book.leaderboard()["trial_id"]) == ["004", "001", "002", "003"]


def test_on_a_tiny_tuning_set_the_simplest_of_the_tied_models_is_refit_and_leads():
    book = TrialBook()
    book.add(_record("001", 0.1, 1.0, parameters=299020, val_cer=0.05))
    book.add(_record("002", 0.1, 2.0, parameters=5381, val_cer=0.1))
    book.add(_record("003", 0.3, 3.0, parameters=100))
    book.refresh_best()
    assert book.best_trial_id == "001"  # the lower CER leads while nothing is refit
    assert refit_parent(book, "001", num_tuning=10) == "002"  # ten clips: a tie is no evidence, the simplest
    assert refit_parent(book, "001", num_tuning=500) == "001"  # a large tuning set: the best is the best
    book.add(_record("004", 0.1, 4.0, parameters=5381, val_cer=0.1, refit_of="002"))
    book.refresh_best()
    assert book.best_trial_id == "004" and book.leaderboard().iloc[0]["trial_id"] == "004"


def test_a_resumed_run_goes_on_from_the_refit_s_parent_not_from_the_refit_that_saw_the_tuning_clips():
    from autoasr.search.run import best_trained_id

    book = TrialBook()
    book.add(_record("001", 0.1, 1.0, parameters=5381))
    book.add(_record("002", 0.2, 2.0, parameters=5381))
    book.add(_record("003", 0.1, 3.0, parameters=5381, refit_of="001"))
    book.refresh_best()
    assert book.best_trial_id == "003"  # the refit is the model in use...
    assert best_trained_id(book) == "001"  # ...but a continuation, a decoder choice or a new refit starts from 001


@pytest.fixture(scope="module")
def refit_run(tiny_whisper_dir, tiny_corpus, tmp_path_factory):
    """A pooled-head search on the tiny corpus's one-word clips (a few dozen: a refit is planned)."""
    from conftest import repeated_words_manifest

    from autoasr import ASRPredictor, load_dataset

    manifest = repeated_words_manifest(tiny_corpus, tmp_path_factory.mktemp("refit_words"))
    train, test = load_dataset(manifest, split=("train", "test"), domain="commands")
    predictor = ASRPredictor(path=tmp_path_factory.mktemp("refit") / "run", domain="commands", verbosity=0)
    started = time.time()
    predictor.fit(train, time_limit=20, pretrained=str(tiny_whisper_dir))
    return predictor, train, test, time.time() - started


@pytest.mark.slow
def test_a_small_corpus_winner_is_refit_on_all_data_and_that_model_is_used_saved_and_reloaded(refit_run):
    from autoasr import ASRPredictor

    predictor, train, test, seconds = refit_run
    assert seconds <= 20 * 1.1 + 10
    summary = predictor.fit_summary["refit"]
    assert summary["done"], summary
    refit, parent = predictor.trials[summary["trial_id"]], predictor.trials[summary["refit_of"]]
    assert predictor.best_trial_id == refit["trial_id"] and refit["refit_of"] == parent["trial_id"]
    assert (refit["val_wer"], refit["val_cer"]) == (parent["val_wer"], parent["val_cer"])
    assert refit["note"].startswith(REFIT_NOTE) and parent["trial_id"] in refit["note"]
    assert refit["config"]["refit"] and refit["epochs"] == refit["config"]["max_epochs"] >= 1
    assert refit["history"] == [] and len(refit["refit_history"]) == refit["epochs"]  # not a learning curve
    board = predictor.leaderboard()
    assert board.iloc[0]["trial_id"] == refit["trial_id"] and parent["trial_id"] in set(board["trial_id"])
    clips = [u.audio for u in list(test)[:6]]
    heard = predictor.transcribe(clips)
    assert heard == predictor.model(refit["trial_id"]).transcribe(clips)
    reloaded = ASRPredictor.load(predictor.path)
    assert reloaded.best_trial_id == refit["trial_id"]
    assert reloaded.transcribe(clips) == heard
    assert (predictor.path / "best").exists()
    assert REFIT_NOTE in (predictor.path / "MODEL_CARD.md").read_text()  # the card says whose scores it shows


@pytest.mark.slow
def test_a_large_corpus_is_not_refit(tiny_whisper_dir, words_only_train, tmp_path, monkeypatch):
    from autoasr import ASRPredictor

    monkeypatch.setattr(budget, "REFIT_MAX_UTTERANCES", 5)  # the tiny corpus stands for a large one
    monkeypatch.setattr(budget, "REFIT_MAX_SPEAKERS_WITH_ENCODER", 1)  # ... of many voices
    predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
    predictor.fit(words_only_train, time_limit=12, pretrained=str(tiny_whisper_dir))
    assert "refit" not in predictor.fit_summary
    assert not any(t.get("refit_of") for t in predictor.trials.values())


@pytest.fixture()
def words_only_train(refit_run):
    return refit_run[1]


def test_the_cli_passes_its_refit_choice_to_fit(monkeypatch, tmp_path):
    from autoasr import ASRPredictor
    from autoasr.cli import main

    seen = {}

    def fake_fit(self, data, **options):
        seen.update(options)
        return self

    monkeypatch.setattr(ASRPredictor, "fit", fake_fit)
    assert main(["fit", "data.csv", "--output", str(tmp_path / "run"), "--refit", "never"]) == 0
    assert seen["refit"] is False
    assert main(["fit", "data.csv", "--output", str(tmp_path / "run2")]) == 0
    assert seen["refit"] == "auto"


def test_a_corpus_of_few_voices_is_refit_when_its_heads_read_a_pretrained_encoder(tmp_path):
    from types import SimpleNamespace

    from autoasr import ASRPredictor
    from autoasr.data.dataset import Dataset, Utterance

    assert plans_refit("auto", 3000, voices=4, whisper_encoder=True)
    assert not plans_refit("auto", 3000, get_preset("single"), voices=4, whisper_encoder=True)
    assert not plans_refit(False, 3000, voices=4, whisper_encoder=True)
    assert not plans_refit("auto", 3000, voices=budget.REFIT_MAX_SPEAKERS_WITH_ENCODER + 1, whisper_encoder=True)

    def corpus(speakers: int, clips: int = 2000) -> Dataset:
        return Dataset([Utterance(audio=f"{i}.wav", text="yes", speaker=f"s{i % speakers}" if speakers else "",
                                  duration=1.0) for i in range(clips)], "many clips")

    predictor = ASRPredictor(path=tmp_path / "run", verbosity=0)
    predictor._speakers = {"clips_added": 0}
    whisper, wav2vec2 = SimpleNamespace(kind="whisper"), SimpleNamespace(kind="wav2vec2")
    preset = get_preset("default")

    def planned(speakers: int, encoders: list) -> bool:
        everyone = corpus(speakers)
        train = everyone.subset(list(everyone)[:1800], "train")
        tuning = everyone.subset(list(everyone)[1800:], "tuning")
        return predictor._plan(time.time(), 180, preset, train, tuning, "auto", "local", encoders).refit_planned

    assert planned(4, [whisper])  # FSDD: four voices, one of them held out for tuning
    assert not planned(4, [])  # from scratch a refit on 2,000 clips would not fit its share
    assert not planned(4, [wav2vec2])  # a fine-tuned encoder's epochs are no cheaper
    assert not planned(40, [whisper]) and not planned(0, [whisper])  # many voices, or none named
