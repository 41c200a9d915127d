"""Tests for storage/writer.py: every write is one transaction, kept whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from messages import AgentRegistered, InvalidMessage
from storage import AgentRecord, MetricsStorage, StorageError, task_row

from .builders import (
    T0,
    agent_metric,
    alert,
    health,
    registered,
    row,
    swarm_metric,
    task,
    unregistered,
)

METADATA: dict[str, Any] = {"model": "m-1", "tags": ["a", "b"], "cost": 0.25, "ok": True, "n": None}


def table_counts(storage: MetricsStorage) -> dict[str, int]:
    """How many messages each query returns."""
    return {
        "tasks": len(storage.query_task_metrics()),
        "agent_metrics": len(storage.query_agent_metrics()),
        "swarm_metrics": len(storage.query_swarm_metrics()),
        "health_events": len(storage.query_health_events()),
        "alerts": len(storage.query_alerts()),
        "agents": len(storage.agents()),
    }


def test_every_message_type_round_trips(storage: MetricsStorage) -> None:
    """Each store_* then query_* returns an equal message, metadata included."""
    metric = task(metadata=METADATA, tokens_used=7, files_changed=2, result="partial")
    gauge = agent_metric(value=-3.5)
    swarm = swarm_metric(value=1e9)
    event = health(previous="degraded", current="critical")
    warning = alert(severity="critical")
    storage.store_task_metric(metric)
    storage.store_agent_metric(gauge)
    storage.store_swarm_metric(swarm)
    storage.store_health_event(event)
    storage.store_alert(warning)
    assert storage.query_task_metrics() == [metric]
    assert storage.query_agent_metrics() == [gauge]
    assert storage.query_swarm_metrics() == [swarm]
    assert storage.query_health_events() == [event]
    assert storage.query_alerts() == [warning]


def test_plural_writes_store_every_item(storage: MetricsStorage) -> None:
    """The iterable forms store all they are given (generators too)."""
    storage.store_task_metrics(task(f"t{i}", timestamp=T0 + i) for i in range(3))
    storage.store_agent_metrics(agent_metric(timestamp=T0 + i) for i in range(4))
    storage.store_swarm_metrics(swarm_metric(timestamp=T0 + i) for i in range(5))
    storage.store_health_events(health(at=T0 + i) for i in range(6))
    storage.store_alerts(alert(at=T0 + i) for i in range(7))
    assert table_counts(storage) == {
        "tasks": 3,
        "agent_metrics": 4,
        "swarm_metrics": 5,
        "health_events": 6,
        "alerts": 7,
        "agents": 1,
    }


def test_task_rows_and_task_metrics_are_stored_alike(storage: MetricsStorage) -> None:
    """A TaskRow tuple and the TaskMetric it came from read back as the same message."""
    metric = task(metadata={"k": 1})
    storage.store_batch(tasks=[metric, task_row(task("t2", metadata={"k": 1}))])
    first, second = storage.query_task_metrics()
    assert first == metric
    assert second == task("t2", metadata={"k": 1})


def test_store_batch_stores_everything_at_once(storage: MetricsStorage) -> None:
    """One store_batch writes tasks, gauges, events, alerts and agent changes together."""
    storage.store_batch(
        tasks=[row("t1"), task("t2")],
        agent_metrics=[agent_metric()],
        swarm_metrics=[swarm_metric()],
        health_events=[health()],
        alerts=[alert(), alert(agent_id="*")],
        agent_events=[registered("a2")],
    )
    assert table_counts(storage) == {
        "tasks": 2,
        "agent_metrics": 1,
        "swarm_metrics": 1,
        "health_events": 1,
        "alerts": 2,
        "agents": 2,
    }


@pytest.mark.parametrize(
    "bad_last",
    [
        pytest.param(
            {"tasks": [row("bad", duration_ms=None)]},  # type: ignore[arg-type]
            id="null-duration",
        ),
        pytest.param({"tasks": [row("bad", metadata={"f": object()})]}, id="unencodable"),
        pytest.param({"tasks": [row("bad", duration_ms=-1.0)]}, id="negative-duration"),
        pytest.param(
            {
                "agent_events": [
                    AgentRegistered(agent_id="", at=T0, interval_ms=1, failure_threshold=2)
                ]
            },
            id="invalid-registration",
        ),
    ],
)
def test_a_batch_whose_last_item_fails_leaves_nothing(
    storage: MetricsStorage, bad_last: dict[str, list[Any]]
) -> None:
    """If anything in a batch fails, nothing of the batch is stored, rollups and agents included."""
    storage.store_batch(tasks=[row("before")])
    good: dict[str, list[Any]] = {
        "tasks": [row(f"t{i}", f"new-agent-{i}", timestamp=T0 + 61 * i) for i in range(50)],
        "agent_metrics": [agent_metric("gauge-agent")],
        "health_events": [health("health-agent")],
        "alerts": [alert("alert-agent")],
        "agent_events": [registered("registered-agent")],
    }
    for kind, items in bad_last.items():
        good[kind] = good.get(kind, []) + items
    with pytest.raises((StorageError, InvalidMessage, TypeError, ValueError)):
        storage.store_batch(**good)
    assert [m.task_id for m in storage.query_task_metrics()] == ["before"]
    assert storage.agent_ids() == ["a1"]
    assert table_counts(storage)["alerts"] == 0
    assert storage.task_stats()["total_tasks"] == 1
    storage.store_batch(tasks=[row("after", "new-agent-3")])  # and the storage carries on
    assert storage.task_stats(agent_id="new-agent-3")["total_tasks"] == 1


def test_a_storage_failure_mid_batch_is_a_storage_error(storage: MetricsStorage) -> None:
    """A row SQLite refuses (NOT NULL) raises StorageError naming store_batch."""
    with pytest.raises(StorageError) as info:
        storage.store_batch(tasks=[row(), row("bad", result=None)])  # type: ignore[arg-type]
    assert info.value.operation == "store_batch"
    assert "NOT NULL" in info.value.reason


def test_metrics_from_unknown_agents_create_agent_records(storage: MetricsStorage) -> None:
    """Data naming an unregistered agent is stored, and the agent appears unregistered."""
    storage.store_batch(tasks=[row(agent_id="stranger")], health_events=[health("ghost")])
    assert storage.agents() == [AgentRecord(agent_id="ghost"), AgentRecord(agent_id="stranger")]


def test_registration_sets_the_record_and_clears_unregistration(storage: MetricsStorage) -> None:
    """Register, unregister, register again: the record shows the last registration."""
    storage.store_agent_events([registered("a1", at=T0, zone="eu"), unregistered("a1", at=T0 + 10)])
    (record,) = storage.agents()
    assert (record.registered_at, record.unregistered_at) == (T0, T0 + 10)
    assert (record.interval_ms, record.failure_threshold) == (1000, 3)
    assert record.metadata == {"zone": "eu"}
    storage.store_agent_event(
        AgentRegistered(agent_id="a1", at=T0 + 20, interval_ms=500, failure_threshold=4)
    )
    (record,) = storage.agents()
    assert record == AgentRecord(
        agent_id="a1", registered_at=T0 + 20, interval_ms=500, failure_threshold=4
    )


def test_many_agent_events_in_one_batch_apply_in_order(storage: MetricsStorage) -> None:
    """9,000 agents (more than one statement holds) register, the odd ones leave, and agent
    0 registers a second time, all in one batch: each record shows its last event."""
    events: list[Any] = [registered(f"a{i}", at=T0) for i in range(9000)]
    events += [unregistered(f"a{i}", at=T0 + 1) for i in range(1, 9000, 2)]
    events += [registered("a1", at=T0 + 2, zone="back"), registered("a0", at=T0 + 3)]
    storage.store_agent_events(events)
    records = {record.agent_id: record for record in storage.agents()}
    assert len(records) == 9000
    assert (records["a0"].registered_at, records["a0"].unregistered_at) == (T0 + 3, None)
    assert (records["a1"].registered_at, records["a1"].unregistered_at) == (T0 + 2, None)
    assert records["a1"].metadata == {"zone": "back"}
    assert (records["a3"].registered_at, records["a3"].unregistered_at) == (T0, T0 + 1)
    assert records["a8998"].unregistered_at is None
    left = sum(record.unregistered_at is not None for record in records.values())
    assert left == 4500 - 1  # a1 came back


def test_unregistering_an_unknown_agent_records_it(storage: MetricsStorage) -> None:
    """An unregistration for an agent never seen creates its record with unregistered_at."""
    storage.store_agent_event(unregistered("late", at=T0))
    assert storage.agents() == [AgentRecord(agent_id="late", unregistered_at=T0)]


def test_agent_events_are_checked_since_they_do_not_check_themselves(
    storage: MetricsStorage,
) -> None:
    """An AgentRegistered with a bad field raises InvalidMessage naming it; nothing is stored."""
    bad = AgentRegistered(agent_id="a1", at=T0, interval_ms=-5, failure_threshold=3)
    with pytest.raises(InvalidMessage) as info:
        storage.store_agent_event(bad)
    assert info.value.field == "interval_ms"
    assert storage.agents() == []


def test_swarm_alerts_do_not_create_an_agent(storage: MetricsStorage) -> None:
    """An alert about agent '*' (the swarm) is stored without an agent record."""
    storage.store_alert(alert(agent_id="*"))
    assert storage.agent_ids() == []
    assert storage.query_alerts()[0].agent_id == "*"


def test_raw_insert_stores_rows_without_rollups_until_rebuilt(db_path: Path) -> None:
    """raw_insert_task_rows is a plain insert: rollups stay stale until rebuild_rollups."""
    rows = [row(f"t{i}", timestamp=T0 + 30 * i, duration_ms=float(i + 1)) for i in range(100)]
    with MetricsStorage(db_path, exact_max_rows=0) as storage:
        storage.store_batch(tasks=rows[:10])
        storage.raw_insert_task_rows(rows[10:])
        assert len(storage.query_task_metrics()) == 100
        assert storage.task_stats()["total_tasks"] == 10  # what the rollups know
        assert storage.rebuild_rollups() == 100
        assert storage.task_stats()["total_tasks"] == 100
        assert storage.task_stats()["max_duration_ms"] == 100.0


def test_precomputed_minute_summaries_give_the_same_rollups(tmp_path: Path) -> None:
    """store_batch with the caller's (agent, minute) summaries equals summarising the rows."""
    from storage import TaskSummary

    rows = [
        row(task_id=f"t{i}", agent_id=f"a{i % 3}", duration_ms=10.0 + i * 7 % 500,
            result=("success", "failure", "timeout")[i % 3], timestamp=T0 + i * 13.7)
        for i in range(600)
    ]
    summaries: dict[tuple[str, int], TaskSummary] = {}
    for r in rows:
        key = (r[1], int(r[6] // 60.0) * 60)
        summaries.setdefault(key, TaskSummary()).add(r[2], r[3], r[4], r[5])
    before = {key: summary.to_bytes() for key, summary in summaries.items()}
    with (
        MetricsStorage(tmp_path / "plain.db", exact_max_rows=0) as plain,
        MetricsStorage(tmp_path / "fast.db", exact_max_rows=0) as fast,
    ):
        plain.store_batch(tasks=rows[:300])
        plain.store_batch(tasks=rows[300:])
        fast.store_batch(tasks=rows, task_rollups=summaries)
        for window in [{}, {"agent_id": "a1"}, {"start_time": T0 + 900, "end_time": T0 + 7000}]:
            stats = fast.task_stats(**window)
            assert stats == plain.task_stats(**window)
            assert stats["total_tasks"] > 0 and not stats["exact"]
    assert {key: summary.to_bytes() for key, summary in summaries.items()} == before
