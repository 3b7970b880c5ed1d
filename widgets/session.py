"""What the wizard's panels share: the chosen data, budget and domain, the predictor, and evaluations.

Panels never talk to each other directly: they read and write a :class:`Session` and subscribe to its
events (``"data"`` when a dataset is loaded, ``"results"`` when a search has finished).
"""
from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

from autoasr import DataError, Dataset
from autoasr.data.split import as_dataset, split_tuning

TEST_FRACTION = 0.2


def split_for_evaluation(dataset: Dataset) -> tuple[Dataset, Dataset | None]:
    """(training data, test data): the ``test`` split when the data has one, else about a fifth held out.

    The predictor holds out its own tuning set from the training data; the test set is only used
    afterwards, to measure the chosen models on voices and clips the search never saw.
    """
    if any(u.split == "test" for u in dataset):
        return dataset.subset([u for u in dataset if u.split != "test"], f"{dataset.name}:train"), dataset.with_split("test")
    try:
        train, test = split_tuning(dataset, fraction=TEST_FRACTION, seed=1)
    except DataError:
        return dataset, None
    return train, test.subset(test.utterances, f"{dataset.name}:test")


class Session:
    """State shared by the panels of one wizard.

    >>> session = Session(output="autoasr_runs/wizard")
    >>> session.on("results", lambda predictor: print(predictor.best_trial_id))   # doctest: +SKIP
    """

    def __init__(self, output: str | Path = "autoasr_runs/wizard"):
        self.output = Path(output)
        self.dataset: Dataset | None = None
        self.train: Dataset | None = None
        self.test: Dataset | None = None
        self.source: str | None = None
        self.domain = "general"
        self.custom_vocabulary: list[str] = []
        self.time_limit = 180.0
        self.presets = "default"
        self.pretrained: str | None = "auto"  # widgets/listener_picker.py: "auto", a hub id, or None (from scratch)
        self.predictor = None
        self.running = None  # the predictor of a search in progress: its first trained models transcribe already
        self._evaluations: dict[str | None, dict] = {}
        self._listeners: dict[str, list[Callable]] = defaultdict(list)
        self._lock = threading.Lock()

    @classmethod
    def from_results(cls, predictor, test: Dataset | None = None) -> "Session":
        """A session around a finished (or loaded) predictor, to show result panels in a notebook.

        >>> explorer = ErrorExplorer(Session.from_results(predictor, test))      # doctest: +SKIP
        """
        session = cls(output=Path(predictor.path).parent)
        session.domain = predictor.domain
        session.test = test
        session.predictor = predictor
        return session

    # ------------------------------------------------------------------ events

    def on(self, event: str, handler: Callable) -> None:
        self._listeners[event].append(handler)

    def emit(self, event: str, *args) -> None:
        for handler in list(self._listeners[event]):
            try:
                handler(*args)
            except Exception as error:  # one broken panel must not break the others
                print(f"widgets: {event} handler {getattr(handler, '__qualname__', handler)} failed: "
                      f"{type(error).__name__}: {error}", file=sys.stderr)

    # ------------------------------------------------------------------ data and results

    def set_data(self, dataset: Dataset, source: str) -> None:
        self.dataset, self.source = dataset, source
        self.train, self.test = split_for_evaluation(dataset)
        self.emit("data", dataset)

    def normalize_for_run(self, normalizer: str) -> None:
        """Re-derive train and test from the loaded data with the run's normaliser.

        The data is loaded before the domain is chosen; without this the test references (what the error
        explorer and the transcribe panel compare with) would keep "42" where a digits model writes "four two".
        The loaded dataset stays as it was, so choosing another domain later starts from the original text.
        """
        if self.dataset is not None:
            self.train, self.test = split_for_evaluation(as_dataset(self.dataset, normalizer))

    def set_predictor(self, predictor) -> None:
        with self._lock:
            self.predictor = predictor
            self._evaluations.clear()
        self.emit("results", predictor)

    def current_predictor(self):
        """The running search's predictor once it has a trained model (usable while the search goes on), else the
        last finished one, else None."""
        running = self.running
        if running is not None and running.best_trial_id is not None:
            return running
        return self.predictor

    def new_run_path(self) -> Path:
        return self.output / f"run_{time.strftime('%Y%m%d_%H%M%S')}_{int(time.time() * 1000) % 1000:03d}"

    def finished_trials(self) -> list[str]:
        """Trial ids with a usable model, best first."""
        predictor = self.current_predictor()
        if predictor is None:
            return []
        board = predictor.leaderboard()
        return list(board.loc[board["status"] == "ok", "trial_id"]) if not board.empty else []

    def evaluation(self, trial_id: str | None = None) -> dict | None:
        """``predictor.evaluate(test, model=trial_id, return_details=True)``, computed once per model."""
        if self.predictor is None or self.test is None or not len(self.test):
            return None
        trial_id = trial_id or self.predictor.best_trial_id
        with self._lock:
            if trial_id not in self._evaluations:
                self._evaluations[trial_id] = self.predictor.evaluate(self.test, model=trial_id, return_details=True)
            return self._evaluations[trial_id]
