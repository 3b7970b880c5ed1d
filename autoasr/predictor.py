"""``ASRPredictor``: the one object a user needs — fit, leaderboard, evaluate, transcribe, save, load.

Everything a run learns is written under ``path`` as it happens::

    path/predictor.json          settings, vocabulary, best trial, fit timings
    path/trials/<id>/trial.json  config, status, metrics and per-epoch history of one trial
    path/trials/<id>/model.*     that trial's best weights (safetensors) and model spec (JSON)
    path/leaderboard.csv         one row per trial, best first
"""
from __future__ import annotations

import shutil
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas
import torch

from autoasr.core.callbacks import FitCallback, emit
from autoasr.core.resources import release_memory, training_threads
from autoasr.core.storage import load_weights, read_json, write_json, write_text
from autoasr.core.text import CharVocabulary, normalize_text
from autoasr.data.dataset import DataError, Dataset
from autoasr.data.load import load_dataset
from autoasr.data.split import (
    MIN_TRAIN_UTTERANCES,
    _without_long_recordings,
    split_tuning,
)
from autoasr.domains.expand import expand_training_set
from autoasr.domains.presets import apply_search_overrides, get_domain
from autoasr.inference.model import TrainedModel
from autoasr.inference.model_files import MODEL_SPEC_FILE, MODEL_WEIGHTS_FILE
from autoasr.models.frontends import FrontendConfig
from autoasr.models.wav2vec2 import available_pretrained_encoders
from autoasr.results.evaluation import evaluation_dataset, score
from autoasr.results.leaderboard import LEADERBOARD_COLUMNS, _describe_limits, _limits
from autoasr.results.model_costs import (
    best_within,
    measure_inference_cost,
    pareto_front,
    within_limits,
)
from autoasr.results.run_folder import (
    FORMAT_VERSION,
    PREDICTOR_FILE,
    _unreadable_weights,
)
from autoasr.search.budget import (
    FINAL_RESERVE_SECONDS,
    FINAL_RESERVE_SHARE,
    MAX_TRIAL_SHARE_OF_EXPLORATION,
    MIN_EPOCHS_PER_TRIAL,
    PRUNING_GRACE_SHARE,
)
from autoasr.search.candidates import (
    pretrained_search_info,
    resolve_trial_config,
    with_pretrained_candidates,
)
from autoasr.search.decoder_choice import (
    _decoder_choice_seconds,
    compare_decoders_on_tuning,
)
from autoasr.search.forecast import epochs_from_scratch, forecast_budget, record_run
from autoasr.search.local import run_local_search
from autoasr.search.presets import describe_space, first_frontend, get_preset
from autoasr.search.run import _FitContext, _searched_part, _typical_clip
from autoasr.search.stopping import median_stopping
from autoasr.training.feature_cache import compute_features, default_cache_dir
from autoasr.training.tensors import SplitTensors
from autoasr.training.trial import (
    TRIAL_FILE,
    close_interrupted,
    new_trial_record,
    run_recorded_trial,
)


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
        self.best_trial_id: str | None = None
        self.fit_summary: dict = {}
        self.limits: dict = {}  # max_latency_ms / max_size_mb the best model must keep to
        self._trials: dict[str, dict] = {}
        self._models: dict[str, TrainedModel] = {}
        self._stop_requested = threading.Event()

    # ------------------------------------------------------------------ fit

    def fit(self, train_data, tuning_data=None, time_limit: float = 300, presets: str = "default",
            callbacks: list[FitCallback] | None = None, resume: bool = False, seed: int = 0,
            backend: str = "local", num_workers: int = 2, ray_address: str | None = None,
            searcher: str = "random", scheduler: str = "ASHA", max_latency_ms: float | None = None,
            max_size_mb: float | None = None, pretrained=None) -> "ASRPredictor":
        """Search for the best model within ``time_limit`` seconds (data preparation included).

        ``train_data`` and ``tuning_data`` are :class:`Dataset` s, manifest/corpus paths or ``"demo"``.
        Without ``tuning_data`` a tuning set is held out (by speaker when there are many speakers).
        ``backend="ray"`` runs ``num_workers`` trials at a time on a local Ray started on demand or on
        the cluster at ``ray_address``, with Ray Tune's ``searcher`` (random, bayes) and ``scheduler``
        (ASHA, FIFO), through AutoGluon's Ray executor. ``pretrained`` (a wav2vec2 checkpoint, a folder of
        them or a list; default: ``$AUTOASR_PRETRAINED``) adds fine-tuned pretrained encoders to the search;
        without one the search goes on with the other families and ``on_search_start`` says why.

        Every finished trial is timed on a typical tuning utterance (``latency_ms`` on one CPU thread,
        ``rtf``) and sized (``size_mb``). With ``max_latency_ms`` / ``max_size_mb`` the best model is
        the most accurate one within those limits (the most accurate overall when none is, noted in
        ``fit_summary``); :meth:`select_best` chooses again after the fit.
        """
        if backend not in ("local", "ray"):
            raise ValueError(f"unknown backend '{backend}' (choose local or ray)")
        started = time.time()
        deadline = started + float(time_limit)
        callbacks = list(callbacks or [])
        if self.verbosity >= 1 and not any(type(c).__name__ == "PrintProgress" for c in callbacks):
            from autoasr.core.callbacks import PrintProgress

            callbacks.append(PrintProgress())
        self._stop_requested.clear()
        self.limits = _limits(max_latency_ms, max_size_mb)
        preset = get_preset(presets)
        self.presets = preset.name
        self.path.mkdir(parents=True, exist_ok=True)
        if resume:
            self._load_trials()
        else:
            self._trials.clear()
            shutil.rmtree(self.path / "trials", ignore_errors=True)
        self._models.clear()

        preset = replace(preset, space=apply_search_overrides(preset.space, self.domain_spec))
        encoders = available_pretrained_encoders(pretrained)
        preset = with_pretrained_candidates(preset, encoders)
        train, tuning = self._prepare_splits(train_data, tuning_data, seed)
        train = expand_training_set(train, self.domain_spec, seed)
        self.vocabulary = CharVocabulary.from_texts(train.texts + tuning.texts)
        feature_cache: dict[str, tuple[SplitTensors, SplitTensors]] = {}
        preparation_seconds = {"features": 0.0}

        def tensors_for(frontend_kind: str) -> tuple[SplitTensors, SplitTensors]:
            if frontend_kind not in feature_cache:
                config = FrontendConfig(kind=frontend_kind)
                computed = [compute_features(split, config, progress=self.verbosity >= 2) for split in (train, tuning)]
                preparation_seconds["features"] += sum(c.seconds_computing for c in computed)
                feature_cache[frontend_kind] = tuple(
                    SplitTensors.build(c.features, split.texts, self.vocabulary) for c, split in zip(computed, (train, tuning))
                )
            return feature_cache[frontend_kind]

        tensors_for(first_frontend(preset))  # the first trial's features count as data preparation time
        self._write_predictor_file(status="running", time_limit=time_limit, seed=seed, data_fingerprints={
            "train": train.fingerprint(), "tuning": tuning.fingerprint()}, data={
            "train": train.summary(), "tuning": tuning.summary(), "skipped_rows": [str(p) for p in train.problems[:50]]})
        train_audio_seconds = sum(u.duration or 0.0 for u in train)
        forecast = forecast_budget(train_audio_seconds, time_limit)
        emit(callbacks, "on_search_start", {"forecast": forecast.to_dict(), "forecast_text": forecast.describe(),
            "time_limit": float(time_limit), "presets": preset.name, "num_train": len(train),
            "num_tuning": len(tuning), "search_space": describe_space(preset.space),
            "skipped_rows": len(train.problems), "skipped_examples": [str(p) for p in train.problems[:3]],
            "resumed_trials": len(self._trials), **pretrained_search_info(preset, encoders)})

        search_deadline = deadline - max(FINAL_RESERVE_SECONDS, FINAL_RESERVE_SHARE * time_limit)
        search_budget = max(search_deadline - time.time(), 1.0)
        torch.set_num_threads(training_threads())
        context = _FitContext(preset=preset, callbacks=callbacks, tensors_for=tensors_for, seed=seed,
                              histories={t_id: t.get("history", []) for t_id, t in self._trials.items()},
                              trial_seconds=max(preset.min_trial_seconds, preset.trial_share * search_budget),
                              latency_clip=_typical_clip(tuning))
        # the search explores; the share kept back afterwards continues the winner from its checkpoint
        decoder_seconds = _decoder_choice_seconds(len(tuning))
        exploration_deadline = search_deadline - decoder_seconds - preset.refine_share * search_budget
        exploration_budget = exploration_deadline - time.time()

        def trial_function(config: dict, reporter, end_search) -> None:
            now = time.time()
            if self._stop_requested.is_set() or now >= exploration_deadline - 1.0:
                end_search()
                return
            def trial_deadline() -> float:
                # a trial gets its share of the budget, but at least enough for a few epochs once their
                # length is known: on a slow machine fewer, better-trained trials beat many untrained ones
                epochs = [row["epoch_seconds"] for rows in context.histories.values() for row in rows]
                floor = MIN_EPOCHS_PER_TRIAL * statistics.median(epochs) if epochs else 0.0
                floor = min(floor, MAX_TRIAL_SHARE_OF_EXPLORATION * exploration_budget)
                return min(exploration_deadline, now + max(context.trial_seconds, floor))

            self._run_trial(resolve_trial_config(config, encoders), trial_deadline, context, reporter)
            if self._stop_requested.is_set():
                end_search()

        already_tried = [_searched_part(t["config"]) for t in self._trials.values()]
        searchable = any(not isinstance(value, (str, int, float)) for value in preset.space.values())
        try:
            if backend == "ray" and searchable:
                from autoasr.search.ray import run_ray_search

                run_ray_search(run_path=self.path, preset=preset, train=train, tuning=tuning,
                               vocabulary_symbols=self.vocabulary.symbols, cache_dir=default_cache_dir(),
                               deadline=exploration_deadline, trial_seconds=context.trial_seconds, num_workers=num_workers, address=ray_address,
                               searcher=searcher, scheduler=scheduler, id_offset=len(self._trials), seed=seed,
                               callbacks=callbacks, row_of=self._leaderboard_row)
                self._load_trials()  # the workers wrote every trial to disk; trials the scheduler cut stay usable
                for trial in self._trials.values():
                    if trial["status"] == "ok" and trial.get("latency_ms") is None:
                        self._record_costs(trial, context.latency_clip)
                self._refresh_best()
            else:
                run_local_search(trial_function, preset, time_out=max(exploration_deadline - time.time(), 1.0),
                                 seed=seed + len(self._trials), already_tried=already_tried)
            self._continue_best(search_deadline - decoder_seconds, context)
            self._choose_decoder(tensors_for, train.texts, deadline, context.latency_clip)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the search; what finished is kept

        self._refresh_best()
        self.fit_summary = {
            "fit_seconds": time.time() - started, "time_limit": float(time_limit),
            "feature_seconds": preparation_seconds["features"], "trials": len(self._trials),
            "trials_ok": sum(t["status"] == "ok" for t in self._trials.values()),
            "stopped_by_user": self._stop_requested.is_set(), **self._limits_note(),
        }
        self.save()
        trials = [t for t in self._trials.values() if t.get("train_seconds")]
        record_run(train_audio_seconds, time_limit, epochs_from_scratch(list(self._trials.values())),
                   sum(t.get("audio_seconds_trained", 0.0) for t in trials), sum(t["train_seconds"] for t in trials))
        emit(callbacks, "on_search_end", self.leaderboard())
        if self.best_trial_id is None:
            reasons = "; ".join(f"trial {t['trial_id']}: {t.get('error')}" for t in self._trials.values())
            raise FitError(f"no model finished training within {time_limit:.0f} s ({reasons or 'no trial ran'}); "
                               "give a larger time_limit")
        return self

    def _run_trial(self, config: dict, trial_deadline, context: "_FitContext", reporter=None,
                   initial_state: dict | None = None) -> dict:
        """Train one configuration, recording it on disk and telling the callbacks as it goes."""
        trial_id = f"{len(self._trials) + 1:03d}"
        record = new_trial_record(trial_id, {**config, "patience": context.preset.patience})
        self._trials[trial_id] = record
        context.histories[trial_id] = record["history"]
        emit(context.callbacks, "on_trial_start", trial_id, dict(record["config"]))
        pruned = {"flag": False}

        def on_epoch(metrics: dict) -> None:
            if reporter is not None:
                reporter(epoch=metrics["epoch"], reward=1.0 - metrics["val_wer"], val_wer=metrics["val_wer"])
            emit(context.callbacks, "on_epoch_end", trial_id, dict(metrics))
            if context.preset.prune and initial_state is None:
                # a continued trial started from trained weights: its curve is no yardstick for fresh ones
                fresh = {other: history for other, history in context.histories.items()
                         if "continued_from" not in self._trials.get(other, {}).get("config", {})}
                if median_stopping(fresh, trial_id, grace_seconds=PRUNING_GRACE_SHARE * context.trial_seconds):
                    pruned["flag"] = True

        try:
            run_recorded_trial(
                record, self.path / "trials" / trial_id,
                lambda: context.tensors_for(record["config"].get("frontend", "logmel")), self.vocabulary,
                trial_deadline, on_epoch=on_epoch,
                should_stop=lambda: self._stop_requested.is_set() or pruned["flag"],
                initial_state=initial_state, seed=context.seed + len(self._trials),
                device="cuda" if torch.cuda.is_available() else "cpu")
            if record["status"] == "ok":
                self._record_costs(record, context.latency_clip)
        finally:
            self._refresh_best()
            release_memory()
        if pruned["flag"] and record["status"] == "ok":
            record["stop_reason"] = "pruned"
            write_json(self.path / "trials" / trial_id / TRIAL_FILE, record)
        emit(context.callbacks, "on_trial_end", self._leaderboard_row(record))
        return record

    def _continue_best(self, deadline: float, context: "_FitContext") -> None:
        """Resume the best trial from its checkpoint with a lower, annealed learning rate until ``deadline``."""
        if self._stop_requested.is_set() or self.best_trial_id is None or context.preset.refine_share <= 0:
            return  # a preset without a continuation share (the baselines) keeps its trials as they ended
        if deadline - time.time() < context.preset.min_trial_seconds:
            return
        parent = self._trials[self.best_trial_id]
        state = load_weights(self.path / "trials" / parent["trial_id"] / MODEL_WEIGHTS_FILE)
        # half the rate, annealed to the deadline: the winner settles instead of wandering off its checkpoint
        config = {**_searched_part(parent["config"]), "learning_rate": parent["config"]["learning_rate"] * 0.5,
                  "anneal": True, "continued_from": parent["trial_id"]}
        self._run_trial(config, deadline, context, initial_state=state)

    def _choose_decoder(self, tensors_for, train_texts: list[str], deadline: float, latency_clip) -> None:
        """Greedy or lexicon + n-gram LM decoding for the winner, whichever reads the tuning set better.

        The LM learns from the domain's text and the training transcripts; the choice and both WERs
        go into the winner's leaderboard row, and the decoder into its model spec.
        """
        from autoasr.decoding.lm import lm_decoding_available

        if self.best_trial_id is None or self._stop_requested.is_set() or not lm_decoding_available():
            return
        if deadline - time.time() < 1.0:
            return
        trial = self._trials[self.best_trial_id]
        model = self.model(self.best_trial_id)
        _, tuning = tensors_for(trial["config"].get("frontend", "logmel"))
        comparison = compare_decoders_on_tuning(model.network, tuning, self.vocabulary.symbols, self.domain_spec,
                                                train_texts)
        trial.update(comparison.summary())
        if comparison.chosen == "lm":
            model.decoder = comparison.decoder
            costs = measure_inference_cost(model, latency_clip)
            if costs["latency_ms"] <= self.limits.get("max_latency_ms", float("inf")):
                trial.update(val_wer=comparison.lm_wer, val_cer=comparison.lm_cer, **costs)
                write_json(self.path / "trials" / self.best_trial_id / MODEL_SPEC_FILE,
                           {"config": model.config, "vocabulary": list(model.vocabulary.symbols),
                            "decoder": comparison.decoder.spec()})
            else:  # the beam search is what a latency limit cannot afford
                model.decoder = None
                trial.update(decoder="greedy", decoder_note=f"LM decoding took {costs['latency_ms']:.1f} ms, over "
                                                            f"the {self.limits['max_latency_ms']:g} ms limit")
        write_json(self.path / "trials" / self.best_trial_id / TRIAL_FILE, trial)

    def stop(self) -> None:
        """Ask a running ``fit`` (in another thread) to end after the current epoch, keeping the best model."""
        self._stop_requested.set()

    def _prepare_splits(self, train_data, tuning_data, seed: int) -> tuple[Dataset, Dataset]:
        train = _without_long_recordings(self._as_dataset(train_data, preferred_split="train"))
        if tuning_data is not None:
            tuning = self._as_dataset(tuning_data, preferred_split=None)
        else:
            tuning_rows = [u for u in train if u.split in ("tuning", "validation", "valid", "dev")]
            if tuning_rows:
                tuning = train.subset(tuning_rows, f"{train.name}:tuning")
                train = train.subset([u for u in train if u not in tuning_rows])
            else:
                train, tuning = split_tuning(train, seed=seed)
        if len(train) < MIN_TRAIN_UTTERANCES:
            raise DataError(f"{train.name}: only {len(train)} usable training utterances "
                            f"(at least {MIN_TRAIN_UTTERANCES} needed); skipped rows: "
                            + "; ".join(str(p) for p in train.problems[:5]))
        return train, tuning

    def _as_dataset(self, data, preferred_split: str | None) -> Dataset:
        if isinstance(data, Dataset):
            dataset = data
            normalizer = self.domain_spec.normalizer
            dataset = dataset.subset(u for u in dataset if normalize_text(u.text, normalizer))
        else:
            dataset = load_dataset(data, domain=self.domain_spec.normalizer)
        if preferred_split and any(u.split == preferred_split for u in dataset):
            kept = [u for u in dataset if u.split in (preferred_split, "tuning", "validation", "valid", "dev")]
            dataset = dataset.subset(kept, f"{dataset.name}:{preferred_split}")
        return dataset

    # ------------------------------------------------------------------ results

    def _refresh_best(self) -> None:
        finished = [t for t in self._trials.values() if t["status"] == "ok"]
        if finished:
            within = best_within(self.leaderboard(), **self.limits) if self.limits else None
            self.best_trial_id = within or min(finished, key=lambda t: (t["val_wer"], t["val_cer"], t["start_time"]))["trial_id"]

    def _record_costs(self, trial: dict, clip) -> None:
        """Time and size a finished trial's model (see :mod:`autoasr.model_costs`) and keep the figures with it."""
        folder = self.path / "trials" / trial["trial_id"]
        try:
            trial.update(measure_inference_cost(TrainedModel.load(folder), clip))
        except Exception as error:  # an unmeasured model is still a usable model: it only cannot meet a limit
            trial["cost_error"] = f"{type(error).__name__}: {error}"
        write_json(folder / TRIAL_FILE, trial)

    def _limits_note(self) -> dict:
        """What ``fit_summary`` says about the limits: which were asked for and whether the best model keeps to them."""
        if not self.limits:
            return {}
        kept = best_within(self.leaderboard(), **self.limits) is not None
        note = {"limits": dict(self.limits), "limits_met": kept}
        if not kept and self.best_trial_id:
            note["limits_note"] = (f"no finished model is within {_describe_limits(self.limits)}; the most accurate "
                                   f"model ({self.best_trial_id}) was kept")
        return note

    def select_best(self, max_latency_ms: float | None = None, max_size_mb: float | None = None) -> str:
        """Make the most accurate finished model within the limits the best one (and save); returns its trial id.

        No limits chooses the most accurate model overall. Raises ``ValueError`` naming the cheapest
        models when none keeps to the limits.
        """
        board = self.leaderboard()
        limits = _limits(max_latency_ms, max_size_mb)
        chosen = best_within(board, **limits)
        if chosen is None:
            cheapest = board[board["status"] == "ok"].sort_values(["latency_ms", "size_mb"]).head(3)
            offers = ", ".join(f"{r.trial_id} ({r.latency_ms} ms, {r.size_mb} MB)" for r in cheapest.itertuples())
            raise ValueError(f"no finished model is within {_describe_limits(limits)}; the cheapest: {offers or 'none'}")
        self.limits, self.best_trial_id = limits, chosen
        self.fit_summary.update({"limits": dict(limits), "limits_met": True})
        self.fit_summary.pop("limits_note", None)
        self.save()
        return chosen

    def pareto_front(self, cost: str = "latency_ms") -> pandas.DataFrame:
        """Leaderboard rows no other trial beats on both validation WER and ``cost`` (latency_ms, size_mb, rtf, parameters)."""
        return pareto_front(self.leaderboard(), cost)

    def _leaderboard_row(self, trial: dict) -> dict:
        row = {column: trial.get(column) for column in LEADERBOARD_COLUMNS}
        row["config"] = {k: v for k, v in trial["config"].items() if k != "patience"}
        if trial.get("status") == "ok" and not row["decoder"]:
            row["decoder"] = "greedy"
        return row

    def leaderboard(self) -> pandas.DataFrame:
        """One row per trial, finished trials first, lowest validation WER first (within the limits first, when set)."""
        rows = [self._leaderboard_row(trial) for trial in self._trials.values()]
        frame = pandas.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
        if frame.empty:
            return frame
        frame["_failed"] = frame["status"] != "ok"
        # with latency/size limits, models within them come first: the first row is the best model
        frame["_outside"] = ~within_limits(frame, **self.limits) if self.limits else False
        frame = frame.sort_values(["_failed", "_outside", "val_wer", "val_cer", "start_time"])
        return frame.drop(columns=["_failed", "_outside"]).reset_index(drop=True)

    def history(self) -> pandas.DataFrame:
        """Per-epoch metrics of every trial (trial_id, model, epoch, val_wer, ...), for learning curves."""
        rows = [{"trial_id": t["trial_id"], "model": t["model"], **row} for t in self._trials.values()
                for row in t.get("history", [])]
        return pandas.DataFrame(rows)

    def model(self, trial_id: str | None = None) -> TrainedModel:
        """The trained model of a trial (the best by default)."""
        trial_id = trial_id or self.best_trial_id
        if trial_id is None:
            raise RuntimeError("no trained model yet: call fit() first or load a finished run")
        if trial_id not in self._models:
            self._models[trial_id] = TrainedModel.load(self.path / "trials" / trial_id)
        return self._models[trial_id]

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

    def _write_predictor_file(self, status: str, **extra) -> None:
        existing = read_json(self.path / PREDICTOR_FILE) if (self.path / PREDICTOR_FILE).is_file() else {}
        existing.update({
            "format_version": FORMAT_VERSION, "domain": self.domain, "domain_spec": self.domain_spec.to_dict(),
            "presets": self.presets,
            "vocabulary": list(self.vocabulary.symbols) if self.vocabulary else None,
            "best_trial_id": self.best_trial_id, "limits": self.limits, "status": status,
            "fit_summary": self.fit_summary, **extra})
        write_json(self.path / PREDICTOR_FILE, existing)

    def save(self) -> Path:
        """Write the predictor file and leaderboard; copy the best model to ``path/best``. Returns ``path``."""
        self._write_predictor_file(status="finished")
        write_text(self.path / "leaderboard.csv", self.leaderboard().to_csv(index=False))
        if self.best_trial_id:
            best_dir = self.path / "best"
            best_dir.mkdir(exist_ok=True)
            for name in (MODEL_SPEC_FILE, MODEL_WEIGHTS_FILE):
                shutil.copyfile(self.path / "trials" / self.best_trial_id / name, best_dir / name)
        from autoasr.results.cards import write_cards

        write_cards(self)  # MODEL_CARD.md, model_card.json, run_card.json
        return self.path

    def _load_trials(self) -> None:
        self._trials.clear()
        for trial_file in sorted((self.path / "trials").glob("*/trial.json")):
            trial = read_json(trial_file)
            if trial.get("status") in ("running", "interrupted"):  # the process died mid-trial
                close_interrupted(trial, trial_file.parent)
                write_json(trial_file, trial)
            if trial.get("status") == "ok":
                problem = _unreadable_weights(trial_file.parent / MODEL_WEIGHTS_FILE)
                if problem:  # a damaged checkpoint costs that trial only; the next best takes its place
                    trial.update(status="failed", error=problem)
            self._trials[trial["trial_id"]] = trial
        self._refresh_best()

    @classmethod
    def load(cls, path: str | Path) -> "ASRPredictor":
        """Reopen a saved run: settings, leaderboard, histories and models (no code is executed)."""
        path = Path(path)
        if not (path / PREDICTOR_FILE).is_file():
            raise FileNotFoundError(f"{path}: not an autoasr run (no {PREDICTOR_FILE})")
        saved = read_json(path / PREDICTOR_FILE)
        predictor = cls(path=path, domain=saved.get("domain_spec") or saved.get("domain", "general"))
        predictor.presets = saved.get("presets")
        predictor.vocabulary = CharVocabulary(tuple(saved["vocabulary"])) if saved.get("vocabulary") else None
        predictor.fit_summary = saved.get("fit_summary", {})
        predictor.limits = saved.get("limits") or {}
        predictor._load_trials()
        return predictor
