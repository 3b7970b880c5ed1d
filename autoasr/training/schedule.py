"""The learning rate of one trial over time: a warm-up, then constant or cosine-annealed to the trial's
deadline, halved whenever the stop rule sees a plateau."""
from __future__ import annotations

import math

# an annealed run ends at this fraction of its starting rate rather than at zero
ANNEAL_FLOOR = 0.02


def annealed_rate_scale(elapsed: float, span: float) -> float:
    """The cosine decay of a learning rate over a run of ``span`` seconds, ``elapsed`` seconds in.

    A time-based schedule: the trainer knows its deadline, not how many epochs fit before it.

    >>> annealed_rate_scale(0.0, 100.0), round(annealed_rate_scale(50.0, 100.0), 2), annealed_rate_scale(100.0, 100.0)
    (1.0, 0.51, 0.02)
    """
    progress = min(max(elapsed / span, 0.0), 1.0) if span > 0 else 1.0
    return ANNEAL_FLOOR + (1.0 - ANNEAL_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * progress))


class LearningRateSchedule:
    """``rate(step, now, deadline)``: the base rate, warmed up over the first steps (they keep a fresh model from
    diverging), annealed by time when asked, and scaled down by every :meth:`halve`.

    >>> schedule = LearningRateSchedule(1e-3, warmup_steps=10, anneal=False, started=0.0)
    >>> schedule.rate(step=4, now=1.0, deadline=10.0), schedule.rate(step=50, now=1.0, deadline=10.0)
    (0.0005, 0.001)
    """

    def __init__(self, base_rate: float, warmup_steps: int, anneal: bool, started: float):
        self.base_rate = base_rate
        self.warmup_steps = max(1, warmup_steps)
        self.anneal = anneal
        self.started = started
        self.scale = 1.0

    def rate(self, step: int, now: float, deadline: float) -> float:
        rate = self.base_rate * min(1.0, (step + 1) / self.warmup_steps) * self.scale
        if self.anneal:
            rate *= annealed_rate_scale(now - self.started, deadline - self.started)
        return rate

    def halve(self) -> None:
        self.scale *= 0.5
