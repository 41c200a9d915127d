"""Tests for storage/retention.py: deleting old rows in every table, rollups included."""

from __future__ import annotations

import pytest

from messages import InvalidMessage
from storage import MetricsStorage
from storage.retention import cutoff_for

from .builders import (
    T0,
    agent_metric,
    alert,
    assert_stats_match,
    expected_stats,
    health,
    registered,
    row,
    swarm_metric,
    unregistered,
)

DAY = 86_400.0
NOW = T0 + 40 * DAY + 1234.5


def test_the_cutoff_is_the_start_of_the_hour_days_ago() -> None:
    """30 days before now, rounded down to the hour."""
    cutoff = cutoff_for(30, NOW)
    assert cutoff % 3600 == 0
    assert NOW - 30 * DAY - 3600 < cutoff <= NOW - 30 * DAY


def test_old_rows_go_from_every_table_and_are_counted(storage: MetricsStorage) -> None:
    """Rows older than the cutoff are deleted and counted per table; newer ones stay."""
    old, new = T0 + 2 * DAY, NOW - DAY
    storage.store_batch(
        tasks=[row("old", "gone", timestamp=old), row("new", "kept", timestamp=new)],
        agent_metrics=[agent_metric("gone", timestamp=old), agent_metric("kept", timestamp=new)],
        swarm_metrics=[swarm_metric(timestamp=old), swarm_metric(timestamp=new)],
        health_events=[health("kept", at=old), health("kept", at=new)],
        alerts=[alert("*", at=old), alert("kept", at=new)],
        agent_events=[registered("gone", at=old), unregistered("gone", at=old + 1)],
    )
    counts = storage.apply_retention(30, now=NOW)
    assert counts == {
        "task_metrics": 1,
        "agent_metrics": 1,
        "swarm_metrics": 1,
        "health_events": 1,
        "alerts": 1,
        "task_rollup_minute": 2,  # the agent's and the swarm's
        "task_rollup_hour": 2,
        "agents": 1,
    }
    assert [m.task_id for m in storage.query_task_metrics()] == ["new"]
    assert len(storage.query_agent_metrics()) == 1
    assert len(storage.query_swarm_metrics()) == 1
    assert len(storage.query_health_events()) == 1
    assert len(storage.query_alerts()) == 1
    assert storage.agent_ids() == ["kept"]


def test_registered_agents_stay_even_without_rows(storage: MetricsStorage) -> None:
    """An agent still registered keeps its record when all its rows are gone."""
    storage.store_batch(tasks=[row(timestamp=T0)], agent_events=[registered("a1", at=T0)])
    assert storage.apply_retention(30, now=NOW)["agents"] == 0
    assert storage.agent_ids() == ["a1"]


def test_stats_after_retention_match_the_rows_left(storage: MetricsStorage) -> None:
    """Rollups lose exactly what the rows lose: stats from rollups equal the rows left."""
    rows = [
        row(f"t{i}", f"a{i % 3}", float(i % 97) + 0.5, timestamp=NOW - 35 * DAY + i * 1800.0)
        for i in range(35 * 48)
    ]
    with MetricsStorage(":memory:", exact_max_rows=0) as rolled:
        rolled.store_batch(tasks=rows)
        rolled.apply_retention(30, now=NOW)
        cutoff = cutoff_for(30, NOW)
        kept = [r for r in rows if r[6] >= cutoff]
        assert len(rolled.query_task_metrics()) == len(kept)
        assert_stats_match(dict(rolled.task_stats()), expected_stats(kept), exact=False)


def test_retention_with_nothing_old_deletes_nothing(storage: MetricsStorage) -> None:
    """Fresh data survives; every count is zero."""
    storage.store_batch(tasks=[row(timestamp=NOW - 60)])
    assert set(storage.apply_retention(30, now=NOW).values()) == {0}


def test_negative_days_are_refused(storage: MetricsStorage) -> None:
    """days must be >= 0."""
    with pytest.raises(InvalidMessage):
        storage.apply_retention(-1, now=NOW)
