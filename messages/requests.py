"""Requests and replies between the system's own actors, never sent over a wire.

Agents send :mod:`messages.telemetry` and :mod:`messages.control`; the actors
use these among themselves for routing, queries, supervision and batching.
Times named ``mono`` are on the monitor's monotonic clock, not epoch seconds.
"""

from __future__ import annotations

from typing import Any

import msgspec

from messages.base import Message
from messages.enums import HealthState

__all__ = [
    "Beat",
    "ChildFailed",
    "ConfigureAlerts",
    "RenderReport",
    "CheckDeadline",
    "Drain",
    "Flush",
    "GetHistory",
    "GetStatus",
    "HealthStatus",
    "HeartbeatRecord",
    "Query",
    "Redeliver",
    "Snapshot",
    "StallDetected",
    "StopTrackers",
    "SwarmSnapshot",
    "AgentSnapshot",
    "AgentTotals",
    "MetricsSnapshot",
    "TaskTotals",
    "Wake",
]


class Beat(Message, tag="beat", kw_only=True, frozen=True):
    """A heartbeat as routed to its tracker, stamped on receipt by the coordinator.

    ``stall_mark`` is the monitor's total stall time when it was stamped: a stall
    after it is grace for the silence that follows it (None: the tracker's now).
    """

    agent_id: str
    mono: float
    wall: float
    sent_at: float
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    stall_mark: float | None = None


class CheckDeadline(Message, tag="check_deadline", kw_only=True, frozen=True):
    """A tracker's timer fell due; stale generations are ignored."""

    generation: int


class GetStatus(Message, tag="get_status", kw_only=True, frozen=True):
    """Ask for an agent's :class:`HealthStatus`."""

    agent_id: str


class GetHistory(Message, tag="get_history", kw_only=True, frozen=True):
    """Ask for an agent's recent heartbeats, oldest first."""

    agent_id: str


class HeartbeatRecord(Message, tag="heartbeat_record", kw_only=True, frozen=True, gc=False):
    """One heartbeat in an agent's history: when it arrived, when it was sent.

    ``gc=False``: a million of these (10,000 agents x 100) made every full
    garbage collection take 0.8 s; they hold no cycles, so the collector skips them.
    """

    received_at: float
    sent_at: float
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class HealthStatus(Message, tag="health_status", kw_only=True, frozen=True):
    """An agent's health as its tracker sees it now."""

    agent_id: str
    health_state: HealthState
    last_heartbeat: float
    heartbeat_age_ms: float
    interval_ms: int
    failure_threshold: int
    heartbeats: int


class ChildFailed(Message, tag="child_failed", kw_only=True, frozen=True):
    """A supervised actor raised; ``kind`` is tracker, aggregator, writer or reporter."""

    kind: str
    name: str
    error: str


class Redeliver(Message, tag="redeliver", kw_only=True, frozen=True):
    """Messages a failed child had not handled, for its next incarnation."""

    kind: str
    name: str
    messages: list[Any]


class StallDetected(Message, tag="stall_detected", kw_only=True, frozen=True):
    """The monitor itself was paused for ``seconds``; agents got that much grace."""

    seconds: float


class Drain(Message, tag="drain", kw_only=True, frozen=True):
    """Aggregator: take what senders have buffered."""


class Wake(Message, tag="wake", kw_only=True, frozen=True):
    """Writer: there is something to write, or time to retry."""


class Flush(Message, tag="flush", kw_only=True, frozen=True):
    """Writer: reply once everything accepted so far is committed."""


class Query(Message, tag="query", kw_only=True, frozen=True):
    """Writer or aggregator: call a read method by name with keyword arguments."""

    method: str
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)


class Snapshot(Message, tag="snapshot", kw_only=True, frozen=True):
    """Coordinator: ask for a :class:`SwarmSnapshot`."""


class StopTrackers(Message, tag="stop_trackers", kw_only=True, frozen=True):
    """Coordinator: stop every tracker and close every agent's monitored time."""


class AgentSnapshot(Message, tag="agent_snapshot", kw_only=True, frozen=True):
    """One agent as the coordinator last heard of it."""

    agent_id: str
    health_state: HealthState
    last_heartbeat: float
    heartbeat_age_ms: float
    registered_at: float
    heartbeats: int


class SwarmSnapshot(Message, tag="swarm_snapshot", kw_only=True, frozen=True):
    """Every agent's health and the coordinator's counters, at one moment."""

    at: float
    agents: list[AgentSnapshot]
    total_heartbeats: int
    unknown_heartbeats: int
    tracker_restarts: int
    service_restarts: dict[str, int]
    failed_services: list[str]
    stalls: int


class ConfigureAlerts(Message, tag="configure_alerts", kw_only=True, frozen=True):
    """Reporter: switch alert callbacks on or off and set them per health state."""

    enabled: bool = True
    callbacks: dict[HealthState, Any] = msgspec.field(default_factory=dict)


class RenderReport(Message, tag="render_report", kw_only=True, frozen=True):
    """Reporter: render a report (``markdown`` or ``json``) of the data given."""

    format: str
    data: Any


class AgentTotals(Message, tag="agent_totals", kw_only=True, frozen=True, gc=False):
    """One agent's task counters since the system started: per result, tokens, files."""

    agent_id: str
    results: dict[str, int]
    tokens: int
    files: int


class TaskTotals(Message, tag="task_totals", kw_only=True, frozen=True):
    """Aggregator: every agent's task counters, all durations as one histogram, the gauges.

    ``duration_bins``/``duration_zero`` are a :class:`storage.LogHistogram`'s
    buckets (milliseconds); ``gauges`` holds each agent gauge's latest value as
    ``(agent_id, metric_type, value)``.
    """

    agents: list[AgentTotals]
    duration_bins: dict[int, int]
    duration_zero: int
    duration_count: int
    duration_sum_ms: float
    gauges: list[tuple[str, str, float]]


class MetricsSnapshot(Message, tag="metrics_snapshot", kw_only=True, frozen=True):
    """What an exporter reads at scrape time, in one ask per actor (see ``SwarmSystem.metrics_snapshot``)."""

    swarm: SwarmSnapshot
    tasks: TaskTotals
    transitions: dict[str, int]
    alerts: dict[str, int]
    pending_writes: int
    dropped: int
    quarantined: int
