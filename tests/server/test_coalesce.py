"""GET /v1/events?coalesce=1: the dashboard's stream, one batch of changes at a time."""

from __future__ import annotations

import httpx

from actors import ManualClock, SwarmSystem
from tests.server.sse import events, frames, read_until


def test_many_transitions_arrive_as_one_batch_with_the_latest_state_per_agent(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """300 agents degrading at once come as few health_batch events, not 300 events."""
    ids = [f"a-{i:03d}" for i in range(300)]
    system.register_agents(ids)
    with http.stream("GET", "/v1/events", params={"coalesce": "1"}) as response:
        stream = frames(response)
        assert next(stream).retry == 1000
        clock.advance(1.0)

        def all_degraded(seen: list) -> bool:  # type: ignore[type-arg]
            changed = {c["agent_id"] for f in events(seen, "health_batch") for c in f.json()["changes"]}
            return changed >= set(ids)

        seen = read_until(stream, all_degraded)
    batches = events(seen, "health_batch")
    assert events(seen, "health_changed") == [] and events(seen, "alert") == []
    assert len(batches) <= 3  # 300 transitions and 300 alerts, gathered
    changes = [c for f in batches for c in f.json()["changes"]]
    assert {c["current"] for c in changes} == {"degraded"}
    assert sum(len(f.json()["alerts"]) for f in batches) >= 1
    assert all(f.id for f in batches)


def test_a_batch_keeps_only_the_latest_transition_of_an_agent(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """DEGRADED then CRITICAL inside one gathering window is one change: CRITICAL."""
    system.register_agent("one")
    with http.stream("GET", "/v1/events", params={"coalesce": "1"}) as response:
        stream = frames(response)
        next(stream)
        clock.advance(2.0)  # both deadlines in one advance
        seen = read_until(stream, lambda s: any(
            c["current"] == "critical" for f in events(s, "health_batch") for c in f.json()["changes"]))
    last = events(seen, "health_batch")[-1].json()["changes"]
    assert [c["current"] for c in last if c["agent_id"] == "one"] == ["critical"]


def test_coalesce_takes_only_0_or_1(http: httpx.Client) -> None:
    """Any other value is refused by name."""
    response = http.get("/v1/events", params={"coalesce": "yes"})
    assert response.status_code == 400 and response.json()["field"] == "coalesce"
