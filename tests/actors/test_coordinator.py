"""Supervision through the real actors: restarts keep state, intensity is bounded."""

from __future__ import annotations

import pykka

from actors import HeartbeatTracker, ManualClock, SwarmSystem
from actors.protocol import GetStatus
from actors.testing import wait_for_restarts
from messages import Crash, HealthState
from tests.events import EventLog


def _tracker(agent_id: str) -> pykka.ActorRef[HeartbeatTracker]:
    refs = [
        ref
        for ref in pykka.ActorRegistry.get_by_class(HeartbeatTracker)
        if ref.is_alive() and ref.ask(GetStatus(agent_id=agent_id), timeout=10).agent_id == agent_id
    ]
    assert len(refs) == 1
    return refs[0]


def test_a_crashed_tracker_is_restarted_with_its_state_intact(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """After a crash the agent keeps its health, history and deadlines."""
    system.register_agent("a")
    for i in range(3):
        clock.advance(0.5)
        system.update_agent_heartbeat("a", {"i": i})
    clock.advance(1.2)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    old = _tracker("a")
    old.tell(Crash(reason="test crash"))
    assert wait_for_restarts(system, 1, timeout=10)
    assert _tracker("a") is not old
    assert system.check_agent_health("a") is HealthState.DEGRADED
    assert [h["metadata"]["i"] for h in system.get_heartbeat_history("a")] == [0, 1, 2]
    clock.advance(0.8)
    assert system.check_agent_health("a") is HealthState.CRITICAL
    events.wait_for(2)
    assert events.transitions("a") == [("healthy", "degraded"), ("degraded", "critical")]
    assert system.get_monitoring_stats()["supervision"]["tracker_restarts"] == 1


def test_heartbeats_sent_around_a_crash_are_not_lost(system: SwarmSystem) -> None:
    """Beats queued behind the crash reach the next incarnation."""
    system.register_agent("a")
    _tracker("a").tell(Crash())
    for _ in range(20):
        system.update_agent_heartbeat("a")
    assert wait_for_restarts(system, 1, timeout=10)
    assert system.get_agent_health_status("a")["heartbeats"] == 20  # type: ignore[index]


def test_a_crash_loop_ends_in_failed_with_a_critical_alert(
    system: SwarmSystem, events: EventLog
) -> None:
    """Past 3 restarts in 5 s the agent is marked FAILED, not restarted forever."""
    system.register_agent("a")
    for restart in range(1, 4):
        _tracker("a").tell(Crash(reason=f"loop {restart}"))
        assert wait_for_restarts(system, restart, timeout=10)
    _tracker("a").tell(Crash(reason="loop 4"))
    events.wait_for(3)
    assert system.check_agent_health("a") is HealthState.FAILED
    assert [c for _, c in events.transitions("a")] == ["degraded", "critical", "failed"]
    report = system.generate_report("json")
    assert "crashed more than 3 times" in report
    assert not [r for r in pykka.ActorRegistry.get_by_class(HeartbeatTracker) if r.is_alive()]


def test_crashed_services_are_restarted_and_no_metric_is_lost(
    system: SwarmSystem,
) -> None:
    """The aggregator, writer and reporter each come back; every metric is stored."""
    for i in range(100):
        system.record_task_metric(f"t{i}", "a", 10.0, "success")
    system.aggregator.tell(Crash())
    assert wait_for_restarts(system, 1, timeout=10)
    for i in range(100, 200):
        system.record_task_metric(f"t{i}", "a", 10.0, "success")
    system.writer.tell(Crash())
    assert wait_for_restarts(system, 2, timeout=10)
    system.reporter.tell(Crash())
    assert wait_for_restarts(system, 3, timeout=10)
    stored = system.query_task_metrics()
    assert sorted(m.task_id for m in stored) == sorted(f"t{i}" for i in range(200))
    assert system.get_monitoring_stats()["supervision"]["service_restarts"] == {
        "writer": 1, "aggregator": 1, "reporter": 1, "analyst": 0,
    }


def test_an_unknown_message_is_counted_not_fatal(system: SwarmSystem) -> None:
    """A message the coordinator does not understand leaves it running."""
    system.coordinator.tell("what is this?")
    assert system.register_agent("still-works")
    assert system.coordinator.proxy().unknown_messages.get(timeout=10) == 1
