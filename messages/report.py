"""The health report's data: what the JSON report contains, under stable keys.

Also the one builder of its parts, used by both reports (the running system's
and the command line's of a stored file), so a figure is made the same way in each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import msgspec

from messages.base import Message
from messages.events import Alert
from messages.telemetry import AgentMetric, SwarmMetric

__all__ = [
    "REPORT_ALERTS",
    "REPORT_SLICES",
    "AgentReport",
    "Gauge",
    "HealthReport",
    "ReceiverStats",
    "agent_report",
    "gauges_by_agent",
    "gauges_of",
]

REPORT_SLICES: Final = 20
"""Slices of a report's sparklines."""
REPORT_ALERTS: Final = 50
"""The most recent alerts a report lists."""


class Gauge(Message, tag="gauge", kw_only=True, frozen=True):
    """The latest value of one gauge (an agent's or the swarm's) and when it was recorded."""

    metric_type: str
    value: float
    timestamp: float


class ReceiverStats(Message, tag="receiver_stats", kw_only=True, frozen=True):
    """How notifications to one integration of a receiver went, since the system started.

    ``attempts`` counts every try, ``failures`` the tries that did not get
    through (``timeouts`` of them timed out), ``given_up`` the notices dropped
    undelivered (their integration left the configuration). ``failing`` holds
    while the integration's ``ReceiverFailing`` alert fires: from
    ``failures_before_alert`` failures in a row until it delivers again.
    """

    integration: str
    receiver: str
    kind: str
    attempts: int = 0
    delivered: int = 0
    failures: int = 0
    timeouts: int = 0
    given_up: int = 0
    failing: bool = False
    last_error: str = ""


class AgentReport(Message, tag="agent_report", kw_only=True, frozen=True):
    """One agent in a report.

    ``duration_series`` and ``throughput_series`` are the agent's mean task
    duration (ms) and task count per equal slice of the reported time, oldest
    first, for sparklines. With ``tasks_completed == 0`` the rates and
    durations are 0 and mean nothing: there is no task yet. ``gauges`` holds
    the latest value of each of the agent's gauges, by metric type.
    """

    agent_id: str
    health_state: str
    heartbeat_age_ms: float | None
    uptime_pct: float | None  # None: the agent was never registered, so never tracked
    tasks_completed: int
    success_rate: float
    avg_duration_ms: float
    p95_duration_ms: float
    total_tokens: int
    duration_series: list[float] = msgspec.field(default_factory=list)
    throughput_series: list[int] = msgspec.field(default_factory=list)
    gauges: list[Gauge] = msgspec.field(default_factory=list)
    phi: float | None = None
    """The phi accrual detector's suspicion of the agent when the report was made (None:
    the agent is judged by the fixed thresholds, or the report was read from a file)."""


class HealthReport(Message, tag="health_report", kw_only=True, frozen=True):
    """A whole health report: the JSON report is this struct, encoded.

    ``swarm_gauges`` holds the latest value of each swarm gauge, by metric type.
    """

    swarm_id: str
    timestamp: float
    topology_type: str
    agent_count: int
    health_distribution: dict[str, int]
    agents: list[AgentReport]
    task_stats: dict[str, Any]
    alerts: list[Alert]
    swarm_gauges: list[Gauge] = msgspec.field(default_factory=list)
    findings: list[str] = msgspec.field(default_factory=list)
    """The analyst's plain-language findings (bottlenecks, slow peers, cost), one sentence each."""
    cost: dict[str, Any] = msgspec.field(default_factory=dict)
    """``get_cost()``: ``total``, ``by_agent``, ``currency``, ``priced_tasks``, ``unpriced_tasks``
    (empty in a report read from a file: prices are not stored)."""
    stuck_tasks: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """The tasks in flight past their stuck limit: ``agent_id``, ``task_id``, ``kind``,
    ``started``, ``running_s``, ``limit_s`` (empty in a report read from a file)."""

    receivers: list[ReceiverStats] = msgspec.field(default_factory=list)
    """Notifications by integration, with alert management on (empty without it)."""

def gauges_of(metrics: Iterable[AgentMetric | SwarmMetric]) -> list[Gauge]:
    """The report's :class:`Gauge` of each stored latest value, in order."""
    return [Gauge(metric_type=m.metric_type, value=m.value, timestamp=m.timestamp) for m in metrics]


def gauges_by_agent(metrics: Iterable[AgentMetric]) -> dict[str, list[Gauge]]:
    """The latest agent gauges grouped by agent, each agent's in the order given."""
    grouped: dict[str, list[Gauge]] = {}
    for m in metrics:
        grouped.setdefault(m.agent_id, []).append(
            Gauge(metric_type=m.metric_type, value=m.value, timestamp=m.timestamp))
    return grouped


def agent_report(
    agent_id: str,
    *,
    health_state: str,
    heartbeat_age_ms: float | None,
    uptime_pct: float | None,
    stats: Mapping[str, Any],
    series: tuple[list[float], list[int]],
    gauges: Sequence[Gauge] = (),
    phi: float | None = None,
) -> AgentReport:
    """One agent's line of a report, from its task statistics and sparkline series.

    Args:
        agent_id: the agent.
        health_state: its state's value (``"healthy"``...).
        heartbeat_age_ms: the age of its last heartbeat; None where it is unknown
            (a stored file keeps no heartbeats).
        uptime_pct: its uptime; None for an agent never registered.
        stats: its task statistics as storage's ``task_stats`` gives them.
        series: (mean duration, task count) per slice, as storage's ``task_series``.
        gauges: the latest value of each of its gauges.
        phi: its phi, for an agent on the phi detector (None otherwise, and in a
            report read from a file).
    """
    durations, counts = series
    return AgentReport(
        agent_id=agent_id,
        health_state=health_state,
        heartbeat_age_ms=heartbeat_age_ms,
        uptime_pct=uptime_pct,
        tasks_completed=stats["total_tasks"],
        success_rate=stats["success_rate"],
        avg_duration_ms=stats["avg_duration_ms"],
        p95_duration_ms=stats["p95_duration_ms"],
        total_tokens=stats["total_tokens"],
        duration_series=durations,
        throughput_series=counts,
        gauges=list(gauges),
        phi=phi,
    )
