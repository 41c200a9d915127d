"""The health report's data: what the JSON report contains, under stable keys."""

from __future__ import annotations

from typing import Any

import msgspec

from messages.base import Message
from messages.events import Alert

__all__ = ["AgentReport", "HealthReport"]


class AgentReport(Message, tag="agent_report", kw_only=True, frozen=True):
    """One agent in a report.

    ``duration_series`` and ``throughput_series`` are the agent's mean task
    duration (ms) and task count per equal slice of the reported time, oldest
    first, for sparklines.
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


class HealthReport(Message, tag="health_report", kw_only=True, frozen=True):
    """A whole health report: the JSON report is this struct, encoded."""

    swarm_id: str
    timestamp: float
    topology_type: str
    agent_count: int
    health_distribution: dict[str, int]
    agents: list[AgentReport]
    task_stats: dict[str, Any]
    alerts: list[Alert]
