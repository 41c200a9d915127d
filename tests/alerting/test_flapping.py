"""Flap detection as Nagios does it: one notice when flapping starts, one when it settles."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from actors.alerting.flap import FlapDetector, FlapSettings, percent_change
from tests.alerting.conftest import Receiver, delivered, settle, webhook_config


def test_nagios_weights_run_from_075_for_the_oldest_change_to_125_for_the_newest() -> None:
    """21 states: a change only at the start counts 0.75/20, only at the end 1.25/20."""
    assert percent_change(["a", "b"] + ["b"] * 19) == 0.75 * 100 / 20
    assert percent_change(["a"] * 20 + ["b"]) == 1.25 * 100 / 20
    assert percent_change(["a", "b"] * 10 + ["a"]) == 100.0


def test_flapping_starts_above_the_high_threshold_and_stops_below_the_low_one() -> None:
    """Thresholds are exclusive, as in Nagios, and configurable."""
    detector = FlapDetector(FlapSettings(high=30.0, low=20.0))
    changes = [detector.observe(s) for s in ["ok", "bad"] * 4]
    assert True in changes and detector.flapping
    settled = [detector.observe("ok") for _ in range(21)]
    assert settled.count(False) == 1 and not detector.flapping


def test_a_flapping_agent_gets_one_notice_instead_of_a_storm_and_one_when_it_settles(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """An agent that goes degraded and recovers ten times: one AgentFlapping notice, none
    of its degraded alerts, then one resolved AgentFlapping once it stays healthy."""
    config = webhook_config(receiver.url, group_wait="30s", group_interval="1m",
                            group_by=["alertname", "agent_id"])
    config["flapping"] = {"sample_interval": "10s"}
    swarm = make_system(config)
    swarm.register_agent("jittery", interval_ms=2000)
    swarm.check_agent_health("jittery")
    for _ in range(10):
        clock.advance(3)  # silent past its interval: DEGRADED
        swarm.update_agent_heartbeat("jittery")  # and back
    assert "jittery" in settle(swarm)["flapping_agents"]
    clock.advance(30)
    first = delivered(swarm, receiver, 1)[0].body
    assert first["groupLabels"] == {"alertname": "AgentFlapping", "agent_id": "jittery"}
    for _ in range(120):  # healthy from now on (a beat every 1.5 s), sampled every 10 s
        clock.advance(1.5)
        swarm.update_agent_heartbeat("jittery")
    stats = settle(swarm)
    assert stats["flapping_agents"] == []
    bodies = [r.body for r in delivered(swarm, receiver, 2)]
    for _ in range(100):  # still healthy: nothing more to say
        clock.advance(1.5)
        swarm.update_agent_heartbeat("jittery")
    assert settle(swarm)["notices_decided"] == 2
    assert [(b["groupLabels"]["alertname"], b["status"]) for b in bodies] == [
        ("AgentFlapping", "firing"), ("AgentFlapping", "resolved")]
