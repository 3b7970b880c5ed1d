"""Refit on all data (AutoGluon's ``refit_full``): the winner's configuration trained again on the training and
the tuning clips together, for the epochs the winner needed, and used in its place.

On a corpus of tens of clips the tuning speaker holds a third of the voices: a model that never hears them
learns from two speakers where three were recorded. Once the search has used the tuning set to choose the
configuration, its epochs and its decoder, those clips can teach too. The refit model cannot be scored on
clips it trained on, so its leaderboard row carries its parent's tuning WER and says so; the parent's row
stays, and a refit cut short by the deadline is not used.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import torch

from autoasr.core.storage import read_json, write_json
from autoasr.inference.model_files import MODEL_SPEC_FILE, TUNING_TRANSCRIPTS_FILE
from autoasr.results.leaderboard import TrialBook
from autoasr.search.ensemble_row import is_combined
from autoasr.training.progress import MIN_UTTERANCES_FOR_PERFECT
from autoasr.training.tensors import SplitTensors
from autoasr.training.trial import BOOKKEEPING_KEYS, TrialRecord, new_trial_record

REFIT_NOTE = "refit on all data"
# the refit's time is estimated from its parent's epochs; this margin covers the larger data and a busy machine
REFIT_TIME_MARGIN = 1.3
# what a refit row takes from its parent: the decoder the search chose for it and both tuning WERs
PARENT_DECODER_KEYS = ("decoder", "val_wer_greedy", "val_wer_lm", "lm_weight", "word_score",
                       "closed_vocabulary_words", "decoder_note")


def refit_parent(book: TrialBook, best_id: str, num_tuning: int) -> str:
    """The trial to refit: the best trained one, except that on a tuning set of fewer than 100 clips a tie at its
    WER is no evidence (one clip is 10% of ten), and the simplest of the tied trained models is refit instead:
    the fewest trained parameters, then the lowest CER. On 30 Speech Commands clips (10 tuning clips) eight rows
    tied at 10% WER; the CTC head the CER picked, refit, read unseen speakers with 25.9% WER, where the pooled
    clip head (5k parameters) refit on all 30 clips read them with 2.4% (benchmarks/smalldata_probe.py)."""
    if num_tuning >= MIN_UTTERANCES_FOR_PERFECT:
        return best_id
    tied = [t for t in tied_at_best(book) if t.get("parameters")]
    if not tied:
        return best_id
    return min(tied, key=lambda t: (t["parameters"], t["val_cer"], t["start_time"]))["trial_id"]


def tied_at_best(book: TrialBook) -> list[TrialRecord]:
    """The trained models (no recognizer, ensemble or refit) tied at the best tuning WER among them."""
    trained = [t for t in book.records() if t["status"] == "ok" and not t.get("recognizer") and not t.get("refit_of")
               and not is_combined(t)]
    best_wer = min((t["val_wer"] for t in trained), default=None)
    return [t for t in trained if t["val_wer"] <= best_wer + 1e-9]


def lineage(book: TrialBook, trial_id: str) -> list[TrialRecord]:
    """The trial and the trials it was continued from, the one trained from scratch first."""
    chain = [book[trial_id]]
    while chain[0]["config"].get("continued_from") in book.trials:
        chain.insert(0, book[chain[0]["config"]["continued_from"]])
    return chain


def epochs_needed(chain: list[TrialRecord]) -> int:
    """The epochs from scratch to the winner's best weights: each trial's best epoch, continuations added up."""
    return max(1, sum(int(t.get("best_epoch") or t.get("epochs") or 1) for t in chain))


def estimated_seconds(chain: list[TrialRecord], epochs: int, num_train: int, num_all: int) -> float:
    """How long ``epochs`` on ``num_all`` clips take, from what the lineage's epochs on ``num_train`` cost."""
    spent = sum(t.get("train_seconds", 0.0) + t.get("eval_seconds", 0.0) for t in chain)
    ran = sum(int(t.get("epochs") or 0) for t in chain)
    return REFIT_TIME_MARGIN * spent / max(ran, 1) * epochs * num_all / max(num_train, 1)


def refit_config(chain: list[TrialRecord], epochs: int) -> dict:
    """The configuration trained from scratch in the lineage, for ``epochs``, marked as a refit of the winner."""
    searched = {k: v for k, v in chain[0]["config"].items() if k not in BOOKKEEPING_KEYS}
    return {**searched, "patience": chain[0]["config"].get("patience", 4), "max_epochs": epochs, "refit": True,
            "refit_of": chain[-1]["trial_id"]}


def all_data(splits: tuple[SplitTensors, SplitTensors]) -> tuple[SplitTensors, SplitTensors]:
    """(training + tuning tensors as one training set, the tuning tensors): the tuning scores of a refit's epochs
    are kept for the record only (:func:`close_refit`)."""
    train, tuning = splits
    return SplitTensors(train.features + tuning.features, train.texts + tuning.texts, train.targets + tuning.targets,
                        train.frames_per_second), tuning


def new_refit_record(book: TrialBook, chain: list[TrialRecord], epochs: int) -> TrialRecord:
    record = new_trial_record(book.next_id(), refit_config(chain, epochs))
    record["refit_of"] = chain[-1]["trial_id"]
    return record


def close_refit(record: TrialRecord, parent: TrialRecord, epochs: int, trial_dir: Path, parent_dir: Path) -> None:
    """Give a finished refit its parent's tuning scores and decoder, or mark it unused when it was cut short.

    Its per-epoch tuning scores were measured on clips it trained on: they are kept as ``refit_history``, out of
    the learning curves and the forecast that read ``history``."""
    record["refit_history"], record["history"] = record.get("history", []), []
    if record["status"] != "ok" or int(record.get("epochs") or 0) < epochs:
        record.update(status="failed", error=record.get("error") or (
            f"the refit trained {record.get('epochs') or 0} of {epochs} epochs before the deadline; "
            f"trial {parent['trial_id']} stays the model"))
        return
    record.update(val_wer=parent["val_wer"], val_cer=parent["val_cer"], best_epoch=record["epochs"],
                  **{key: parent[key] for key in PARENT_DECODER_KEYS if key in parent},
                  note=f"{REFIT_NOTE}: trial {parent['trial_id']}'s configuration trained for {epochs} epochs on the "
                       f"training and tuning clips; it cannot be scored on clips it trained on, so val_wer is "
                       f"trial {parent['trial_id']}'s")
    parent_spec = read_json(parent_dir / MODEL_SPEC_FILE)
    if "decoder" in parent_spec:  # the decoder the search chose for the parent (an LM over its transcripts)
        write_json(trial_dir / MODEL_SPEC_FILE, {**read_json(trial_dir / MODEL_SPEC_FILE),
                                                 "decoder": parent_spec["decoder"]})
    if (parent_dir / TUNING_TRANSCRIPTS_FILE).is_file():  # which words the configuration gets wrong on unseen clips
        shutil.copyfile(parent_dir / TUNING_TRANSCRIPTS_FILE, trial_dir / TUNING_TRANSCRIPTS_FILE)


def refit_skipped(reason: str) -> dict:
    return {"done": False, "reason": reason}


def refit_summary(record: TrialRecord, started: float) -> dict:
    """What ``fit_summary["refit"]`` says about a refit that ran."""
    if record["status"] == "ok":
        return {"done": True, "trial_id": record["trial_id"], "refit_of": record["refit_of"],
                "epochs": record["epochs"], "seconds": round(time.time() - started, 1)}
    return {**refit_skipped(record.get("error") or "the refit failed"), "trial_id": record["trial_id"],
            "refit_of": record["refit_of"]}


def refit_winner(search, deadline: float) -> dict:
    """Refit the best trained trial of ``search`` (a :class:`autoasr.search.run.SearchRun`) on all its data by
    ``deadline``; returns what ``fit_summary["refit"]`` says. Skipped, with the reason, when no time is left."""
    from autoasr.core.callbacks import emit
    from autoasr.results.leaderboard import leaderboard_row
    from autoasr.training.trial import run_recorded_trial

    best_id = search.best_trained_id()
    if best_id is None or search.stop_requested.is_set():
        return refit_skipped("no trained model to refit")
    kfold = search.kfold_note
    # the k-fold ranking of the tied rows (autoasr.search.kfold) is evidence where the tie rule is a guess
    best_id = kfold.get("winner") or refit_parent(search.book, best_id, len(search.tuning))
    chain = lineage(search.book, best_id)
    epochs = epochs_needed(chain)
    needed = estimated_seconds(chain, epochs, len(search.train), len(search.train) + len(search.tuning))
    if time.time() + needed > deadline:
        return refit_skipped(f"{epochs} epochs on all data need about {needed:.0f} s; "
                             f"{max(deadline - time.time(), 0.0):.0f} s were left")
    started, record = time.time(), new_refit_record(search.book, chain, epochs)
    search.book.add(record)
    emit(search.settings.callbacks, "on_trial_start", record["trial_id"], dict(record["config"]))
    trial_dir = search.folder.trial_dir(record["trial_id"])
    run_recorded_trial(record, trial_dir, lambda: all_data(search.features(record["config"])), search.vocabulary,
                       deadline, should_stop=search.stop_requested.is_set, seed=search.settings.seed,
                       device="cuda" if torch.cuda.is_available() else "cpu")
    close_refit(record, chain[-1], epochs, trial_dir, search.folder.trial_dir(best_id))
    if record["status"] == "ok" and kfold.get("winner"):
        record.update(kfold_wer=kfold["finalists"][best_id]["mean_wer"], kfold_wers=kfold["finalists"][best_id]["wers"],
                      note=f"{record['note']}; chosen among {len(kfold['finalists'])} rows tied at the best tuning "
                           f"WER by {kfold['summary']}")
    if record["status"] == "ok":
        search.record_costs(record)  # writes the record
    else:
        search.folder.write_trial(record)
    search.book.refresh_best()
    emit(search.settings.callbacks, "on_trial_end", leaderboard_row(record))
    return refit_summary(record, started)
