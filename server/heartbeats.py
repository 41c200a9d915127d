"""``POST /v1/heartbeats``: the hot path, as a plain ASGI app, and the heartbeats' way to the coordinator.

The endpoint reads, decodes and checks a body by the rules every batch
endpoint follows (:mod:`server.batch`, :mod:`server.limits`, the
``Idempotency-Key`` cache), but it is a plain ASGI callable behind its
``Route``: it reads the headers and the body from the ASGI scope and channel
itself, with no request or response objects, and the common answer is
encoded once. Errors are raised as everywhere else and answered by the app's
handlers.

A heartbeat of a registered agent needs no answer: the coordinator takes it
(:meth:`actors.SwarmSystem.update_agent_heartbeat` says the same), so the
edge *tells* it, after checking the agent against the registered ids the
system keeps for its telemetry (a set read without a lock or an actor). A
batch naming any other agent is *asked*, through the :class:`AskBridge`, so
the coordinator's own answer names each unknown one, as before.

Telling alone would let a fast client fill the coordinator's mailbox without
bound. So every ``sync_every`` tells, one request is asked instead: its
answer comes after the coordinator has taken every beat told before it (a
mailbox is first in, first out), which confirms them. Past
``max_unconfirmed`` tells not yet confirmed, every request is asked, and
waits: the clients are slowed to the coordinator's pace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
import pykka
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from messages import Heartbeat, InvalidMessage
from messages.constraints import AgentId, Metadata, Timestamp
from server.batch import BatchAnswer, Refusal, decode_batch
from server.bridge import AskBridge
from server.errors import RequestRefused
from server.idempotency import StoredAnswer, check_key
from server.limits import BodyFormat, check_length, format_of
from server.responses import encode_json

if TYPE_CHECKING:
    from server.edge import Edge

__all__ = ["HeartbeatEndpoint", "HeartbeatSender", "post_heartbeats", "take_heartbeats"]

SYNC_EVERY: Final = 256
"""Tells between two confirming asks."""
MAX_UNCONFIRMED: Final = 8_192
"""Tells not yet confirmed past which every request waits for the coordinator."""


class HeartbeatSender:
    """Send heartbeats to the coordinator from the event loop (used on the loop's thread only).

    Args:
        coordinator: the system's coordinator.
        bridge: asks it without blocking the loop.
        is_known: whether an agent id is registered (read without blocking).
        sync_every: tells between two confirming asks.
        max_unconfirmed: past this many unconfirmed tells, every request is asked.
    """

    def __init__(self, coordinator: pykka.ActorRef[Any], bridge: AskBridge,
                 is_known: Callable[[str], bool], sync_every: int = SYNC_EVERY,
                 max_unconfirmed: int = MAX_UNCONFIRMED) -> None:
        if not 1 <= sync_every <= max_unconfirmed:
            raise ValueError("need 1 <= sync_every <= max_unconfirmed")
        self._tell = coordinator.tell
        self._bridge = bridge
        self._is_known = is_known
        self.sync_every = sync_every
        self.max_unconfirmed = max_unconfirmed
        self.told = 0
        """Heartbeats told so far."""
        self.confirmed = 0
        """Of those, how many the coordinator is known to have taken."""
        self.asked = 0
        """Requests asked (unknown agents, confirmations, waits)."""
        self._asking = 0

    @property
    def unconfirmed(self) -> int:
        """Heartbeats told and not yet known to be taken."""
        return self.told - self.confirmed

    async def send(self, beats: list[Heartbeat]) -> list[bool]:
        """The coordinator's answer for each beat: False for an agent it does not know.

        Raises:
            pykka.ActorDeadError: the coordinator has stopped.
            pykka.Timeout: an ask was not answered in time.
        """
        unconfirmed = self.told - self.confirmed
        if unconfirmed < self.max_unconfirmed and (unconfirmed < self.sync_every or self._asking):
            is_known = self._is_known
            if all(is_known(beat.agent_id) for beat in beats):
                tell = self._tell
                for beat in beats:
                    tell(beat)
                self.told += len(beats)
                return [True] * len(beats)
        mark = self.told
        self._asking += 1
        self.asked += 1
        try:
            answers = await self._bridge.ask(beats)
        finally:
            self._asking -= 1
        if mark > self.confirmed:
            self.confirmed = mark
        return answers


HEARTBEAT_TYPES: Final[dict[str, type[Any]]] = {"heartbeat": Heartbeat}
_UNKNOWN: Final = "unknown agent: register it first (POST /v1/agents)"
_ONE_TAKEN: Final = StoredAnswer(202, encode_json(BatchAnswer(1, [])))


class _OneBeat(msgspec.Struct, frozen=True, kw_only=True, tag="heartbeat",
               forbid_unknown_fields=True):
    """The commonest body: one heartbeat object, ``type`` and ``timestamp`` optional.

    The fields and their rules are :class:`messages.Heartbeat`'s; a timestamp
    left out (not null) is the server's clock, as for an item of a batch.
    """

    agent_id: AgentId
    timestamp: Timestamp | msgspec.UnsetType = msgspec.UNSET
    metadata: Metadata = msgspec.field(default_factory=dict)


_ONE: Final[dict[str, msgspec.json.Decoder[_OneBeat] | msgspec.msgpack.Decoder[_OneBeat]]] = {
    "json": msgspec.json.Decoder(_OneBeat),
    "msgpack": msgspec.msgpack.Decoder(_OneBeat),
}


def _one_beat(body: bytes, format: BodyFormat, now: float) -> Heartbeat | None:
    """A body of one valid heartbeat as the message, in one decode; None for any other body."""
    try:
        one = _ONE[format].decode(body)
        return Heartbeat(agent_id=one.agent_id, metadata=one.metadata,
                         timestamp=now if one.timestamp is msgspec.UNSET else one.timestamp)
    except (msgspec.ValidationError, msgspec.DecodeError, InvalidMessage, RecursionError):
        return None  # the batch path decodes it again and names what is wrong


async def take_heartbeats(edge: Edge, body: bytes, format: BodyFormat) -> StoredAnswer:
    """Decode a body of heartbeats, send the valid ones, and the answer naming each refusal."""
    now = edge.system.clock.time()
    one = _one_beat(body, format, now)
    if one is not None:
        beats: list[tuple[int, Heartbeat]] = [(0, one)]
        refused: list[Refusal] = []
    else:
        beats, refused = decode_batch(body, format, HEARTBEAT_TYPES, now,
                                      edge.limits.max_batch_items, "heartbeat")
    if not beats:
        return StoredAnswer(202, encode_json(BatchAnswer(0, refused)))
    if not edge.system.coordinator.is_alive():
        raise RequestRefused(503, "the system is shutting down")
    assert edge.beats is not None, "the server's lifespan has not started"
    answers = await edge.beats.send([beat for _, beat in beats])
    unknown = [Refusal(index, "agent_id", _UNKNOWN)
               for (index, _), known in zip(beats, answers) if not known]
    if not refused and not unknown and len(beats) == 1:
        return _ONE_TAKEN
    if unknown:
        refused = sorted(refused + unknown, key=lambda r: r.index)
    return StoredAnswer(202, encode_json(BatchAnswer(len(beats) - len(unknown), refused)))


class HeartbeatEndpoint:
    """``POST /v1/heartbeats``: one heartbeat or a list; ``type`` and ``timestamp`` optional.

    A plain ASGI app: an instance (not a function) is what Starlette's
    ``Route`` calls with the request as it came.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request: 202 with what was taken and each refusal."""
        content_type = length = key = None
        for name, value in scope["headers"]:  # the first of each, as Request.headers.get
            if name == b"content-type":
                content_type = value if content_type is None else content_type
            elif name == b"content-length":
                length = value if length is None else length
            elif name == b"idempotency-key":
                key = value if key is None else key
        edge: Edge = scope["app"].state.edge
        format = format_of(None if content_type is None else content_type.decode("latin-1"))
        body = await _read_body(receive, None if length is None else length.decode("latin-1"),
                                edge.limits.max_body_bytes)
        if key is None:
            answer = await take_heartbeats(edge, body, format)
        else:
            answer = await edge.idempotency.answer(
                Request(scope).url.path, check_key(key.decode("latin-1")), body,
                lambda: take_heartbeats(edge, body, format))
        await send({
            "type": "http.response.start",
            "status": answer.status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(answer.body)).encode())],
        })
        await send({"type": "http.response.body", "body": answer.body})


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The body, by :func:`server.limits.read_body`'s rules, read from the ASGI channel itself."""
    check_length(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, f"the body is larger than {limit} bytes", "body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


post_heartbeats: Final = HeartbeatEndpoint()
"""The endpoint's one instance, as the routes name it."""
