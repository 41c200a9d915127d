"""A burst of transitions is held back while it lasts, then routed as of its arrival."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from actors.alerting.burst import MAX_HOLD, QUIET, RECENT, BurstHold
from actors.alerting.protocol import Sample
from actors.testing import service_ref
from messages import HealthChanged, HealthState
from tests.alerting.conftest import Receiver, delivered, settle, webhook_config


def test_a_recent_item_is_held_and_an_old_one_only_behind_a_held_one() -> None:
    """Held: what happened within RECENT of its arrival (either way), and anything after."""
    hold = BurstHold[str]()
    assert hold.wants(at=100.0, now=100.0 + RECENT / 2)
    assert hold.wants(at=100.0 + RECENT / 2, now=100.0)  # the wall clock went back a little
    assert not hold.wants(at=100.0, now=100.0 + 2 * RECENT)  # a manual clock ran ahead of it
    hold.add("recent", at=100.0, now=100.01, mono=1.0)
    assert hold.wants(at=50.0, now=100.02)  # old, but behind a held one: order is kept


def test_a_burst_is_over_once_its_newest_item_is_quiet_old_or_held_max_hold() -> None:
    """Over: QUIET after the last arrival and the newest item's own time, or MAX_HOLD after
    the first was held."""
    hold = BurstHold[str]()
    hold.add("a", at=100.0, now=100.0, mono=1.0)
    hold.add("b", at=100.04, now=100.04, mono=1.04)
    assert not hold.over(now=100.04 + QUIET / 2, mono=1.04 + QUIET / 2)
    assert hold.over(now=100.04 + 2 * QUIET, mono=1.04 + 2 * QUIET)
    # a burst that never ends is taken in every MAX_HOLD
    assert hold.over(now=100.04, mono=1.0 + MAX_HOLD)
    # items still arriving keep it going, late as they are
    assert not hold.over(now=100.04 + 2 * QUIET, mono=1.04 + QUIET / 2)
    # a wall clock jump does not hold it for ever (by the items' own times)
    assert hold.over(now=100.04 - 3600.0, mono=1.04 + 2 * QUIET)


def test_taking_a_burst_gives_every_item_in_order_with_its_arrival_time() -> None:
    """take() returns each item with the time it arrived, and empties the hold."""
    hold = BurstHold[str]()
    for i in range(3):
        hold.add(f"item-{i}", at=100.0 + i / 100, now=100.5 + i, mono=float(i))
    assert hold.take() == [("item-0", 100.5), ("item-1", 101.5), ("item-2", 102.5)]
    assert len(hold) == 0 and not hold.wants(at=0.0, now=100.0)


def _transition(agent: str, current: HealthState, at: float,
                previous: HealthState = HealthState.HEALTHY) -> HealthChanged:
    return HealthChanged(agent_id=agent, previous=previous, current=current, at=at,
                         heartbeat_age_ms=1000.0)


def test_a_burst_held_by_the_router_is_seen_by_a_query_and_notified_as_of_its_arrival(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Transitions of a burst in progress are all counted by the next query, in order
    (a recovery resolves its alert), and grouped from the time they arrived."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_by=["alertname"]))
    router = service_ref(swarm, "alert_router")
    now = clock.time()
    for i in range(20):
        router.tell(_transition(f"a{i}", HealthState.DEGRADED, now))
    router.tell(_transition("a0", HealthState.HEALTHY, now, HealthState.DEGRADED))
    stats = settle(swarm)  # a query: it takes the burst in first
    assert stats["alerts_received"] == 21
    firing = [a for a in swarm.list_alerts() if a["status"] == "firing"]
    assert sorted(a["labels"]["agent_id"] for a in firing) == sorted(f"a{i}" for i in range(1, 20))
    clock.advance(29)
    assert settle(swarm)["notices_decided"] == 0
    clock.advance(1)  # group_wait after the burst arrived, not after it was taken in
    body = delivered(swarm, receiver, 1)[0].body
    assert sorted(a["labels"]["agent_id"] for a in body["alerts"] if a["status"] == "firing") == \
        sorted(f"a{i}" for i in range(1, 20))


def test_a_burst_nobody_asks_about_is_taken_in_once_it_is_over(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Without a query, the held burst is routed QUIET after it, and its notice goes out."""
    swarm = make_system(webhook_config(receiver.url, group_wait="10s"))
    router = service_ref(swarm, "alert_router")
    now = clock.time()
    for i in range(5):
        router.tell(_transition(f"a{i}", HealthState.DEGRADED, now))
    router.ask(Sample(), timeout=10)  # they have arrived (a timer's message waits)
    clock.advance(10 + QUIET)
    body = delivered(swarm, receiver, 1)[0].body
    assert len(body["alerts"]) == 5
