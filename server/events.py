"""The SSE hub: the system's events fanned out to ``/v1/events`` streams.

Every ``health_changed`` and ``alert`` event gets an id ``EPOCH-N`` (EPOCH names
this server's run) and is kept in a bounded replay buffer, so a client that
reconnects with ``Last-Event-ID`` gets what it missed; one whose id is from
another run or has left the buffer gets a ``reset`` event (refetch the state).
Each client has a bounded queue: a client too slow to keep up is disconnected
rather than allowed to hold memory (it reconnects and resumes). Events carry the
agent's full new state, so a client may keep only the latest one per agent.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from messages import Alert, HealthChanged, encode
from server.errors import RequestRefused
from server.limits import Limits

__all__ = ["EventHub", "Summary", "stream_events"]

logger = logging.getLogger("swarmpulse.server")
_JSON: Final = msgspec.json.Encoder()
_PING: Final = b": ping\n\n"


class Summary(msgspec.Struct, tag="summary", kw_only=True, frozen=True):
    """The periodic ``summary`` event: the swarm at a glance."""

    at: float
    agent_count: int
    health_distribution: dict[str, int]
    total_heartbeats: int
    pending_writes: int
    dropped: int
    stalls: int
    failed_services: list[str]


class _Client:
    """One open stream: frames waiting to be sent, and a wake-up.

    A coalescing client (``?coalesce=1``, the dashboard) gets transitions and alerts
    gathered into one ``health_batch`` event per ``sse_coalesce_seconds``: the latest
    transition of each agent, and the alerts (at most ``sse_client_queue`` a batch,
    the rest counted in ``alerts_dropped``). 10,000 agents changing at once are then
    one event of 10,000 changes, not 10,000 events.
    """

    __slots__ = ("closed", "frames", "limit", "wake", "coalesce", "changes", "alerts",
                 "alerts_dropped", "last_seq", "flush_at", "flushed")

    def __init__(self, limit: int, coalesce: bool = False) -> None:
        self.frames: collections.deque[bytes] = collections.deque()
        self.limit = limit
        self.wake = asyncio.Event()
        self.closed = False
        self.coalesce = coalesce
        self.changes: dict[str, bytes] = {}
        self.alerts: list[bytes] = []
        self.alerts_dropped = 0
        self.last_seq = 0
        self.flush_at: asyncio.TimerHandle | None = None
        self.flushed = -1e9  # loop time of the last batch

    def gather(self, seq: int, agent_id: str | None, data: bytes) -> None:
        """Hold a transition (latest per agent) or an alert for the next batch."""
        if agent_id is not None:
            self.changes.pop(agent_id, None)  # re-inserted last: the batch keeps event order
            self.changes[agent_id] = data
        elif len(self.alerts) < self.limit:
            self.alerts.append(data)
        else:
            self.alerts_dropped += 1
        self.last_seq = seq

    def batch(self, epoch: str) -> bytes | None:
        """The held changes as one ``health_batch`` frame (None when nothing is held)."""
        self.flush_at = None
        if not self.changes and not self.alerts and not self.alerts_dropped:
            return None
        body = b"".join((
            b'{"changes":[', b",".join(self.changes.values()), b'],"alerts":[',
            b",".join(self.alerts), b'],"alerts_dropped":', str(self.alerts_dropped).encode(), b"}",
        ))
        self.changes = {}
        self.alerts = []
        self.alerts_dropped = 0
        return f"id: {epoch}-{self.last_seq}\nevent: health_batch\ndata: ".encode() + body + b"\n\n"

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False (and the stream closed) when the queue is full."""
        if len(self.frames) >= self.limit:
            self.close()
            return False
        self.frames.append(frame)
        self.wake.set()
        return True

    def close(self) -> None:
        self.closed = True
        self.frames.clear()
        if self.flush_at is not None:
            self.flush_at.cancel()
            self.flush_at = None
        self.wake.set()


class EventHub:
    """Fan-out of events to SSE clients; everything but :meth:`publish_threadsafe` runs on the loop.

    Args:
        limits: ``max_sse_clients``, ``sse_client_queue``, ``sse_replay``, ``sse_ping_seconds``.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.epoch = format(time.time_ns() // 1_000_000, "x")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replay: collections.deque[tuple[int, bytes]] = collections.deque(
            maxlen=limits.sse_replay
        )
        self._seq = 0
        self._clients: set[_Client] = set()
        self.closed = False
        self.published = 0
        self.dropped_clients = 0

    @property
    def clients(self) -> int:
        """Streams open now."""
        return len(self._clients)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver events on this loop from now on."""
        self._loop = loop

    def publish_threadsafe(self, event: Any) -> None:
        """Hand an event from any thread to the loop; never blocks (a system listener)."""
        loop = self._loop
        if loop is None or self.closed or not isinstance(event, (HealthChanged, Alert)):
            return
        try:
            loop.call_soon_threadsafe(self.publish_event, event)
        except RuntimeError:  # the loop has closed: the server is gone
            pass

    def publish_event(self, event: HealthChanged | Alert) -> None:
        """Publish a protocol event under its tag, with the next id."""
        name = "health_changed" if isinstance(event, HealthChanged) else "alert"
        self._seq += 1
        data = encode(event, "json")
        frame = b"".join((f"id: {self.epoch}-{self._seq}\nevent: {name}\ndata: ".encode(), data,
                          b"\n\n"))
        self._replay.append((self._seq, frame))
        agent_id = event.agent_id if isinstance(event, HealthChanged) else None
        self._fan_out(frame, (self._seq, agent_id, data))

    def publish_summary(self, summary: Summary) -> None:
        """Publish a summary: no id, not replayed (the next one supersedes it)."""
        self._fan_out(b"event: summary\ndata: " + _JSON.encode(summary) + b"\n\n")

    def _fan_out(self, frame: bytes, event: tuple[int, str | None, bytes] | None = None) -> None:
        self.published += 1
        for client in list(self._clients):
            if event is not None and client.coalesce:
                client.gather(*event)
                if client.flush_at is None and self._loop is not None:
                    # leading edge: a first change after a quiet spell goes out at once (with
                    # whatever else this loop turn brings); then at most one batch a window
                    wait = max(0.0, client.flushed + self.limits.sse_coalesce_seconds
                               - self._loop.time())
                    client.flush_at = self._loop.call_later(wait, self._flush, client)
                continue
            if not client.offer(frame):
                self._clients.discard(client)
                self.dropped_clients += 1
                logger.warning("an SSE client fell %d events behind: disconnected",
                               self.limits.sse_client_queue)

    def _flush(self, client: _Client) -> None:
        if self._loop is not None:
            client.flushed = self._loop.time()
        frame = client.batch(self.epoch)
        if frame is not None and not client.closed and not client.offer(frame):
            self._clients.discard(client)
            self.dropped_clients += 1

    def open(self, last_event_id: str | None, coalesce: bool = False) -> _Client:
        """A new client, with what it missed since ``last_event_id`` queued.

        Raises:
            RequestRefused: 503 when ``max_sse_clients`` streams are open, or
                the server is stopping.
        """
        if self.closed:
            raise RequestRefused(503, "the server is stopping")
        if len(self._clients) >= self.limits.max_sse_clients:
            raise RequestRefused(
                503, f"too many event streams open (at most {self.limits.max_sse_clients})"
            )
        client = _Client(self.limits.sse_client_queue, coalesce)
        client.frames.append(b"retry: 1000\n\n")
        if last_event_id is not None:
            for frame in self._missed(last_event_id):
                client.frames.append(frame)
        self._clients.add(client)
        return client

    def _missed(self, last_event_id: str) -> list[bytes]:
        epoch, _, number = last_event_id.strip().partition("-")
        oldest = self._replay[0][0] if self._replay else self._seq + 1
        if epoch == self.epoch and number.isdigit() and oldest - 1 <= int(number) <= self._seq:
            seen = int(number)
            return [frame for seq, frame in self._replay if seq > seen][: self.limits.sse_client_queue - 1]
        reason = {"type": "reset", "reason": "the events since that id are no longer held: "
                  "fetch the state again"}
        return [b"event: reset\ndata: " + _JSON.encode(reason) + b"\n\n"]

    def detach(self, client: _Client) -> None:
        """Forget a client whose stream ended."""
        self._clients.discard(client)

    def close(self) -> None:
        """End every stream (the server is stopping) and refuse new ones."""
        self.closed = True
        for client in list(self._clients):
            client.close()
        self._clients.clear()


async def _frames(hub: EventHub, client: _Client) -> AsyncIterator[bytes]:
    ping = hub.limits.sse_ping_seconds
    try:
        while True:
            if client.frames:
                chunk = b"".join(client.frames)
                client.frames.clear()
                yield chunk
                continue
            if client.closed:
                return
            client.wake.clear()
            try:
                await asyncio.wait_for(client.wake.wait(), ping)
            except TimeoutError:
                yield _PING
    finally:
        hub.detach(client)


async def stream_events(request: Request) -> Response:
    """``GET /v1/events[?coalesce=1]``: server-sent ``health_changed``, ``alert`` and ``summary``
    events; with ``coalesce=1``, transitions and alerts arrive gathered in ``health_batch`` events."""
    hub: EventHub = request.app.state.edge.hub
    coalesce = request.query_params.get("coalesce", "0")
    if coalesce not in ("0", "1"):
        raise RequestRefused(400, "coalesce: must be 0 or 1", "coalesce")
    client = hub.open(request.headers.get("last-event-id"), coalesce == "1")
    return StreamingResponse(
        _frames(hub, client),
        media_type="text/event-stream",
        # a stream that ends (the server closed it) ends its connection: nothing follows it
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "close"},
    )
