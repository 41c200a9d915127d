"""The Starlette application: the routes, the error handlers, the lifespan.

Endpoints find what they serve in ``request.app.state.edge`` (a
:class:`server.edge.Edge`: the system, the limits, the event hub). To add an
endpoint, add a ``Route`` to :data:`routes` at the bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pykka
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import SwarmSystem, SystemStopped, UnknownAgent
from messages import InvalidMessage
from storage import StorageError
from server.auth import BearerAuth
from server.bridge import AskBridge
from server.dashboard import dashboard_routes
from server.edge import Edge, edge_of
from server.errors import RequestRefused
from server.events import EventHub, Summary, stream_events
from server.heartbeats import HeartbeatSender
from server.health import healthz
from server.idempotency import cache_for
from server.ingest import delete_agent, post_agent, post_heartbeats, post_metrics
from server.responses import error_response
from server.limits import Limits
from server.metrics import metrics_endpoint
from server.refusals import RefusalAlarm
from server.openapi import openapi_json
from server.reads import (
    get_agent,
    get_alerts,
    get_cost,
    get_findings,
    get_health_events,
    get_in_flight,
    get_report,
    get_stats,
    list_agents,
)
from server.views import get_monitoring, get_trends
from server.silences import (
    delete_silence,
    get_active_alerts,
    get_silences,
    post_ack,
    post_silence,
)

__all__ = ["create_app", "routes"]

logger = logging.getLogger("swarmpulse.server")


def create_app(system: SwarmSystem, token: str | None = None, limits: Limits | None = None) -> Starlette:
    """The ASGI app serving ``system``; with ``token``, every path but /healthz needs it."""
    limits = limits if limits is not None else Limits()
    hub = EventHub(limits)
    edge = Edge(system=system, limits=limits, hub=hub,
                idempotency=cache_for(system, limits.idempotency_seconds, limits.idempotency_keys),
                refusals=RefusalAlarm(system))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        hub.attach(loop)
        edge.bridge = AskBridge(system.coordinator, loop)
        edge.beats = HeartbeatSender(system.coordinator, edge.bridge, system.is_registered)
        unsubscribe = system.subscribe(hub.publish_threadsafe)
        summaries = asyncio.create_task(_summaries(edge))
        try:
            yield
        finally:
            unsubscribe()
            hub.close()
            edge.bridge.close()
            summaries.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await summaries

    app = Starlette(
        routes=routes,
        middleware=[Middleware(BearerAuth, token=token)],
        exception_handlers={
            RequestRefused: _refused,
            InvalidMessage: _invalid,
            SystemStopped: _stopped,
            UnknownAgent: _unknown_agent,
            StorageError: _storage,
            pykka.ActorDeadError: _stopped,
            pykka.Timeout: _busy,
            HTTPException: _http_error,
            Exception: _internal,
        },
        lifespan=lifespan,
    )
    app.state.edge = edge
    return app


def summary_of(system: SwarmSystem) -> Summary:
    """The swarm at a glance, from one snapshot (called from a worker thread)."""
    snapshot = system.snapshot()
    writes = system.get_write_status()
    counts = {"healthy": 0, "degraded": 0, "critical": 0, "failed": 0}
    for agent in snapshot.agents:
        counts[agent.health_state.value] += 1
    return Summary(
        at=snapshot.at, agent_count=len(snapshot.agents), health_distribution=counts,
        total_heartbeats=snapshot.total_heartbeats,
        pending_writes=writes["pending_writes"], dropped=writes["dropped"], stalls=snapshot.stalls,
        failed_services=list(snapshot.failed_services),
    )


async def _summaries(edge: Edge) -> None:
    """A ``summary`` event every ``summary_seconds`` while a stream is open."""
    while True:
        await asyncio.sleep(edge.limits.summary_seconds)
        if not edge.hub.clients:
            continue
        try:
            summary = await run_in_threadpool(summary_of, edge.system)
        except Exception:  # the system is stopping; the next round tries again
            logger.debug("no summary this round", exc_info=True)
            continue
        edge.hub.publish_summary(summary)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestRefused)
    alarm = edge_of(request).refusals
    if alarm is not None:
        alarm.refused(request.client.host if request.client else "unknown", exc.status, exc.reason)
    return error_response(exc.status, exc.reason, exc.field)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidMessage)
    return error_response(400, f"{exc.field}: {exc.reason}", exc.field)


async def _stopped(request: Request, exc: Exception) -> Response:
    return error_response(503, "the system is shutting down")


async def _unknown_agent(request: Request, exc: Exception) -> Response:
    # an agent that left between two reads of one request
    assert isinstance(exc, UnknownAgent)
    return error_response(404, str(exc), "agent_id")


async def _storage(request: Request, exc: Exception) -> Response:
    # its text may name the database file: logged, not answered
    logger.warning("storage failed on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "the storage is unavailable; retry later")


async def _busy(request: Request, exc: Exception) -> Response:
    return error_response(503, "the system did not answer in time; retry later")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def _internal(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error")


routes = [
    # first: the hot path (a request tries the routes in order)
    Route("/v1/heartbeats", post_heartbeats, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/v1/agents", list_agents, methods=["GET"]),
    Route("/v1/agents", post_agent, methods=["POST"]),
    Route("/v1/agents/{agent_id:path}", get_agent, methods=["GET"]),
    Route("/v1/agents/{agent_id:path}", delete_agent, methods=["DELETE"]),
    Route("/v1/metrics", post_metrics, methods=["POST"]),
    Route("/v1/stats", get_stats, methods=["GET"]),
    Route("/v1/alerts", get_alerts, methods=["GET"]),
    Route("/v1/alerts/active", get_active_alerts, methods=["GET"]),
    Route("/v1/alerts/{fingerprint}/ack", post_ack, methods=["POST"]),
    Route("/v1/silences", post_silence, methods=["POST"]),
    Route("/v1/silences", get_silences, methods=["GET"]),
    Route("/v1/silences/{silence_id}", delete_silence, methods=["DELETE"]),
    Route("/v1/health-events", get_health_events, methods=["GET"]),
    Route("/v1/report", get_report, methods=["GET"]),
    Route("/v1/findings", get_findings, methods=["GET"]),
    Route("/v1/cost", get_cost, methods=["GET"]),
    Route("/v1/tasks/in-flight", get_in_flight, methods=["GET"]),
    Route("/v1/events", stream_events, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
    Route("/v1/trends", get_trends, methods=["GET"]),
    Route("/v1/monitoring", get_monitoring, methods=["GET"]),
    Route("/openapi.json", openapi_json, methods=["GET"]),
    *dashboard_routes(),
]
