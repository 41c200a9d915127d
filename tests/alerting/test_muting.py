"""Inhibition and silences, on a manual clock with a real receiver."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actors import ManualClock, SwarmSystem
from messages import InvalidMessage
from messages.alerting import SilenceMatcher, SilenceSpec
from tests.alerting.conftest import Receiver, alert, delivered, settle, webhook_config

BY_AGENT = {"group_wait": "30s", "group_interval": "1m", "group_by": ["alertname", "agent_id"]}


def test_an_agents_failed_inhibits_its_degraded_and_critical(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """A silent agent goes DEGRADED, CRITICAL, FAILED: only AgentFailed is notified."""
    swarm = make_system(webhook_config(receiver.url, **BY_AGENT))
    swarm.register_agent("coder")
    swarm.check_agent_health("coder")  # its tracker has armed its timer
    clock.advance(3.5)
    assert settle(swarm)["alerts_received"] == 3
    clock.advance(60)
    body = delivered(swarm, receiver, 1)[0].body
    clock.advance(120)
    assert settle(swarm)["notices_decided"] == 1
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["AgentFailed"]


def test_a_monitor_stall_inhibits_per_agent_alerts_until_it_resolves(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """While MonitorStall fires, an agent's alert is held; after it resolves (5 min) it goes out."""
    swarm = make_system(webhook_config(receiver.url, **BY_AGENT))
    clock.stall(1.0)
    settle(swarm)
    swarm.send_alert(alert("HighFailureRate", "coder", at=clock.time(), scope="agent"))
    clock.advance(31)
    first = delivered(swarm, receiver, 1)[0].body
    assert first["groupLabels"]["alertname"] == "MonitorStall"
    clock.advance(240)  # the stall still fires: the agent's alert stays held
    assert settle(swarm)["notices_decided"] == 1
    clock.advance(120)  # the stall resolved at 5 min; the next flush lets the agent's through
    bodies = [r.body for r in delivered(swarm, receiver, 3)]
    names = sorted((b["groupLabels"]["alertname"], b["status"]) for b in bodies)
    assert names == [("HighFailureRate", "firing"), ("MonitorStall", "firing"), ("MonitorStall", "resolved")]


def _silence(clock: ManualClock, start: float, end: float) -> SilenceSpec:
    return SilenceSpec(
        matchers=[SilenceMatcher(name="agent_id", value="coder-.*", is_regex=True)],
        starts_at=clock.time() + start, ends_at=clock.time() + end, created_by="ops",
        comment="maintenance",
    )


def test_a_silence_mutes_while_active_and_the_alert_goes_out_when_it_ends(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """A silence from 10 s to 5 min: pending, active (nothing sent), expired (sent)."""
    swarm = make_system(webhook_config(receiver.url, **BY_AGENT))
    silence_id = swarm.add_silence(_silence(clock, 10, 300))
    assert [state for _, state in swarm.list_silences()] == ["pending"]
    swarm.send_alert(alert("Busy", "coder-1", at=clock.time() + 20))
    clock.advance(20)
    assert [state for _, state in swarm.list_silences()] == ["active"]
    clock.advance(270)  # flushes at 50 s, 110 s, ... : all muted
    assert settle(swarm)["notices_decided"] == 0
    clock.advance(20)  # expired at 300 s; flushed at 350 s
    clock.advance(40)
    body = delivered(swarm, receiver, 1)[0].body
    assert body["alerts"][0]["labels"]["agent_id"] == "coder-1"
    spec, state = swarm.list_silences()[0]
    assert (spec.silence_id, state, spec.created_by, spec.comment) == (silence_id, "expired", "ops", "maintenance")


def test_expiring_a_silence_lets_its_alerts_through_at_the_next_flush(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """expire_silence ends it now; an unknown id gives False; a bad regex is refused by name."""
    swarm = make_system(webhook_config(receiver.url, **BY_AGENT))
    silence_id = swarm.add_silence(_silence(clock, 0, 3600))
    swarm.send_alert(alert("Busy", "coder-1", at=clock.time()))
    clock.advance(90)
    assert settle(swarm)["notices_decided"] == 0
    assert swarm.expire_silence(silence_id) and not swarm.expire_silence("nope")
    clock.advance(60)
    delivered(swarm, receiver, 1)
    bad = SilenceSpec(matchers=[SilenceMatcher(name="agent_id", value="(", is_regex=True)],
                      starts_at=clock.time(), ends_at=clock.time() + 60, created_by="ops", comment="x")
    with pytest.raises(InvalidMessage, match=r"matchers\[0\]\.value"):
        swarm.add_silence(bad)
