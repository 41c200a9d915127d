"""``get_task_stats`` over a day of a two-day database, against a plain SQL scan."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any, Final

from actors import start_system
from demo.bench.support import AGENT_IDS, GroupResult, Sizes, durations, percentile
from storage import MetricsStorage, RowTuple

__all__ = ["run_query"]

_HOUR: Final = 3600.0
_SPAN: Final = 48 * _HOUR
_CHUNK: Final = 50_000
_RESULTS: Final = ("success",) * 9 + ("failure",)
_ORIGIN: Final = 1_700_000_000.0  # a whole hour (epoch s)
_NAIVE_COUNT: Final = (
    "SELECT count(*), avg(duration_ms), min(duration_ms), max(duration_ms) FROM task_metrics "
    "WHERE timestamp >= ? AND timestamp < ?"
)
_NAIVE_DURATIONS: Final = (
    "SELECT duration_ms FROM task_metrics WHERE timestamp >= ? AND timestamp < ? "
    "ORDER BY duration_ms"
)


def _build(path: str, rows: int) -> float:
    """Store ``rows`` tasks spread evenly over 48 h with ``store_batch``; seconds taken."""
    spread = durations(rows, seed=5)
    step = _SPAN / rows
    n_agents = len(AGENT_IDS)
    t0 = time.perf_counter()
    with MetricsStorage(path) as storage:
        for start in range(0, rows, _CHUNK):
            batch: list[RowTuple] = [
                (f"task-{i}", AGENT_IDS[i % n_agents], spread[i], _RESULTS[i % len(_RESULTS)],
                 100 + i % 50, i % 3, _ORIGIN + i * step, None)
                for i in range(start, min(rows, start + _CHUNK))
            ]
            storage.store_batch(tasks=batch)
    return time.perf_counter() - t0


def _naive(conn: sqlite3.Connection, start: float, end: float) -> dict[str, float]:
    count, avg, low, high = conn.execute(_NAIVE_COUNT, (start, end)).fetchone()
    ordered = [row[0] for row in conn.execute(_NAIVE_DURATIONS, (start, end))]
    return {
        "total_tasks": count, "avg_duration_ms": avg, "min_duration_ms": low,
        "max_duration_ms": high, "p95_duration_ms": percentile(ordered, 0.95),
    }


def _checks(system: dict[str, Any], naive: dict[str, float]) -> dict[str, Any]:
    """Compare the system's stats with the plain scan's; a count that differs is a bug."""
    if system["total_tasks"] != naive["total_tasks"]:
        raise RuntimeError(
            f"get_task_stats counted {system['total_tasks']} tasks, "
            f"the plain scan {naive['total_tasks']}"
        )
    return {
        "total_tasks": naive["total_tasks"],
        "exact": system["exact"],
        "avg_rel_diff": abs(system["avg_duration_ms"] / naive["avg_duration_ms"] - 1.0),
        "p95_rel_diff": abs(system["p95_duration_ms"] / naive["p95_duration_ms"] - 1.0),
        "min_max_equal": (system["min_duration_ms"], system["max_duration_ms"])
        == (naive["min_duration_ms"], naive["max_duration_ms"]),
    }


def run_query(sizes: Sizes, workdir: str) -> GroupResult:
    """Measure p95 of ``get_task_stats`` over a 24 h window, and of the plain scan."""
    path = os.path.join(workdir, "stats.db")
    build_s = _build(path, sizes.stats_rows)
    # A window that starts and ends mid-minute, so rows, minutes and hours are all read.
    start = _ORIGIN + 12 * _HOUR + 1037.5
    end = start + 24 * _HOUR
    system_ms: list[float] = []
    naive_ms: list[float] = []
    system = start_system(path)
    try:
        stats = system.get_task_stats(start_time=start, end_time=end)  # warm the caches
        conn = sqlite3.connect(path)
        try:
            naive = _naive(conn, start, end)
            for _ in range(sizes.stats_repeats):
                t0 = time.perf_counter()
                system.get_task_stats(start_time=start, end_time=end)
                system_ms.append((time.perf_counter() - t0) * 1000.0)
                t0 = time.perf_counter()
                _naive(conn, start, end)
                naive_ms.append((time.perf_counter() - t0) * 1000.0)
        finally:
            conn.close()
    finally:
        system.shutdown()
    system_ms.sort()
    naive_ms.sort()
    result = GroupResult()
    result.figures["stats_24h_ms_p95"] = percentile(system_ms, 0.95)
    result.figures["stats_naive_ms_p95"] = percentile(naive_ms, 0.95)
    result.details = {
        "rows": sizes.stats_rows,
        "build_s": build_s,
        "repeats": sizes.stats_repeats,
        "stats_24h_ms_p50": percentile(system_ms, 0.5),
        "stats_naive_ms_p50": percentile(naive_ms, 0.5),
        "checks": _checks(dict(stats), naive),
    }
    return result
