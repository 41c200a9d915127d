"""Requests and replies between the system's own actors, never sent over a wire.

Agents send :mod:`messages.telemetry` and :mod:`messages.control`; the actors
use these among themselves for routing, queries, supervision and batching.
Times named ``mono`` are on the monitor's monotonic clock, not epoch seconds.

Every read is a request of its own type, one per question, and the actor that
answers matches on the type (msgspec's ``asyncio-kv`` example: ``Get``,
``Put``, ``Del``): the aggregator answers :class:`GetTaskStats` and
:class:`GetGauges`, the reporter :class:`GetRecentAlerts`, and the writer
every :data:`StorageRead` (``Read*`` and :class:`ApplyRetention`). Time
bounds in these are epoch seconds, already checked by the facade.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from actors.kernel.supervision import ChildFailed, Redeliver
from messages.base import Message
from messages.enums import HealthState
from messages.events import HealthChanged
from messages.report import ReceiverStats

__all__ = [
    "AgentSnapshot",
    "ApplyRetention",
    "Beat",
    "GetAgentPerformances",
    "GetAlertNames",
    "GetCounters",
    "GetGauges",
    "GetTotals",
    "GetRecentAlerts",
    "GetTaskStats",
    "LiveStats",
    "ReadAgent",
    "ReadAgentMetrics",
    "ReadAgentUptime",
    "ReadAgents",
    "ReadAlerts",
    "ReadHealthEvents",
    "ReadMetadata",
    "ReadQuarantine",
    "ReadAgentsUptime",
    "ReadAlertState",
    "ReadTaskTrend",
    "ReadTaskSeries",
    "ReadTaskSpan",
    "ReadLatestSwarmMetrics",
    "ReadLatestAgentMetrics",
    "ReadSwarmMetrics",
    "ReadTaskMetrics",
    "ReadTaskStats",
    "ReadTally",
    "Release",
    "Routed",
    "StorageRead",
    "Verified",
    "ChildFailed",
    "ConfigureAlerts",
    "RenderReport",
    "CheckDeadline",
    "ConfirmRouted",
    "Drain",
    "Flush",
    "GetHistory",
    "GetStatus",
    "HealthStatus",
    "HeartbeatRecord",
    "Redeliver",
    "Snapshot",
    "StallDetected",
    "StopTrackers",
    "SwarmSnapshot",
    "AgentSnapshot",
    "Transition",
    "AgentTotals",
    "MetricsSnapshot",
    "TaskTotals",
    "Wake",
]


class Beat(Message, tag="beat", kw_only=True, frozen=True):
    """A heartbeat as routed to its tracker, stamped as it reached the coordinator's inbox.

    ``mono`` and ``wall`` are that moment, however long the beat then waited in
    the inbox. ``stall_mark`` is the monitor's total stall time then: a stall
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


class ConfirmRouted(Message, tag="confirm_routed", kw_only=True, frozen=True):
    """A tracker asks the coordinator to answer :class:`Routed` once it has routed
    everything that reached it before ``until`` (monotonic): its inbox is FIFO, so
    taking this request is that moment. A deadline is judged only up to it, so a
    heartbeat still waiting in the coordinator's inbox convicts nobody."""

    agent_id: str
    incarnation: int
    until: float


class Routed(Message, tag="routed", kw_only=True, frozen=True):
    """Coordinator to tracker: every message that reached it before ``until`` is routed,
    so the heartbeats among them are in the tracker's mailbox ahead of this reply."""

    until: float


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
    phi: float | None = None  # the phi detector's suspicion now; None for fixed thresholds
    at_risk: bool = False  # its gaps drift later or grow jittery (it raised AgentAtRisk)


class StallDetected(Message, tag="stall_detected", kw_only=True, frozen=True):
    """The monitor itself was paused for ``seconds``; agents got that much grace."""

    seconds: float


class Drain(Message, tag="drain", kw_only=True, frozen=True):
    """Aggregator: take what senders have buffered."""


class Wake(Message, tag="wake", kw_only=True, frozen=True):
    """Writer: there is something to write, or time to retry."""


class Flush(Message, tag="flush", kw_only=True, frozen=True):
    """Writer: reply once everything accepted so far is committed."""


class GetTaskStats(Message, tag="get_task_stats", kw_only=True, frozen=True):
    """Aggregator: the :class:`LiveStats` of one agent (None: the swarm), or None if it has none."""

    agent_id: str | None = None


class LiveStats(Message, tag="live_stats", kw_only=True, frozen=True):
    """The aggregator's statistics of an agent or of the swarm.

    ``verified`` is False while the aggregator cannot tell whether the agent
    has tasks stored before its in-memory state began (an agent that came
    back after it was released, or one the file knew); the facade then reads
    the stored statistics instead, and sends :class:`Verified` if they agree.
    """

    stats: dict[str, Any]
    verified: bool
    duration_series: list[float] = msgspec.field(default_factory=list)
    throughput_series: list[int] = msgspec.field(default_factory=list)
    serial: int = 0  # which in-memory state of the agent this is (a new one after a release)


class Verified(Message, tag="verified", kw_only=True, frozen=True):
    """Aggregator: the stored tasks of ``agent_id`` are ``count``, as in its state ``serial``."""

    agent_id: str
    count: int
    serial: int


class Release(Message, tag="release", kw_only=True, frozen=True):
    """Aggregator: the agent left; drop its in-memory state (its stored history stays)."""

    agent_id: str


class GetGauges(Message, tag="get_gauges", kw_only=True, frozen=True):
    """Aggregator: the latest value and history of every agent and swarm gauge."""


class GetAgentPerformances(Message, tag="get_agent_performances", kw_only=True, frozen=True):
    """Aggregator: every agent's task count, success rate, p95 and tokens, by id, in one reply."""


class GetRecentAlerts(Message, tag="get_recent_alerts", kw_only=True, frozen=True):
    """Reporter: the last ``limit`` alerts, oldest first."""

    limit: int = 50


class ReadTaskMetrics(Message, tag="read_task_metrics", kw_only=True, frozen=True):
    """Writer: stored task metrics in [start_time, end_time), oldest first."""

    start_time: float | None = None
    end_time: float | None = None
    agent_id: str | None = None
    result: str | None = None
    limit: int | None = None


class ReadAgentMetrics(Message, tag="read_agent_metrics", kw_only=True, frozen=True):
    """Writer: stored agent gauges in [start_time, end_time), oldest first."""

    start_time: float | None = None
    end_time: float | None = None
    agent_id: str | None = None
    metric_type: str | None = None
    limit: int | None = None


class ReadSwarmMetrics(Message, tag="read_swarm_metrics", kw_only=True, frozen=True):
    """Writer: stored swarm gauges in [start_time, end_time), oldest first."""

    start_time: float | None = None
    end_time: float | None = None
    metric_type: str | None = None
    limit: int | None = None


class ReadHealthEvents(Message, tag="read_health_events", kw_only=True, frozen=True):
    """Writer: stored health transitions in [start_time, end_time), oldest first."""

    start_time: float | None = None
    end_time: float | None = None
    agent_id: str | None = None
    limit: int | None = None


class ReadAlerts(Message, tag="read_alerts", kw_only=True, frozen=True):
    """Writer: stored alerts in [start_time, end_time), oldest first."""

    start_time: float | None = None
    end_time: float | None = None
    agent_id: str | None = None
    severity: str | None = None
    limit: int | None = None


class ReadTaskStats(Message, tag="read_task_stats", kw_only=True, frozen=True):
    """Writer: the stored statistics of tasks in [start_time, end_time)."""

    start_time: float | None = None
    end_time: float | None = None
    agent_id: str | None = None


class ReadTally(Message, tag="read_tally", kw_only=True, frozen=True):
    """Writer: the tally of every stored task of an agent (None: the swarm)."""

    agent_id: str | None = None


class ReadAgentUptime(Message, tag="read_agent_uptime", kw_only=True, frozen=True):
    """Writer: the percent of monitored time in range that the agent was not FAILED."""

    agent_id: str
    now: float
    start_time: float | None = None
    end_time: float | None = None


class ReadAgents(Message, tag="read_agents", kw_only=True, frozen=True):
    """Writer: every agent the database has seen, as ``storage.AgentRecord``."""


class ReadAgent(Message, tag="read_agent", kw_only=True, frozen=True):
    """Writer: one agent's ``storage.AgentRecord``, or None if the database never saw it."""

    agent_id: str


class ReadMetadata(Message, tag="read_metadata", kw_only=True, frozen=True):
    """Writer: the swarm's stored settings (``swarm_id``, ``topology_type``, ...)."""


class ApplyRetention(Message, tag="apply_retention", kw_only=True, frozen=True):
    """Writer: delete what is older than ``days`` days before ``now`` (None: the clock)."""

    days: float = 30
    now: float | None = None


class ReadLatestAgentMetrics(Message, tag="read_latest_agent_metrics", kw_only=True, frozen=True):
    """Writer: the latest gauge of each (agent, metric type) in [start_time, end_time)."""

    start_time: float | None = None
    end_time: float | None = None
    agent_id: str | None = None


class ReadLatestSwarmMetrics(Message, tag="read_latest_swarm_metrics", kw_only=True, frozen=True):
    """Writer: the latest swarm gauge of each metric type in [start_time, end_time)."""

    start_time: float | None = None
    end_time: float | None = None


class ReadTaskSpan(Message, tag="read_task_span", kw_only=True, frozen=True):
    """Writer: the first and last task time of an agent (None: the swarm), or None."""

    agent_id: str | None = None


class ReadTaskSeries(Message, tag="read_task_series", kw_only=True, frozen=True):
    """Writer: mean duration and task count per equal slice of [low, high], from the rollups."""

    low: float
    high: float
    agent_id: str | None = None
    slices: int = 20


class ReadTaskTrend(Message, tag="read_task_trend", kw_only=True, frozen=True):
    """Writer: [start_time, end_time) cut into ``slices`` slices with their task figures."""

    start_time: float
    end_time: float
    slices: int = 60
    agent_id: str | None = None


class ReadAlertState(Message, tag="read_alert_state", kw_only=True, frozen=True):
    """Writer: the alert router's durable state, as stored."""


class ReadAgentsUptime(Message, tag="read_agents_uptime", kw_only=True, frozen=True):
    """Writer: every stored agent's uptime up to ``now``, by id, in one read."""

    now: float


class ReadQuarantine(Message, tag="read_quarantine", kw_only=True, frozen=True):
    """Writer: the items kept in quarantine, oldest first."""

    limit: int | None = None


StorageRead: TypeAlias = (
    ReadTaskMetrics
    | ReadAgentMetrics
    | ReadSwarmMetrics
    | ReadHealthEvents
    | ReadAlerts
    | ReadTaskStats
    | ReadTally
    | ReadAgentUptime
    | ReadAgents
    | ReadAgent
    | ReadMetadata
    | ReadLatestAgentMetrics
    | ReadLatestSwarmMetrics
    | ReadTaskSpan
    | ReadTaskSeries
    | ReadQuarantine
    | ReadAgentsUptime
    | ReadAlertState
    | ReadTaskTrend
    | ApplyRetention
)
"""Every request the storage writer answers from SQLite."""


class Snapshot(Message, tag="snapshot", kw_only=True, frozen=True):
    """Coordinator: ask for a :class:`SwarmSnapshot`."""


class StopTrackers(Message, tag="stop_trackers", kw_only=True, frozen=True):
    """Coordinator: stop every tracker and close every agent's monitored time."""


class AgentSnapshot(Message, tag="agent_snapshot", kw_only=True, frozen=True):
    """One agent as the coordinator last heard of it.

    ``tracked`` is False for an agent known only from the database the system
    started on: its ``health_state`` is the last one stored and its live
    figures are 0 (see ``SwarmSystem.snapshot``).
    """

    agent_id: str
    health_state: HealthState
    last_heartbeat: float
    heartbeat_age_ms: float
    registered_at: float
    heartbeats: int
    tracked: bool = True


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


class Transition(Message, tag="transition", kw_only=True, frozen=True):
    """Tracker -> coordinator: a health transition of one registration of an agent.

    ``incarnation`` numbers the registration (the coordinator gives each a new
    one); a transition of an earlier registration of the same id is dropped.
    ``seq`` numbers the registration's transitions from 1, in the order made.
    """

    incarnation: int
    seq: int
    event: HealthChanged


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
    phi: dict[str, float] = msgspec.field(default_factory=dict)  # agents with the phi detector
    cost: dict[str, float] = msgspec.field(default_factory=dict)  # priced agents' cost so far
    in_flight: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)
    """Agents with a task in flight: (tasks in flight, of which stuck)."""
    alert_names: dict[str, int] = msgspec.field(default_factory=dict)
    """Alerts raised since start by their ``alertname`` (the detectors' findings among them)."""
    receivers: list[ReceiverStats] = msgspec.field(default_factory=list)  # with alerting on


class GetTotals(Message, tag="get_totals", kw_only=True, frozen=True):
    """Aggregator: every agent's task counters, all durations as one histogram (a :class:`TaskTotals`)."""


class GetCounters(Message, tag="get_counters", kw_only=True, frozen=True):
    """Reporter: transitions by the state entered and alerts by severity, counted since start."""


class GetAlertNames(Message, tag="get_alert_names", kw_only=True, frozen=True):
    """Reporter: alerts that name themselves (metadata ``alertname``) by name, counted since start."""
