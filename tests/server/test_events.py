"""GET /v1/events: health changes and alerts pushed as SSE, resumable, bounded, kept alive."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
import pytest

from actors import ManualClock, SwarmSystem
from server import Limits, ServerHandle
from tests.server.sse import events, frames, read_until


def _count(kind: str, n: int):  # type: ignore[no-untyped-def]
    return lambda seen: len(events(seen, kind)) >= n


def test_a_transition_is_pushed_as_the_protocols_json(
    http: httpx.Client, clock: ManualClock
) -> None:
    """A silent agent's DEGRADED arrives as health_changed (then its alert), with ids."""
    http.post("/v1/agents", json={"agent_id": "quiet"})
    with http.stream("GET", "/v1/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = frames(response)
        first = next(stream)
        assert first.retry == 1000
        clock.advance(1.0)
        seen = read_until(stream, _count("alert", 1))
    changed = events(seen, "health_changed")[0]
    assert changed.json() == {"type": "health_changed", "agent_id": "quiet", "previous": "healthy",
                              "current": "degraded", "at": clock.time(), "heartbeat_age_ms": 1000.0}
    alert = events(seen, "alert")[0].json()
    assert alert["type"] == "alert" and alert["severity"] == "warning"
    ids = [f.id for f in seen if f.event in ("health_changed", "alert")]
    assert all(ids) and len(set(ids)) == len(ids)


def test_last_event_id_resumes_with_what_was_missed(http: httpx.Client, clock: ManualClock) -> None:
    """Reconnecting with the id of the 2nd event replays the 3rd onwards, in order."""
    http.post("/v1/agents", json={"agent_id": "q"})
    with http.stream("GET", "/v1/events") as response:
        stream = frames(response)
        clock.advance(3.0)  # DEGRADED, CRITICAL, FAILED: three transitions and three alerts
        seen = read_until(stream, _count("alert", 3))
    published = [f for f in seen if f.id is not None]
    assert len(published) == 6
    with http.stream("GET", "/v1/events", headers={"Last-Event-ID": published[1].id or ""}) as response:
        resumed = read_until(frames(response), lambda s: len([f for f in s if f.id]) >= 4)
    assert [f.id for f in resumed if f.id] == [f.id for f in published[2:]]
    assert [f.data for f in resumed if f.id] == [f.data for f in published[2:]]


@pytest.mark.parametrize("limits", [Limits(sse_replay=2)], indirect=True)
def test_the_replay_buffer_holds_sse_replay_events(http: httpx.Client, clock: ManualClock) -> None:
    """sse_replay=2: the id just before the buffer resumes; one older gets a reset."""
    http.post("/v1/agents", json={"agent_id": "q"})
    with http.stream("GET", "/v1/events") as response:
        stream = frames(response)
        clock.advance(3.0)
        seen = read_until(stream, _count("alert", 3))
    ids = [f.id or "" for f in seen if f.id is not None]
    with http.stream("GET", "/v1/events", headers={"Last-Event-ID": ids[3]}) as response:
        resumed = read_until(frames(response), lambda s: len([f for f in s if f.id]) >= 2)
    assert [f.id for f in resumed if f.id] == ids[4:]
    with http.stream("GET", "/v1/events", headers={"Last-Event-ID": ids[2]}) as response:
        assert events(read_until(frames(response), _count("reset", 1)), "reset")


@pytest.mark.parametrize("last", ["0-1", "garbage", "deadbeef-999999"])
def test_an_id_that_cannot_be_resumed_gets_a_reset(http: httpx.Client, last: str) -> None:
    """An id of another run (or nonsense) gets a reset event: fetch the state again."""
    with http.stream("GET", "/v1/events", headers={"Last-Event-ID": last}) as response:
        seen = read_until(frames(response), _count("reset", 1))
    assert events(seen, "reset")[0].json()["type"] == "reset"


@pytest.mark.parametrize("limits", [Limits(sse_ping_seconds=0.05, summary_seconds=0.05)],
                         indirect=True)
def test_a_quiet_stream_gets_pings_and_summaries(http: httpx.Client) -> None:
    """Keep-alive comments and periodic summary events arrive without any swarm activity."""
    http.post("/v1/agents", json={"agent_id": "s"})
    with http.stream("GET", "/v1/events") as response:
        seen = read_until(frames(response), lambda s: any(f.comment == "ping" for f in s)
                          and len(events(s, "summary")) >= 1)
    summary = events(seen, "summary")[0].json()
    assert summary["type"] == "summary"
    assert summary["agent_count"] == 1
    assert summary["health_distribution"]["healthy"] == 1


@pytest.mark.parametrize("limits", [Limits(max_sse_clients=2)], indirect=True)
def test_streams_past_the_limit_get_503(http: httpx.Client, running: ServerHandle) -> None:
    """max_sse_clients=2: two streams open, the third is refused with 503."""
    with http.stream("GET", "/v1/events") as one, http.stream("GET", "/v1/events") as two:
        streams = [frames(one), frames(two)]  # kept: a dropped reader closes its connection
        assert [next(s).retry for s in streams] == [1000, 1000]
        third = http.get("/v1/events")
        assert third.status_code == 503
        assert "at most 2" in third.json()["error"]


@pytest.mark.timeout(180)  # thousands of deadlines on a busy CI machine
@pytest.mark.parametrize("limits", [Limits(sse_client_queue=20, sse_ping_seconds=60)],
                         indirect=True)
def test_a_client_too_slow_to_read_is_disconnected(
    running: ServerHandle, system: SwarmSystem, clock: ManualClock
) -> None:
    """A stream that does not read while thousands of events go out is closed by the server."""
    system.register_agents([f"a{i}" for i in range(300)])
    arrived = threading.Event()
    total = 1800  # 3 transitions and 3 alerts per agent: far past a queue of 20
    got = [0]

    def count(event: object) -> None:
        got[0] += 1
        if got[0] >= total:
            arrived.set()

    unsubscribe = system.subscribe(count)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(30)
    try:
        slow.connect(("127.0.0.1", running.port))
        slow.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert slow.recv(12) == b"HTTP/1.1 200"
        clock.advance(3.0)
        assert arrived.wait(120)
        received = b""
        while chunk := slow.recv(65536):  # EOF: the server closed the stream
            received += chunk
    finally:
        slow.close()
        unsubscribe()
    assert received.count(b"\nevent: ") < total
    assert httpx.get(f"{running.url}/healthz").json()["event_streams"] == 0


@pytest.mark.parametrize("limits", [Limits(sse_client_queue=20, sse_ping_seconds=60,
                                           summary_seconds=60)], indirect=True)
def test_a_stream_not_read_is_closed_even_when_its_events_come_one_at_a_time(
    running: ServerHandle, http: httpx.Client
) -> None:
    """Events spread out (each sent before the next comes) still close a stream nobody reads.

    The kernel would take megabytes for a peer that does not read; bounded to
    max_unsent_bytes, the stream's writes wait, its queue fills, and it is closed.
    """
    from messages import HealthChanged

    event = HealthChanged(agent_id="a", previous="healthy", current="degraded", at=1.8e9,
                          heartbeat_age_ms=1000.0)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(10)
    try:
        slow.connect(("127.0.0.1", running.port))
        slow.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert slow.recv(12) == b"HTTP/1.1 200"
        for _ in range(3000):  # about 600 kB: far less than the kernel would absorb unbounded
            running._hub.publish_threadsafe(event)
            assert http.get("/healthz").status_code == 200  # a round trip: the stream has had it
        assert http.get("/healthz").json()["event_streams"] == 0
        received = b""
        while chunk := slow.recv(65536):  # EOF: the server closed the stream
            received += chunk
    finally:
        slow.close()
    assert 0 < received.count(b"\nevent: health_changed") < 3000


def test_a_client_queue_holds_its_limit_and_one_more_event_closes_it() -> None:
    """sse_client_queue=3 (the retry line and two events): kept; a third event: dropped."""
    from messages import HealthChanged
    from server.events import EventHub

    event = HealthChanged(agent_id="a", previous="healthy", current="degraded", at=1.8e9,
                          heartbeat_age_ms=1000.0)

    async def scenario() -> None:
        hub = EventHub(Limits(sse_client_queue=3))
        hub.attach(asyncio.get_running_loop())
        client = hub.open(None)  # queues the retry line
        hub.publish_event(event)
        hub.publish_event(event)
        assert (hub.clients, client.closed) == (1, False)
        hub.publish_event(event)
        assert (hub.clients, client.closed, hub.dropped_clients) == (0, True, 1)
        assert not client.frames  # its memory is released at once

    asyncio.run(scenario())
