"""Retention: deleting what is older than a cutoff, in every table."""

from __future__ import annotations

import sqlite3
from typing import Final

from storage.rollup import HOUR, SWARM_KEY

__all__ = ["cutoff_for", "delete_before"]

_TIMED: Final = (
    ("task_metrics", "timestamp"),
    ("agent_metrics", "timestamp"),
    ("swarm_metrics", "timestamp"),
    ("health_events", "at"),
    ("alerts", "at"),
)
_ROLLUPS: Final = ("task_rollup_minute", "task_rollup_hour")
_UNUSED_AGENTS: Final = (
    "DELETE FROM agents WHERE (registered_at IS NULL OR unregistered_at < :cutoff) "
    + "".join(
        f"AND NOT EXISTS (SELECT 1 FROM {table} AS x WHERE x.agent_key = agents.agent_key) "
        for table in ("task_metrics", "agent_metrics", "health_events", "alerts")
    )
)


def cutoff_for(days: float, now: float) -> float:
    """Return the start of the hour ``days`` days before ``now``.

    Retention deletes whole hours, so that every rollup bucket left holds
    exactly the rows left: the data kept reaches back at most one hour more.
    """
    return float((now - days * 86_400.0) // HOUR * HOUR)


def delete_before(conn: sqlite3.Connection, cutoff: float) -> dict[str, int]:
    """Delete every row older than ``cutoff`` (an hour boundary); return counts per table.

    Rollup buckets go when they start before the cutoff; agents go when they
    unregistered before it (or never registered) and no row refers to them any
    more. Must run inside a write transaction.
    """
    counts: dict[str, int] = {}
    for table, column in _TIMED:
        counts[table] = conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,)).rowcount
    keys = [SWARM_KEY, *(row[0] for row in conn.execute("SELECT agent_key FROM agents"))]
    for table in _ROLLUPS:
        deleted = 0
        for key in keys:  # one primary-key range per agent, not a scan of the table
            deleted += conn.execute(
                f"DELETE FROM {table} WHERE agent_key = ? AND bucket_start < ?", (key, cutoff)
            ).rowcount
        counts[table] = deleted
    counts["agents"] = conn.execute(_UNUSED_AGENTS, {"cutoff": cutoff}).rowcount
    return counts
