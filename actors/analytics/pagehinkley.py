"""The Page-Hinkley test for a lasting upward shift in a stream (per-minute p95, failure rate).

Page-Hinkley accumulates how far each value lies above the running mean, less a
tolerance ``delta``, with a forgetting factor ``alpha``; a shift is declared when the
sum rises more than ``threshold`` above its lowest point, after ``min_instances``
warm-up values. These names and the update follow the river library's
``drift.PageHinkley`` (defaults 30, 0.005, 50, 1 - 1e-4).

river's threshold of 50 is in the stream's own units. Durations vary by orders of
magnitude between swarms, so :class:`PageHinkley` can work on *relative* values:
each value is divided by the mean of the warm-up values, and ``delta`` and
``threshold`` are then fractions of the baseline. The detector defaults below
(:data:`P95_SHIFT`, :data:`FAILURE_SHIFT`) are the ones the bench measures for
precision and recall (``python -m demo bench --only detectors``).
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

__all__ = ["FAILURE_SHIFT", "P95_SHIFT", "PageHinkley", "ShiftSettings"]


class ShiftSettings(NamedTuple):
    """Parameters of one Page-Hinkley stream.

    Attributes:
        min_instances: warm-up values before a shift can be declared.
        delta: tolerated rise per value (in baseline fractions when ``relative``).
        threshold: rise of the cumulative sum that declares a shift.
        alpha: forgetting factor of the cumulative sum.
        relative: divide values by the warm-up mean first.
    """

    min_instances: int = 30
    delta: float = 0.005
    threshold: float = 50.0
    alpha: float = 1 - 0.0001
    relative: bool = False


P95_SHIFT: Final = ShiftSettings(min_instances=30, delta=0.05, threshold=3.0, relative=True)
"""Per-minute p95: a rise of 5% is tolerated; a sum of 3 baselines declares a shift
(a +50% step is found in about 7 minutes)."""

FAILURE_SHIFT: Final = ShiftSettings(min_instances=30, delta=0.02, threshold=1.5, relative=False)
"""Per-minute failure rate (0..1): 2 points tolerated, a sum of 1.5 declares a shift
(a step from 5% to 35% failures is found in about 5 minutes)."""


class PageHinkley:
    """One stream's Page-Hinkley test, upward shifts only; constant memory.

    Example:
        >>> ph = PageHinkley(ShiftSettings(min_instances=5, delta=0.05, threshold=1.0, relative=True))
        >>> [ph.update(100.0) for _ in range(10)].count(True)
        0
        >>> any(ph.update(200.0) for _ in range(5))
        True
    """

    __slots__ = ("settings", "_n", "_mean", "_sum", "_min", "_baseline", "_warm")

    def __init__(self, settings: ShiftSettings = ShiftSettings()) -> None:
        if type(settings.min_instances) is not int or settings.min_instances < 1:
            raise ValueError(f"min_instances must be a positive integer, not {settings.min_instances!r}")
        for name in ("delta", "threshold", "alpha"):
            value = getattr(settings, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        """Forget everything, warm-up included."""
        self._n = 0
        self._mean = 0.0
        self._sum = 0.0
        self._min = 0.0
        self._baseline = math.nan
        self._warm = 0.0

    @property
    def baseline(self) -> float:
        """The warm-up mean that relative values are divided by (nan while warming up)."""
        return self._baseline

    @property
    def score(self) -> float:
        """How far the cumulative sum stands above its lowest point."""
        return self._sum - self._min

    def update(self, x: float) -> bool:
        """Add one value; True when it declares a lasting upward shift (then the test restarts)."""
        if not math.isfinite(x):
            return False
        s = self.settings
        if s.relative:
            if self._n < s.min_instances:
                self._warm += x
                if self._n + 1 == s.min_instances:
                    self._baseline = self._warm / s.min_instances
            base = self._baseline if self._n >= s.min_instances else (self._warm / (self._n + 1))
            x = x / base if base > 0 else 0.0
        self._n += 1
        self._mean += (x - self._mean) / self._n
        self._sum = s.alpha * self._sum + (x - self._mean - s.delta)
        if self._sum < self._min:
            self._min = self._sum
        if self._n >= s.min_instances and self._sum - self._min > s.threshold:
            self.reset()
            return True
        return False
