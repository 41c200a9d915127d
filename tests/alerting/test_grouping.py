"""group_wait, group_interval, repeat_interval and resolved notices, on a manual clock."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from tests.alerting.conftest import Receiver, alert, delivered, settle, webhook_config


def test_a_new_group_waits_group_wait_then_notifies_once(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Two alerts of one group within group_wait give one notice, with both, at group_wait."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s"))
    now = clock.time()
    swarm.send_alert(alert(agent="a1", at=now))
    clock.advance(10)
    swarm.send_alert(alert(agent="a2", at=clock.time()))
    clock.advance(19)
    assert settle(swarm)["notices_decided"] == 0
    clock.advance(1)
    body = delivered(swarm, receiver, 1)[0].body
    assert body["version"] == "4" and body["status"] == "firing"
    assert sorted(a["labels"]["agent_id"] for a in body["alerts"]) == ["a1", "a2"]
    assert body["groupLabels"] == {"alertname": "Test"}
    assert settle(swarm)["notices_delivered"] == 1


def test_a_changed_group_waits_group_interval_and_an_unchanged_one_repeat_interval(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """After the first notice: a new alert goes out at the next group_interval; nothing
    else until repeat_interval re-sends the unchanged group."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_interval="5m",
                                       repeat_interval="1h"))
    swarm.send_alert(alert(agent="a1", at=clock.time()))
    clock.advance(30)
    delivered(swarm, receiver, 1)
    swarm.send_alert(alert(agent="a2", at=clock.time()))
    clock.advance(299)
    assert settle(swarm)["notices_decided"] == 1
    clock.advance(1)
    assert len(delivered(swarm, receiver, 2)[1].body["alerts"]) == 2
    clock.advance(3299)  # unchanged group: the interval ticks in the hour send nothing
    assert settle(swarm)["notices_decided"] == 2
    clock.advance(301)  # the first tick an hour after the last notice
    delivered(swarm, receiver, 3)
    assert settle(swarm)["notices_delivered"] == 3


def test_a_resolved_alert_is_sent_at_the_next_interval_or_at_once(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """send_resolved: the resolved notice goes out at the next group_interval; with
    resolve_immediately, as soon as the alert resolves."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_interval="5m"))
    start = clock.time()
    swarm.send_alert(alert(agent="a1", at=start))
    clock.advance(30)
    delivered(swarm, receiver, 1)
    clock.advance(10)
    swarm.send_alert(alert(agent="a1", at=start, ends=clock.time()))
    assert settle(swarm)["notices_decided"] == 1
    clock.advance(289)
    assert settle(swarm)["notices_decided"] == 1
    clock.advance(1)  # the group_interval tick after the first notice
    body = delivered(swarm, receiver, 2)[1].body
    assert body["status"] == "resolved" and body["alerts"][0]["status"] == "resolved"
    assert body["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"


def test_resolve_immediately_sends_the_resolved_notice_without_waiting(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """resolve_immediately = true: no group_interval wait for a resolved notice."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_interval="5m",
                                       resolve_immediately=True))
    start = clock.time()
    swarm.send_alert(alert(agent="a1", at=start))
    clock.advance(30)
    delivered(swarm, receiver, 1)
    clock.advance(10)
    swarm.send_alert(alert(agent="a1", at=start, ends=clock.time()))
    body = delivered(swarm, receiver, 2)[1].body
    assert body["status"] == "resolved"
