"""Task rollups: one TaskSummary per (agent, minute) and (agent, hour), and for the swarm.

Writers hand :func:`write_rollups` the per-(agent, minute) summaries of the
rows they insert; it derives the per-hour and whole-swarm ones and merges
them into the stored buckets with an UPSERT whose conflict branch calls the
SQL function ``swarmpulse_merge_summary`` (a read-modify-write per touched
bucket, done inside SQLite). Readers add up the buckets of a time range.
"""

from __future__ import annotations

import sqlite3
from itertools import chain
from typing import Final, Literal

from storage.summary import TaskSummary

__all__ = [
    "HOUR",
    "MINUTE",
    "SWARM_KEY",
    "Level",
    "MinuteSummaries",
    "add_buckets",
    "bucket_bounds",
    "count_buckets",
    "rebuild_rollups",
    "register_functions",
    "write_rollups",
]

SWARM_KEY: Final = 0
"""The ``agent_key`` of the whole-swarm rollups (no agent has key 0)."""
MINUTE: Final = 60
HOUR: Final = 3600

Level = Literal["minute", "hour"]
MinuteSummaries = dict[tuple[int, int], TaskSummary]
"""Summaries keyed by ``(agent_key, minute index)``; minute index = ``timestamp // 60``."""

_TABLES: Final[dict[str, str]] = {"minute": "task_rollup_minute", "hour": "task_rollup_hour"}
_MERGE_FUNCTION: Final = "swarmpulse_merge_summary"
_UPSERT: Final = (
    "INSERT INTO {table} (agent_key, bucket_start, task_count, summary) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (agent_key, bucket_start) DO UPDATE SET "
    "task_count = task_count + excluded.task_count, "
    f"summary = {_MERGE_FUNCTION}(summary, excluded.summary)"
)
_REBUILD_CHUNK: Final = 50_000


def _merge_blobs(stored: bytes, new: bytes) -> bytes:
    summary = TaskSummary.from_bytes(stored)
    summary.merge(TaskSummary.from_bytes(new))
    return summary.to_bytes()


def register_functions(conn: sqlite3.Connection) -> None:
    """Give the connection the SQL function the rollup UPSERT calls."""
    conn.create_function(_MERGE_FUNCTION, 2, _merge_blobs, deterministic=True)


def _merge_into(
    target: dict[tuple[int, int], TaskSummary], key: tuple[int, int], summary: TaskSummary
) -> None:
    into = target.get(key)
    if into is None:
        into = target[key] = TaskSummary()
    into.merge(summary)


def write_rollups(conn: sqlite3.Connection, minutes: MinuteSummaries) -> None:
    """Merge per-(agent, minute) summaries into every rollup they belong to.

    Must run inside the transaction that inserts the rows they summarise.
    """
    if not minutes:
        return
    swarm_minutes: MinuteSummaries = {}
    agent_hours: MinuteSummaries = {}
    for (key, minute), summary in minutes.items():
        _merge_into(swarm_minutes, (SWARM_KEY, minute), summary)
        _merge_into(agent_hours, (key, minute // 60), summary)
    swarm_hours: MinuteSummaries = {}
    for (_, minute), summary in swarm_minutes.items():
        _merge_into(swarm_hours, (SWARM_KEY, minute // 60), summary)
    for level, size, levels in (
        ("minute", MINUTE, (minutes, swarm_minutes)),
        ("hour", HOUR, (agent_hours, swarm_hours)),
    ):
        conn.executemany(
            _UPSERT.format(table=_TABLES[level]),
            [
                (key, index * size, summary.count, summary.to_bytes())
                for (key, index), summary in chain.from_iterable(s.items() for s in levels)
            ],
        )


def rebuild_rollups(conn: sqlite3.Connection) -> int:
    """Recompute every rollup from the task rows; return how many rows were read.

    Must run inside a write transaction. Migration 2 uses it to backfill.
    """
    for table in _TABLES.values():
        conn.execute(f"DELETE FROM {table}")
    cursor = conn.execute(
        "SELECT agent_key, timestamp, duration_ms, result, tokens_used, files_changed "
        "FROM task_metrics ORDER BY id"
    )
    total = 0
    while rows := cursor.fetchmany(_REBUILD_CHUNK):
        total += len(rows)
        minutes: MinuteSummaries = {}
        for key, timestamp, duration, result, tokens, files in rows:
            bucket = (key, int(timestamp // MINUTE))
            summary = minutes.get(bucket)
            if summary is None:
                summary = minutes[bucket] = TaskSummary()
            summary.add(duration, result, tokens, files)
        write_rollups(conn, minutes)
    return total


def count_buckets(conn: sqlite3.Connection, level: Level, key: int, start: int, end: int) -> int:
    """Return how many tasks the ``level`` buckets of ``key`` in [start, end) hold."""
    row = conn.execute(
        f"SELECT COALESCE(SUM(task_count), 0) FROM {_TABLES[level]} "
        "WHERE agent_key = ? AND bucket_start >= ? AND bucket_start < ?",
        (key, start, end),
    ).fetchone()
    return int(row[0])


def add_buckets(
    conn: sqlite3.Connection, level: Level, key: int, start: int, end: int, into: TaskSummary
) -> None:
    """Merge the ``level`` buckets of ``key`` that start in [start, end) into ``into``."""
    for (blob,) in conn.execute(
        f"SELECT summary FROM {_TABLES[level]} "
        "WHERE agent_key = ? AND bucket_start >= ? AND bucket_start < ?",
        (key, start, end),
    ):
        into.merge(TaskSummary.from_bytes(blob))


def bucket_bounds(conn: sqlite3.Connection, key: int) -> tuple[int, int] | None:
    """Return [first hour start, last hour end) of ``key``'s tasks, or None if it has none."""
    low, high = conn.execute(
        "SELECT MIN(bucket_start), MAX(bucket_start) FROM task_rollup_hour WHERE agent_key = ?",
        (key,),
    ).fetchone()
    if low is None:
        return None
    return int(low), int(high) + HOUR
