"""A bounded time series of task counts and durations, for sparklines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter

__all__ = ["TaskSeries"]


class TaskSeries:
    """Task count and total duration per time bucket, in at most ``max_buckets``.

    Buckets start one second wide at the first task; when the run outgrows
    them, neighbours merge and the width doubles, so memory stays constant
    however long the run.
    """

    __slots__ = ("counts", "max_buckets", "start", "totals", "width")

    def __init__(self, max_buckets: int = 64) -> None:
        self.max_buckets = max_buckets
        self.start: float | None = None
        self.width = 1.0
        self.counts: list[int] = []
        self.totals: list[float] = []

    def add(self, timestamp: float, duration_ms: float) -> None:
        """Count one task that finished at ``timestamp`` (epoch s)."""
        if self.start is None:
            self.start = timestamp
        index = int((timestamp - self.start) / self.width)
        if index < 0:
            index = 0
        while index >= self.max_buckets:
            self._coarsen()
            index = int((timestamp - self.start) / self.width)
        self._count(index, 1, duration_ms)

    def add_many(
        self, stamps: Sequence[float], durations: Sequence[float], positions: Iterable[int]
    ) -> None:
        """Count the tasks at ``positions`` of the two columns (the batch form of add).

        Many tasks that all fall in one bucket within the current width (the
        usual case: a drained batch spans a fraction of a second) are counted
        at once, in C.
        """
        if self.start is not None and type(positions) is list and len(positions) >= 32:
            pick = itemgetter(*positions)
            times = pick(stamps)
            first = int((min(times) - self.start) / self.width)
            if 0 <= first == int((max(times) - self.start) / self.width) < self.max_buckets:
                self._count(first, len(positions), sum(pick(durations)))
                return
        for i in positions:
            if self.start is None:
                self.add(stamps[i], durations[i])
                continue
            index = int((stamps[i] - self.start) / self.width)
            counts = self.counts
            if 0 <= index < len(counts):
                counts[index] += 1
                self.totals[index] += durations[i]
            else:
                self.add(stamps[i], durations[i])

    def _count(self, index: int, count: int, total_ms: float) -> None:
        """Add tasks to bucket ``index`` (below max_buckets), creating buckets up to it."""
        grow = index + 1 - len(self.counts)
        if grow > 0:
            self.counts.extend([0] * grow)
            self.totals.extend([0.0] * grow)
        self.counts[index] += count
        self.totals[index] += total_ms

    def _coarsen(self) -> None:
        counts, totals = self.counts, self.totals
        self.counts = [sum(counts[i : i + 2]) for i in range(0, len(counts), 2)]
        self.totals = [sum(totals[i : i + 2]) for i in range(0, len(totals), 2)]
        self.width *= 2

    def slices(self, n: int = 20) -> tuple[list[float], list[int]]:
        """Mean duration (ms) and task count in ``n`` (or fewer) equal slices."""
        if not self.counts:
            return [], []
        size = max(1, -(-len(self.counts) // n))
        means: list[float] = []
        counts: list[int] = []
        for i in range(0, len(self.counts), size):
            count = sum(self.counts[i : i + size])
            total = sum(self.totals[i : i + size])
            counts.append(count)
            means.append(total / count if count else 0.0)
        return means, counts
