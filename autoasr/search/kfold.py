"""K-fold cross-validation by speaker to rank the finalists of a search on a tiny corpus (issue 14 item 3).

On tens of clips the tuning set is one speaker's few takes: one clip is 10% WER, so after the exploration
several rows tie at the best tuning WER and the tuning set cannot say which generalises (sc30: eight rows at
10%). Every configuration tied there that trains on cached encoder vectors (the Whisper heads: seconds per
training on tens of clips) is trained again once per fold of the training and tuning clips together, each fold
leaving whole speakers out (:func:`autoasr.data.split.speaker_folds`), for the epochs its lineage needed, and
scored on the speakers it left out. The finalists are ranked by the mean fold WER (then CER, then fewest trained
parameters) and the first is the one the refit trains on all data (:mod:`autoasr.search.refit`): AutoGluon's
bagging for selection followed by ``refit_full``. Every clip is scored once per finalist, so on 30 clips the WER
moves in steps of 3.3%, not 10%. The fold models themselves are not kept.
"""
from __future__ import annotations

import statistics
import time

import torch

from autoasr.data.dataset import Dataset
from autoasr.data.split import speaker_folds
from autoasr.results.leaderboard import TrialBook
from autoasr.search.refit import epochs_needed, estimated_seconds, lineage, refit_config, tied_at_best
from autoasr.training.loop import train_trial
from autoasr.training.progress import MIN_UTTERANCES_FOR_PERFECT
from autoasr.training.tensors import SplitTensors

# a tuning set this small cannot rank models (MIN_UTTERANCES_FOR_PERFECT: where one clip stops being a step)
KFOLD_MAX_TUNING = MIN_UTTERANCES_FOR_PERFECT
# three speakers give three leave-one-speaker-out folds; more than five folds only cost time
KFOLD_MIN_SPEAKERS, KFOLD_MAX_FOLDS = 3, 5
KFOLD_MAX_FINALISTS = 4  # each costs a training per fold


def plans_kfold(train: Dataset, tuning: Dataset, encoders: list) -> bool:
    """Whether a fit keeps time to rank its finalists by k-fold: a tuning set under 100 clips, at least three
    speakers in all, and a Whisper encoder (whose heads train on cached vectors in seconds). The search's
    budget plan keeps the time only where a refit is planned too (the k-fold winner is what it refits)."""
    speakers = {u.speaker for u in list(train) + list(tuning) if u.speaker}
    return (len(tuning) < KFOLD_MAX_TUNING and len(speakers) >= KFOLD_MIN_SPEAKERS
            and any(getattr(encoder, "kind", "") == "whisper" for encoder in encoders))


def finalists(book: TrialBook) -> list[str]:
    """The trained Whisper-head rows tied at the best trained tuning WER, one per configuration trained from
    scratch (a continuation stands for its lineage), most plausible first (CER, then fewest parameters)."""
    chosen: dict[str, dict] = {}
    for trial in sorted(tied_at_best(book), key=lambda t: (t["val_cer"], t.get("parameters") or 0, t["start_time"])):
        if trial["config"].get("model") != "whisper":
            continue
        root = lineage(book, trial["trial_id"])[0]["trial_id"]
        chosen.setdefault(root, trial)
    return [t["trial_id"] for t in chosen.values()][:KFOLD_MAX_FINALISTS]


def fold_indexes(train: Dataset, tuning: Dataset, seed: int) -> list[tuple[list[int], list[int]]]:
    """(training, held-out) positions in ``train + tuning`` per fold, whole speakers held out. Clips without a
    speaker (a domain's made-up training clips) train in every fold and are never scored."""
    utterances = list(train) + list(tuning)
    position = {id(u): i for i, u in enumerate(utterances)}
    spoken = [u for u in utterances if u.speaker]
    unnamed = [i for i, u in enumerate(utterances) if not u.speaker]
    folds = speaker_folds(train.subset(spoken, f"{train.name}+tuning"), KFOLD_MAX_FOLDS, seed)
    return [(sorted([position[id(u)] for u in fold_train] + unnamed), [position[id(u)] for u in held_out])
            for fold_train, held_out in folds]


def subset_tensors(tensors: SplitTensors, indexes: list[int]) -> SplitTensors:
    return SplitTensors([tensors.features[i] for i in indexes], [tensors.texts[i] for i in indexes],
                        [tensors.targets[i] for i in indexes], tensors.frames_per_second)


def fold_scores(search, trial_id: str, folds, deadline: float) -> dict | str:
    """Train the finalist's configuration once per fold; its per-fold WER and CER on the speakers left out,
    or why it could not be ranked."""
    from autoasr.search.refit import all_data

    chain = lineage(search.book, trial_id)
    epochs = epochs_needed(chain)
    config = {k: v for k, v in refit_config(chain, epochs).items() if k != "refit_of"}  # keeps its last epoch
    everything, _ = all_data(search.features(config))
    needed = sum(estimated_seconds(chain, epochs, len(search.train), len(train)) for train, _ in folds)
    if time.time() + needed > deadline:
        return f"{len(folds)} folds of {epochs} epochs need about {needed:.0f} s"
    wers, cers = [], []
    for number, (train, held_out) in enumerate(folds):
        outcome = train_trial(config, subset_tensors(everything, train), subset_tensors(everything, held_out),
                              search.vocabulary, deadline, should_stop=search.stop_requested.is_set,
                              seed=search.settings.seed + number,
                              device="cuda" if torch.cuda.is_available() else "cpu")
        if outcome.epochs < epochs or not outcome.history:
            return f"fold {number + 1} trained {outcome.epochs} of {epochs} epochs before the deadline"
        wers.append(outcome.history[-1]["val_wer"])  # the last epoch: what a refit of it keeps
        cers.append(outcome.history[-1]["val_cer"])
    return {"wers": wers, "cers": cers, "mean_wer": statistics.fmean(wers), "mean_cer": statistics.fmean(cers),
            "epochs": epochs}


def describe(scores: dict) -> str:
    """'k-fold: 3 folds, 3.3% mean (0.0%, 10.0%, 0.0%)'"""
    return (f"k-fold: {len(scores['wers'])} folds, {scores['mean_wer']:.1%} mean "
            f"({', '.join(f'{w:.1%}' for w in scores['wers'])})")


def rank_finalists(search, deadline: float) -> dict:
    """Rank the finalists of ``search`` (a :class:`autoasr.search.run.SearchRun`) by k-fold by speaker until
    ``deadline``; returns what ``fit_summary["refit"]["kfold"]`` says, with ``winner`` (the trial the refit
    trains on all data) when at least one finalist was ranked. Each ranked finalist's row notes its folds."""
    if search.stop_requested.is_set():
        return {"done": False, "reason": "the search was stopped"}
    if search.features.partial:
        return {"done": False, "reason": "not every training clip was encoded in time"}
    chosen = finalists(search.book)
    if not chosen:
        return {"done": False, "reason": "no trained Whisper head is tied at the best tuning WER"}
    started = time.time()
    folds = fold_indexes(search.train, search.tuning, search.settings.seed)
    ranked, skipped = {}, {}
    for trial_id in chosen:
        scores = fold_scores(search, trial_id, folds, deadline)
        if isinstance(scores, str):
            skipped[trial_id] = scores
            continue
        ranked[trial_id] = scores
        record = search.book[trial_id]
        record.update(kfold_wers=scores["wers"], kfold_wer=scores["mean_wer"], kfold_cer=scores["mean_cer"],
                      note="; ".join(filter(None, [record.get("note"), describe(scores)])))
        search.folder.write_trial(record)
    if not ranked:
        return {"done": False, "reason": "; ".join(f"trial {t}: {why}" for t, why in skipped.items()),
                "folds": len(folds)}
    winner = min(ranked, key=lambda t: (ranked[t]["mean_wer"], ranked[t]["mean_cer"],
                                        search.book[t].get("parameters") or 0))
    return {"done": True, "folds": len(folds), "winner": winner, "summary": describe(ranked[winner]),
            "finalists": ranked, "skipped": skipped, "seconds": round(time.time() - started, 1)}
