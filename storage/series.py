"""Task series for sparklines, drawn from the rollups instead of the rows.

A range [low, high) is cut into equal slices; each slice gets the task count
and mean duration of the rollup buckets that start in it, read at the
coarsest level (hours, then minutes) whose buckets are no wider than a slice,
so a day of a million rows costs a few dozen summaries per agent. A bucket
counts whole in the slice where it starts: the series is exact to one bucket.
Ranges whose slices are under a minute are drawn from the rows, in SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from storage.rollup import HOUR, MINUTE, SWARM_KEY, Level, bucket_rows
from storage.summary import encoded_total_ms

__all__ = ["task_series", "task_series_of_keys", "task_span"]

_TABLES = {HOUR: "task_rollup_hour", MINUTE: "task_rollup_minute"}


def task_span(conn: sqlite3.Connection, key: int) -> tuple[float, float] | None:
    """The first and last task times of ``key`` (SWARM_KEY: every agent), None if no task."""
    where = "" if key == SWARM_KEY else " WHERE agent_key = ?"
    params = () if key == SWARM_KEY else (key,)
    first = conn.execute(f"SELECT min(timestamp) FROM task_metrics{where}", params).fetchone()[0]
    if first is None:
        return None
    last = conn.execute(f"SELECT max(timestamp) FROM task_metrics{where}", params).fetchone()[0]
    return float(first), float(last)


def _slot(low: float, width: float, slices: int, at: float) -> int:
    return 0 if width <= 0 else min(slices - 1, max(0, int((at - low) / width)))


def _level(low: float, high: float, slices: int) -> tuple[float, int | None]:
    """The slice width, and the rollup level to read (None: the rows)."""
    width = (high - low) / slices if high > low else 0.0
    return width, HOUR if width >= HOUR else MINUTE if width >= MINUTE else None


def _series(counts: list[int], totals: list[float]) -> tuple[list[float], list[int]]:
    if not any(counts):
        return [], []
    return [t / c if c else 0.0 for t, c in zip(totals, counts, strict=True)], counts


def task_series(
    conn: sqlite3.Connection, key: int, low: float, high: float, slices: int
) -> tuple[list[float], list[int]]:
    """Mean duration (ms) and task count of ``key``'s tasks per equal slice of [low, high].

    Tasks outside the range are not counted; a range of zero width is one
    slice. Empty lists when no task falls in the range.
    """
    width, level = _level(low, high, slices)
    counts = [0] * slices
    totals = [0.0] * slices
    if level is None:
        agent = "" if key == SWARM_KEY else " AND agent_key = ?"
        params = (low, high, *(() if key == SWARM_KEY else (key,)))
        rows = conn.execute(
            "SELECT timestamp, duration_ms FROM task_metrics "
            f"WHERE timestamp >= ? AND timestamp <= ?{agent}", params)
        for at, duration in rows:
            i = _slot(low, width, slices, at)
            counts[i] += 1
            totals[i] += duration
    else:
        first = int(low // level * level)
        buckets = conn.execute(
            f"SELECT bucket_start, task_count, summary FROM {_TABLES[level]} "
            "WHERE agent_key = ? AND bucket_start >= ? AND bucket_start <= ? ORDER BY bucket_start",
            (key, first, high),
        )
        for start, count, blob in buckets:
            i = _slot(low, width, slices, max(float(start), low))
            counts[i] += count
            totals[i] += encoded_total_ms(blob)
    return _series(counts, totals)


def task_series_of_keys(
    conn: sqlite3.Connection, keys: Sequence[int], low: float, high: float, slices: int
) -> dict[int, tuple[list[float], list[int]]]:
    """:func:`task_series` of each of ``keys`` over the same range, by key: the same series.

    Drawn from the rollups, the buckets of every key come from one query (a
    report's 100 sparklines: one statement, not 100); ranges whose slices are
    under a minute are drawn from the rows, key by key.
    """
    width, level = _level(low, high, slices)
    if level is None:
        return {key: task_series(conn, key, low, high, slices) for key in keys}
    wanted = sorted(set(keys))
    first = int(low // level * level)
    found: dict[int, tuple[list[int], list[float]]] = {
        key: ([0] * slices, [0.0] * slices) for key in wanted
    }
    name: Level = "hour" if level == HOUR else "minute"
    for key, start, count, blob in bucket_rows(conn, name, wanted, first, high, through=True):
        counts, totals = found[key]
        j = _slot(low, width, slices, max(float(start), low))
        counts[j] += count
        totals[j] += encoded_total_ms(blob)
    return {key: _series(*found[key]) for key in keys}
