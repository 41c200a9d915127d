"""A mergeable summary of task metrics, and the ``task_stats`` dict it produces.

:class:`TaskSummary` keeps what ``task_stats`` reports (counts, sums, extremes,
results, a :class:`LogHistogram` of durations) in constant space, so summaries
of minutes add up to summaries of hours. The storage keeps them as rollups;
the in-memory aggregator keeps them live. Nothing here knows about SQLite.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import itemgetter, mul
from typing import Final, TypedDict, TypeVar

import msgspec

from messages import TaskResult
from storage.histogram import INV_LOG_GAMMA, LogHistogram, linear_quantile

__all__ = ["PERCENTILES", "TaskStats", "TaskSummary", "encoded_total_ms", "exact_stats"]

PERCENTILES: Final = (
    ("median_duration_ms", 0.5),
    ("p90_duration_ms", 0.9),
    ("p95_duration_ms", 0.95),
    ("p99_duration_ms", 0.99),
)
"""Each reported percentile: its key in :class:`TaskStats` and its quantile."""

_SUCCESS: Final = TaskResult.SUCCESS.value
_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(
    tuple[int, float, float, float, int, int, dict[str, int], int, dict[int, int]]
)
_total_decoder: Final = msgspec.msgpack.Decoder(
    tuple[int, float, msgspec.Raw, msgspec.Raw, msgspec.Raw, msgspec.Raw, msgspec.Raw, msgspec.Raw,
          msgspec.Raw]
)
_log = math.log
_ceil = math.ceil
_BULK_AT: Final = 32  # tasks from which add_columns counts in C rather than in a loop
_K = TypeVar("_K")


class TaskStats(TypedDict):
    """What ``task_stats`` returns; rates are percent, durations milliseconds.

    Percentiles interpolate linearly between the closest ranks (numpy's
    default, method "linear"), so the median of an even count is the mean of
    the two middle values; ``exact`` says whether they were computed from
    every duration (True) or from a histogram, within 1% (False). Everything else
    is always exact. With no tasks every number is 0.
    """

    total_tasks: int
    success_rate: float
    error_rate: float
    avg_duration_ms: float
    min_duration_ms: float
    max_duration_ms: float
    median_duration_ms: float
    p90_duration_ms: float
    p95_duration_ms: float
    p99_duration_ms: float
    total_tokens: int
    total_files_changed: int
    results_breakdown: dict[str, int]
    exact: bool


class TaskSummary:
    """Count, sum, min, max, tokens, files, results and durations of some tasks.

    Not thread-safe: each summary has one owner. ``add`` is the hot path (one
    call per metric), so it updates the histogram's bins inline.

    Attributes:
        count: number of tasks.
        total_ms: sum of their durations.
        min_ms: smallest duration (``inf`` when empty).
        max_ms: largest duration (``-inf`` when empty).
        tokens: sum of tokens used.
        files: sum of files changed.
        results: count per result value (only values seen).
        histogram: the durations, for percentiles.
    """

    __slots__ = (
        "_bins",
        "count",
        "files",
        "histogram",
        "max_ms",
        "min_ms",
        "results",
        "tokens",
        "total_ms",
    )

    def __init__(self) -> None:
        self.count = 0
        self.total_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = -math.inf
        self.tokens = 0
        self.files = 0
        self.results: dict[str, int] = {}
        self.histogram = LogHistogram()
        self._bins = self.histogram.bins

    def add(self, duration_ms: float, result: str, tokens: int, files: int) -> None:
        """Count one task (``result`` is a :class:`TaskResult` or its value).

        Raises:
            ValueError: the duration is negative or NaN.
        """
        if duration_ms > 0.0:
            index = _ceil(_log(duration_ms) * INV_LOG_GAMMA)
            bins = self._bins
            bins[index] = bins.get(index, 0) + 1
        else:
            self.histogram.add(duration_ms)
        self.count += 1
        self.total_ms += duration_ms
        if duration_ms < self.min_ms:
            self.min_ms = duration_ms
        if duration_ms > self.max_ms:
            self.max_ms = duration_ms
        self.tokens += tokens
        self.files += files
        results = self.results
        results[result] = results.get(result, 0) + 1

    def add_columns(
        self,
        durations: Sequence[float],
        results: Sequence[str],
        tokens: Sequence[int],
        files: Sequence[int],
        positions: Iterable[int] | None = None,
    ) -> None:
        """Count many tasks given as columns: task ``i`` is ``durations[i]``, ``results[i]``, ...

        The batch form of :meth:`add`, with the same result for less work per
        task: a loop over local variables for a few tasks, counting in C from
        32 tasks on. The writer groups a batch's rows by bucket and adds each
        group's positions; the aggregator does the same per agent.

        Args:
            durations: task durations (ms).
            results: task results.
            tokens: tokens used.
            files: files changed.
            positions: the positions to add; every position when None.

        Raises:
            ValueError: a duration is negative or NaN (nothing is added then).
        """
        if positions is None:
            if len(durations) >= _BULK_AT:
                self._add_bulk(durations, results, tokens, files)
                return
            positions = range(len(durations))
        elif type(positions) is list and len(positions) >= _BULK_AT:
            pick = itemgetter(*positions)
            self._add_bulk(pick(durations), pick(results), pick(tokens), pick(files))
            return
        count, total, low, high = self.count, self.total_ms, self.min_ms, self.max_ms
        token_sum, file_sum = self.tokens, self.files
        results_seen = dict(self.results)
        bins = dict(self._bins)
        zero_count = self.histogram.zero_count
        bins_get, results_get = bins.get, results_seen.get
        for i in positions:
            duration = durations[i]
            if duration > 0.0:
                index = _ceil(_log(duration) * INV_LOG_GAMMA)
                bins[index] = bins_get(index, 0) + 1
            elif duration == 0.0:
                zero_count += 1
            else:
                raise ValueError(f"a duration must be >= 0, not {duration!r}")
            count += 1
            total += duration
            if duration < low:
                low = duration
            if duration > high:
                high = duration
            token_sum += tokens[i]
            file_sum += files[i]
            result = results[i]
            results_seen[result] = results_get(result, 0) + 1
        self.count, self.total_ms, self.min_ms, self.max_ms = count, total, low, high
        self.tokens, self.files, self.results = token_sum, file_sum, results_seen
        self.histogram.bins = self._bins = bins
        self.histogram.zero_count = zero_count

    def _add_bulk(
        self,
        durations: Sequence[float],
        results: Sequence[str],
        tokens: Sequence[int],
        files: Sequence[int],
    ) -> None:
        """:meth:`add_columns` of whole columns, with the per-task work done in C."""
        positive = list(filter(None, durations))  # 0.0 and -0.0 go to the zero bucket
        try:
            indexes = Counter(map(_ceil, map(mul, map(_log, positive), repeat(INV_LOG_GAMMA))))
        except ValueError:
            bad = next(d for d in durations if not d >= 0.0)
            raise ValueError(f"a duration must be >= 0, not {bad!r}") from None
        self.count += len(durations)
        self.total_ms = sum(durations, self.total_ms)
        self.min_ms = min(self.min_ms, min(durations))
        self.max_ms = max(self.max_ms, max(durations))
        self.tokens += sum(tokens)
        self.files += sum(files)
        _add_counts(self.results, Counter(results))
        self.histogram.zero_count += len(durations) - len(positive)
        _add_counts(self._bins, indexes)

    def merge(self, other: TaskSummary) -> None:
        """Add everything ``other`` counted into this summary (``other`` is unchanged)."""
        self.count += other.count
        self.total_ms += other.total_ms
        if other.min_ms < self.min_ms:
            self.min_ms = other.min_ms
        if other.max_ms > self.max_ms:
            self.max_ms = other.max_ms
        self.tokens += other.tokens
        self.files += other.files
        results = self.results
        for result, count in other.results.items():
            results[result] = results.get(result, 0) + count
        self.histogram.merge(other.histogram)

    def merge_encoded(self, encoded: Iterable[bytes]) -> None:
        """Merge summaries given as :meth:`to_bytes` output, without building a summary of each.

        The same result as ``merge(TaskSummary.from_bytes(data))`` of each in
        turn (sums are added in the same order), for a reader adding up many
        rollup buckets: a day of 100 agents is 2,500 of them.

        Raises:
            msgspec.DecodeError: some bytes are not such an encoding.
        """
        decode = _decoder.decode
        count, total, low, high = self.count, self.total_ms, self.min_ms, self.max_ms
        token_sum, file_sum = self.tokens, self.files
        results = self.results
        histogram = self.histogram
        bins = histogram.bins
        zero_count = histogram.zero_count
        results_get, bins_get = results.get, bins.get
        for data in encoded:
            (n, part_total, part_min, part_max, part_tokens, part_files, part_results, zeros,
             part_bins) = decode(data)
            count += n
            total += part_total
            if part_min < low:
                low = part_min
            if part_max > high:
                high = part_max
            token_sum += part_tokens
            file_sum += part_files
            for result, seen in part_results.items():
                results[result] = results_get(result, 0) + seen
            zero_count += zeros
            if not bins:
                bins.update(part_bins)
                continue
            for index, seen in part_bins.items():
                bins[index] = bins_get(index, 0) + seen
        self.count, self.total_ms, self.min_ms, self.max_ms = count, total, low, high
        self.tokens, self.files = token_sum, file_sum
        histogram.zero_count = zero_count

    def percentile_ms(self, q: float) -> float:
        """One percentile as :meth:`to_stats` gives it (clamped to min and max); 0.0 when empty.

        For a figure per agent over many agents, where the whole dict costs
        four times as much.
        """
        if self.count == 0:
            return 0.0
        return min(max(self.histogram.quantile(q), self.min_ms), self.max_ms)

    def to_stats(self) -> TaskStats:
        """Return the ``task_stats`` dict, percentiles from the histogram.

        Percentiles are clamped to the exact min and max, which keeps them
        within 1% and makes p99 exact when it is the largest value.
        """
        count = self.count
        if count == 0:
            return _empty_stats()
        values = self.histogram.quantiles([q for _, q in PERCENTILES])
        estimates = {
            key: min(max(value, self.min_ms), self.max_ms)
            for (key, _), value in zip(PERCENTILES, values, strict=True)
        }
        success = self.results.get(_SUCCESS, 0)
        return TaskStats(
            total_tasks=count,
            success_rate=100.0 * success / count,
            error_rate=100.0 * (count - success) / count,
            avg_duration_ms=self.total_ms / count,
            min_duration_ms=self.min_ms,
            max_duration_ms=self.max_ms,
            median_duration_ms=estimates["median_duration_ms"],
            p90_duration_ms=estimates["p90_duration_ms"],
            p95_duration_ms=estimates["p95_duration_ms"],
            p99_duration_ms=estimates["p99_duration_ms"],
            total_tokens=self.tokens,
            total_files_changed=self.files,
            results_breakdown=_breakdown(self.results),
            exact=False,
        )

    def to_bytes(self) -> bytes:
        """Return a compact msgpack encoding of the whole summary."""
        histogram = self.histogram
        return _encoder.encode(
            (
                self.count,
                self.total_ms,
                self.min_ms,
                self.max_ms,
                self.tokens,
                self.files,
                self.results,
                histogram.zero_count,
                histogram.bins,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> TaskSummary:
        """Rebuild a summary from :meth:`to_bytes` output.

        Raises:
            msgspec.DecodeError: the bytes are not such an encoding.
        """
        fields = _decoder.decode(data)
        summary = cls()
        (
            summary.count,
            summary.total_ms,
            summary.min_ms,
            summary.max_ms,
            summary.tokens,
            summary.files,
            summary.results,
            summary.histogram.zero_count,
            bins,
        ) = fields
        summary.histogram.bins = summary._bins = bins
        return summary

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskSummary):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TaskSummary(count={self.count}, total_ms={self.total_ms!r})"


def encoded_total_ms(data: bytes) -> float:
    """The sum of the durations of a summary given as :meth:`TaskSummary.to_bytes` output.

    Reads only that field: the results and the histogram are skipped, not
    decoded (a sparkline of a day of 100 agents reads 2,500 summaries).

    Raises:
        msgspec.DecodeError: the bytes are not such an encoding.
    """
    return _total_decoder.decode(data)[1]


def exact_stats(summary: TaskSummary, durations: Iterable[float]) -> TaskStats:
    """Return ``summary``'s stats with percentiles computed exactly from ``durations``.

    Args:
        summary: the tasks' summary.
        durations: the same tasks' durations, in any order.
    """
    stats = summary.to_stats()
    ordered = sorted(durations)
    if len(ordered) != summary.count:
        raise ValueError(f"{len(ordered)} durations for a summary of {summary.count} tasks")
    if ordered:
        for key, q in PERCENTILES:
            stats[key] = linear_quantile(ordered, q)  # type: ignore[literal-required]
    stats["exact"] = True
    return stats


def _add_counts(into: dict[_K, int], counts: dict[_K, int]) -> None:
    if not into:
        into.update(counts)
        return
    get = into.get
    for key, count in counts.items():
        into[key] = get(key, 0) + count


def _breakdown(results: dict[str, int]) -> dict[str, int]:
    """Count per result value: every TaskResult (zeros included), then any other seen."""
    breakdown = {member.value: results.get(member.value, 0) for member in TaskResult}
    for result, count in results.items():
        breakdown.setdefault(str(result), count)
    return breakdown


def _empty_stats() -> TaskStats:
    return TaskStats(
        total_tasks=0,
        success_rate=0.0,
        error_rate=0.0,
        avg_duration_ms=0.0,
        min_duration_ms=0.0,
        max_duration_ms=0.0,
        median_duration_ms=0.0,
        p90_duration_ms=0.0,
        p95_duration_ms=0.0,
        p99_duration_ms=0.0,
        total_tokens=0,
        total_files_changed=0,
        results_breakdown=_breakdown({}),
        exact=True,
    )
