"""``task_stats``: exact from rows for small ranges, from rollups for large ones.

A range [start, end) is cut into whole hours (hour rollups), whole minutes in
the partial hours (minute rollups) and the partial minutes at the edges
(rows). The rollup counts say how many tasks the range holds: at most
``exact_max_rows`` and the stats are computed from the rows themselves, with
exact percentiles; more, and the pieces are merged into one TaskSummary.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from storage.rollup import HOUR, MINUTE, SWARM_KEY, add_buckets, bucket_bounds, count_buckets
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


def _rows_sql(key: int, columns: str) -> str:
    agent = "" if key == SWARM_KEY else "agent_key = ? AND "
    return f"SELECT {columns} FROM task_metrics WHERE {agent}timestamp >= ? AND timestamp < ?"


def _rows_params(key: int, start: float, end: float) -> tuple[float, ...]:
    return (start, end) if key == SWARM_KEY else (key, start, end)


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
        start: inclusive start (epoch s), None for the first task.
        end: exclusive end (epoch s), None for after the last task.
        exact_max_rows: the most rows a range may hold and be computed exactly.
    """
    if key is None:
        return TaskSummary().to_stats()
    if start is None or end is None:
        bounds = bucket_bounds(conn, key)
        if bounds is None:
            return TaskSummary().to_stats()
        start = bounds[0] if start is None else start
        end = bounds[1] if end is None else end
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
        durations: list[float] = []
        keep = durations.append
        add = summary.add
        sql = _rows_sql(key, "duration_ms, result, tokens_used, files_changed")
        for duration, result, tokens, files in conn.execute(sql, _rows_params(key, start, end)):
            add(duration, result, tokens, files)
            keep(duration)
        return exact_stats(summary, durations)
    for kind, low, high in segments:
        if kind == "rows":
            sql = _rows_sql(key, "duration_ms, result, tokens_used, files_changed")
            for row in conn.execute(sql, _rows_params(key, low, high)):
                summary.add(*row)
        else:
            add_buckets(conn, kind, key, int(low), int(high), summary)
    return summary.to_stats()
