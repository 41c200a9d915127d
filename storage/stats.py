"""Task statistics: exact while a population is small, from a histogram beyond.

One rule for every path: a population (one agent's tasks, or the swarm's, in
one window) of at most :data:`EXACT_SAMPLES` tasks gets exact percentiles,
interpolated linearly between the closest ranks (numpy's default); a larger
one gets them from the log histogram, within 1%. ``exact`` in the result says
which. The aggregator keeps a :class:`TaskTally` per agent and for the swarm
(the window: all time); :func:`task_stats` reads SQLite for a time range.

For SQLite, a range [start, end) is cut into whole hours (hour rollups),
whole minutes in the partial hours (minute rollups) and the partial minutes
at the edges (rows). The rollup counts say how many tasks the range holds: at
most ``exact_max_rows`` and the stats are computed from the rows themselves;
more, and the pieces are merged into one TaskSummary. With the default
``exact_max_rows`` (:data:`EXACT_SAMPLES`) both paths give the same numbers
on the same tasks.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Final, Literal

from storage.buckets import BucketSource, LoadedBuckets, SqlBuckets
from storage.rollup import HOUR, MINUTE, SWARM_KEY, Level, add_buckets
from storage.summary import TaskStats, TaskSummary, exact_stats

__all__ = [
    "EXACT_SAMPLES",
    "KEYS_PER_READ",
    "Segment",
    "TaskTally",
    "plan",
    "tally",
    "task_stats",
    "task_stats_of_keys",
]

EXACT_SAMPLES: Final = 1000
"""Tasks per agent and window up to which percentiles are exact (every duration kept)."""

KEYS_PER_READ: Final = 200
"""Keys whose rollup buckets :func:`task_stats_of_keys` reads and holds at once."""

Segment = tuple[Literal["hour", "minute", "rows"], float, float]
"""A piece of a range: where to read it from, its start and its end (exclusive)."""


def _ceil_to(value: float, step: int) -> int:
    return int(-(-value // step) * step)


def _floor_to(value: float, step: int) -> int:
    return int(value // step * step)


def _minutes(start: float, end: float) -> list[Segment]:
    if end <= start:
        return []
    first, last = _ceil_to(start, MINUTE), _floor_to(end, MINUTE)
    if first >= last:
        return [("rows", start, end)]
    pieces: list[Segment] = [("rows", start, first), ("minute", first, last), ("rows", last, end)]
    return [piece for piece in pieces if piece[1] < piece[2]]


def plan(start: float, end: float) -> list[Segment]:
    """Cut [start, end) into hour, minute and row segments that cover it exactly.

    Rollup segments start and end on their bucket boundaries; the segments are
    in time order and do not overlap.
    """
    if end <= start:
        return []
    first, last = _ceil_to(start, HOUR), _floor_to(end, HOUR)
    if first >= last:
        return _minutes(start, end)
    return [*_minutes(start, first), ("hour", first, last), *_minutes(last, end)]


def _rows_sql(key: int, columns: str, *, timed: bool = True) -> str:
    conditions = [] if key == SWARM_KEY else ["agent_key = ?"]
    if timed:
        conditions += ["timestamp >= ?", "timestamp < ?"]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {columns} FROM task_metrics{where}"


def _key(key: int) -> tuple[int, ...]:
    return () if key == SWARM_KEY else (key,)


def _rows_params(key: int, start: float, end: float) -> tuple[float, ...]:
    return (*_key(key), start, end)


def _bounds(
    conn: sqlite3.Connection, key: int, start: float | None, end: float | None
) -> tuple[float, float] | None:
    """The range ``task_stats`` reads: a missing end is the whole hour of the first (or last)
    task of ``key``; None when an end is missing and ``key`` has no task."""
    if start is not None and end is not None:
        return start, end
    first = conn.execute(_rows_sql(key, "MIN(timestamp)", timed=False), _key(key)).fetchone()[0]
    if first is None:
        return None
    last = conn.execute(_rows_sql(key, "MAX(timestamp)", timed=False), _key(key)).fetchone()[0]
    start = float(_floor_to(first, HOUR)) if start is None else start
    end = float(_floor_to(last, HOUR) + HOUR) if end is None else end
    return start, end


def task_stats(
    conn: sqlite3.Connection,
    key: int | None,
    start: float | None,
    end: float | None,
    exact_max_rows: int,
    buckets: BucketSource | None = None,
) -> TaskStats:
    """Return the stats of the tasks of ``key`` (SWARM_KEY: every agent) in [start, end).

    Args:
        conn: a connection, inside a read transaction so every piece sees one snapshot.
        key: the agent's key, SWARM_KEY for all agents, None for an agent never seen.
        start: inclusive start (epoch s), None for the first task's time.
        end: exclusive end (epoch s), None for just after the last task's time.
        exact_max_rows: the most rows a range may hold and be computed exactly.
        buckets: where the rollup buckets are read (default: SQLite, piece by
            piece); the answer is the same from any source.
    """
    if key is None:
        return TaskSummary().to_stats()
    bounds = _bounds(conn, key, start, end)
    if bounds is None:
        return TaskSummary().to_stats()
    return _stats_in(conn, key, *bounds, exact_max_rows,
                     SqlBuckets(conn) if buckets is None else buckets)


def task_stats_of_keys(
    conn: sqlite3.Connection,
    keys: Sequence[int],
    start: float | None,
    end: float | None,
    exact_max_rows: int,
) -> dict[int, TaskStats]:
    """Return :func:`task_stats` of each of ``keys`` in [start, end), the same numbers, by key.

    The rollup buckets the keys need are read first, with one query per
    level for :data:`KEYS_PER_READ` keys at a time (:class:`~storage.buckets.LoadedBuckets`),
    instead of a few queries per key; so at most that many keys' buckets are
    held at once, however many agents the file has.
    """
    found: dict[int, TaskStats] = {}
    unique = list(dict.fromkeys(keys))
    for i in range(0, len(unique), KEYS_PER_READ):
        found.update(_stats_of_some(conn, unique[i : i + KEYS_PER_READ], start, end,
                                    exact_max_rows))
    return {key: found[key] for key in keys}


def _stats_of_some(
    conn: sqlite3.Connection,
    keys: Sequence[int],
    start: float | None,
    end: float | None,
    exact_max_rows: int,
) -> dict[int, TaskStats]:
    bounds = {key: _bounds(conn, key, start, end) for key in keys}
    ranges: dict[Level, tuple[int, int]] = {}
    for found in bounds.values():
        if found is None:
            continue
        for kind, low, high in plan(*found):
            if kind != "rows":
                held = ranges.get(kind)
                ranges[kind] = ((int(low), int(high)) if held is None
                                else (min(held[0], int(low)), max(held[1], int(high))))
    loaded = LoadedBuckets(conn, [key for key, found in bounds.items() if found], ranges)
    empty = TaskSummary().to_stats
    return {
        key: empty() if found is None else _stats_in(conn, key, *found, exact_max_rows, loaded)
        for key, found in bounds.items()
    }


def _stats_in(
    conn: sqlite3.Connection,
    key: int,
    start: float,
    end: float,
    exact_max_rows: int,
    buckets: BucketSource,
) -> TaskStats:
    """:func:`task_stats` of a range with both ends."""
    segments = plan(start, end)
    total = 0
    for kind, low, high in segments:
        if kind == "rows":
            sql = _rows_sql(key, "count(*)")
            total += conn.execute(sql, _rows_params(key, low, high)).fetchone()[0]
        else:
            total += buckets.count(kind, key, int(low), int(high))
    summary = TaskSummary()
    if total <= exact_max_rows:
        durations = _add_rows(conn, key, start, end, summary)
        return exact_stats(summary, durations)
    for kind, low, high in segments:
        if kind == "rows":
            _add_rows(conn, key, low, high, summary)
        else:
            buckets.add(kind, key, int(low), int(high), summary)
    return summary.to_stats()


def _add_rows(
    conn: sqlite3.Connection, key: int, start: float, end: float, into: TaskSummary
) -> Sequence[float]:
    """Add the task rows of ``key`` in [start, end) to ``into``; return their durations."""
    sql = _rows_sql(key, "duration_ms, result, tokens_used, files_changed")
    rows = conn.execute(sql, _rows_params(key, start, end)).fetchall()
    if not rows:
        return ()
    durations, results, tokens, files = zip(*rows)
    into.add_columns(durations, results, tokens, files)
    return durations


class TaskTally:
    """A :class:`TaskSummary` plus every duration while there are at most EXACT_SAMPLES.

    Not thread-safe: each tally has one owner (the aggregator's thread).

    Attributes:
        summary: counts, sums, extremes, results and the histogram of the tasks.
        samples: every duration, in arrival order, while ``summary.count`` is at
            most :data:`EXACT_SAMPLES`; None once it is past it. Packed doubles, not
            a list: no object per duration, so 1,000 agents' exact samples are 8 MB
            and nothing the garbage collector walks.
    """

    __slots__ = ("samples", "summary")

    def __init__(self, summary: TaskSummary | None = None, samples: Iterable[float] = ()) -> None:
        self.summary = TaskSummary() if summary is None else summary
        kept = array("d", samples)
        if self.summary.count > EXACT_SAMPLES:
            self.samples: array[float] | None = None
        elif len(kept) != self.summary.count:
            raise ValueError(f"{len(kept)} durations for a summary of {self.summary.count} tasks")
        else:
            self.samples = kept

    @property
    def count(self) -> int:
        """How many tasks were counted."""
        return self.summary.count

    def add_columns(
        self,
        durations: Sequence[float],
        results: Sequence[str],
        tokens: Sequence[int],
        files: Sequence[int],
        positions: Sequence[int] | None = None,
        summary: TaskSummary | None = None,
    ) -> None:
        """Count the tasks at ``positions`` of the columns (every one when None).

        Args:
            durations: task durations (ms).
            results: task results.
            tokens: tokens used.
            files: files changed.
            positions: the positions to count.
            summary: the summary of exactly those tasks, when the caller has
                made it already (it is merged, not changed).

        Raises:
            ValueError: a duration is negative or NaN (nothing is counted then).
        """
        if summary is None:
            self.summary.add_columns(durations, results, tokens, files, positions)
        else:
            self.summary.merge(summary)
        samples = self.samples
        if samples is None:
            return
        if self.summary.count > EXACT_SAMPLES:
            self.samples = None
        elif positions is None:
            samples.extend(durations)
        elif len(positions) == 1:
            samples.append(durations[positions[0]])
        elif type(positions) is list:
            samples.extend(itemgetter(*positions)(durations))  # a tuple: array.extend takes it
        else:
            samples.extend(durations[i] for i in positions)

    def to_stats(self) -> TaskStats:
        """Return the stats: exact percentiles while the samples are kept, else within 1%."""
        if self.samples is not None:
            return exact_stats(self.summary, self.samples)
        return self.summary.to_stats()


def tally(conn: sqlite3.Connection, key: int) -> TaskTally:
    """Return the tally of every stored task of ``key`` (SWARM_KEY: every agent).

    Counts come from the hour rollups; the durations are read from the rows
    only when there are at most :data:`EXACT_SAMPLES` of them.

    Args:
        conn: a connection, inside a read transaction.
        key: the agent's key, or SWARM_KEY.
    """
    summary = TaskSummary()
    add_buckets(conn, "hour", key, 0, 2**62, summary)
    if summary.count > EXACT_SAMPLES:
        return TaskTally(summary)
    sql = _rows_sql(key, "duration_ms", timed=False)
    return TaskTally(summary, [row[0] for row in conn.execute(sql, _key(key))])
