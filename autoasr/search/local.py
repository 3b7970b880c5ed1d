"""The local search: AutoGluon's ``LocalSequentialScheduler`` with a searcher that tries the portfolio first,
then samples the space, never repeating a configuration already tried."""
from __future__ import annotations

import logging
import pickle
from typing import Callable

from autogluon.common import space
from autogluon.core.scheduler import LocalSequentialScheduler
from autogluon.core.searcher.local_random_searcher import LocalRandomSearcher

from autoasr.search.presets import Preset

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
