"""``task_trend``: a range cut into equal slices, each slice's figures from the rollups.

What the dashboard's charts draw: per slice the task count, the failures, the p50
and p95 duration and the tokens. It reads only rollup buckets (minute buckets for
ranges up to a day, hour buckets beyond), never task rows, so a day of a million
tasks draws as fast as an hour: at most 1,440 buckets per agent are read.
"""

from __future__ import annotations

import math
import sqlite3
from typing import NamedTuple

from storage.rollup import HOUR, MINUTE
from storage.summary import TaskSummary

__all__ = ["MAX_SLICES", "TrendPoint", "task_trend"]

MAX_SLICES = 1440
"""The most slices a trend may have."""

_DAY = 86_400


class TrendPoint(NamedTuple):
    """One slice of a trend; durations are ms, None when the slice has no task."""

    start: float
    end: float
    tasks: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    tokens: int


def task_trend(conn: sqlite3.Connection, key: int, start: float, end: float, slices: int) -> list[TrendPoint]:
    """The figures of ``key``'s tasks in [start, end) cut into ``slices`` equal slices.

    A bucket belongs to the slice its start falls in, so a slice's figures may
    include up to one bucket's width (a minute, or an hour past a day) beyond
    its edges.
    """
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start or slices < 1:
        return []
    width = (end - start) / slices
    table, step = (("task_rollup_minute", MINUTE) if end - start <= _DAY
                   else ("task_rollup_hour", HOUR))
    first = int(start // step * step)
    rows = conn.execute(
        f"SELECT bucket_start, summary FROM {table} "  # noqa: S608 - table is one of two names
        "WHERE agent_key = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start",
        (key, first, int(math.ceil(end))),
    ).fetchall()
    merged: list[TaskSummary | None] = [None] * slices
    for bucket_start, blob in rows:
        index = min(slices - 1, max(0, int((bucket_start - start) // width)))
        summary = TaskSummary.from_bytes(blob)
        held = merged[index]
        if held is None:
            merged[index] = summary
        else:
            held.merge(summary)
    points = []
    for index, held_summary in enumerate(merged):
        lo = start + index * width
        if held_summary is None or held_summary.count == 0:
            points.append(TrendPoint(lo, lo + width, 0, 0, None, None, 0))
            continue
        stats = held_summary.to_stats()
        failures = sum(n for result, n in stats["results_breakdown"].items() if result != "success")
        points.append(TrendPoint(
            lo, lo + width, stats["total_tasks"], failures, stats["median_duration_ms"],
            stats["p95_duration_ms"], stats["total_tokens"],
        ))
    return points
