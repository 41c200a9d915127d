"""Failure detection through the real trackers: phi accrual and at-risk warnings."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import ManualClock, SwarmSystem, start_system
from actors.analytics import PhiAccrual
from actors.testing import EventRecorder
from messages import Alert, HealthChanged, HealthState, InvalidMessage


@pytest.fixture
def phi_system(clock: ManualClock, tmp_path: Path) -> Iterator[SwarmSystem]:
    """A system whose agents have the phi detector by default, 1 s beats."""
    swarm = start_system(
        str(tmp_path / "phi.db"), heartbeat_interval_ms=1000, clock=clock, detector="phi"
    )
    yield swarm
    swarm.shutdown()


def _beat(
    system: SwarmSystem, clock: ManualClock, gaps: list[float], agents: tuple[str, ...] = ("a",)
) -> None:
    for gap in gaps:
        clock.advance(gap)
        for agent_id in agents:
            assert system.update_agent_heartbeat(agent_id)


def test_phi_fails_a_dead_agent_at_the_phi_threshold_not_at_three_intervals(
    phi_system: SwarmSystem, clock: ManualClock
) -> None:
    """Regular 1 s beats, then silence: FAILED exactly when phi reaches 8, well before 3 s."""
    recorder = EventRecorder()
    phi_system.subscribe(recorder)
    phi_system.register_agent("a")
    gaps = [1.0 + (0.02 if i % 2 else -0.02) for i in range(40)]
    _beat(phi_system, clock, gaps)
    model = PhiAccrual(1.0)
    for gap in gaps:
        model.add_gap(gap)
    failed_at = model.silence_for(8.0)
    assert failed_at < 2.0  # much sooner than the fixed 3 s
    status = phi_system.get_agent_health_status("a")
    assert status is not None and status["phi"] == 0.0
    clock.advance(failed_at - 1e-6)
    assert phi_system.check_agent_health("a") is HealthState.CRITICAL
    phi_before = phi_system.get_agent_health_status("a")["phi"]  # type: ignore[index]
    assert 3.0 <= phi_before < 8.0
    clock.advance(2e-6)
    assert phi_system.check_agent_health("a") is HealthState.FAILED
    failed = recorder.wait_for_transition("a", HealthState.FAILED)
    assert failed.heartbeat_age_ms == pytest.approx(failed_at * 1000.0)


def test_phi_keeps_an_agent_with_normal_jitter_healthy(
    phi_system: SwarmSystem, clock: ManualClock
) -> None:
    """200 beats around 1 s with 30 ms of jitter: not one transition."""
    recorder = EventRecorder()
    phi_system.subscribe(recorder)
    phi_system.register_agent("a")
    rng = random.Random(14)
    _beat(phi_system, clock, [max(0.5, rng.gauss(1.0, 0.03)) for _ in range(200)])
    assert phi_system.check_agent_health("a") is HealthState.HEALTHY
    assert recorder.transitions("a") == []


def test_an_agent_can_have_phi_in_a_fixed_system_and_fixed_reports_no_phi(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """detector= per agent overrides the system's; a fixed agent's phi is None."""
    system.register_agent("a", detector="phi")
    system.register_agent("b")
    _beat(system, clock, [1.0] * 20, ("a", "b"))
    status_b = system.get_agent_health_status("b")
    assert status_b is not None and status_b["phi"] is None
    clock.advance(1.4)  # a learned 1 s gaps, so 1.4 s of silence is suspicious
    status_a = system.get_agent_health_status("a")
    assert status_a is not None and status_a["phi"] is not None and status_a["phi"] > 1.0
    assert system.check_agent_health("a") is HealthState.CRITICAL  # phi >= 3
    assert system.check_agent_health("b") is HealthState.DEGRADED  # 1 x the interval


def test_a_bad_detector_name_is_refused_naming_the_field(
    system: SwarmSystem, tmp_path: Path
) -> None:
    """Per agent and system-wide, an unknown detector is an InvalidMessage."""
    with pytest.raises(InvalidMessage, match="detector"):
        system.register_agent("a", detector="psi")
    with pytest.raises(InvalidMessage, match="detector"):
        system.register_agents(["a", "b"], detector="")
    with pytest.raises(InvalidMessage, match="detector"):
        start_system(str(tmp_path / "x.db"), detector="akka")


def test_gaps_drifting_upward_raise_one_at_risk_warning_before_the_agent_degrades(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """Beats every 0.5 s, then later and later (still under the 1 s interval)."""
    recorder = EventRecorder()
    system.subscribe(recorder)
    system.register_agent("a")
    _beat(system, clock, [0.5] * 40)
    _beat(system, clock, [0.5 + 0.02 * i for i in range(1, 20)])  # up to 0.88 s
    alert = recorder.wait_for_alert("a")
    assert isinstance(alert, Alert)
    assert alert.metadata["alertname"] == "AgentAtRisk"
    assert alert.severity.value == "warning"
    assert "gaps rising" in alert.message
    assert len([a for a in recorder.alerts("a") if a.metadata.get("alertname") == "AgentAtRisk"]) == 1
    assert not any(isinstance(e, HealthChanged) for e in recorder.events)
    assert system.check_agent_health("a") is HealthState.HEALTHY


def test_an_at_risk_warning_resolves_once_the_gaps_are_back_to_normal(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """Gaps drift later (a warning), then go back to 0.5 s: the warning is resolved by an
    alert with ends_at, and the agent is no longer at risk."""
    recorder = EventRecorder()
    system.subscribe(recorder)
    system.register_agent("a")
    _beat(system, clock, [0.5] * 40)
    _beat(system, clock, [0.5 + 0.02 * i for i in range(1, 20)])
    recorder.wait_for_alert("a")
    _beat(system, clock, [0.5] * 100)
    warned, resolved = recorder.wait_for(
        lambda e: isinstance(e, Alert) and e.metadata.get("alertname") == "AgentAtRisk", count=2
    )
    assert "ends_at" not in warned.metadata
    assert resolved.metadata["ends_at"] == resolved.at
    assert "no longer at risk" in resolved.message
    status = system.get_agent_health_status("a")
    assert status is not None and status["at_risk"] is False
