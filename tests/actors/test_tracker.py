"""Health semantics through the real tracker actors, on a manual clock."""

from __future__ import annotations

import threading

import pytest

from actors import ManualClock, SwarmSystem, UnknownAgent
from messages import HealthState
from tests.events import EventLog


def test_a_silent_agent_goes_degraded_critical_failed_at_its_deadlines(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """Each state begins exactly at its deadline: 1x, 2x and 3x the interval."""
    system.register_agent("a")
    clock.advance(0.999)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    clock.advance(0.999)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.CRITICAL
    clock.advance(1.0)
    assert system.check_agent_health("a") is HealthState.FAILED
    events.wait_for(3)
    assert events.transitions("a") == [
        ("healthy", "degraded"),
        ("degraded", "critical"),
        ("critical", "failed"),
    ]


def test_one_long_silence_still_emits_every_state_in_order(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """Jumping far past every deadline skips no state."""
    system.register_agent("a")
    clock.advance(60)
    events.wait_for(3)
    assert [c for _, c in events.transitions("a")] == ["degraded", "critical", "failed"]
    ages = [e.heartbeat_age_ms for e in events.events]
    assert ages == [1000.0, 2000.0, 3000.0]


def test_any_heartbeat_brings_a_failed_agent_back_to_healthy(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """Recovery is one transition straight to HEALTHY, and the clock restarts."""
    system.register_agent("a")
    clock.advance(3.5)
    assert system.update_agent_heartbeat("a", {"note": "back"})
    assert system.check_agent_health("a") is HealthState.HEALTHY
    events.wait_for(4)
    assert events.transitions("a")[-1] == ("failed", "healthy")
    clock.advance(0.999)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.DEGRADED


def test_regular_heartbeats_keep_an_agent_healthy(system: SwarmSystem, clock: ManualClock) -> None:
    """An agent beating inside its interval never leaves HEALTHY."""
    system.register_agent("a")
    for _ in range(50):
        clock.advance(0.9)
        assert system.update_agent_heartbeat("a")
    assert system.get_unhealthy_agents() == []
    assert system.check_agent_health("a") is HealthState.HEALTHY


def test_per_agent_interval_and_threshold_override_the_defaults(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """An agent registered with its own interval and threshold follows them."""
    system.register_agent("slow", interval_ms=10_000, failure_threshold=5)
    system.register_agent("fast", interval_ms=100)
    clock.advance(0.3)
    assert system.check_agent_health("fast") is HealthState.FAILED
    assert system.check_agent_health("slow") is HealthState.HEALTHY
    clock.advance(40)
    assert system.check_agent_health("slow") is HealthState.CRITICAL
    clock.advance(10)
    assert system.check_agent_health("slow") is HealthState.FAILED


def test_a_stall_of_the_monitor_convicts_nobody(system: SwarmSystem, clock: ManualClock) -> None:
    """After the monitor itself was paused, agents get the pause as grace."""
    system.register_agent("a")
    clock.advance(0.5)
    clock.stall(30)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.499)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    assert system.get_monitoring_stats()["heartbeat_monitor"]["stalls"] == 1


def test_wall_clock_jumps_change_no_health(system: SwarmSystem, clock: ManualClock) -> None:
    """Health runs on the monotonic clock: an hour's jump either way is ignored."""
    system.register_agent("a")
    clock.jump_wall(3600)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.jump_wall(-7200)
    clock.advance(0.5)
    assert system.check_agent_health("a") is HealthState.HEALTHY


def test_heartbeat_history_keeps_the_last_n_with_metadata(
    clock: ManualClock, db_path: str
) -> None:
    """History is bounded by history_size and keeps each heartbeat's metadata."""
    from actors import start_system

    with start_system(db_path, history_size=5, clock=clock) as system:
        system.register_agent("a")
        for i in range(8):
            clock.advance(0.1)
            system.update_agent_heartbeat("a", {"i": i})
        history = system.get_heartbeat_history("a")
    assert [h["metadata"]["i"] for h in history] == [3, 4, 5, 6, 7]
    assert history[0]["timestamp"] < history[-1]["timestamp"]


def test_status_reports_state_age_and_last_heartbeat(system: SwarmSystem, clock: ManualClock) -> None:
    """get_agent_health_status gives the state string, last beat and its age."""
    system.register_agent("a")
    beat_at = clock.time()
    clock.advance(1.5)
    status = system.get_agent_health_status("a")
    assert status is not None
    assert status["health_state"] == "degraded"
    assert status["last_heartbeat"] == pytest.approx(beat_at)
    assert status["heartbeat_age_ms"] == pytest.approx(1500.0)
    assert status["tracked"] is True
    with pytest.raises(UnknownAgent):
        system.get_agent_health_status("nobody")


def test_unknown_agents_are_refused_clearly(system: SwarmSystem) -> None:
    """Health of an unknown agent raises UnknownAgent (a KeyError); heartbeats say False."""
    with pytest.raises(UnknownAgent) as caught:
        system.check_agent_health("ghost")
    assert isinstance(caught.value, KeyError)
    assert caught.value.agent_id == "ghost"
    assert system.update_agent_heartbeat("ghost") is False
    assert system.unregister_agent("ghost") is False


def test_register_twice_and_unregister(system: SwarmSystem) -> None:
    """A second registration says False; unregistering stops the tracking."""
    assert system.register_agent("a") is True
    assert system.register_agent("a") is False
    assert system.unregister_agent("a") is True
    with pytest.raises(UnknownAgent):
        system.check_agent_health("a")


def test_concurrent_heartbeats_from_many_threads_are_all_counted(
    system: SwarmSystem,
) -> None:
    """Eight threads beating at once lose no heartbeat."""
    for i in range(8):
        system.register_agent(f"agent-{i}")
    start = threading.Barrier(8)

    def beat(i: int) -> None:
        start.wait()
        for _ in range(100):
            assert system.update_agent_heartbeat(f"agent-{i}")

    threads = [threading.Thread(target=beat, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stats = system.get_monitoring_stats()
    assert stats["heartbeat_monitor"]["total_heartbeats"] == 800
    assert all(len(system.get_heartbeat_history(f"agent-{i}")) == 100 for i in range(8))
