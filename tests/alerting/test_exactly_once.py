"""The notification log decides each send: a group's state is notified exactly once."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from messages import HealthState
from tests.alerting.conftest import Receiver, alert, delivered, settle, wait_stats, webhook_config


def test_a_receiver_that_fails_times_out_and_succeeds_late_gets_one_notice(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Fail, then time out (the request lands late), then succeed: one decision, one
    Idempotency-Key on every attempt, and no second notice in later intervals."""
    receiver.script = ["fail", "hang", "ok"]
    # retries span group intervals (flushes at 45 s and 60 s fall between attempts)
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_interval="15s"))
    swarm.send_alert(alert(agent="a1", at=clock.time()))
    clock.advance(30)
    wait_stats(swarm, "failures", 1)  # HTTP 500
    clock.advance(10)  # the first backoff
    wait_stats(swarm, "failures", 2)  # timed out after 1 s; the request is still held
    receiver.release.set()  # ... and now it succeeds, late
    receiver.wait_for(2)
    clock.advance(20)  # the second backoff: the retry gets through
    requests = delivered(swarm, receiver, 3)
    clock.advance(600)  # forty group intervals of an unchanged group
    stats = settle(swarm)
    assert len(receiver.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert stats["notices_decided"] == 1 and stats["notices_delivered"] == 1
    assert stats["attempts"] == 3 and stats["failures_by_integration"] == {"team/webhook/0": 2}
    assert all(r.body == requests[0].body for r in requests)


def test_a_storm_of_1000_failing_agents_gives_one_notice_per_group(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """1,000 agents go silent together: one notice, for the AgentFailed group, listing all
    of them; their DEGRADED and CRITICAL alerts are inhibited by FAILED."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s"))
    agents = [f"agent-{i:04d}" for i in range(1000)]
    swarm.register_agents(agents)
    swarm.snapshot()
    for agent in agents:  # every tracker has armed its timer
        swarm.check_agent_health(agent)
    clock.advance(3.5)  # past DEGRADED, CRITICAL and FAILED for every agent
    assert swarm.check_agent_health(agents[-1]) is HealthState.FAILED
    assert settle(swarm)["alerts_received"] == 3000
    clock.advance(60)
    body = delivered(swarm, receiver, 1)[0].body
    clock.advance(600)
    stats = settle(swarm)
    assert len(receiver.requests) == 1 and stats["notices_decided"] == 1
    assert body["groupLabels"] == {"alertname": "AgentFailed"}
    assert sorted(a["labels"]["agent_id"] for a in body["alerts"]) == agents
    assert {a["status"] for a in body["alerts"]} == {"firing"}


def test_a_receiver_that_hangs_does_not_delay_the_shutdown(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """A webhook holds its request (timeout 60 s): alerts are still taken, and shutdown
    returns while the request is still held."""
    import threading

    import pykka

    from actors.alerting.notifier import Notifier

    receiver.script = ["hang"]
    config = webhook_config(receiver.url, group_wait="0s")
    config["receivers"][0]["webhook_configs"][0]["timeout"] = "60s"
    swarm = make_system(config)
    swarm.send_alert(alert(agent="a1", at=clock.time()))
    with receiver.changed:
        assert receiver.changed.wait_for(lambda: receiver.requests, timeout=10)
    swarm.send_alert(alert("Other", agent="a2", at=clock.time()))
    assert settle_stats(swarm)["alerts_received"] == 2
    swarm.shutdown()
    assert not receiver.handled  # still held: the shutdown did not wait for it
    receiver.release.set()
    receiver.wait_for(1)
    gone = threading.Event()
    for _ in range(1000):
        if not pykka.ActorRegistry.get_by_class(Notifier):
            break
        gone.wait(0.01)
    assert not pykka.ActorRegistry.get_by_class(Notifier)


def settle_stats(swarm: SwarmSystem) -> dict[str, object]:
    """The router's counters once every transition so far reached it (notices may be out)."""
    from tests.alerting.conftest import sync

    return sync(swarm)


def test_a_notices_id_is_derived_from_its_decision_so_a_decision_made_again_keeps_it() -> None:
    """Two engines on the same stored log decide the same id for the same group state; a
    reminder after repeat_interval follows a newer log entry and gets a new id."""
    from actors.alerting import AlertEngine, load_config

    settings = load_config(webhook_config("http://127.0.0.1:9/hook", group_wait="0s",
                                          repeat_interval="1h"))
    ids = []
    for _ in range(2):
        engine = AlertEngine(settings, "s")
        engine.put(alert(agent="a1", at=100.0), 100.0)
        engine.step(100.0)
        [notice] = engine.due_notices(100.0)
        ids.append(notice.id)
    assert ids[0] == ids[1]
    engine.delivered(notice.id, 101.0)
    engine.step(101.0 + 3600)
    [reminder] = engine.due_notices(101.0 + 3600)
    assert reminder.firing == notice.firing and reminder.id != notice.id


def test_a_receiver_that_hangs_does_not_delay_another_receiver_or_the_trackers(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver,
    other_receiver: Receiver,
) -> None:
    """One alert for two receivers; the first holds its request (timeout 60 s): the second
    gets its notice while the first is still held, and an agent's health still moves."""
    receiver.script = ["hang"]
    swarm = make_system({
        "route": {"receiver": "slow", "group_wait": "0s", "routes": [
            {"matchers": ["alertname=Test"], "receiver": "slow", "continue": True},
            {"matchers": ["alertname=Test"], "receiver": "fast"}]},
        "receivers": [
            {"name": "slow", "webhook_configs": [{"url": receiver.url, "timeout": "60s"}]},
            {"name": "fast", "webhook_configs": [{"url": other_receiver.url}]}]})
    swarm.register_agent("a2")
    swarm.send_alert(alert(agent="a1", at=clock.time()))
    with receiver.changed:
        assert receiver.changed.wait_for(lambda: receiver.requests, timeout=10)
    assert other_receiver.wait_for(1)[0].body["receiver"] == "fast"
    assert not receiver.handled  # still held
    swarm.check_agent_health("a2")
    clock.advance(3.5)
    assert swarm.check_agent_health("a2") is HealthState.FAILED
    receiver.release.set()
