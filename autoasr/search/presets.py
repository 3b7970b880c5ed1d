"""Search spaces and presets: what a search may try, the portfolio it tries first (cheapest first), and how
much of the budget a trial and the winner's continuation may take.

The space is written with AutoGluon's ``space`` objects (:mod:`autoasr.search.local` runs it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from autogluon.common import space

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


def first_frontend(preset: Preset) -> str | dict:
    """The feature frontend of the first trial ``preset`` runs (its features are prepared before the search):
    a frontend kind, or the first portfolio entry itself (a Whisper encoder's entry names its encoder)."""
    first = preset.portfolio[0] if preset.portfolio else preset.space
    frontend = first.get("frontend", "logmel")
    if not isinstance(frontend, str):
        return "logmel"
    return dict(first) if frontend == "whisper" else frontend


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










