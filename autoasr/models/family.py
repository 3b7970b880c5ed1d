"""A model family: how to build its network at each size preset, and what it is good at."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class ModelFamily:
    name: str
    description: str
    build: Callable[..., nn.Module]
    sizes: dict[str, dict]
