"""The health report's data: what the JSON report contains, under stable keys."""

from __future__ import annotations

from typing import Any

import msgspec

from messages.base import Message
from messages.events import Alert

__all__ = ["AgentReport", "Gauge", "HealthReport", "ReceiverStats"]


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
    receivers: list[ReceiverStats] = msgspec.field(default_factory=list)
    """Notifications by integration, with alert management on (empty without it)."""
