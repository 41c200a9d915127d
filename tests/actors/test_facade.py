"""The facade's surface: its state is private, and what callers needed of it is public API."""

from __future__ import annotations

import pytest

from actors import ManualClock, SwarmSystem, SystemStopped, start_system
from actors.testing import parts, service_ref, wait_for_given_up
from messages import AgentMetric, Heartbeat, InvalidMessage, TaskMetric

HOT_PATHS = {"record_task_metric", "send"}  # the channel's bound methods, set at start


def test_every_attribute_of_the_facade_is_private(system: SwarmSystem) -> None:
    """Nothing of the system's state is a public attribute; only the two bound hot paths are."""
    public = {name for name in vars(system) if not name.startswith("_")}
    assert public == HOT_PATHS


def test_config_clock_and_coordinator_are_read_only(system: SwarmSystem, clock: ManualClock) -> None:
    """They say what the system runs with, and cannot be replaced from outside."""
    assert system.clock is clock
    assert system.config.swarm_id == "test-swarm" and system.config.heartbeat_interval_ms == 1000
    for name in ("clock", "config", "coordinator"):
        with pytest.raises(AttributeError):
            setattr(system, name, None)
    system.register_agent("a")
    assert system.coordinator.ask(Heartbeat(agent_id="a", timestamp=clock.time()), timeout=10) is True
    assert system.get_agent_health_status("a")["heartbeats"] == 1  # type: ignore[index]


def test_send_takes_built_telemetry_and_refuses_anything_else(system: SwarmSystem, clock: ManualClock) -> None:
    """A TaskMetric and an AgentMetric sent are stored; other objects are refused by name."""
    system.register_agent("a")
    system.send(TaskMetric(task_id="t", agent_id="a", duration_ms=5.0, result="success",
                           timestamp=clock.time()))
    system.send(AgentMetric(agent_id="a", metric_type="queue", value=2.0, timestamp=clock.time()))
    with pytest.raises(InvalidMessage) as caught:
        system.send("not a metric")  # type: ignore[arg-type]
    assert caught.value.field == "message"
    assert [m.task_id for m in system.query_task_metrics()] == ["t"]
    assert [m.value for m in system.get_agent_metrics("a")] == [2.0]


def test_send_after_shutdown_raises_at_once(clock: ManualClock, db_path: str) -> None:
    """A metric sent after shutdown is refused with SystemStopped, not dropped."""
    swarm = start_system(db_path, clock=clock)
    swarm.register_agent("a")
    send = swarm.send
    swarm.shutdown()
    metric = TaskMetric(task_id="t", agent_id="a", duration_ms=1.0, result="success", timestamp=clock.time())
    for call in (send, swarm.send):
        with pytest.raises(SystemStopped):
            call(metric)


def test_send_with_monitoring_off_records_nothing(clock: ManualClock, db_path: str) -> None:
    """As the record_* calls: accepted, not recorded."""
    with start_system(db_path, clock=clock, enable_monitoring=False) as swarm:
        swarm.register_agent("a")
        swarm.send(TaskMetric(task_id="t", agent_id="a", duration_ms=1.0, result="success",
                              timestamp=clock.time()))
        assert swarm.query_task_metrics() == []


def test_write_status_follows_metrics_from_the_buffer_into_sqlite(system: SwarmSystem) -> None:
    """Buffered and pending before a flush, stored and written after it; the same as the monitoring stats."""
    system.register_agents(["a", "b"])
    system.flush()
    before = system.get_write_status()
    for i in range(3):
        system.record_task_metric(f"t{i}", "a", 1.0, "success")
    waiting = system.get_write_status()
    assert waiting["buffered"] == 3 and waiting["pending_writes"] >= 3  # the manual clock never ticks
    system.flush()
    after = system.get_write_status()
    assert after["buffered"] == 0 and after["pending_writes"] == 0
    assert after["stored"] - before["stored"] >= 3
    assert after["written_rows"] - before["written_rows"] >= 3 and after["write_batches"] > before["write_batches"]
    assert (after["dropped"], after["quarantined"], after["write_failures"]) == (0, 0, 0)
    collector = system.get_monitoring_stats()["metrics_collector"]
    for key in ("pending_writes", "stored", "dropped", "quarantined", "write_failures"):
        assert collector[key] == after[key], key


def test_write_status_after_shutdown_raises(clock: ManualClock, db_path: str) -> None:
    """Like every other call after shutdown."""
    swarm = start_system(db_path, clock=clock)
    swarm.shutdown()
    with pytest.raises(SystemStopped):
        swarm.get_write_status()


def test_the_testing_helpers_see_supervision(system: SwarmSystem) -> None:
    """service_ref follows a restart; wait_for_given_up answers False while the service runs."""
    before = service_ref(system, "analyst")
    assert system.inject_fault("analyst", "a test crash")
    assert parts(system).services.wait_for_restarts(1, timeout=10)
    assert service_ref(system, "analyst") is not before
    assert service_ref(system, "coordinator") is system.coordinator
    assert wait_for_given_up(system, "analyst", timeout=0.05) is False
