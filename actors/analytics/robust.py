"""Robust statistics in constant memory: a window of recent values, MAD z-scores.

The modified z-score of Iglewicz and Hoaglin is ``0.6745 * (x - median) / MAD``, with
MAD the median absolute deviation; they recommend flagging ``|z| > 3.5``. Unlike the
mean and standard deviation, median and MAD are not dragged by the outliers they are
meant to find. When more than half the values are equal the MAD is 0; then the mean
absolute deviation stands in (``1.253314 * meanAD`` estimates the same spread as
``1.4826 * MAD``), and when that is 0 too, any other value is infinitely far.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

__all__ = ["MAD_Z_THRESHOLD", "RecentWindow", "modified_z", "peer_outliers", "spread"]

MAD_Z_THRESHOLD: Final = 3.5
"""Iglewicz and Hoaglin's cut-off for a modified z-score."""

_MAD_SCALE: Final = 0.6745
_MEAN_AD_SCALE: Final = 0.7979  # 0.6745 * 1.4826 / 1.253314


def _median(sorted_values: Sequence[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


def spread(values: Iterable[float]) -> tuple[float, float, float]:
    """The median, the MAD and the mean absolute deviation of ``values`` (non-empty)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("spread of no values")
    median = _median(ordered)
    deviations = sorted(abs(v - median) for v in ordered)
    return median, _median(deviations), sum(deviations) / len(deviations)


def modified_z(x: float, median: float, mad: float, mean_ad: float) -> float:
    """How far ``x`` lies from ``median`` in robust standard units (signed)."""
    if mad > 0.0:
        return _MAD_SCALE * (x - median) / mad
    if mean_ad > 0.0:
        return _MEAN_AD_SCALE * (x - median) / mean_ad
    if x == median:
        return 0.0
    return math.copysign(math.inf, x - median)


class RecentWindow:
    """The last ``size`` values of a stream, for robust statistics in constant memory.

    Example:
        >>> w = RecentWindow(5)
        >>> for v in (10, 11, 9, 10, 10, 12):
        ...     w.add(v)
        >>> w.median(), len(w)
        (10.0, 5)
        >>> w.z_score(30) > 3.5
        True
    """

    __slots__ = ("_values", "_next", "_size")

    def __init__(self, size: int = 128) -> None:
        if type(size) is not int or size < 3:
            raise ValueError(f"size must be an integer >= 3, not {size!r}")
        self._values = array("d")
        self._next = 0
        self._size = size

    def __len__(self) -> int:
        return len(self._values)

    def add(self, value: float) -> None:
        """Append a value, forgetting the oldest once full (non-finite values are ignored)."""
        if not math.isfinite(value):
            return
        if len(self._values) < self._size:
            self._values.append(value)
        else:
            self._values[self._next] = value
            self._next = (self._next + 1) % self._size

    def values(self) -> list[float]:
        """The values held, oldest first."""
        v = self._values
        return list(v[self._next:]) + list(v[: self._next])

    def median(self) -> float:
        """The median of the window (``nan`` when empty)."""
        if not self._values:
            return math.nan
        return _median(sorted(self._values))

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
        if not self._values:
            return math.nan
        ordered = sorted(self._values)
        rank = (len(ordered) - 1) * q / 100.0
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    def z_score(self, x: float) -> float:
        """The modified z-score of ``x`` against the window (0 when the window is empty)."""
        if not self._values:
            return 0.0
        median, mad, mean_ad = spread(self._values)
        return modified_z(x, median, mad, mean_ad)


def peer_outliers(
    values: Mapping[str, float], *, threshold: float = MAD_Z_THRESHOLD, min_peers: int = 3,
    high_only: bool = True, min_ratio: float = 1.25,
) -> dict[str, float]:
    """The members whose value is an outlier among their peers, with its z-score.

    Each member is scored against the *other* members (leave-one-out), so that one
    very slow agent among three does not inflate the spread it is measured by. With
    fewer than ``min_peers`` other members nothing is flagged. ``high_only`` flags only
    values above the peers (slow, failing), which is what a bottleneck is. A flagged
    value must also be at least ``min_ratio`` times the peers' median (or the median
    plus 0.05 when it is 0), so that peers that happen to agree exactly (MAD 0) do not
    make a 1% difference an outlier.
    """
    found: dict[str, float] = {}
    if len(values) < min_peers + 1:
        return found
    items = [(k, v) for k, v in values.items() if math.isfinite(v)]
    if len(items) - 1 < min_peers:
        return found
    ordered = sorted(v for _, v in items)
    # Leaving one out moves the median to one of at most three values: the deviations
    # about each are sorted once, and each member's MAD of the others is a lookup in
    # them (one sort per member made a role of 1,000 agents take a second a minute).
    about: dict[float, tuple[list[float], float]] = {}
    others_n = len(items) - 1
    for key, value in items:
        median = _median_without(ordered, value)
        if median not in about:
            deviations = sorted(abs(v - median) for v in ordered)
            about[median] = (deviations, math.fsum(deviations))
        deviations, total = about[median]
        own = abs(value - median)
        mad = _median_without(deviations, own)
        z = modified_z(value, median, mad, (total - own) / others_n)
        floor = median * min_ratio if median > 0 else median + 0.05
        if z > 0 and value < floor:
            continue
        if (z > threshold) or (not high_only and abs(z) > threshold):
            found[key] = z
    return found


def _median_without(sorted_values: Sequence[float], value: float) -> float:
    """The median of ``sorted_values`` with one occurrence of ``value`` (present) left out."""
    i = bisect.bisect_left(sorted_values, value)
    n = len(sorted_values) - 1

    def at(j: int) -> float:
        return sorted_values[j + 1] if j >= i else sorted_values[j]

    mid = n // 2
    return at(mid) if n % 2 else (at(mid - 1) + at(mid)) / 2.0
