"""A mergeable log-bucket histogram of durations, for quantiles within 1%.

The DDSketch design: a positive value ``v`` goes to bucket
``ceil(log(v) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``, so bucket ``i``
holds ``(gamma**(i-1), gamma**i]`` and its representative ``2 * gamma**i /
(gamma + 1)`` is within relative error ``a`` of every value in it. Zero has
its own bucket. Two histograms merge by adding counts per bucket, so
per-minute histograms add up to per-hour ones with no loss beyond ``a``.

Quantiles interpolate linearly between the closest ranks (numpy's default,
method "linear": 0-based position ``q * (n - 1)``), so the median of an even
count is the mean of the two middle values. With ``a = 0.005`` each of the two
ranked values is within 0.5% of the exact one, and so is their weighted mean:
half the 1% the project promises, which leaves room for rounding at bucket
edges. :func:`linear_quantile` is the same definition on exact values.
Durations from 1 ms to 1,000 s span about 1,400 buckets; real data uses far
fewer.

This module knows nothing about SQLite: the in-memory aggregator uses it too.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from itertools import repeat
from operator import mul
from typing import Final

import msgspec

__all__ = [
    "GAMMA",
    "RELATIVE_ACCURACY",
    "LogHistogram",
    "linear_position",
    "linear_quantile",
    "nearest_rank",
]

RELATIVE_ACCURACY: Final = 0.005
"""Largest relative error of a quantile against the exact value at its rank."""
GAMMA: Final = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
"""Ratio between the bounds of consecutive buckets."""
INV_LOG_GAMMA: Final = 1.0 / math.log(GAMMA)
"""Multiplier taking ``log(v)`` to a fractional bucket index (a hot-path constant)."""

_REPRESENTATIVE_FACTOR: Final = 2.0 / (GAMMA + 1.0)
_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(tuple[int, dict[int, int]])


def nearest_rank(q: float, n: int) -> int:
    """Return the 1-based nearest rank ``ceil(q * n)`` (at least 1) of quantile ``q``.

    ``q`` is read as the decimal it prints as, so ``nearest_rank(0.9, 10)`` is
    9, not the 10 that binary floating point would give.

    Raises:
        ValueError: ``q`` is outside [0, 1] or ``n`` is not positive.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], not {q!r}")
    if n < 1:
        raise ValueError(f"a rank needs at least one value, not {n}")
    return max(1, math.ceil(Fraction(repr(float(q))) * n))


def linear_position(q: float, n: int) -> tuple[int, float]:
    """Return the 0-based lower rank and the weight of the next one, for quantile ``q`` of ``n``.

    The position is ``q * (n - 1)`` (numpy's method "linear"), with ``q`` read
    as the decimal it prints as: ``linear_position(0.9, 11)`` is ``(9, 0.0)``,
    not a hair below 9.

    Raises:
        ValueError: ``q`` is outside [0, 1] or ``n`` is not positive.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], not {q!r}")
    if n < 1:
        raise ValueError(f"a quantile needs at least one value, not {n}")
    numerator, denominator = _decimal_ratio(float(q))
    lower, rest = divmod(numerator * (n - 1), denominator)
    return lower, rest / denominator  # float(Fraction(rest, denominator)), without building it


@lru_cache(maxsize=64)
def _decimal_ratio(q: float) -> tuple[int, int]:
    """``q`` as the decimal it prints as, a ratio of integers (a report asks for the same few)."""
    ratio = Fraction(repr(q))
    return ratio.numerator, ratio.denominator


def _lerp(low: float, high: float, weight: float) -> float:
    """``low + (high - low) * weight``, exact at both ends (numpy's ``_lerp``)."""
    if weight == 0.0:
        return low
    if weight >= 0.5:
        return high - (high - low) * (1.0 - weight)
    return low + (high - low) * weight


def linear_quantile(ordered: Sequence[float], q: float) -> float:
    """Return quantile ``q`` of sorted values, interpolating between the closest ranks.

    Raises:
        ValueError: no values, or ``q`` is outside [0, 1].
    """
    lower, weight = linear_position(q, len(ordered))
    if weight == 0.0:
        return ordered[lower]
    return _lerp(ordered[lower], ordered[lower + 1], weight)


class LogHistogram:
    """Counts of values per logarithmic bucket, mergeable and compact.

    Not thread-safe: each histogram has one owner.

    Attributes:
        bins: count per bucket index, for positive values.
        zero_count: how many values were exactly zero.

    Example:
        ```py
        h = LogHistogram()
        for v in (1.0, 2.0, 3.0, 400.0):
            h.add(v)
        assert abs(h.quantile(0.5) - 2.0) <= 2.0 * RELATIVE_ACCURACY
        ```
    """

    __slots__ = ("bins", "zero_count")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.zero_count = 0

    def add(self, value: float) -> None:
        """Count one value.

        Raises:
            ValueError: the value is negative or NaN.
            OverflowError: the value is infinite.
        """
        if value > 0.0:
            index = math.ceil(math.log(value) * INV_LOG_GAMMA)
            bins = self.bins
            bins[index] = bins.get(index, 0) + 1
        elif value == 0.0:
            self.zero_count += 1
        else:
            raise ValueError(f"a histogram counts values >= 0, not {value!r}")

    def add_many(self, values: Sequence[float]) -> None:
        """Count many values at once; all of them or, on error, none.

        Faster than :meth:`add` in a loop for more than a handful of values:
        the bucket indexes are computed and counted in C.

        Raises:
            ValueError: a value is negative or NaN.
            OverflowError: a value is infinite.
        """
        positive = list(filter(None, values))  # drops 0.0 and -0.0: the zero bucket
        try:
            logs = map(mul, map(math.log, positive), repeat(INV_LOG_GAMMA))
            counts = Counter(map(math.ceil, logs))
        except ValueError:
            raise ValueError("a histogram counts values >= 0, and not NaN") from None
        self.zero_count += len(values) - len(positive)
        bins = self.bins
        if not bins:
            bins.update(counts)
            return
        get = bins.get
        for index, count in counts.items():
            bins[index] = get(index, 0) + count

    def count(self) -> int:
        """Return how many values were added (including merged ones)."""
        return self.zero_count + sum(self.bins.values())

    def merge(self, other: LogHistogram) -> None:
        """Add every count of ``other`` into this histogram (``other`` is unchanged)."""
        self.zero_count += other.zero_count
        bins = self.bins
        if not bins:
            bins.update(other.bins)
            return
        get = bins.get
        for index, count in other.bins.items():
            bins[index] = get(index, 0) + count

    def quantile(self, q: float) -> float:
        """Return quantile ``q``, linearly interpolated between the closest ranks, within 0.5%.

        Raises:
            ValueError: the histogram is empty or ``q`` is outside [0, 1].
        """
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """Return :meth:`quantile` of each of ``qs``, walking the buckets once.

        Raises:
            ValueError: the histogram is empty or a quantile is outside [0, 1].
        """
        total = self.count()
        positions = [linear_position(q, total) for q in qs]
        ranks = sorted(
            {rank for lower, w in positions for rank in ((lower, lower + 1) if w else (lower,))}
        )
        values = self._ranked(ranks)
        return [
            values[lower] if w == 0.0 else _lerp(values[lower], values[lower + 1], w)
            for lower, w in positions
        ]

    def _ranked(self, ranks: Sequence[int]) -> dict[int, float]:
        """Return the estimated value at each 0-based rank of ``ranks`` (sorted, below count)."""
        found: dict[int, float] = {}
        pending = iter(ranks)
        rank = next(pending, -1)
        seen = self.zero_count  # ranks below it are in the zero bucket
        while 0 <= rank < seen:
            found[rank] = 0.0
            rank = next(pending, -1)
        if rank >= 0:
            bins = self.bins
            for index in sorted(bins):
                seen += bins[index]
                while 0 <= rank < seen:
                    found[rank] = GAMMA**index * _REPRESENTATIVE_FACTOR
                    rank = next(pending, -1)
                if rank < 0:
                    break
        return found

    def cumulative(self, bounds: Sequence[float]) -> list[int]:
        """Return, for each of the ascending ``bounds``, how many values are at most it.

        A value counts at its bucket's representative (within
        :data:`RELATIVE_ACCURACY` of it), as :meth:`quantile` reports it; so a
        value within 0.5% of a bound may fall on either side of it. This is
        how an exporter collapses the ~1,400 possible buckets to a fixed few.

        Raises:
            ValueError: the bounds are negative or not ascending.
        """
        if any(b > a for a, b in zip(bounds[1:], bounds)) or (bounds and not bounds[0] >= 0):
            raise ValueError("bounds must be ascending and >= 0")
        # bucket i's representative GAMMA**i * factor is <= bound  <=>  i <= limit
        limits = [
            math.floor(math.log(b / _REPRESENTATIVE_FACTOR) * INV_LOG_GAMMA) if b > 0 else -math.inf
            for b in bounds
        ]
        found = [0] * (len(bounds) + 1)  # the last slot: above every bound
        for index, count in self.bins.items():
            found[bisect_left(limits, index)] += count
        total = self.zero_count
        for slot in range(len(bounds)):
            total += found[slot]
            found[slot] = total
        return found[: len(bounds)]

    def to_bytes(self) -> bytes:
        """Return a compact msgpack encoding: ``[zero_count, {index: count}]``."""
        return _encoder.encode((self.zero_count, self.bins))

    @classmethod
    def from_bytes(cls, data: bytes) -> LogHistogram:
        """Rebuild a histogram from :meth:`to_bytes` output.

        Raises:
            msgspec.DecodeError: the bytes are not such an encoding.
        """
        zero_count, bins = _decoder.decode(data)
        histogram = cls()
        histogram.zero_count = zero_count
        histogram.bins = bins
        return histogram

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogHistogram):
            return NotImplemented
        return self.zero_count == other.zero_count and self.bins == other.bins

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LogHistogram(count={self.count()}, buckets={len(self.bins)})"
