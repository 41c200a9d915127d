"""``task_stats``: exact from rows for small ranges, from rollups for large ones.

A range [start, end) is cut into whole hours (hour rollups), whole minutes in
the partial hours (minute rollups) and the partial minutes at the edges
(rows). The rollup counts say how many tasks the range holds: at most
``exact_max_rows`` and the stats are computed from the rows themselves, with
exact percentiles; more, and the pieces are merged into one TaskSummary.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Literal

from storage.rollup import HOUR, MINUTE, SWARM_KEY, add_buckets, count_buckets
from storage.summary import TaskStats, TaskSummary, exact_stats

__all__ = ["Segment", "plan", "task_stats"]

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


def task_stats(
    conn: sqlite3.Connection,
    key: int | None,
    start: float | None,
    end: float | None,
    exact_max_rows: int,
) -> TaskStats:
    """Return the stats of the tasks of ``key`` (SWARM_KEY: every agent) in [start, end).

    Args:
        conn: a connection, inside a read transaction so every piece sees one snapshot.
        key: the agent's key, SWARM_KEY for all agents, None for an agent never seen.
        start: inclusive start (epoch s), None for the first task's time.
        end: exclusive end (epoch s), None for just after the last task's time.
        exact_max_rows: the most rows a range may hold and be computed exactly.
    """
    if key is None:
        return TaskSummary().to_stats()
    if start is None or end is None:
        first = conn.execute(_rows_sql(key, "MIN(timestamp)", timed=False), _key(key)).fetchone()[0]
        if first is None:
            return TaskSummary().to_stats()
        last = conn.execute(_rows_sql(key, "MAX(timestamp)", timed=False), _key(key)).fetchone()[0]
        start = float(_floor_to(first, HOUR)) if start is None else start
        end = float(_floor_to(last, HOUR) + HOUR) if end is None else end
    segments = plan(start, end)
    total = 0
    for kind, low, high in segments:
        if kind == "rows":
            sql = _rows_sql(key, "count(*)")
            total += conn.execute(sql, _rows_params(key, low, high)).fetchone()[0]
        else:
            total += count_buckets(conn, kind, key, int(low), int(high))
    summary = TaskSummary()
    if total <= exact_max_rows:
        durations = _add_rows(conn, key, start, end, summary)
        return exact_stats(summary, durations)
    for kind, low, high in segments:
        if kind == "rows":
            _add_rows(conn, key, low, high, summary)
        else:
            add_buckets(conn, kind, key, int(low), int(high), summary)
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
