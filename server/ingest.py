"""Ingest endpoints: agents registering, beating and reporting metrics over HTTP.

Bodies are the protocol's messages (``messages``), JSON or msgpack, with the
``type`` tag as :func:`messages.encode` writes it; ``timestamp`` may be left
out (the server's clock is used). A batch is answered 202 with what was
accepted and, per refused item, its index, field and reason.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from messages import (
    AgentMetric,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    SwarmMetric,
    SwarmPulseError,
    TaskMetric,
    check_id,
    decode,
)
from server.edge import Edge, edge_of
from server.errors import RequestRefused
from server.idempotency import StoredAnswer, check_key
from server.limits import BodyFormat, body_format, read_body

__all__ = ["delete_agent", "post_agent", "post_heartbeats", "post_metrics"]

_GENERIC: Final[dict[str, msgspec.json.Decoder[Any] | msgspec.msgpack.Decoder[Any]]] = {
    "json": msgspec.json.Decoder(),
    "msgpack": msgspec.msgpack.Decoder(),
}
_JSON: Final = msgspec.json.Encoder()
_MSGPACK: Final = msgspec.msgpack.Encoder()
HEARTBEAT_TYPES: Final[dict[str, type[Any]]] = {"heartbeat": Heartbeat}
METRIC_TYPES: Final[dict[str, type[Any]]] = {
    "task_metric": TaskMetric,
    "agent_metric": AgentMetric,
    "swarm_metric": SwarmMetric,
}
"""What ``POST /v1/metrics`` takes; a new telemetry message (``task_started``) is one entry more."""
_UNIONS: Final[dict[frozenset[str], Any]] = {}
_TYPED: Final[dict[tuple[frozenset[str], str], Any]] = {}


class Refusal(msgspec.Struct, frozen=True):
    """One refused item of a batch."""

    index: int
    field: str
    error: str


class BatchAnswer(msgspec.Struct, frozen=True):
    """The answer to a batch: how many items were taken, and why the others were not."""

    accepted: int
    refused: list[Refusal]


def json_response(content: Any, status: int = 200) -> Response:
    """``content`` encoded by msgspec as JSON."""
    return Response(_JSON.encode(content), status, media_type="application/json")


def _decode_body(data: bytes, format: BodyFormat) -> Any:
    if not data:
        raise RequestRefused(400, "the body is empty", "body")
    try:
        return _GENERIC[format].decode(data)
    except msgspec.DecodeError as exc:
        raise RequestRefused(400, f"the body is not valid {format}: {exc}", "body") from None
    except RecursionError:
        raise RequestRefused(400, "the body is nested too deeply", "body") from None


def _union(types: dict[str, type[Any]]) -> Any:
    key = frozenset(types)
    union = _UNIONS.get(key)
    if union is None:
        members = tuple(types.values())
        union = members[0] if len(members) == 1 else _make_union(members)
        _UNIONS[key] = union
    return union


def _make_union(members: tuple[type[Any], ...]) -> Any:
    union: Any = members[0]
    for member in members[1:]:
        union = union | member
    return union


def _explain(item: dict[str, Any]) -> InvalidMessage:
    """The protocol's own error for an item: decode it as :func:`messages.decode` does."""
    try:
        decode(_MSGPACK.encode(item), "msgpack")
    except InvalidMessage as exc:
        return exc
    except (TypeError, OverflowError) as exc:  # a value msgpack cannot carry back
        return InvalidMessage("message", None, str(exc))
    return InvalidMessage("message", None, "was refused")


def parse_batch(
    raw: Any, types: dict[str, type[Any]], now: float, max_items: int, default_type: str | None
) -> tuple[list[tuple[int, Any]], list[Refusal]]:
    """Validate a decoded body as a batch: the messages it holds, and the refused items.

    Args:
        raw: the decoded body, an object or a list of objects.
        types: the message types this endpoint takes, by tag.
        now: the server's wall time, for items without a timestamp.
        max_items: past this many items the whole batch is refused (413).
        default_type: the tag of an item that has none (None: the tag is required).

    Raises:
        RequestRefused: the body is no object or list (400), or too long (413).
    """
    if isinstance(raw, dict):
        items: list[Any] = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise RequestRefused(
            400, "the body must be a message object or a list of them", "body"
        )
    if len(items) > max_items:
        raise RequestRefused(413, f"a batch holds at most {max_items} items, not {len(items)}",
                             "body")
    refused: list[Refusal] = []
    candidates: list[tuple[int, dict[str, Any]]] = []
    allowed = ", ".join(types)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            refused.append(Refusal(index, "message", "must be an object"))
            continue
        if default_type is not None and "type" not in item:
            item["type"] = default_type
        tag = item.get("type")
        if type(tag) is not str or tag not in types:
            refused.append(Refusal(index, "type", f"must be one of: {allowed}"))
            continue
        if "timestamp" not in item:
            item["timestamp"] = now
        candidates.append((index, item))
    union = _union(types)
    try:  # the common case: every item valid, converted in one call
        converted = msgspec.convert([item for _, item in candidates], list[union])  # type: ignore[valid-type]
        return [(index, message) for (index, _), message in zip(candidates, converted)], refused
    except msgspec.ValidationError:
        pass
    taken: list[tuple[int, Any]] = []
    for index, item in candidates:
        try:
            taken.append((index, msgspec.convert(item, union)))
        except msgspec.ValidationError:
            error = _explain(item)
            refused.append(Refusal(index, error.field, error.reason))
    refused.sort(key=lambda r: r.index)
    return taken, refused


def _typed(types: dict[str, type[Any]], format: BodyFormat) -> Any:
    """A decoder of the protocol's messages themselves: one message or a list of them."""
    key = (frozenset(types), format)
    decoder = _TYPED.get(key)
    if decoder is None:
        union = _union(types)
        shape = list[union] | union  # type: ignore[valid-type]
        decoder = msgspec.json.Decoder(shape) if format == "json" else msgspec.msgpack.Decoder(shape)
        _TYPED[key] = decoder
    return decoder


def decode_batch(
    body: bytes, format: BodyFormat, types: dict[str, type[Any]], now: float, max_items: int,
    default_type: str | None,
) -> tuple[list[tuple[int, Any]], list[Refusal]]:
    """The messages of a batch and its refused items.

    A body of complete, valid messages (as :func:`messages.encode` writes them,
    timestamps included: what the client library sends) is decoded straight
    into the protocol's structs; anything else is decoded generically and
    checked item by item, so that each refusal can be named.
    """
    if body:
        try:
            decoded = _typed(types, format).decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            pass
        else:
            messages = decoded if isinstance(decoded, list) else [decoded]
            if len(messages) > max_items:
                raise RequestRefused(
                    413, f"a batch holds at most {max_items} items, not {len(messages)}", "body")
            return list(enumerate(messages)), []
    return parse_batch(_decode_body(body, format), types, now, max_items, default_type)


async def _batch(request: Request, types: dict[str, type[Any]], default_type: str | None,
                 take: Any) -> Response:
    """Read, validate and take a batch, answering a retried Idempotency-Key as before."""
    edge = edge_of(request)
    format = body_format(request)
    body = await read_body(request, edge.limits.max_body_bytes)

    async def handle() -> StoredAnswer:
        messages, refused = decode_batch(body, format, types, edge.system.clock.time(),
                                         edge.limits.max_batch_items, default_type)
        accepted, more = await take(edge, messages)
        refused = sorted(refused + more, key=lambda r: r.index) if more else refused
        return StoredAnswer(202, _JSON.encode(BatchAnswer(accepted, refused)))

    key = request.headers.get("idempotency-key")
    if key is None:
        answer = await handle()
    else:
        answer = await edge.idempotency.answer(request.url.path, check_key(key), body, handle)
    return Response(answer.body, answer.status, media_type="application/json")


async def _take_heartbeats(edge: Edge, beats: list[tuple[int, Heartbeat]]) -> tuple[int, list[Refusal]]:
    """Every heartbeat to the coordinator at once, then their answers (False: unknown)."""
    if not beats:
        return 0, []
    if not edge.system.coordinator.is_alive():
        raise RequestRefused(503, "the system is shutting down")
    assert edge.bridge is not None, "the server's lifespan has not started"
    answers = await edge.bridge.ask([beat for _, beat in beats])
    refused = [
        Refusal(index, "agent_id", "unknown agent: register it first (POST /v1/agents)")
        for (index, _), known in zip(beats, answers) if not known
    ]
    return len(beats) - len(refused), refused


async def _take_metrics(edge: Edge, metrics: list[tuple[int, Any]]) -> tuple[int, list[Refusal]]:
    """Into the telemetry channel: an append each, never blocking."""
    if not edge.system.config.enable_monitoring:
        return len(metrics), []  # as the facade: accepted, not recorded
    send = edge.system.telemetry.send
    refused = []
    for index, metric in metrics:
        try:
            send(metric)
        except InvalidMessage as exc:  # a policy of the core refusing it (unknown agents)
            refused.append(Refusal(index, exc.field, exc.reason))
        except SwarmPulseError as exc:
            refused.append(Refusal(index, "agent_id", str(exc)))
    return len(metrics) - len(refused), refused


async def post_heartbeats(request: Request) -> Response:
    """``POST /v1/heartbeats``: one heartbeat or a list; ``type`` and ``timestamp`` optional."""
    return await _batch(request, HEARTBEAT_TYPES, "heartbeat", _take_heartbeats)


async def post_metrics(request: Request) -> Response:
    """``POST /v1/metrics``: task, agent and swarm metrics, one or a list."""
    return await _batch(request, METRIC_TYPES, None, _take_metrics)


async def post_agent(request: Request) -> Response:
    """``POST /v1/agents``: register an agent; 201 when new, 200 when already registered."""
    edge = edge_of(request)
    format = body_format(request)
    raw = _decode_body(await read_body(request, edge.limits.max_body_bytes), format)
    if not isinstance(raw, dict):
        raise RequestRefused(400, "the body must be a register_agent object", "body")
    raw.setdefault("type", "register_agent")
    if raw["type"] != "register_agent":
        raise RequestRefused(400, "type must be register_agent", "type")
    try:
        message = msgspec.convert(raw, RegisterAgent)
    except msgspec.ValidationError:
        error = _explain(raw)
        raise RequestRefused(400, f"{error.field}: {error.reason}", error.field) from None
    new = await run_in_threadpool(
        edge.system.register_agent, message.agent_id, message.metadata,
        interval_ms=message.interval_ms, failure_threshold=message.failure_threshold,
    )
    return json_response({"agent_id": message.agent_id, "registered": new}, 201 if new else 200)


async def delete_agent(request: Request) -> Response:
    """``DELETE /v1/agents/{agent_id}``: stop watching an agent; 404 when unknown."""
    agent_id = request.path_params["agent_id"]
    try:
        check_id("agent_id", agent_id)
    except InvalidMessage as exc:
        raise RequestRefused(400, f"agent_id: {exc.reason}", "agent_id") from None
    edge = edge_of(request)
    if not await run_in_threadpool(edge.system.unregister_agent, agent_id):
        raise RequestRefused(404, f"unknown agent {agent_id!r}", "agent_id")
    return json_response({"agent_id": agent_id, "unregistered": True})
