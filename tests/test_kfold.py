"""K-fold by speaker ranks the rows a tiny tuning set cannot tell apart (issue 14 item 3): time is kept for it
only beside a refit, the finalists are the tied Whisper heads (one per lineage), folds leave whole speakers out,
and in a fit the k-fold winner is what the refit trains, with the per-fold WERs on its row and in fit_summary."""
from __future__ import annotations

import time

import pytest

from autoasr.data.dataset import Dataset, Utterance
from autoasr.results.leaderboard import TrialBook
from autoasr.search import budget
from autoasr.search.budget import BudgetPlan
from autoasr.search.kfold import describe, finalists, fold_indexes, plans_kfold
from autoasr.search.presets import get_preset


def test_kfold_time_is_kept_between_the_decoder_choice_and_the_refit_only_beside_a_refit():
    preset, now = get_preset("default"), 1000.0
    refit_only = BudgetPlan.plan(now, 180, preset, num_tuning=10, now=now, refit=True)
    both = BudgetPlan.plan(now, 180, preset, num_tuning=10, now=now, refit=True, kfold=True)
    alone = BudgetPlan.plan(now, 180, preset, num_tuning=10, now=now, kfold=True)
    assert not refit_only.kfold_planned and not alone.kfold_planned and both.kfold_planned
    search_seconds = both.search_deadline - now
    assert both.search_deadline - both.kfold_deadline == pytest.approx(budget.REFIT_SHARE * search_seconds)
    assert both.kfold_deadline - both.decoder_deadline == pytest.approx(budget.KFOLD_SHARE * search_seconds)
    assert both.exploration_deadline < refit_only.exploration_deadline  # the time comes out of the exploration


def _utterance(speaker, text, number):
    return Utterance(audio=f"/nowhere/{speaker}-{number}.wav", text=text, speaker=speaker)


def test_plans_kfold_needs_a_tiny_tuning_set_three_speakers_and_a_whisper_encoder():
    class Encoder:
        kind = "whisper"

    train = Dataset([_utterance(s, w, n) for s in ("a", "b") for n, w in enumerate(["yes", "no"])])
    tuning = Dataset([_utterance("c", w, n) for n, w in enumerate(["yes", "no"])])
    assert plans_kfold(train, tuning, [Encoder()])
    assert not plans_kfold(train, tuning, [])  # no encoder: the heads that train in seconds are not there
    assert not plans_kfold(train, Dataset([_utterance("b", "yes", 9)]), [Encoder()])  # two speakers
    big = Dataset([_utterance("c", "yes", n) for n in range(100)])
    assert not plans_kfold(train, big, [Encoder()])  # a tuning set of 100 clips can rank models itself


def _record(trial_id, val_wer, start, model="whisper", size="pooled", **extra):
    return {"trial_id": trial_id, "model": model, "size": size, "status": extra.pop("status", "ok"), "val_wer": val_wer,
            "val_cer": extra.pop("val_cer", 0.0), "start_time": start, "config": {"model": model, "size": size,
                                                                                   **extra.pop("config", {})},
            **extra}


def test_finalists_are_the_tied_whisper_heads_one_per_lineage_plausible_first():
    book = TrialBook()
    book.add(_record("001", 0.1, 1.0, parameters=300000, size="small", val_cer=0.05))
    book.add(_record("002", 0.1, 2.0, parameters=5000, val_cer=0.1))
    book.add(_record("003", 0.1, 3.0, parameters=5000, val_cer=0.08, config={"continued_from": "002"}))
    book.add(_record("004", 0.3, 4.0, parameters=100))  # not tied
    book.add(_record("005", 0.1, 5.0, model="crnn", parameters=100))  # tied, but not on cached encoder vectors
    book.add({**_record("006", 0.0, 6.0, model="whisper-zero-shot"), "recognizer": "whisper"})  # not trained
    book.add(_record("007", 0.1, 7.0, parameters=5000, refit_of="002"))  # a refit is not a finalist
    assert finalists(book) == ["001", "003"]  # 003 stands for its lineage (002, 003); lowest CER first


def test_folds_leave_whole_speakers_out_and_score_every_named_clip_once():
    words = ["yes", "no", "up"]
    train = Dataset([_utterance(s, w, n) for s in ("a", "b", "c") for n, w in enumerate(words)]
                    + [Utterance(audio="/nowhere/spliced.wav", text="yes no")])  # a made-up clip: no speaker
    tuning = Dataset([_utterance("d", w, n) for n, w in enumerate(words)])
    everything = list(train) + list(tuning)
    folds = fold_indexes(train, tuning, seed=0)
    assert len(folds) == 4  # four speakers: leave one out
    held = sorted(i for _, out in folds for i in out)
    assert held == [i for i, u in enumerate(everything) if u.speaker]
    for fold_train, held_out in folds:
        assert not {everything[i].speaker for i in fold_train} & {everything[i].speaker for i in held_out}
        assert everything.index(train.utterances[-1]) in fold_train  # the unnamed clip always trains


def test_the_summary_reads_folds_and_mean():
    assert describe({"wers": [0.0, 0.1, 0.0], "mean_wer": 0.1 / 3}) == "k-fold: 3 folds, 3.3% mean (0.0%, 10.0%, 0.0%)"


@pytest.fixture(scope="module")
def kfold_run(tiny_whisper_dir, tiny_corpus, tmp_path_factory):
    """A search on the tiny corpus's one-word clips: 3 training speakers, a tuning set of one speaker's clips."""
    from conftest import repeated_words_manifest

    from autoasr import ASRPredictor, load_dataset

    manifest = repeated_words_manifest(tiny_corpus, tmp_path_factory.mktemp("kfold_words"), train_only=True)
    train = load_dataset(manifest, domain="commands")
    predictor = ASRPredictor(path=tmp_path_factory.mktemp("kfold") / "run", domain="commands", verbosity=0)
    started = time.time()
    predictor.fit(train, time_limit=25, pretrained=str(tiny_whisper_dir))
    return predictor, time.time() - started


@pytest.mark.slow
def test_a_tiny_corpus_ranks_its_tied_heads_by_speaker_folds_and_refits_the_winner(kfold_run):
    predictor, seconds = kfold_run
    assert seconds <= 25 * 1.1 + 10
    refit = predictor.fit_summary["refit"]
    kfold = refit["kfold"]
    assert kfold["done"], kfold
    assert kfold["folds"] == 3  # three speakers in training + tuning: leave one out
    assert refit["done"] and refit["refit_of"] == kfold["winner"]
    ranked = kfold["finalists"]
    winner = ranked[kfold["winner"]]
    assert all((winner["mean_wer"], winner["mean_cer"]) <= (r["mean_wer"], r["mean_cer"]) for r in ranked.values())
    for trial_id, scores in ranked.items():
        assert len(scores["wers"]) == 3 and all(0.0 <= w <= 1.0 for w in scores["wers"])
        assert describe(scores) in predictor.trials[trial_id]["note"]  # the row says it
    row = predictor.leaderboard().iloc[0]
    assert row["trial_id"] == refit["trial_id"] and kfold["summary"] in row["note"]


def test_after_a_refit_on_all_data_no_ensemble_leads_on_the_tuning_set_it_trained_on():
    book = TrialBook()
    book.add(_record("001", 0.85, 1.0))
    book.add(_record("002", 0.90, 2.0, size="pooled_mix"))
    book.add(_record("003", 0.80, 3.0, model="ensemble", size="2 members"))  # one word better on 20
    book.refresh_best()
    assert book.best_trial_id == "003" and book.leaderboard().iloc[0]["trial_id"] == "003"  # no refit: it leads
    book.add(_record("004", 0.85, 4.0, refit_of="001"))
    book.refresh_best()
    board = book.leaderboard()
    assert book.best_trial_id == "004" and board.iloc[0]["trial_id"] == "004"
    assert board.iloc[-1]["trial_id"] == "003"  # the ensemble comes after every single model
    book.add(_record("005", 0.85, 5.0, refit_of="002", status="failed"))  # a failed refit changes nothing more
    book.refresh_best()
    assert book.best_trial_id == "004"
