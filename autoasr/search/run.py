"""One search within a budget: trials (local scheduler or Ray), pruning, the winner's continuation and its decoder.

A :class:`SearchRun` receives everything it works on — the trial book, the run folder, the feature store,
the budget plan — and writes every trial to disk as it goes; it knows nothing of the predictor above it.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from autoasr.core.callbacks import emit
from autoasr.core.resources import release_memory
from autoasr.core.storage import load_weights, write_json
from autoasr.core.text import CharVocabulary
from autoasr.data.dataset import Dataset
from autoasr.domains.presets import Domain
from autoasr.inference.model import TrainedModel
from autoasr.inference.model_files import MODEL_SPEC_FILE, MODEL_WEIGHTS_FILE
from autoasr.models.registry import PRETRAINED_FAMILY, WHISPER_FAMILY
from autoasr.results.leaderboard import TrialBook, leaderboard_row
from autoasr.results.model_costs import measure_inference_cost
from autoasr.results.run_folder import RunFolder
from autoasr.search.budget import BudgetPlan
from autoasr.search.candidates import resolve_trial_config, trains_encoder_weights
from autoasr.search.decoder_choice import MIN_DECODER_CHOICE_SECONDS, compare_decoders_on_tuning
from autoasr.search.ensemble_row import EnsembleRow, ensemble_seconds, is_combined
from autoasr.search.learning import faster_learning
from autoasr.search.local import run_local_search
from autoasr.search.presets import Preset
from autoasr.search.stopping import median_stopping
from autoasr.training.progress import MIN_STEPS_BEFORE_PLATEAU
from autoasr.training.tensors import FeatureStore
from autoasr.training.trial import (
    BOOKKEEPING_KEYS,
    new_trial_record,
    run_recorded_trial,
)


# trained trials with no tuning error after which the exploration ends: one may be luck on a few clips (the
# tuning set of a learner's 50 takes holds 8), two tied at zero is what k-fold ranking and the refit are for
PERFECT_TRIALS_TO_STOP = 2


def searched_part(config: dict) -> dict:
    """The searched settings of a trial config, without bookkeeping keys."""
    return {k: v for k, v in config.items() if k not in BOOKKEEPING_KEYS}


def typical_clip(dataset: Dataset):
    """The samples of the utterance of median duration: the clip every trial's latency is timed on."""
    from autoasr.data.audio import read_audio

    by_duration = sorted(dataset, key=lambda u: u.duration or 0.0)
    return read_audio(by_duration[len(by_duration) // 2].audio)


@dataclass
class SearchSettings:
    """How to search: the preset, the domain, the backend and the callbacks that hear every event."""

    preset: Preset
    domain: Domain
    seed: int = 0
    callbacks: list = field(default_factory=list)
    encoders: list = field(default_factory=list)  # pretrained encoders a configuration may name
    backend: str = "local"
    num_workers: int = 2
    ray_address: str | None = None
    searcher: str = "random"
    scheduler: str = "ASHA"


class SearchRun:
    """Explore configurations until the plan's exploration deadline, continue the winner, choose its decoder."""

    def __init__(self, book: TrialBook, folder: RunFolder, features: FeatureStore, vocabulary: CharVocabulary,
                 plan: BudgetPlan, settings: SearchSettings, train: Dataset, tuning: Dataset,
                 stop_requested: threading.Event | None = None):
        self.book, self.folder, self.features = book, folder, features
        self.vocabulary, self.plan, self.settings = vocabulary, plan, settings
        self.train, self.tuning = train, tuning
        self.stop_requested = stop_requested or threading.Event()
        self.latency_clip = typical_clip(tuning)
        self.refit_note: dict = {}  # fit_summary["refit"]: what the refit on all data did, or why it did not run
        self.ensemble_outcome: str | None = None  # what the ensemble row did, or why it was skipped
        self.kfold_note: dict = {}  # the finalists' k-fold ranking (autoasr.search.kfold): its winner is refit
        # run once the first trial has ended (the reference rows: a usable trained model comes before yardsticks)
        self.after_first_trial: Callable[[], None] | None = None
        self.ended_early: str = ""  # why the search spent less than its budget, when it did

    def run(self) -> None:
        """The whole search; Ctrl-C ends it early and keeps what finished."""
        try:
            if self.settings.backend == "ray" and self._searchable():
                self._first_trial_ended()  # trials run elsewhere: the reference rows go first, as before
                self._explore_on_ray()
            else:
                self._explore_locally()
            self._first_trial_ended()  # no trial ran: the reference rows still do
            # the ensemble row's few seconds come out of the continuation (a preset without one has a single
            # trial or baselines: the ensemble gets what the decoder choice leaves); the refit comes last, on the
            # trained winner (never the ensemble)
            reserve = ensemble_seconds(len(self.tuning)) if self.settings.preset.refine_share > 0 else 0.0
            self.continue_best(self.plan.continuation_deadline - reserve)
            self.choose_decoder(self.plan.decoder_deadline - reserve)
            self.add_ensemble(self.plan.decoder_deadline)
            self.rank_finalists_by_folds(self.plan.kfold_deadline)
            self.refit_winner(self.plan.search_deadline)
        except KeyboardInterrupt:
            pass
        self.book.refresh_best()

    def _first_trial_ended(self) -> None:
        hook, self.after_first_trial = self.after_first_trial, None
        if hook is not None:
            hook()

    def _nothing_left_to_learn(self) -> bool:
        """Whether every pretrained head of the portfolio has run and :data:`PERFECT_TRIALS_TO_STOP` trained trials
        read every tuning clip right: more configurations can only tie them, so the time goes to ranking the tied
        ones (k-fold) and the refit. The heads all run first: on a learner's 75 clips of three voices (sc_small) the
        k-fold ranking chose the fine-tuned top layer among four perfect heads, and its refit read the unseen
        speakers with 2.8% errors; stopped after the first two, the choice was the layers' average at 5.5%."""
        records = self.book.records()
        perfect = [t for t in records if t.get("status") == "ok" and t.get("val_wer") == 0.0
                   and not t.get("recognizer") and not is_combined(t)]
        if len(perfect) < PERFECT_TRIALS_TO_STOP:
            return False
        tried = {(t["config"].get("model"), t["config"].get("size")) for t in records}
        heads = {(c.get("model"), c.get("size")) for c in self.settings.preset.portfolio
                 if c.get("model") in (WHISPER_FAMILY, PRETRAINED_FAMILY)}
        if not heads <= tried:
            return False
        self.ended_early = (f"{len(perfect)} trained models already read every tuning clip right, so the search "
                            "stopped trying new configurations and did not continue training the winner")
        return True

    def _searchable(self) -> bool:
        return any(not isinstance(value, (str, int, float)) for value in self.settings.preset.space.values())

    def _explore_locally(self) -> None:
        def trial_function(config: dict, reporter, end_search) -> None:
            now = time.time()
            if self.stop_requested.is_set() or now >= self.plan.exploration_deadline - 1.0:
                end_search()
                return
            # a family whose trials learned nothing gets a faster-learning configuration (or another family)
            config = resolve_trial_config(faster_learning(config, self.book.records()), self.settings.encoders,
                                          self.settings.preset.extra.get("clip_labels", ()))
            if self._no_time_for_features(config, now):
                end_search()
                return
            # a frontend's first features (another pretrained-encoder pass: 30 s for 2,900 clips) are not the
            # trial's training time: a CTC head on Speech Commands got 0.006 s of training and read nothing
            with contextlib.suppress(Exception):  # a frontend that fails, fails again in the trial, which says why
                self.features(config)
            now = time.time()
            if now >= self.plan.exploration_deadline - 1.0:
                end_search()
                return
            fine_tunes = trains_encoder_weights(config)
            self.run_trial(config, lambda: self.plan.trial_deadline(
                now, self._epoch_seconds(), self._epoch_seconds(latest_only=True) if fine_tunes else ()), reporter)
            self._first_trial_ended()
            if self.stop_requested.is_set() or self._nothing_left_to_learn():
                end_search()

        already_tried = [searched_part(t["config"]) for t in self.book.records()
                         if not t.get("recognizer") and not is_combined(t)]
        run_local_search(trial_function, self.settings.preset, time_out=max(self.plan.exploration_deadline - time.time(), 1.0),
                         seed=self.settings.seed + len(self.book), already_tried=already_tried)

    def _no_time_for_features(self, config: dict, now: float) -> bool:
        """Whether ``config`` needs features not computed yet that would leave too little of the exploration for a
        trial (the costliest pass so far, then a trial of the preset's shortest or as long as the pass, whichever is
        shorter); that time goes to the winner's continuation instead. A CTC head's encoder pass (44 s for FSDD's
        2,450 clips) once ran and then no trial had time left to use it."""
        left = self.plan.exploration_deadline - now
        costliest = self.features.longest_pass_seconds
        return not self.features.ready(config) and costliest + min(self.settings.preset.min_trial_seconds, costliest) > left

    def _epoch_seconds(self, latest_only: bool = False) -> list[float]:
        """Every recorded epoch's length, or only the latest trial's (the one running)."""
        histories = list(self.book.histories().values())
        return [row["epoch_seconds"] for rows in (histories[-1:] if latest_only else histories) for row in rows]

    def _explore_on_ray(self) -> None:
        from autoasr.search.ray import run_ray_search

        settings = self.settings
        run_ray_search(run_path=self.folder.path, preset=settings.preset, train=self.train, tuning=self.tuning,
                       vocabulary_symbols=self.vocabulary.symbols, cache_dir=self.features.cache_dir,
                       deadline=self.plan.exploration_deadline, trial_seconds=self.plan.trial_seconds,
                       num_workers=settings.num_workers, address=settings.ray_address, searcher=settings.searcher,
                       scheduler=settings.scheduler, id_offset=len(self.book), seed=settings.seed,
                       callbacks=settings.callbacks, row_of=leaderboard_row)
        self.book.replace_all(self.folder.load_trials())  # the workers wrote every trial to disk
        for trial in self.book.records():
            if trial["status"] == "ok" and trial.get("latency_ms") is None:
                self.record_costs(trial)
        self.book.refresh_best()

    def run_trial(self, config: dict, deadline, reporter=None, initial_state: dict | None = None) -> dict:
        """Train one configuration, recording it on disk and telling the callbacks as it goes."""
        settings = self.settings
        record = new_trial_record(self.book.next_id(), {**config, "patience": settings.preset.patience})
        trial_id = record["trial_id"]
        self.book.add(record)
        emit(settings.callbacks, "on_trial_start", trial_id, dict(record["config"]))
        pruned = threading.Event()

        def on_epoch(metrics: dict) -> None:
            if reporter is not None:
                reporter(epoch=metrics["epoch"], reward=1.0 - metrics["val_wer"], val_wer=metrics["val_wer"])
            emit(settings.callbacks, "on_epoch_end", trial_id, dict(metrics))
            # a continued trial started from trained weights: its curve is no yardstick for fresh ones
            if settings.preset.prune and initial_state is None and median_stopping(
                    self.book.histories(fresh_only=True), trial_id, grace_seconds=self.plan.pruning_grace_seconds,
                    grace_steps=MIN_STEPS_BEFORE_PLATEAU):
                pruned.set()

        try:
            run_recorded_trial(
                record, self.folder.trial_dir(trial_id),
                lambda: self.features(record["config"]), self.vocabulary, deadline,
                on_epoch=on_epoch, should_stop=lambda: self.stop_requested.is_set() or pruned.is_set(),
                initial_state=initial_state, seed=settings.seed + len(self.book),
                device="cuda" if torch.cuda.is_available() else "cpu")
            if record["status"] == "ok":
                self.record_costs(record)
        finally:
            self.book.refresh_best()
            release_memory()
        if pruned.is_set() and record["status"] == "ok":
            record["stop_reason"] = "pruned"
            self.folder.write_trial(record)
        emit(settings.callbacks, "on_trial_end", leaderboard_row(record))
        return record

    def record_costs(self, trial: dict) -> None:
        """Time and size a finished trial's model (see :mod:`autoasr.results.model_costs`) and keep the figures."""
        try:
            trial.update(measure_inference_cost(TrainedModel.load(self.folder.trial_dir(trial["trial_id"])),
                                                self.latency_clip))
        except Exception as error:  # an unmeasured model is still a usable model: it only cannot meet a limit
            trial["cost_error"] = f"{type(error).__name__}: {error}"
        self.folder.write_trial(trial)

    def best_trained_id(self) -> str | None:
        return best_trained_id(self.book)

    def continue_best(self, deadline: float) -> None:
        """Resume the best trial from its checkpoint with a lower, annealed learning rate until ``deadline``."""
        preset = self.settings.preset
        best_id = self.best_trained_id()
        if self.stop_requested.is_set() or best_id is None or preset.refine_share <= 0:
            return  # a preset without a continuation share (the baselines) keeps its trials as they ended
        if deadline - time.time() < preset.min_trial_seconds:
            return
        parent = self.book[best_id]
        if parent.get("val_wer") == 0.0:  # it reads every tuning clip right: more epochs have nothing to aim at
            self.ended_early = self.ended_early or (f"the winner (trial {best_id}) already reads every tuning clip "
                                                    "right, so it was not trained further")
            return
        state = load_weights(self.folder.trial_dir(parent["trial_id"]) / MODEL_WEIGHTS_FILE)
        # half the rate, annealed to the deadline: the winner settles instead of wandering off its checkpoint
        config = {**searched_part(parent["config"]), "learning_rate": parent["config"]["learning_rate"] * 0.5,
                  "anneal": True, "continued_from": parent["trial_id"]}
        self.run_trial(config, deadline, initial_state=state)

    def choose_decoder(self, deadline: float) -> None:
        """Greedy or lexicon + n-gram LM decoding for the winner, whichever reads the tuning set better.

        The LM learns from the domain's text and the training transcripts; the choice and both WERs
        go into the winner's leaderboard row, and the decoder into its model spec.
        """
        from autoasr.decoding.lm import lm_decoding_available

        best_id = self.best_trained_id()
        if best_id is None or self.stop_requested.is_set() or not lm_decoding_available() or deadline - time.time() < MIN_DECODER_CHOICE_SECONDS:
            return
        trial = self.book[best_id]
        model = TrainedModel.load(self.folder.trial_dir(best_id))
        _, tuning = self.features(trial["config"])
        comparison = compare_decoders_on_tuning(model.network, tuning, self.vocabulary.symbols, self.settings.domain,
                                                self.train.texts)
        trial.update(comparison.summary())
        if comparison.chosen == "lm":
            self._adopt_lm_decoder(trial, model, comparison)
        self.folder.write_trial(trial)

    def add_ensemble(self, deadline: float) -> None:
        """The best few trained trials combined as one more row (:mod:`autoasr.search.ensemble_row`)."""
        if self.stop_requested.is_set():
            self.ensemble_outcome = "skipped: the search was stopped"
            return
        try:
            self.ensemble_outcome = EnsembleRow(self.book, self.folder, self.features, self.latency_clip,
                                                self.settings.callbacks).run(self.train.texts, deadline)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # the trials stand on their own: a failed combination must not end the fit
            self.ensemble_outcome = f"failed: {type(error).__name__}: {error}"
        finally:
            release_memory()

    def _adopt_lm_decoder(self, trial: dict, model: TrainedModel, comparison) -> None:
        model.decoder = comparison.decoder
        costs = measure_inference_cost(model, self.latency_clip)
        max_latency = self.book.limits.get("max_latency_ms", float("inf"))
        if costs["latency_ms"] <= max_latency:
            trial.update(val_wer=comparison.lm_wer, val_cer=comparison.lm_cer, **costs)
            write_json(self.folder.trial_dir(trial["trial_id"]) / MODEL_SPEC_FILE,
                       {"config": model.config, "vocabulary": list(model.vocabulary.symbols),
                        "decoder": comparison.decoder.spec()})
        else:  # the beam search is what a latency limit cannot afford
            trial.update(decoder="greedy", decoder_note=f"LM decoding took {costs['latency_ms']:.1f} ms, over "
                                                        f"the {max_latency:g} ms limit")

    def rank_finalists_by_folds(self, deadline: float) -> None:
        """When the plan kept time for it (a tiny tuning set), rank the rows tied at the best tuning WER by k-fold
        by speaker; the refit then trains the first (:mod:`autoasr.search.kfold`)."""
        from autoasr.search.kfold import rank_finalists

        if self.plan.kfold_planned:
            self.kfold_note = rank_finalists(self, deadline)

    def refit_winner(self, deadline: float) -> None:
        """When the plan kept time for it, train the winner's configuration on training + tuning data and make
        that model the best (:mod:`autoasr.search.refit`)."""
        from autoasr.search.refit import refit_winner

        if self.plan.refit_planned:
            self.refit_note = {**refit_winner(self, deadline), **({"kfold": self.kfold_note} if self.kfold_note else {})}


def best_trained_id(book: TrialBook) -> str | None:
    """The best trial, or when a pretrained recognizer's row, the ensemble or a refit leads, the most accurate
    trained one: the one worth continuing and giving a decoder. A refit has no weights of its own worth going on
    from in a resumed run: it trained on the tuning clips, so every score after that would be on clips it knows."""
    best = book.best_trial_id
    if best is None or not (book[best].get("recognizer") or is_combined(book[best]) or book[best].get("refit_of")):
        return best
    trained = [t for t in book.records() if t["status"] == "ok" and not t.get("recognizer")
               and not is_combined(t) and not t.get("refit_of")]
    return min(trained, key=lambda t: (t["val_wer"], t["val_cer"], t["start_time"]))["trial_id"] if trained else None
