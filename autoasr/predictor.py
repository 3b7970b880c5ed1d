"""``ASRPredictor``: the one object a user needs — fit, leaderboard, evaluate, transcribe, save, load.

Everything a run learns is written under ``path`` as it happens::

    path/predictor.json          settings, vocabulary, best trial, fit timings
    path/trials/<id>/trial.json  config, status, metrics and per-epoch history of one trial
    path/trials/<id>/model.*     that trial's best weights (safetensors) and model spec (JSON)
    path/leaderboard.csv         one row per trial, best first

The predictor tells the story of a fit and hands the work down: the splits come from
:mod:`autoasr.data.split`, the features from :class:`~autoasr.training.tensors.FeatureStore`, the
deadlines from :class:`~autoasr.search.budget.BudgetPlan`, the search itself is one
:class:`~autoasr.search.run.SearchRun`, and the trials live in a :class:`~autoasr.results.leaderboard.TrialBook`
kept on disk by a :class:`~autoasr.results.run_folder.RunFolder`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas
import torch

from autoasr.core.callbacks import FitCallback, PrintProgress, emit
from autoasr.core.resources import training_threads
from autoasr.core.text import CharVocabulary
from autoasr.data.dataset import Dataset
from autoasr.data.split import prepare_splits
from autoasr.domains.expand import expand_training_set, plan_speaker_copies
from autoasr.domains.presets import apply_search_overrides, get_domain
from autoasr.inference.model import TrainedModel
from autoasr.models.encoder_sources import AUTO, available_pretrained_encoders
from autoasr.models.wav2vec2 import PretrainedEncoders
from autoasr.results.evaluation import evaluation_dataset, score
from autoasr.results.leaderboard import TrialBook, describe_limits, parse_limits
from autoasr.results.model_costs import best_within, pareto_front
from autoasr.results.run_folder import PREDICTOR_FILE, RunFolder
from autoasr.search.budget import BudgetPlan, plans_refit
from autoasr.search.kfold import plans_kfold
from autoasr.search.candidates import (
    pretrained_search_info,
    searches_model_families,
    with_pooled_candidate,
    with_pretrained_candidates,
)
from autoasr.search.forecast import epochs_from_scratch, forecast_budget, record_run
from autoasr.search.presets import Preset, describe_space, first_frontend, get_preset
from autoasr.search.reference_rows import ReferenceRows, reference_configs, reference_share
from autoasr.search.run import SearchRun, SearchSettings, typical_clip
from autoasr.training.tensors import FeatureStore

# the share of a time limit a pretrained encoder may spend encoding training clips before the search starts:
# a head learns in a few epochs, so more encoded clips buy more than more epochs (on Speech Commands at 180 s
# on two busy cores, 40% left a few hundred of the 2,152 clips encoded and the head at 40% greedy WER)
ENCODER_SHARE = 0.6


def _zero_shot_choice(zero_shot):
    """The argument, or ``$AUTOASR_ZERO_SHOT`` (names separated by commas) when it is left at auto."""
    import os

    configured = os.environ.get("AUTOASR_ZERO_SHOT", "").strip()
    if zero_shot == "auto" and configured:
        return [name.strip() for name in configured.split(",") if name.strip()] if configured != "none" else "none"
    return zero_shot


class FitError(RuntimeError):
    """``fit`` could not produce any model (the message says why and what to change)."""


class ASRPredictor:
    """Train and compare ASR models within a time budget; use the best one.

    >>> predictor = ASRPredictor(path="runs/digits", domain="digits")          # doctest: +SKIP
    >>> predictor.fit("demo", time_limit=120).leaderboard().head()              # doctest: +SKIP
    >>> predictor.transcribe(["clip.wav"])                                      # doctest: +SKIP
    ['four two']
    """

    def __init__(self, path: str | Path | None = None, domain: str = "general", verbosity: int = 1):
        self.path = Path(path or f"autoasr_runs/run_{time.strftime('%Y%m%d_%H%M%S')}")
        self.domain_spec = get_domain(domain)
        self.domain = self.domain_spec.name
        self.verbosity = verbosity
        self.presets: str | None = None
        self.vocabulary: CharVocabulary | None = None
        self.fit_summary: dict = {}
        self._book = TrialBook()
        self._folder = RunFolder(self.path)
        self._models: dict[str, TrainedModel] = {}
        self._zero_shot: dict[str, str] = {}  # the zero-shot rows of the last fit: "ok" or why not
        self._speakers: dict = {}  # what the last fit's speaker augmentation added (fit_summary["speaker_augmentation"])
        self._refit: dict = {}  # what the last fit's refit on all data did (fit_summary["refit"])
        self._ensemble: str | None = None  # the ensemble row of the last fit: "ok" or why not
        self._pretrained: dict = {}  # the pretrained listener of the last fit, or why none (fit_summary["pretrained"])
        self._ended_early = ""  # why the last fit used less than its budget (fit_summary["ended_early"])
        self._stop_requested = threading.Event()

    @property
    def best_trial_id(self) -> str | None:
        return self._book.best_trial_id

    @property
    def limits(self) -> dict:
        """max_latency_ms / max_size_mb the best model must keep to."""
        return self._book.limits

    @property
    def trials(self) -> dict[str, dict]:
        """Every trial record by id (config, status, metrics, history), as written to ``trials/<id>/trial.json``."""
        return self._book.trials

    # ------------------------------------------------------------------ fit

    def fit(self, train_data, tuning_data=None, time_limit: float = 300, presets: str = "default",
            callbacks: list[FitCallback] | None = None, resume: bool = False, seed: int = 0,
            backend: str = "local", num_workers: int = 2, ray_address: str | None = None,
            searcher: str = "random", scheduler: str = "ASHA", max_latency_ms: float | None = None,
            max_size_mb: float | None = None, pretrained=AUTO, zero_shot="auto", refit="auto",
            augment_speakers="auto") -> "ASRPredictor":
        """Search for the best model within ``time_limit`` seconds (data preparation included).

        ``train_data`` and ``tuning_data`` are :class:`Dataset` s, manifest/corpus paths or ``"demo"``.
        Without ``tuning_data`` (and no tuning split in the data) a tuning set is held out: whole speakers
        whenever the data names two or more, so models are chosen on voices they never heard (every word
        kept in training where the speakers allow), else utterances (:func:`autoasr.data.split.split_tuning`).
        ``backend="ray"`` runs ``num_workers`` trials at a time on a local Ray started on demand or on
        the cluster at ``ray_address``, with Ray Tune's ``searcher`` (random, bayes) and ``scheduler``
        (ASHA, FIFO), through AutoGluon's Ray executor. ``pretrained`` (a Whisper hub id or folder, wav2vec2
        checkpoints, a list) adds pretrained encoders, their heads first; ``"auto"`` (default, see
        :func:`~autoasr.models.encoder_sources.available_pretrained_encoders`) may download tiny.en once, before the
        clock starts; ``None`` trains from scratch. Which, or why none: a printed line, ``fit_summary["pretrained"]``.

        Every finished trial is timed on a typical tuning utterance (``latency_ms`` on one CPU thread,
        ``rtf``) and sized (``size_mb``). With ``max_latency_ms`` / ``max_size_mb`` the best model is
        the most accurate one within those limits (the most accurate overall when none is, noted in
        ``fit_summary``); :meth:`select_best` chooses again after the fit.

        ``zero_shot`` (``"auto"``, ``"none"``, ``"whisper"``, ``"pocketsphinx"`` or a list; default
        ``$AUTOASR_ZERO_SHOT``, else auto) adds leaderboard rows for pretrained recognizers used as they are,
        scored on the tuning set after the first trial, inside the budget: ``whisper-zero-shot`` (the Whisper
        model of ``pretrained``) and ``pocketsphinx`` (when installed and the training words are English);
        either may win. ``fit_summary["zero_shot"]`` says what each did, or why it was skipped.

        ``refit`` (``"auto"``, True or False; AutoGluon's ``refit_full``): after the search, the winner's
        configuration is trained again on the training and tuning data together, for the epochs the winner
        needed, and that model is the one ``transcribe``/``evaluate``/``save`` use. Its leaderboard row (``note``
        "refit on all data") carries the winner's tuning WER, since it cannot be scored on clips it trained on;
        the winner's row stays. ``"auto"`` refits corpora of at most 1,000 utterances, where the tuning speakers
        are a large share of the voices (:data:`autoasr.search.budget.REFIT_MAX_UTTERANCES`), except with the
        baseline presets (``single``, ``random``); time for it is kept from the search. ``fit_summary["refit"]`` says what it did, or why it did not run.
        ``augment_speakers`` (auto, True, False): speed-perturbed copies of small sets, see ``fit_summary["speaker_augmentation"]``.
        """
        if backend not in ("local", "ray"):
            raise ValueError(f"unknown backend '{backend}' (choose local or ray)")
        callbacks = self._with_printed_progress(callbacks)
        preset = self._named_preset(presets)
        encoders = self._pretrained_encoders(pretrained, preset, callbacks)  # a first download: before the clock
        started = time.time()
        self._book.limits = parse_limits(max_latency_ms, max_size_mb)
        preset = with_pretrained_candidates(preset, encoders)
        self._announce_listener(preset, encoders, callbacks)
        self._open_run(resume)

        domain = self.domain_spec
        train, tuning = prepare_splits(train_data, tuning_data, domain.normalizer, seed,
                                       new_sentences=not domain.phrases_are_labels)
        # clip labels are read before a domain adds made-up utterances (spliced digit strings) to the training set
        preset = with_pooled_candidate(preset, encoders, train.texts, phrases_are_labels=domain.phrases_are_labels)
        train = self._expanded(train, seed, augment_speakers)
        self.vocabulary = CharVocabulary.from_texts(train.texts + tuning.texts)
        features = self._feature_store(train, tuning, callbacks)
        torch.set_num_threads(training_threads())  # a pretrained encoder's pass suffers from busy cores like training
        features.encoder_deadline = started + ENCODER_SHARE * float(time_limit)
        features(first_frontend(preset))  # the first trial's features count as data preparation time
        zero_shot_configs, self._zero_shot = reference_configs(_zero_shot_choice(zero_shot), encoders, train,
                                                               self.domain_spec)
        self._announce(started, time_limit, preset, encoders, train, tuning, seed, callbacks,
                       zero_shot={"planned": list(zero_shot_configs), "skipped": dict(self._zero_shot)})
        plan = self._plan(started, time_limit, preset, train, tuning, refit, backend, encoders)
        torch.set_num_threads(training_threads())
        settings = SearchSettings(preset=preset, domain=self.domain_spec, seed=seed, callbacks=callbacks,
                                  encoders=encoders, backend=backend, num_workers=num_workers,
                                  ray_address=ray_address, searcher=searcher, scheduler=scheduler)
        search = SearchRun(self._book, self._folder, features, self.vocabulary, plan, settings, train, tuning,
                           self._stop_requested)
        # yardsticks after a first usable model (zero-shot Whisper took 16 s for 8 clips before any head trained)
        search.after_first_trial = lambda: self._reference_rows(zero_shot_configs, train, tuning, preset, started,
                                                                time_limit, callbacks)
        search.run()
        self._refit = search.refit_note
        self._ensemble = search.ensemble_outcome
        self._ended_early = search.ended_early
        return self._finish(started, time_limit, features, train, callbacks)

    def _announce_listener(self, preset: Preset, encoders: PretrainedEncoders, callbacks: list) -> None:
        """Which pretrained model the search starts from, or why none: said whatever the verbosity, first."""
        self._pretrained = pretrained_search_info(preset, encoders)
        print(f"autoasr: {self._pretrained['listener']}", flush=True)
        emit(callbacks, "on_pretrained", dict(self._pretrained))

    def _reference_rows(self, configs: dict, train: Dataset, tuning: Dataset, preset: Preset, started: float,
                        time_limit: float, callbacks: list) -> None:
        """Score the pretrained recognizers' rows within their share of the time left (``fit_summary["zero_shot"]``)."""
        share = reference_share(train.texts, bool(preset.extra.get("clip_labels")))
        deadline = time.time() + share * max(started + time_limit - time.time(), 0.0)
        self._zero_shot.update(ReferenceRows(self._book, self._folder, tuning, typical_clip(tuning), callbacks)
                               .run(configs, deadline))

    def _plan(self, started, time_limit, preset, train: Dataset, tuning: Dataset, refit, backend, encoders) -> BudgetPlan:
        """The search's budget from now on, with the refit's and the k-fold ranking's shares where they are planned
        (the refit's size check counts real clips, not the speaker copies)."""
        real_clips = len(train) - self._speakers["clips_added"] + len(tuning)
        voices = len(set(train.speakers) | set(tuning.speakers))  # 0 without speaker names: no voice was held out
        whisper = any(encoder.kind == "whisper" for encoder in encoders)
        return BudgetPlan.plan(started, time_limit, preset, len(tuning), now=time.time(),
                               refit=plans_refit(refit, real_clips, preset, backend, voices, whisper),
                               kfold=plans_kfold(train, tuning, encoders))

    def _expanded(self, train: Dataset, seed: int, augment_speakers) -> Dataset:
        """The domain's additions and, for a small corpus, speaker copies (kept in ``self._speakers`` for the summary)."""
        self._speakers = plan_speaker_copies(len(train), augment_speakers)
        return expand_training_set(train, self.domain_spec, seed, speaker_copies_per_clip=self._speakers["copies"])

    def _with_printed_progress(self, callbacks) -> list:
        callbacks = list(callbacks or [])
        if self.verbosity >= 1 and not any(isinstance(c, PrintProgress) for c in callbacks):
            callbacks.append(PrintProgress())
        return callbacks

    def _named_preset(self, presets: str) -> Preset:
        """The named preset with the domain's overrides."""
        preset = get_preset(presets)
        self.presets = preset.name
        return replace(preset, space=apply_search_overrides(preset.space, self.domain_spec))

    def _pretrained_encoders(self, pretrained, preset: Preset, callbacks: list) -> PretrainedEncoders:
        """The encoders at hand (:func:`available_pretrained_encoders`; ``"auto"`` may download the default model,
        its progress reaching ``on_download``). A preset that searches nothing looks for none."""
        if pretrained == AUTO and not searches_model_families(preset):
            return PretrainedEncoders(reason=f"the '{preset.name}' preset trains one fixed configuration from scratch")

        def on_download(name: str, done: int, total: int) -> None:
            emit(callbacks, "on_download", name, done, total)

        return available_pretrained_encoders(pretrained, on_download=on_download)

    def _open_run(self, resume: bool) -> None:
        """A resumed run keeps the trials on disk; a new one starts with none."""
        self._stop_requested.clear()
        self.path.mkdir(parents=True, exist_ok=True)
        if resume:
            self._book.replace_all(self._folder.load_trials())
        else:
            self._book.replace_all({})
            self._folder.clear_trials()
        self._models.clear()

    def _feature_store(self, train: Dataset, tuning: Dataset, callbacks: list) -> FeatureStore:
        def on_progress(stage: str, done: int, total: int) -> None:
            emit(callbacks, "on_preparation", stage, done, total)

        return FeatureStore(train, tuning, self.vocabulary, progress=self.verbosity >= 2, on_progress=on_progress)

    def _announce(self, started, time_limit, preset, encoders, train, tuning, seed, callbacks, zero_shot) -> None:
        """Write the run's settings to disk and tell the callbacks what the search will do."""
        self._write_settings(status="running", time_limit=time_limit, seed=seed,
                             search_space=describe_space(preset.space), presets_description=preset.description,
                             data_fingerprints={"train": train.fingerprint(), "tuning": tuning.fingerprint()},
                             data={"train": train.summary(), "tuning": tuning.summary(),
                                   "skipped_rows": [str(p) for p in train.problems[:50]]})
        forecast = forecast_budget(sum(u.duration or 0.0 for u in train), time_limit)
        emit(callbacks, "on_search_start", {
            "forecast": forecast.to_dict(), "forecast_text": forecast.describe(), "time_limit": float(time_limit),
            "presets": preset.name, "num_train": len(train), "num_tuning": len(tuning),
            "search_space": describe_space(preset.space), "skipped_rows": len(train.problems),
            "skipped_examples": [str(p) for p in train.problems[:3]], "resumed_trials": len(self._book),
            "preparation_seconds": time.time() - started, "zero_shot": zero_shot, "fit_started": started,
            **self._pretrained})

    def _finish(self, started, time_limit, features, train: Dataset, callbacks: list) -> "ASRPredictor":
        """Summarise and save the run, teach the forecast what this budget bought, and say when nothing trained."""
        trials = self._book.records()
        self.fit_summary = {
            "fit_seconds": time.time() - started, "time_limit": float(time_limit),
            "feature_seconds": features.seconds_computing, "trials": len(trials),
            "trials_ok": sum(t["status"] == "ok" for t in trials),
            "stopped_by_user": self._stop_requested.is_set(), **self._book.limits_note(),
            **({"encoder_training_clips": dict(features.partial)} if features.partial else {}),
            "pretrained": dict(self._pretrained),
            **({"zero_shot": dict(self._zero_shot)} if self._zero_shot else {}),
            **({"refit": dict(self._refit)} if self._refit else {}),
            **({"speaker_augmentation": dict(self._speakers)} if self._speakers else {}),
            **({"ensemble": self._ensemble} if self._ensemble else {}),
            **({"ended_early": self._ended_early} if self._ended_early else {}),
        }
        self.save()
        trained = [t for t in trials if t.get("train_seconds")]
        record_run(sum(u.duration or 0.0 for u in train), time_limit, epochs_from_scratch(trials),
                   sum(t.get("audio_seconds_trained", 0.0) for t in trained), sum(t["train_seconds"] for t in trained))
        emit(callbacks, "on_search_end", self.leaderboard())
        if self.best_trial_id is None:
            reasons = "; ".join(f"trial {t['trial_id']}: {t.get('error')}" for t in trials)
            raise FitError(f"no model finished training within {time_limit:.0f} s ({reasons or 'no trial ran'}); "
                           "give a larger time_limit")
        return self

    def stop(self) -> None:
        """Ask a running ``fit`` (in another thread) to end after the current epoch, keeping the best model."""
        self._stop_requested.set()

    # ------------------------------------------------------------------ results

    def select_best(self, max_latency_ms: float | None = None, max_size_mb: float | None = None) -> str:
        """Make the most accurate finished model within the limits the best one (and save); returns its trial id.

        No limits chooses the most accurate model overall. Raises ``ValueError`` naming the cheapest
        models when none keeps to the limits.
        """
        board = self.leaderboard()
        limits = parse_limits(max_latency_ms, max_size_mb)
        chosen = best_within(board, **limits)
        if chosen is None:
            cheapest = board[board["status"] == "ok"].sort_values(["latency_ms", "size_mb"]).head(3)
            offers = ", ".join(f"{r.trial_id} ({r.latency_ms} ms, {r.size_mb} MB)" for r in cheapest.itertuples())
            raise ValueError(f"no finished model is within {describe_limits(limits)}; the cheapest: {offers or 'none'}")
        self._book.limits, self._book.best_trial_id = limits, chosen
        self.fit_summary.update({"limits": dict(limits), "limits_met": True})
        self.fit_summary.pop("limits_note", None)
        self.save()
        return chosen

    def pareto_front(self, cost: str = "latency_ms") -> pandas.DataFrame:
        """Leaderboard rows no other trial beats on both validation WER and ``cost`` (latency_ms, size_mb, rtf, parameters)."""
        return pareto_front(self.leaderboard(), cost)

    def leaderboard(self) -> pandas.DataFrame:
        """One row per trial, finished trials first, lowest validation WER first (within the limits first, when set)."""
        return self._book.leaderboard()

    def history(self) -> pandas.DataFrame:
        """Per-epoch metrics of every trial (trial_id, model, epoch, val_wer, ...), for learning curves."""
        return self._book.history()

    def model(self, trial_id: str | None = None) -> TrainedModel:
        """The trained model of a trial (the best by default)."""
        trial_id = trial_id or self.best_trial_id
        if trial_id is None:
            raise RuntimeError("no trained model yet: call fit() first or load a finished run")
        if trial_id not in self._models:
            self._models[trial_id] = TrainedModel.load(self._folder.trial_dir(trial_id))
        return self._models[trial_id]

    def word_errors(self, trial_id: str | None = None) -> pandas.DataFrame:
        """Which words a trial's model (the best by default) gets wrong on the tuning set: reference word,
        hypothesis word (empty: a word missed; an empty reference: a word heard that nobody said), count."""
        from autoasr.inference.model_files import read_tuning_transcripts
        from autoasr.results.word_errors import word_error_table

        trial_id = trial_id or self.best_trial_id
        if trial_id is None or trial_id not in self.trials:
            raise KeyError(f"no trial {trial_id!r} in this run (trials: {', '.join(self.trials) or 'none'})")
        saved = read_tuning_transcripts(self._folder.trial_dir(trial_id))
        if saved is None:
            raise FileNotFoundError(f"trial {trial_id} wrote no tuning transcripts (a run older than this "
                                    "version, or a trial that never finished an evaluation)")
        return word_error_table(*saved)

    def transcribe(self, audio, model: str | None = None) -> list[str]:
        """Transcribe paths or float arrays at 16 kHz (one item or a list); returns a list of strings."""
        items = audio if isinstance(audio, (list, tuple)) else [audio]
        return self.model(model).transcribe(list(items))

    def evaluate(self, data, model: str | None = None, return_details: bool = False, record: bool = True) -> dict:
        """WER, CER, S/D/I counts on labelled data (a Dataset or a path; the ``test`` split when present).

        The scores are kept with the run (``evaluations.json``) and shown in its model card unless ``record=False``.
        """
        dataset = evaluation_dataset(data, self.domain_spec.normalizer)
        result = score(dataset, self.model(model).transcribe, model or self.best_trial_id, return_details)
        if record:
            from autoasr.results.cards import record_evaluation

            record_evaluation(self, result, dataset)  # the model card shows test scores next to tuning scores
        return result

    # ------------------------------------------------------------------ persistence

    def _write_settings(self, status: str, **extra) -> None:
        self._folder.write_settings(
            domain=self.domain, domain_spec=self.domain_spec.to_dict(), presets=self.presets,
            vocabulary=list(self.vocabulary.symbols) if self.vocabulary else None,
            best_trial_id=self.best_trial_id, limits=self.limits, status=status, fit_summary=self.fit_summary, **extra)

    def save(self) -> Path:
        """Write the predictor file and leaderboard; copy the best model to ``path/best``. Returns ``path``."""
        from autoasr.results.cards import write_cards

        self._write_settings(status="finished")
        self._folder.save_results(self.leaderboard(), self.best_trial_id)
        write_cards(self)  # MODEL_CARD.md, model_card.json, run_card.json
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> "ASRPredictor":
        """Reopen a saved run: settings, leaderboard, histories and models (no code is executed)."""
        folder = RunFolder(path)
        if not folder.is_run():
            raise FileNotFoundError(f"{folder.path}: not an autoasr run (no {PREDICTOR_FILE})")
        saved = folder.read_settings()
        predictor = cls(path=folder.path, domain=saved.get("domain_spec") or saved.get("domain", "general"))
        predictor.presets = saved.get("presets")
        predictor.vocabulary = CharVocabulary(tuple(saved["vocabulary"])) if saved.get("vocabulary") else None
        predictor.fit_summary = saved.get("fit_summary", {})
        predictor._book.limits = saved.get("limits") or {}
        predictor._book.replace_all(folder.load_trials())
        saved_best = saved.get("best_trial_id")  # the model in use when saved (select_best may have chosen it)
        if saved_best in predictor.trials and predictor.trials[saved_best]["status"] == "ok":
            predictor._book.best_trial_id = saved_best
        return predictor
