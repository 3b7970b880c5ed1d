"""Search spaces, presets and the AutoGluon scheduler that runs trials under a time limit.

The space is written with AutoGluon's ``space`` objects; AutoGluon's ``LocalSequentialScheduler``
decides when another trial still fits the budget, and a searcher proposes each configuration:
first a portfolio of configurations known to do well (cheapest first), then random samples.
"""
from __future__ import annotations

import logging
import pickle
import statistics
from dataclasses import dataclass, field
from typing import Callable

from autogluon.common import space
from autogluon.core.scheduler import LocalSequentialScheduler
from autogluon.core.searcher.local_random_searcher import LocalRandomSearcher

DEFAULT_CONFIG = {
    "model": "crnn", "size": "small", "learning_rate": 2e-3, "dropout": 0.1, "augment": 1.0,
    "batch_size": 32, "frontend": "logmel",
}

# cheapest first (measured on FSDD, 2 CPU cores: convnet tiny trains ~450 audio seconds a second, convnet
# small ~290, crnn small ~155, conformer small ~150), so the first result comes soonest and a budget that
# affords few epochs spends them where they buy the most. The settings of the first two come from plain
# random search on FSDD (docs/benchmarks.md, 2026-12-01): the best trials of two of its three seeds
# trained in batches of 16 (twice the updates an epoch) with dropout 0.2-0.25, and one of them, MFCC
# features into a tiny convnet, read 3.5% of the tuning words wrong after 11 epochs where the log-mel,
# dropout 0.1 one read 6.5%; continued, the latter's train loss fell to 0.03 while its tuning WER stayed
# at 4-5%: the small models overfit a small corpus first
PORTFOLIO = [
    {**DEFAULT_CONFIG, "model": "convnet", "size": "tiny", "learning_rate": 1.75e-3, "dropout": 0.25, "augment": 1.1,
     "batch_size": 16, "frontend": "mfcc"},
    {**DEFAULT_CONFIG, "model": "convnet", "learning_rate": 3e-3, "dropout": 0.2},
    DEFAULT_CONFIG,
    {**DEFAULT_CONFIG, "model": "conformer", "learning_rate": 1.5e-3},
    {**DEFAULT_CONFIG, "frontend": "mfcc", "learning_rate": 3e-3, "augment": 0.5},
]


def full_space(sizes=("small", "tiny", "medium")) -> dict:
    return {
        "model": space.Categorical("crnn", "conformer", "convnet"),
        "size": space.Categorical(*sizes),
        "learning_rate": space.Real(5e-4, 5e-3, default=2e-3, log=True),
        "dropout": space.Real(0.0, 0.3, default=0.1),
        "augment": space.Real(0.0, 2.0, default=1.0),
        "batch_size": space.Categorical(32, 16, 64),
        "frontend": space.Categorical("logmel", "mfcc"),
    }


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    space: dict
    trial_share: float  # the largest share of the search budget one trial may take
    refine_share: float = 0.0  # share kept to continue the winner from its checkpoint after the search
    patience: int = 4
    portfolio: tuple = ()
    prune: bool = True
    min_trial_seconds: float = 8.0
    extra: dict = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "default": Preset("default", "search model families, sizes and training settings", full_space(), 0.2,
                      refine_share=0.35, portfolio=tuple(PORTFOLIO)),
    "single": Preset("single", "one well-chosen configuration trained for the whole budget (the baseline)",
                     dict(DEFAULT_CONFIG), 1.0, patience=8, prune=False),
    "random": Preset("random", "plain random search: no portfolio, no early stopping, no continuation (a baseline)",
                     full_space(), 0.2, prune=False),
    "fast": Preset("fast", "small models only, short trials: a first answer quickly",
                   full_space(sizes=("tiny", "small")), 0.2, refine_share=0.2, patience=3,
                   portfolio=tuple(PORTFOLIO[:2])),
    "best_quality": Preset("best_quality", "larger models and longer trials", full_space(sizes=("small", "medium")),
                           0.3, refine_share=0.3, patience=6,
                           portfolio=tuple(c for c in PORTFOLIO if c["size"] != "tiny")[:3]),
}


def first_frontend(preset: Preset) -> str:
    """The feature frontend of the first trial ``preset`` runs (its features are prepared before the search)."""
    first = preset.portfolio[0] if preset.portfolio else preset.space
    frontend = first.get("frontend", "logmel")
    return frontend if isinstance(frontend, str) else "logmel"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown presets '{name}' (choose from {', '.join(PRESETS)})")
    return PRESETS[name]


def describe_space(search_space: dict) -> dict:
    """A JSON-friendly view of a search space (for logs, cards and the UI)."""
    described = {}
    for name, value in search_space.items():
        if isinstance(value, space.Categorical):
            described[name] = list(value.data)
        elif isinstance(value, (space.Real, space.Int)):
            described[name] = {"lower": value.lower, "upper": value.upper, "log": getattr(value, "log", False)}
        else:
            described[name] = value
    return described


_OUTSIDE_SPACE = "autoasr:outside-space"


class PortfolioSearcher(LocalRandomSearcher):
    """Random search that first proposes a fixed portfolio of strong configurations (warm start)."""

    def __init__(self, *, portfolio=(), skip=(), **kwargs):
        super().__init__(**kwargs)
        tried = [dict(s) for s in skip]  # a tried config may hold more keys (a pretrained encoder's checkpoint)
        self._portfolio = [dict(config) for config in portfolio
                           if not any(all(t.get(k) == v for k, v in dict(config).items()) for t in tried)]

    def _pickle_config(self, config: dict) -> bytes:
        # a portfolio entry may hold values the sampled space does not (a pretrained encoder's name as its
        # size, the waveform frontend): it is keyed by its plain items instead of category indexes
        try:
            return super()._pickle_config(config)
        except AssertionError:
            return pickle.dumps((_OUTSIDE_SPACE, sorted(config.items())))

    def _unpickle_config(self, config_pkl: bytes) -> dict:
        stored = pickle.loads(config_pkl)
        if isinstance(stored, tuple) and stored and stored[0] == _OUTSIDE_SPACE:
            return dict(stored[1])
        return super()._unpickle_config(config_pkl)

    def get_config(self, **kwargs) -> dict:
        while self._portfolio:
            config = self._portfolio.pop(0)
            if self._pickle_config(config) not in self._results:
                return config
        return super().get_config(**kwargs)


def training_seconds_curve(history: list[dict]) -> list[tuple[float, float]]:
    """(seconds trained so far, best tuning WER then) after each evaluation of one trial."""
    curve, elapsed = [], 0.0
    for row in history:
        elapsed += row["epoch_seconds"]
        curve.append((elapsed, row["best_val_wer"]))
    return curve


def median_stopping(history_by_trial: dict[str, list[dict]], trial_id: str, grace_seconds: float,
                    min_trials: int = 2) -> bool:
    """True when a trial's best WER is worse than the median of earlier trials' after as many seconds of training.

    The median stopping rule (Golovin et al., 2017) with training time as the resource, as ASHA counts
    it: a search under a time limit buys WER per second, so a model that learns slowly per second
    stops early however cheap its epochs look, and its time goes to new configs. The trial is judged at
    its latest evaluation in ``history_by_trial[trial_id]``, not before ``grace_seconds`` of training;
    only trials that trained at least as long are compared.
    """
    own = training_seconds_curve(history_by_trial.get(trial_id, []))
    if not own or own[-1][0] < grace_seconds:
        return False
    seconds_trained, value = own[-1]
    others = []
    for other_id, history in history_by_trial.items():
        curve = training_seconds_curve(history) if other_id != trial_id else []
        if curve and curve[-1][0] >= seconds_trained:
            others.append(next(wer for elapsed, wer in reversed(curve) if elapsed <= seconds_trained)
                          if curve[0][0] <= seconds_trained else 1.0)
    return len(others) >= min_trials and value > statistics.median(others)


def run_local_search(trial_function: Callable, preset: Preset, time_out: float, seed: int = 0,
                     already_tried: list[dict] = ()) -> LocalSequentialScheduler:
    """Run trials sequentially through AutoGluon until ``time_out`` seconds are used.

    ``trial_function(config, reporter, end_search)`` trains one configuration, calls
    ``reporter(reward=...)`` after each evaluation, and may call ``end_search()`` so that no further
    trial starts. A single configuration (no search dimensions) runs exactly once.
    """
    logging.getLogger("autogluon").setLevel(logging.ERROR)
    searchable = any(isinstance(value, space.Space) for value in preset.space.values())
    searcher = PortfolioSearcher(search_space=preset.space, reward_attribute="reward", random_seed=seed,
                                 portfolio=preset.portfolio, skip=already_tried)

    def train_fn(args, reporter, **_):
        config = {name: args[name] for name in preset.space}
        trial_function(config, reporter, end_search)

    def end_search() -> None:
        scheduler.time_out = 0  # AutoGluon's scheduler then starts no further trial

    scheduler = LocalSequentialScheduler(
        train_fn, search_space=preset.space, searcher=searcher, reward_attr="reward", time_out=time_out,
        num_trials=1000 if searchable else 1,
    )
    scheduler.run()
    return scheduler
