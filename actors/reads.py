"""The writer's read answers: one storage call per typed request, matched on its type."""

from __future__ import annotations

from typing import Any

from messages.requests import (
    ApplyRetention,
    ReadAgent,
    ReadAgentMetrics,
    ReadAgents,
    ReadAgentUptime,
    ReadAlerts,
    ReadHealthEvents,
    ReadMetadata,
    ReadSwarmMetrics,
    ReadTally,
    ReadTaskMetrics,
    ReadTaskStats,
    StorageRead,
)
from storage import MetricsStorage

__all__ = ["answer"]


def answer(storage: MetricsStorage, request: StorageRead) -> Any:
    """Return what ``storage`` says to ``request``.

    Raises:
        StorageError: the storage refused the read (and UnknownAgentRecord, ...).
        InvalidMessage: a field of the request is out of range.
    """
    match request:
        case ReadTaskMetrics():
            return storage.query_task_metrics(
                request.start_time, request.end_time, request.agent_id, request.result,
                request.limit,
            )
        case ReadAgentMetrics():
            return storage.query_agent_metrics(
                request.start_time, request.end_time, request.agent_id, request.metric_type,
                request.limit,
            )
        case ReadSwarmMetrics():
            return storage.query_swarm_metrics(
                request.start_time, request.end_time, request.metric_type, request.limit
            )
        case ReadHealthEvents():
            return storage.query_health_events(
                request.start_time, request.end_time, request.agent_id, request.limit
            )
        case ReadAlerts():
            return storage.query_alerts(
                request.start_time, request.end_time, request.agent_id, request.severity,
                request.limit,
            )
        case ReadTaskStats():
            return storage.task_stats(request.start_time, request.end_time, request.agent_id)
        case ReadTally():
            return storage.task_tally(request.agent_id)
        case ReadAgentUptime():
            return storage.agent_uptime(
                request.agent_id, request.start_time, request.end_time, now=request.now
            )
        case ReadAgents():
            return storage.agents()
        case ReadAgent():
            return storage.agent(request.agent_id)
        case ReadMetadata():
            return storage.metadata()
        case ApplyRetention():
            return storage.apply_retention(request.days, now=request.now)
    raise TypeError(f"not a storage read: {request!r}")  # pragma: no cover - exhaustive
