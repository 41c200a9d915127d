"""Tests for storage/inserts.py: how messages become rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from messages import InvalidMessage
from storage import MetricsStorage, task_row
from storage.inserts import INSERT_TASK_SQL, as_task_rows

from .builders import T0, alert, health, row, task


def test_as_task_rows_converts_metrics_and_passes_rows_through() -> None:
    """TaskMetrics become rows; tuples are not copied or checked."""
    existing = row("r")
    rows = as_task_rows([task("m"), existing])
    assert rows[0] == task_row(task("m"))
    assert rows[1] is existing


def test_agents_are_stored_by_integer_key(db_path: Path) -> None:
    """Every table but agents holds the integer agent_key, not the id."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=[row(agent_id="worker-7")], health_events=[health("worker-7")])
    conn = sqlite3.connect(db_path)
    key = conn.execute("SELECT agent_key FROM agents WHERE agent_id = 'worker-7'").fetchone()[0]
    assert conn.execute("SELECT agent_key, typeof(agent_key) FROM task_metrics").fetchone() == (
        key,
        "integer",
    )
    assert conn.execute("SELECT agent_key FROM health_events").fetchone() == (key,)
    conn.close()


def test_times_are_real_epoch_seconds_and_empty_metadata_is_null(db_path: Path) -> None:
    """Timestamps are stored as REAL; no metadata is NULL; metadata is JSON text."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=[row("a", timestamp=T0), row("b", metadata={"k": 1})])
    conn = sqlite3.connect(db_path)
    stored = conn.execute(
        "SELECT typeof(timestamp), metadata, typeof(metadata) FROM task_metrics ORDER BY id"
    ).fetchall()
    conn.close()
    assert stored == [("real", None, "null"), ("real", '{"k":1}', "text")]


def test_swarm_alerts_have_no_agent_key(db_path: Path) -> None:
    """An alert for '*' is stored with a NULL agent_key."""
    with MetricsStorage(db_path) as storage:
        storage.store_alert(alert("*"))
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT agent_key FROM alerts").fetchone() == (None,)
    conn.close()


def test_the_insert_statement_names_every_task_column() -> None:
    """INSERT_TASK_SQL inserts the eight task columns, agent by key."""
    assert INSERT_TASK_SQL.count("?") == 8
    assert "agent_key" in INSERT_TASK_SQL


def test_agent_events_must_be_agent_events(storage: MetricsStorage) -> None:
    """Anything else in agent_events is refused."""
    with pytest.raises(InvalidMessage):
        storage.store_agent_events([health()])  # type: ignore[list-item]
