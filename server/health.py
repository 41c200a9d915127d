"""``GET /healthz``: is the system up, and is it keeping up with its writes?"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from actors import MonitoringDisabled
from server.edge import Edge, edge_of
from server.responses import json_response

__all__ = ["healthz", "system_health"]


def system_health(edge: Edge) -> tuple[bool, dict[str, Any]]:
    """Whether the system is up, with the figures that say so (from a worker thread).

    With alert management on, ``receivers_failing`` lists the integrations whose
    ``ReceiverFailing`` alert fires and ``notification_failures`` counts failed
    attempts; neither makes the answer 503 (the monitor is up; its alert says so).
    """
    system = edge.system
    try:
        snapshot = system.snapshot()
    except Exception as exc:  # stopped, or the coordinator is gone
        return False, {"status": "down", "reason": f"the actor system is not answering ({type(exc).__name__})"}
    writes = system.get_write_status()
    backlog = writes["pending_writes"]
    body: dict[str, Any] = {
        "status": "ok",
        "agents": len(snapshot.agents),
        "failed_services": snapshot.failed_services,
        "pending_writes": backlog,
        "max_write_backlog": edge.limits.max_write_backlog,
        "write_failures": writes["write_failures"],
        "event_streams": edge.hub.clients,
        "receivers_failing": [],
    }
    try:  # a failing receiver is reported, not a reason for 503: the monitor itself is up
        alerting = system.alerting_stats()
    except MonitoringDisabled:
        pass
    else:
        body["receivers_failing"] = alerting["receivers_failing"]
        body["notification_failures"] = alerting["failures"]
    reasons = [f"the {kind} failed and was given up" for kind in snapshot.failed_services]
    if backlog > edge.limits.max_write_backlog:
        reasons.append(
            f"{backlog} metrics wait to be written (more than {edge.limits.max_write_backlog})"
        )
    if reasons:
        body["status"] = "failing"
        body["reason"] = "; ".join(reasons)
    return not reasons, body


async def healthz(request: Request) -> Response:
    """200 while the actors and the writer are up; 503 with the reason otherwise."""
    ok, body = await run_in_threadpool(system_health, edge_of(request))
    return json_response(body, 200 if ok else 503)
