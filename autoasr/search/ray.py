"""Run the search on Ray through AutoGluon's Ray Tune executor: trials in parallel, on one machine or a cluster.

``autogluon.core.hpo.ray_hpo.run`` converts the AutoGluon search space, builds the Ray Tune searcher
(random or bayes) and scheduler (FIFO or ASHA) and runs the trials. Each trial runs
:func:`autoasr.training.trial.run_recorded_trial` in a Ray worker and writes its record under the
predictor's path exactly as a local trial does, so the driver follows progress by reading those
files (:class:`TrialFileWatcher`) and the leaderboard is read back from disk afterwards.
The predictor path and feature cache must be on a filesystem every node sees (true on one machine
and on a loopback cluster; use shared storage for a real cluster).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from autoasr.core.callbacks import emit
from autoasr.core.resources import machine
from autoasr.training.trial import TRIAL_FILE, new_trial_record, run_recorded_trial


def _trial_number(ray_trial_id: str) -> int:
    # Ray Tune names trials '<experiment hash>_<index>'; the index orders them
    return int(ray_trial_id.rsplit("_", 1)[-1])


def ray_trainable(config: dict, *, run_path: str, train, tuning, vocabulary_symbols, cache_dir: str,
                  trial_seconds: float, deadline: float, patience: int, id_offset: int, seed: int,
                  num_threads: int, pretrained: list[str] = (), clip_labels: list[str] = ()) -> None:
    """One trial inside a Ray worker: features from the shared cache, record written to ``run_path``.
    ``pretrained``: the wav2vec2 checkpoints a ``wav2vec2`` configuration may fine-tune."""
    import torch
    from ray import tune

    from autoasr.core.text import CharVocabulary
    from autoasr.models.encoder_sources import available_pretrained_encoders
    from autoasr.search.candidates import resolve_trial_config
    from autoasr.training.tensors import FeatureStore

    torch.set_num_threads(max(1, num_threads))
    if config.get("model") in ("wav2vec2", "whisper"):
        config = resolve_trial_config(config, available_pretrained_encoders(list(pretrained)) if pretrained else [],
                                      clip_labels)
    vocabulary = CharVocabulary(tuple(vocabulary_symbols))
    trial_id = f"{id_offset + _trial_number(tune.get_context().get_trial_id()) + 1:03d}"
    record = new_trial_record(trial_id, {**config, "patience": patience})
    started = time.time()

    def tensors():
        return FeatureStore(train, tuning, vocabulary, cache_dir=cache_dir)(config)

    def on_epoch(metrics: dict) -> None:
        tune.report({"val_wer": metrics["val_wer"], "epoch": metrics["epoch"]})

    run_recorded_trial(record, Path(run_path) / "trials" / trial_id, tensors, vocabulary,
                       min(deadline, started + trial_seconds), on_epoch=on_epoch, seed=seed + int(trial_id))


class TrialFileWatcher(threading.Thread):
    """Turns trial files appearing and growing on disk into the usual fit callbacks."""

    def __init__(self, trials_dir: Path, callbacks: list, row_of, interval: float = 0.5):
        super().__init__(daemon=True)
        self.trials_dir, self.callbacks, self.row_of, self.interval = trials_dir, callbacks, row_of, interval
        self.seen_epochs: dict[str, int] = {}
        self.ended: set[str] = set()
        self.finished = threading.Event()

    def poll(self) -> None:
        for file in sorted(self.trials_dir.glob(f"*/{TRIAL_FILE}")):
            try:
                record = json.loads(file.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # being replaced this instant
            trial_id = record["trial_id"]
            if trial_id not in self.seen_epochs:
                self.seen_epochs[trial_id] = 0
                emit(self.callbacks, "on_trial_start", trial_id, dict(record["config"]))
            for metrics in record.get("history", [])[self.seen_epochs[trial_id]:]:
                emit(self.callbacks, "on_epoch_end", trial_id, dict(metrics))
            self.seen_epochs[trial_id] = len(record.get("history", []))
            if record["status"] != "running" and trial_id not in self.ended:
                self.ended.add(trial_id)
                emit(self.callbacks, "on_trial_end", self.row_of(record))

    def run(self) -> None:
        while not self.finished.wait(self.interval):
            self.poll()
        self.poll()


def run_ray_search(*, run_path: Path, preset, train, tuning, vocabulary_symbols, cache_dir: Path, deadline: float,
                   trial_seconds: float, num_workers: int, address: str | None, searcher: str, scheduler: str,
                   id_offset: int, seed: int, callbacks: list, row_of) -> None:
    """Run the preset's space on Ray with ``num_workers`` trials at a time until ``deadline`` (Unix seconds).

    Starting Ray takes seconds of the same budget: the search gets what is left after it.
    """
    if not address:
        # a Ray started here serves this machine only: keep it on loopback, as Ray does on macOS
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray
    from autogluon.core.hpo.ray_hpo import TabularRayTuneAdapter, run

    class ASRRayTuneAdapter(TabularRayTuneAdapter):
        supported_searchers = ["random", "bayes"]
        supported_schedulers = ["FIFO", "ASHA"]

        @property
        def adapter_type(self):
            return "autoasr"

        def trainable_args_update_method(self, trainable_args: dict) -> dict:
            return trainable_args

    cpus = machine().cores  # a Binder/container session's quota, not the host's cores
    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(num_cpus=max(num_workers, 1), logging_level=logging.ERROR, log_to_driver=False,
                     include_dashboard=False)
    cpus_per_trial = max(1, int(ray.cluster_resources().get("CPU", cpus)) // max(num_workers, 1))
    scheduler_options = {"max_t": 10_000, "grace_period": 3, "time_attr": "epoch"} if scheduler == "ASHA" else {}
    time_out = deadline - time.time()
    if time_out < 5:
        return  # starting Ray used the budget; the caller keeps what earlier trials found
    watcher = TrialFileWatcher(run_path / "trials", callbacks, row_of)
    watcher.start()
    try:
        run(
            trainable=ray_trainable,
            trainable_args={"run_path": str(run_path), "train": train, "tuning": tuning,
                            "vocabulary_symbols": list(vocabulary_symbols), "cache_dir": str(cache_dir),
                            "trial_seconds": trial_seconds, "deadline": deadline,
                            "patience": preset.patience, "id_offset": id_offset, "seed": seed,
                            "num_threads": cpus_per_trial,
                            "pretrained": list(preset.extra.get("pretrained_checkpoints", [])),
                            "clip_labels": list(preset.extra.get("clip_labels", []))},
            search_space=preset.space,
            hyperparameter_tune_kwargs={
                "searcher": searcher, "scheduler": scheduler, "scheduler_init_args": scheduler_options,
                "searcher_init_args": {"points_to_evaluate": [dict(c) for c in preset.portfolio]} if preset.portfolio else {},
                "resources_per_trial": {"cpu": cpus_per_trial, "gpu": 0},
            },
            metric="val_wer", mode="min", save_dir=str(run_path / "ray_results"),
            ray_tune_adapter=ASRRayTuneAdapter(), total_resources={"num_cpus": cpus}, time_budget_s=time_out,
            verbose=0,
        )
    finally:
        watcher.finished.set()
        watcher.join(timeout=10)
