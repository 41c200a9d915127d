"""Escalation policies and acknowledgements, on a manual clock with a real receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors import ManualClock, SwarmSystem
from tests.alerting.conftest import Receiver, alert, delivered, settle, webhook_config


def _config(url: str, loops: int = 0) -> dict[str, Any]:
    config = webhook_config(url, group_wait="30s", group_interval="5m")
    config["route"]["routes"] = [{"matchers": ["alertname=Never"], "receiver": "team"}]
    config["receivers"] += [
        {"name": "oncall", "webhook_configs": [{"url": url.replace("/hook", "/oncall")}]},
        {"name": "manager", "webhook_configs": [{"url": url.replace("/hook", "/manager")}]},
    ]
    config["escalation_policies"] = [{
        "name": "page", "matchers": ["severity=critical"], "loops": loops, "ack_timeout": "30m",
        "levels": [{"delay": "5m", "receivers": ["oncall"]}, {"delay": "10m", "receivers": ["manager"]}],
    }]
    return config


def _paths(receiver: Receiver) -> list[str]:
    return [r.path for r in receiver.handled if r.path != "/hook"]


def test_an_unacknowledged_alert_climbs_the_levels_then_loops(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Level 0 at once, level 1 after level 0's delay, then from level 0 again (loops = 1)."""
    swarm = make_system(_config(receiver.url, loops=1))
    swarm.send_alert(alert("Down", "db", at=clock.time(), severity="critical"))
    delivered(swarm, receiver, 1)
    assert _paths(receiver) == ["/oncall"]
    clock.advance(299)
    settle(swarm)
    assert _paths(receiver) == ["/oncall"]
    clock.advance(1)
    delivered(swarm, receiver, 3)  # the team's group notice at 30 s, then the manager
    assert _paths(receiver) == ["/oncall", "/manager"]
    clock.advance(600)
    delivered(swarm, receiver, 4)
    clock.advance(300)
    delivered(swarm, receiver, 5)
    clock.advance(3600)
    settle(swarm)
    assert _paths(receiver) == ["/oncall", "/manager", "/oncall", "/manager"]


def test_an_acknowledgement_stops_the_escalation_until_it_times_out(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Acked after 1 min: no manager at 5 min; 30 min after the ack it re-triggers at level 0."""
    swarm = make_system(_config(receiver.url))
    page = alert("Down", "db", at=clock.time(), severity="critical")
    swarm.send_alert(page)
    delivered(swarm, receiver, 1)
    clock.advance(60)
    assert swarm.acknowledge_alert(page.fingerprint, "alice", "looking")
    assert not swarm.acknowledge_alert("0" * 16, "alice")
    clock.advance(1799)
    settle(swarm)
    assert _paths(receiver) == ["/oncall"]
    clock.advance(1)
    delivered(swarm, receiver, 3)
    assert _paths(receiver) == ["/oncall", "/oncall"]
    clock.advance(300)
    delivered(swarm, receiver, 4)
    assert _paths(receiver) == ["/oncall", "/oncall", "/manager"]


def test_a_resolved_alert_ends_its_escalation(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Resolved before level 1 is due: the manager is never paged."""
    swarm = make_system(_config(receiver.url))
    start = clock.time()
    swarm.send_alert(alert("Down", "db", at=start, severity="critical"))
    delivered(swarm, receiver, 1)
    clock.advance(100)
    swarm.send_alert(alert("Down", "db", at=start, ends=clock.time(), severity="critical"))
    clock.advance(3600)
    stats = settle(swarm)
    assert _paths(receiver) == ["/oncall"] and stats["escalations"] == 0
