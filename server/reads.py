"""Read endpoints: agents, statistics, alerts, transitions and the report, as JSON.

Each endpoint checks its parameters, then asks the facade from a worker
thread (its calls wait on actors), and encodes the answer.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from actors import SwarmSystem
from messages import MIN_TIMESTAMP, AlertSeverity, HealthState, InvalidMessage, check_id
from server.edge import edge_of
from server.errors import RequestRefused
from server.responses import json_response
from server.timerange import time_range

__all__ = [
    "get_agent",
    "get_alerts",
    "get_cost",
    "get_findings",
    "get_health_events",
    "get_in_flight",
    "get_report",
    "get_stats",
    "list_agents",
]

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 10_000
_STATES: Final = ", ".join(state.value for state in HealthState)
_SEVERITIES: Final = ", ".join(severity.value for severity in AlertSeverity)


def _agent_param(request: Request, name: str = "agent_id", *, path: bool = False) -> str | None:
    value = request.path_params.get(name) if path else request.query_params.get(name)
    if value is None:
        return None
    try:
        check_id(name, value)
    except InvalidMessage as exc:
        raise RequestRefused(400, f"{name}: {exc.reason}", name) from None
    return str(value)


def _limit(request: Request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise RequestRefused(400, f"limit: must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(text)


def _range(request: Request, system: SwarmSystem) -> tuple[float | None, float | None]:
    params = request.query_params
    return time_range(params.get("since"), params.get("start"), params.get("end"),
                      system.clock.time())


def _choice(request: Request, name: str, allowed: str) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in allowed.split(", "):
        raise RequestRefused(400, f"{name}: must be one of: {allowed}", name)
    return value


async def list_agents(request: Request) -> Response:
    """``GET /v1/agents[?state=]``: every agent's health and task figures."""
    system = edge_of(request).system
    state = _choice(request, "state", _STATES)
    agents = await run_in_threadpool(system.agents_overview)
    if state is not None:
        agents = [a for a in agents if a["health_state"] == state]
    return json_response({"agents": agents})


def _agent_detail(system: SwarmSystem, agent_id: str) -> dict[str, Any] | None:
    status = system.get_agent_health_status(agent_id)
    if status is None:
        return None
    performance = system.get_agent_performance(agent_id)
    return {
        "agent_id": agent_id,
        "health_state": status["health_state"],
        "last_heartbeat": status["last_heartbeat"],
        "heartbeat_age_ms": status["heartbeat_age_ms"],
        "uptime_pct": system.get_agent_uptime(agent_id),
        "tasks_completed": performance["tasks_completed"],
        "success_rate": performance["success_rate"],
        "p95_duration_ms": performance["p95_duration_ms"],
        "total_tokens": performance["total_tokens_used"],
        "duration_series": list(performance.get("duration_series", [])),
        "interval_ms": status["interval_ms"],
        "failure_threshold": status["failure_threshold"],
        "phi": status["phi"],
        "at_risk": status["at_risk"],
        "in_flight": system.get_tasks_in_flight(agent_id).get(agent_id, []),
        "heartbeats": system.get_heartbeat_history(agent_id),
        "transitions": system.query_health_events(agent_id=agent_id),
        "performance": performance,
        "gauges": system.get_latest_gauges(agent_id),
        "recent_tasks": _recent_tasks(system, agent_id),
    }


RECENT_TASKS: Final = 20
"""Tasks ``GET /v1/agents/{agent_id}`` lists: the agent's latest, of the last 15 minutes."""


def _recent_tasks(system: SwarmSystem, agent_id: str) -> list[Any]:
    since = max(MIN_TIMESTAMP, system.clock.time() - 900.0)
    return system.query_task_metrics(start_time=since, agent_id=agent_id, limit=MAX_LIMIT)[
        -RECENT_TASKS:]


async def get_agent(request: Request) -> Response:
    """``GET /v1/agents/{agent_id}``: the agent's record, history, transitions; 404 if unknown."""
    agent_id = _agent_param(request, path=True)
    assert agent_id is not None
    detail = await run_in_threadpool(_agent_detail, edge_of(request).system, agent_id)
    if detail is None:
        raise RequestRefused(404, f"unknown agent {agent_id!r}", "agent_id")
    return json_response(detail)


async def get_stats(request: Request) -> Response:
    """``GET /v1/stats?agent_id=&start=&end=&since=``: the dict of ``get_task_stats``."""
    system = edge_of(request).system
    agent_id = _agent_param(request)
    start, end = _range(request, system)
    stats = await run_in_threadpool(system.get_task_stats, agent_id, start, end)
    return json_response(stats)


async def get_alerts(request: Request) -> Response:
    """``GET /v1/alerts?agent_id=&severity=&since=&start=&end=&limit=``: the latest alerts, oldest first."""
    system = edge_of(request).system
    agent_id = _agent_param(request)
    severity = _choice(request, "severity", _SEVERITIES)
    limit = _limit(request)
    start, end = _range(request, system)
    alerts = await run_in_threadpool(
        lambda: system.query_alerts(start, end, agent_id=agent_id, severity=severity)
    )
    return json_response({"alerts": alerts[-limit:]})


async def get_health_events(request: Request) -> Response:
    """``GET /v1/health-events?agent_id=&since=&start=&end=&limit=``: stored transitions."""
    system = edge_of(request).system
    agent_id = _agent_param(request)
    limit = _limit(request)
    start, end = _range(request, system)
    events = await run_in_threadpool(
        lambda: system.query_health_events(start, end, agent_id=agent_id)
    )
    return json_response({"health_events": events[-limit:]})


async def get_report(request: Request) -> Response:
    """``GET /v1/report?format=markdown|json``: the health report, escaped as the reports are."""
    system = edge_of(request).system
    format = _choice(request, "format", "markdown, json") or "markdown"
    text = await run_in_threadpool(system.generate_report, format)
    if format == "json":
        return Response(text, media_type="application/json")
    return Response(text, media_type="text/markdown; charset=utf-8")


async def get_findings(request: Request) -> Response:
    """``GET /v1/findings[?profiles=0]``: the analyst's findings, and each agent's profile.

    ``profiles=0`` leaves the profiles out (one per agent: the dashboard needs only the findings).
    """
    system = edge_of(request).system
    with_profiles = _choice(request, "profiles", "0, 1") != "0"
    findings = await run_in_threadpool(system.get_findings)
    if not with_profiles:
        return json_response({"findings": findings})
    profiles = await run_in_threadpool(system.get_agent_profiles)
    return json_response({"findings": findings, "profiles": profiles})


async def get_cost(request: Request) -> Response:
    """``GET /v1/cost``: the cost of the swarm's tasks, in total and per agent."""
    cost = await run_in_threadpool(edge_of(request).system.get_cost)
    return json_response(cost)


def _in_flight(system: SwarmSystem, agent_id: str | None, stuck_only: bool) -> dict[str, Any]:
    by_agent = system.get_tasks_in_flight(agent_id)
    tasks = sum(len(t) for t in by_agent.values())
    stuck = sum(1 for t in by_agent.values() for task in t if task["stuck"])
    shown = {a: [t for t in ts if t["stuck"] or not stuck_only] for a, ts in by_agent.items()}
    return {"tasks": tasks, "stuck": stuck, "in_flight": {a: ts for a, ts in shown.items() if ts}}


async def get_in_flight(request: Request) -> Response:
    """``GET /v1/tasks/in-flight?agent_id=&stuck=1``: tasks started and not finished, per agent.

    ``tasks`` and ``stuck`` count them; ``in_flight`` lists each agent's (only the
    agents with one; with ``stuck=1`` only the stuck ones), as ``get_tasks_in_flight``.
    """
    system = edge_of(request).system
    agent_id = _agent_param(request)
    stuck_only = _choice(request, "stuck", "0, 1") == "1"
    answer = await run_in_threadpool(_in_flight, system, agent_id, stuck_only)
    return json_response(answer)
