"""An agent's pulse: heartbeats from the clock's thread, paused or stopped by the fault script."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actors import ManualClock, SwarmSystem, start_system
from demo.pulse import Pulse
from messages import HealthState
from tests.events import EventLog


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """A clock that moves only when the test advances it."""
    manual = ManualClock()
    yield manual
    manual.close()


@pytest.fixture
def events() -> EventLog:
    """Health transitions, as alert callbacks see them."""
    return EventLog()


@pytest.fixture
def system(clock: ManualClock, events: EventLog) -> Iterator[SwarmSystem]:
    """A system with 1 s heartbeats, FAILED after 3, and agent ``a`` registered."""
    swarm = start_system(heartbeat_interval_ms=1000, failure_threshold=3, clock=clock)
    swarm.configure_alerts(callbacks={state: events for state in HealthState})
    swarm.register_agent("a")
    yield swarm
    swarm.shutdown()


def _step(system: SwarmSystem, clock: ManualClock, seconds: float) -> dict[str, object]:
    """Advance, then return the status once every beat sent so far has reached the tracker."""
    clock.advance(seconds)
    status = system.get_agent_health_status("a")
    assert status is not None
    return status


def test_a_pulse_beats_every_half_interval(system: SwarmSystem, clock: ManualClock) -> None:
    """Two beats per interval keep the agent HEALTHY, each one counted by its tracker."""
    pulse = Pulse("a", system.coordinator, clock, 0.5)
    try:
        for _ in range(10):
            status = _step(system, clock, 0.5)
            assert status["health_state"] == "healthy"
        assert pulse.sent == 10
        assert status["heartbeats"] == 10
    finally:
        pulse.stop()


def test_a_paused_pulse_is_silent_for_exactly_the_pause(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """A 2.5-interval pause goes DEGRADED, CRITICAL, then HEALTHY, never FAILED."""
    pulse = Pulse("a", system.coordinator, clock, 0.5)
    try:
        _step(system, clock, 0.5)
        pulse.pause(2.5)
        _step(system, clock, 0.5)  # the last beat before the silence
        sent = pulse.sent
        clock.advance(2.4)
        assert pulse.sent == sent
        status = _step(system, clock, 0.1)  # the pause ends with a beat
        assert pulse.sent >= sent + 1  # a regular tick may fall at the same instant
        assert status["health_state"] == "healthy"
        for _ in range(6):
            _step(system, clock, 0.5)
        assert events.wait_for(3) and events.transitions("a") == [
            ("healthy", "degraded"), ("degraded", "critical"), ("critical", "healthy")
        ]
    finally:
        pulse.stop()


def test_a_stopped_pulse_never_beats_again(system: SwarmSystem, clock: ManualClock) -> None:
    """After stop the agent goes FAILED and stays so; the count stops."""
    pulse = Pulse("a", system.coordinator, clock, 0.5)
    _step(system, clock, 1.0)
    pulse.stop()
    sent = pulse.sent
    status = _step(system, clock, 10.0)
    assert pulse.sent == sent == 2
    assert status["health_state"] == "failed"
    pulse.stop()  # idempotent
