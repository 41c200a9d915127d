"""Tests for actors/aggregator.py: alone with a fake writer, and through the facade. It takes
telemetry from any actor, never loses a batch to one bad item, and sends its batches again
to a new writer until they are acknowledged."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
import pykka
import pytest

from actors import HeartbeatTracker, ManualClock, SwarmSystem
from actors.aggregator import AggregateState, MetricsAggregator
from actors.channel import TelemetryChannel
from actors.errors import UnknownMessage
from actors.pending import Acked, CountUnacked, ServiceStarted, WriteBatch
from actors.protocol import Drain, GetGauges, GetTaskStats, ReadQuarantine, Release
from actors.testing import service_ref
from messages import AgentMetric, HealthState, MetricBatch, SwarmMetric, TaskMetric, TaskResult
from storage import TaskColumns, decode_payload
from tests.actors.fakes import WAIT, Inbox, next_of


def _task(task_id: str, clock: ManualClock, agent: str = "worker") -> TaskMetric:
    return TaskMetric(task_id=task_id, agent_id=agent, duration_ms=5.0,
                      result=TaskResult.SUCCESS, timestamp=clock.time())


def _stored_ids(db_path: str) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT task_id FROM task_metrics ORDER BY id")]
    finally:
        conn.close()


class Impostor:
    """Hashes and compares equal to an agent id, and is no str."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id

    def __hash__(self) -> int:
        return hash(self.agent_id)

    def __eq__(self, other: object) -> bool:
        return other == self.agent_id


def test_one_impostor_agent_id_costs_only_itself(
    system: SwarmSystem, clock: ManualClock, db_path: str
) -> None:
    """1,000 valid metrics (a drain of 500, and a batch of 500 with one whose agent id only
    pretends to be a str): the 1,000 are stored and counted, the impostor quarantined."""
    system.record_task_metric("warm-up", "worker", 5.0, "success")
    system.flush()
    hostile = _task("impostor", clock)
    msgspec.structs.force_setattr(hostile, "agent_id", Impostor("worker"))
    for i in range(500):
        system.record_task_metric(f"t{i}", "worker", 5.0, "success")
    system.aggregator.tell(
        MetricBatch(metrics=[*(_task(f"t{i}", clock) for i in range(500, 1000)), hostile])
    )
    system.flush()
    assert sorted(_stored_ids(db_path)) == sorted(["warm-up", *(f"t{i}" for i in range(1000))])
    assert system.get_task_stats()["total_tasks"] == 1001
    collector = system.get_monitoring_stats()["metrics_collector"]
    assert collector["quarantined"] == 1
    assert collector["stored"] == 1001
    assert system.get_monitoring_stats()["supervision"]["service_restarts"]["aggregator"] == 0
    (kept,) = system.writer.ask(ReadQuarantine(), timeout=WAIT) or []
    assert kept.kind == "telemetry" and kept.encoding == "repr"
    assert "impostor" in decode_payload(kept)


def test_telemetry_told_by_any_actor_is_stored_and_counted(
    system: SwarmSystem, clock: ManualClock, db_path: str
) -> None:
    """TaskMetric, AgentMetric, SwarmMetric and MetricBatch told to the aggregator, and a
    TaskMetric told to the coordinator: all stored, counted, and the gauges readable."""
    system.aggregator.tell(_task("told", clock))
    system.coordinator.tell(_task("via-coordinator", clock))
    system.aggregator.tell(
        AgentMetric(agent_id="worker", metric_type="queue", value=3.0, timestamp=clock.time())
    )
    system.aggregator.tell(
        SwarmMetric(swarm_id="s", metric_type="load", value=0.5, timestamp=clock.time())
    )
    assert system.aggregator.ask(
        MetricBatch(metrics=[_task("batched-1", clock), _task("batched-2", clock, "other")]),
        timeout=WAIT,
    ) == 2
    system.snapshot()  # the coordinator has forwarded what it was told
    system.flush()
    assert sorted(_stored_ids(db_path)) == ["batched-1", "batched-2", "told", "via-coordinator"]
    assert system.get_task_stats()["total_tasks"] == 4
    assert system.get_agent_performance("other")["tasks_completed"] == 1
    gauges = system.aggregator.ask(GetGauges(), timeout=WAIT)
    assert gauges["agents"]["worker/queue"]["latest"] == 3.0
    assert gauges["swarm"]["load"]["latest"] == 0.5


@pytest.mark.parametrize("target", ["aggregator", "writer", "reporter", "coordinator", "tracker"])
def test_an_ask_an_actor_does_not_understand_raises_and_is_counted(
    system: SwarmSystem, target: str
) -> None:
    """Asked something it does not understand, an actor answers UnknownMessage naming the
    type; told it, the actor only counts it; either way it keeps running."""
    system.register_agent("worker")
    if target == "tracker":
        (ref,) = pykka.ActorRegistry.get_by_class(HeartbeatTracker)
    elif target == "coordinator":
        ref = system.coordinator
    else:
        ref = service_ref(system, target)

    class Nonsense:
        pass

    with pytest.raises(UnknownMessage, match="does not understand a Nonsense message"):
        ref.ask(Nonsense(), timeout=WAIT)
    ref.tell(Nonsense())
    assert ref.proxy().unknown_messages.get(timeout=WAIT) == 2
    assert ref.is_alive()
    if target != "tracker":
        assert system.get_monitoring_stats()["unknown_messages"][target] == 2
    assert system.check_agent_health("worker") is HealthState.HEALTHY
    system.record_task_metric("after", "worker", 1.0, "success")
    assert system.get_task_stats()["total_tasks"] == 1


def test_unacknowledged_batches_go_again_to_a_new_writer(clock: ManualClock) -> None:
    """Alone with fake writers: batches go out numbered; after an Acked(1), a new writer
    (ServiceStarted) gets every batch not acknowledged, in order, and only those."""
    old, old_inbox = Inbox.open()
    new, new_inbox = Inbox.open()
    channel = TelemetryChannel(clock.time, lambda: None)
    aggregator: pykka.ActorRef[Any] = MetricsAggregator.start(
        supervisor=None, channel=channel, state=AggregateState(), writer=old, time=clock.time
    )
    try:
        for name in ("one", "two", "three"):
            aggregator.tell(_task(name, clock))
        sent = [next_of(old_inbox, WriteBatch) for _ in range(3)]
        assert [m.seq for m in sent] == [1, 2, 3]
        assert [m.batch.tasks.task_ids[0] for m in sent] == ["one", "two", "three"]
        aggregator.tell(Acked(through=1))
        aggregator.tell(ServiceStarted(kind="writer", ref=new))
        again = [next_of(new_inbox, WriteBatch) for _ in range(2)]
        assert [(m.seq, m.batch.tasks.task_ids[0]) for m in again] == [(2, "two"), (3, "three")]
        assert all(m.reply_to == aggregator for m in again)
        assert aggregator.ask(CountUnacked(), timeout=WAIT) == 2
        aggregator.tell(Acked(through=3))
        assert aggregator.ask(CountUnacked(), timeout=WAIT) == 0
    finally:
        aggregator.stop()
        old.stop()
        new.stop()


def test_a_drain_takes_everything_buffered_before_it_replies(clock: ManualClock) -> None:
    """Alone with a fake writer: three chunks of 25,000 rows are buffered, each more than
    one tick takes. A Drain (what flush asks) replies only once all 75,000 are on their
    way to the writer, so a flush that waits for the writer next waits for them all."""
    writer, inbox = Inbox.open()
    channel = TelemetryChannel(clock.time, lambda: None)  # nobody is told to drain
    aggregator: pykka.ActorRef[Any] = MetricsAggregator.start(
        supervisor=None, channel=channel, state=AggregateState(), writer=writer, time=clock.time
    )
    try:
        channel.admit(["worker"])
        for k in range(3):
            channel.send_rows(TaskColumns.from_rows(
                [(f"t{k}-{i}", "worker", 5.0, "success", 0, 0, clock.time(), None)
                 for i in range(25_000)]
            ))
        assert aggregator.ask(Drain(), timeout=WAIT) == 75_000
        assert len(channel) == 0
        rows = 0
        while rows < 75_000:
            rows += len(next_of(inbox, WriteBatch).batch.tasks)
        assert rows == 75_000
    finally:
        aggregator.stop()
        writer.stop()


def test_an_agent_released_keeps_no_state_even_when_a_burst_was_buffered(clock: ManualClock) -> None:
    """Alone with a fake writer: 75,000 rows of an agent are buffered (more than one drain
    takes), then it leaves. Every row goes to the writer, and nothing of the agent stays
    in memory: no later drain brings its state back."""
    writer, inbox = Inbox.open()
    channel = TelemetryChannel(clock.time, lambda: None)
    aggregator: pykka.ActorRef[Any] = MetricsAggregator.start(
        supervisor=None, channel=channel, state=AggregateState(), writer=writer, time=clock.time
    )
    try:
        channel.admit(["leaver"])
        for k in range(3):
            channel.send_rows(TaskColumns.from_rows(
                [(f"t{k}-{i}", "leaver", 5.0, "success", 0, 0, clock.time(), None)
                 for i in range(25_000)]
            ))
        aggregator.tell(Release(agent_id="leaver"))
        aggregator.ask(CountUnacked(), timeout=WAIT)  # what the Release told itself is queued by now
        assert aggregator.ask(GetTaskStats(agent_id="leaver"), timeout=WAIT) is None
        assert len(channel) == 0
    finally:
        aggregator.stop()
        writer.stop()
