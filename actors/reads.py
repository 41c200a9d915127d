"""The writer's read answers: one storage call per typed request, matched on its type."""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from actors.protocol import (
    ApplyRetention,
    ReadAgent,
    ReadAgentMetrics,
    ReadAgents,
    ReadAgentsUptime,
    ReadAgentUptime,
    ReadAlerts,
    ReadAlertState,
    ReadHealthEvents,
    ReadLatestAgentMetrics,
    ReadLatestSwarmMetrics,
    ReadMetadata,
    ReadQuarantine,
    ReadSwarmMetrics,
    ReadTally,
    ReadTaskMetrics,
    ReadTaskSeries,
    ReadTaskSpan,
    ReadTaskStats,
    ReadTaskTrend,
    StorageRead,
)
from messages import InvalidMessage
from storage import MetricsStorage

__all__ = ["answer", "checked"]

_FIELD: Final = re.compile(r"at `\$\.(\w+)`")


def checked(request: StorageRead) -> StorageRead:
    """Return the request with every field of its declared type, numbers as floats.

    A request built in code is not checked by msgspec (only a decoded one is),
    and the writer must not hand SQLite a value it cannot bind.

    Raises:
        InvalidMessage: a field has a value of another type (the error names it).
    """
    try:
        return msgspec.convert(msgspec.structs.asdict(request), type(request))
    except msgspec.ValidationError as exc:
        found = _FIELD.search(str(exc))
        field = found.group(1) if found else type(request).__name__
        value = getattr(request, field, request)
        raise InvalidMessage(field, value, str(exc).split(" - at ")[0]) from None


def answer(storage: MetricsStorage, request: StorageRead) -> Any:
    """Return what ``storage`` says to ``request``.

    Raises:
        StorageError: the storage refused the read (and UnknownAgentRecord, ...).
        InvalidMessage: a field of the request is of the wrong type or out of range.
    """
    request = checked(request)
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
        case ReadLatestAgentMetrics():
            return storage.latest_agent_metrics(request.start_time, request.end_time,
                                                request.agent_id)
        case ReadLatestSwarmMetrics():
            return storage.latest_swarm_metrics(request.start_time, request.end_time)
        case ReadTaskSpan():
            return storage.task_span(request.agent_id)
        case ReadTaskSeries():
            return storage.task_series(request.low, request.high, request.agent_id, request.slices)
        case ReadAgentsUptime():
            return storage.agents_uptime(now=request.now)
        case ReadTaskTrend():
            return storage.task_trend(request.start_time, request.end_time, request.slices,
                                      request.agent_id)
        case ReadAlertState():
            return storage.load_alert_state()
        case ReadQuarantine():
            return storage.query_quarantine(request.limit)
        case ApplyRetention():
            return storage.apply_retention(request.days, now=request.now)
    raise TypeError(f"not a storage read: {request!r}")  # pragma: no cover - exhaustive
