"""Reads the dashboard draws from: trends per agent from the rollups, the monitor's own state.

Like the other read endpoints, each checks its parameters, asks the facade from a
worker thread, and encodes the answer.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from actors import SwarmSystem, UnknownAgent
from messages import InvalidMessage, check_id
from server.edge import edge_of
from server.errors import RequestRefused
from server.responses import json_response
from server.timerange import time_range

__all__ = ["MAX_TREND_AGENTS", "get_monitoring", "get_trends"]

MAX_TREND_AGENTS: Final = 200
"""Agents one ``/v1/trends`` request may name (a page of the dashboard's table)."""
DEFAULT_SLICES: Final = 60
MAX_SLICES: Final = 1440


def _slices(request: Request) -> int:
    text = request.query_params.get("slices")
    if text is None:
        return DEFAULT_SLICES
    if not text.isdigit() or not 1 <= int(text) <= MAX_SLICES:
        raise RequestRefused(400, f"slices: must be a whole number from 1 to {MAX_SLICES}", "slices")
    return int(text)


def _trends(system: SwarmSystem, agents: list[str | None], start: float, end: float,
            slices: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for agent_id in agents:
        try:
            out[agent_id or "*"] = system.get_task_trend(agent_id, start, end, slices)
        except UnknownAgent:
            unknown.append(str(agent_id))
    return {"start": start, "end": end, "slices": slices, "trends": out, "unknown": unknown}


async def get_trends(request: Request) -> Response:
    """``GET /v1/trends?agent_id=..&agent_id=..&since=1h&slices=60``: per-slice task figures.

    Without ``agent_id`` the whole swarm's trend (under ``"*"``); ids the system
    has never seen are listed under ``unknown``. The range defaults to the last hour.
    """
    system = edge_of(request).system
    ids = request.query_params.getlist("agent_id")
    if len(ids) > MAX_TREND_AGENTS:
        raise RequestRefused(400, f"agent_id: at most {MAX_TREND_AGENTS} agents a request",
                             "agent_id")
    for agent_id in ids:
        try:
            check_id("agent_id", agent_id)
        except InvalidMessage as exc:
            raise RequestRefused(400, f"agent_id: {exc.reason}", "agent_id") from None
    params = request.query_params
    now = system.clock.time()
    start, end = time_range(params.get("since") or (None if params.get("start") else "1h"),
                            params.get("start"), params.get("end"), now)
    end = now if end is None else end
    start = end - 3600.0 if start is None else start
    if not start < end:
        raise RequestRefused(400, "start: must be before end", "start")
    slices = _slices(request)
    agents: list[str | None] = list(dict.fromkeys(ids)) or [None]
    body = await run_in_threadpool(_trends, system, agents, start, end, slices)
    return json_response(body)


async def get_monitoring(request: Request) -> Response:
    """``GET /v1/monitoring``: the monitor's own figures (``get_monitoring_stats()``)."""
    system = edge_of(request).system
    stats = await run_in_threadpool(system.get_monitoring_stats)
    return json_response(stats)
