"""Ingest endpoints: agents registering, beating and reporting metrics over HTTP.

Bodies are the protocol's messages (``messages``), JSON or msgpack, with the
``type`` tag as :func:`messages.encode` writes it; ``timestamp`` may be left
out (the server's clock is used). A batch is answered 202 with what was
accepted and, per refused item, its index, field and reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from actors import UnknownAgent
from messages import (
    AgentMetric,
    InvalidMessage,
    RegisterAgent,
    SwarmMetric,
    SwarmPulseError,
    TaskMetric,
    TaskStarted,
    check_id,
)
from server.batch import (
    BatchAnswer,
    MetricItems,
    Note,
    Refusal,
    decode_batch,
    decode_body,
    decode_metrics,
    explain,
)
from server.edge import Edge, edge_of
from server.errors import RequestRefused
from server.heartbeats import post_heartbeats
from server.idempotency import StoredAnswer, check_key
from server.limits import body_format, read_body
from server.responses import encode_json, json_response

__all__ = ["delete_agent", "json_response", "post_agent", "post_heartbeats", "post_metrics"]

METRIC_TYPES: Final[dict[str, type[Any]]] = {
    "task_metric": TaskMetric,
    "agent_metric": AgentMetric,
    "swarm_metric": SwarmMetric,
    "task_started": TaskStarted,
}
"""What ``POST /v1/metrics`` takes: finished tasks, gauges, and task starts (for tasks in flight)."""
async def _batch(request: Request, types: dict[str, type[Any]], default_type: str | None,
                 take: Any, decode: Any = decode_batch) -> Response:
    """Read, validate and take a batch, answering a retried Idempotency-Key as before."""
    edge = edge_of(request)
    format = body_format(request)
    body = await read_body(request, edge.limits.max_body_bytes)

    async def handle() -> StoredAnswer:
        messages, refused = decode(body, format, types, edge.system.clock.time(),
                                   edge.limits.max_batch_items, default_type)
        accepted, more, notes = await take(edge, messages)
        refused = sorted(refused + more, key=lambda r: r.index) if more else refused
        return StoredAnswer(202, encode_json(BatchAnswer(accepted, refused, notes)))

    key = request.headers.get("idempotency-key")
    if key is None:
        answer = await handle()
    else:
        answer = await edge.idempotency.answer(request.url.path, check_key(key), body, handle)
    return Response(answer.body, answer.status, media_type="application/json")


STORED_UNREGISTERED: Final = "agent not registered; stored (policy store)"
"""The note on a metric of an agent that is not registered, stored as the core's policy says."""
TAKEN_UNREGISTERED: Final = "agent not registered; tracked (policy store)"
"""The same for a ``task_started``, which is tracked in flight, not stored."""


async def _take_metrics(
    edge: Edge, metrics: MetricItems
) -> tuple[int, list[Refusal], list[Note]]:
    """Into the telemetry channel, never blocking: the task rows in one append, the rest one each.

    Under the policy ``refuse`` a metric of an unregistered agent is refused;
    under ``store`` it is taken, and noted.
    """
    if not edge.system.config.enable_monitoring:
        return len(metrics), [], []  # as the facade: accepted, not recorded
    system = edge.system
    unregistered = system.unregistered_agent_metrics()
    refused = []
    if metrics.rows is not None:
        indexes = metrics.rows.indexes
        try:
            refused = [
                Refusal(indexes[i], "agent_id", str(UnknownAgent(metrics.rows.columns.agent_ids[i])))
                for i in system.send_rows(metrics.rows.columns)
            ]
        except SwarmPulseError as exc:  # stopped: each refused, as one at a time would be
            refused = [Refusal(index, "agent_id", str(exc)) for index in indexes]
    send = system.send
    for index, metric in metrics.messages:
        try:
            send(metric)
        except InvalidMessage as exc:  # a policy of the core refusing it (unknown agents)
            refused.append(Refusal(index, exc.field, exc.reason))
        except SwarmPulseError as exc:
            refused.append(Refusal(index, "agent_id", str(exc)))
    notes: list[Note] = []
    if system.unregistered_agent_metrics() != unregistered:
        # some agent was not registered: which items
        notes = _unregistered(system.is_registered, metrics, {r.index for r in refused})
    return len(metrics) - len(refused), refused, notes


def _unregistered(is_known: Callable[[str], bool], metrics: MetricItems, refused: set[int]) -> list[Note]:
    """A note for each taken item that names an agent that is not registered, in batch order."""
    notes = [
        Note(index, "agent_id",
             TAKEN_UNREGISTERED if type(metric) is TaskStarted else STORED_UNREGISTERED)
        for index, metric in metrics.messages
        if type(metric) is not SwarmMetric and index not in refused and not is_known(metric.agent_id)
    ]
    if metrics.rows is not None:
        notes += [
            Note(index, "agent_id", STORED_UNREGISTERED)
            for index, agent_id in zip(metrics.rows.indexes, metrics.rows.columns.agent_ids,
                                       strict=True)
            if index not in refused and not is_known(agent_id)
        ]
        notes.sort(key=lambda note: note.index)
    return notes


async def post_metrics(request: Request) -> Response:
    """``POST /v1/metrics``: task, agent and swarm metrics and task starts, one or a list."""
    return await _batch(request, METRIC_TYPES, None, _take_metrics, decode_metrics)


async def post_agent(request: Request) -> Response:
    """``POST /v1/agents``: register an agent; 201 when new, 200 when already registered."""
    edge = edge_of(request)
    format = body_format(request)
    raw = decode_body(await read_body(request, edge.limits.max_body_bytes), format)
    if not isinstance(raw, dict):
        raise RequestRefused(400, "the body must be a register_agent object", "body")
    raw.setdefault("type", "register_agent")
    if raw["type"] != "register_agent":
        raise RequestRefused(400, "type must be register_agent", "type")
    try:
        message = msgspec.convert(raw, RegisterAgent)
    except msgspec.ValidationError:
        error = explain(raw)
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
