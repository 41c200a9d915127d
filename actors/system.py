"""The synchronous facade: start the actor system in-process and talk to it plainly."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final

import pykka

from actors.aggregator import AggregateState, MetricsAggregator
from actors.alerting.config import AlertingSettings, load_config
from actors.alerting.protocol import GetAlerting, ListSilences, TaskOutcomes
from actors.alerting.router import AlertRouter
from actors.alerting.state import decode_state
from actors.channel import TelemetryChannel
from actors.clock import Clock, SystemClock
from actors.coordinator import Services, SwarmCoordinator, SystemConfig
from actors.errors import MonitoringDisabled, SystemStopped, UnknownAgent
from actors.pending import PendingWrites
from actors.reporter import HealthReporter, ReporterState
from actors.runtime import Dispatcher
from actors.tracker import StallLedger
from actors.writer import StorageWriter, WriterStats
from messages import (
    AgentMetric,
    Alert,
    AlertSeverity,
    AgentReport,
    Crash,
    HealthChanged,
    HealthReport,
    HealthState,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    RegisterAgents,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    UnregisterAgent,
    check_finite,
    check_id,
    to_epoch,
)
from messages.control import check_interval, check_threshold
from messages.requests import (
    Beat,
    ConfigureAlerts,
    Drain,
    Flush,
    GetHistory,
    GetStatus,
    HealthStatus,
    Query,
    Redeliver,
    RenderReport,
    Snapshot,
    StallDetected,
    StopTrackers,
    SwarmSnapshot,
    Wake,
)
from storage import MetricsStorage, UnknownAgentRecord

__all__ = ["TOPOLOGIES", "SwarmSystem", "start_system"]

logger = logging.getLogger("swarmpulse.system")

TOPOLOGIES: Final = ("mesh", "hierarchical", "star", "ring", "adaptive")
_ALERT_SEVERITY: Final = {
    HealthState.DEGRADED: "warning",
    HealthState.CRITICAL: "critical",
    HealthState.FAILED: "critical",
}
ASK_TIMEOUT: Final = 30.0
MAX_HISTORY: Final = 1_000_000
MAX_WORKERS: Final = 256


def start_system(
    db_path: str | None = None,
    *,
    swarm_id: str = "swarm",
    topology_type: str = "mesh",
    heartbeat_interval_ms: int = 5000,
    failure_threshold: int = 3,
    history_size: int = 100,
    enable_monitoring: bool = True,
    clock: Clock | None = None,
    flush_interval: float = 0.1,
    workers: int = 2,
    max_pending: int = 2_000_000,
    alerting: AlertingSettings | str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> SwarmSystem:
    """Start the actor system in this process.

    Args:
        db_path: SQLite file; None keeps the database in memory.
        swarm_id: the swarm's name in reports and swarm metrics.
        topology_type: mesh, hierarchical, star, ring or adaptive.
        heartbeat_interval_ms: default heartbeat interval of an agent.
        failure_threshold: default intervals of silence before FAILED.
        history_size: heartbeats kept per agent.
        enable_monitoring: False registers agents but tracks and records nothing.
        clock: the clock all time goes through; a :class:`ManualClock` in tests.
        flush_interval: seconds between drains of buffered metrics into SQLite;
            the most a hard kill can lose is what was recorded in that time.
        workers: threads shared by all heartbeat trackers.
        max_pending: metrics and events kept while storage is unwritable; past
            it the oldest are dropped and counted in ``get_monitoring_stats()``.
        alerting: alert management (routes, receivers, silences, escalation):
            a TOML file's path, TOML text, a parsed dict or settings from
            :func:`actors.alerting.load_config`. None: no alert router; the
            in-process callbacks of :meth:`SwarmSystem.configure_alerts` work either way.

    Raises:
        InvalidMessage: (a ValueError) a setting is out of range.
    """
    check_id("swarm_id", swarm_id)
    if topology_type not in TOPOLOGIES:
        raise InvalidMessage("topology_type", topology_type, f"must be one of: {', '.join(TOPOLOGIES)}")
    if heartbeat_interval_ms is None:  # None means "the default" only for one agent
        raise InvalidMessage("heartbeat_interval_ms", None, "must be an integer number of ms")
    check_interval("heartbeat_interval_ms", heartbeat_interval_ms)
    if failure_threshold is None:
        raise InvalidMessage("failure_threshold", None, "must be an integer")
    check_threshold("failure_threshold", failure_threshold)
    if type(history_size) is not int or not 1 <= history_size <= MAX_HISTORY:
        raise InvalidMessage("history_size", history_size, f"must be between 1 and {MAX_HISTORY}")
    # Checked here, before anything starts: a bad one would fail in an actor later.
    if type(enable_monitoring) is not bool:
        raise InvalidMessage("enable_monitoring", enable_monitoring, "must be True or False")
    check_finite("flush_interval", flush_interval)
    if not flush_interval > 0:
        raise InvalidMessage("flush_interval", flush_interval, "must be positive")
    if type(workers) is not int or not 1 <= workers <= MAX_WORKERS:
        raise InvalidMessage("workers", workers, f"must be between 1 and {MAX_WORKERS}")
    if type(max_pending) is not int or max_pending < 1:
        raise InvalidMessage("max_pending", max_pending, "must be a positive integer")
    settings = None
    if alerting is not None:  # checked before anything starts
        settings = alerting if isinstance(alerting, AlertingSettings) else load_config(alerting)
    config = SystemConfig(
        swarm_id=swarm_id,
        topology_type=topology_type,
        heartbeat_interval_ms=heartbeat_interval_ms,
        failure_threshold=failure_threshold,
        history_size=history_size,
        enable_monitoring=enable_monitoring,
    )
    return SwarmSystem(config, db_path=db_path, clock=clock, flush_interval=flush_interval,
                       workers=workers, max_pending=max_pending, alerting=settings)


class SwarmSystem:
    """A running swarmpulse: actor refs plus blocking methods; a context manager.

    Use :func:`start_system` to make one. Methods are safe to call from any
    thread except from inside one of the system's own actors.
    """

    def __init__(
        self,
        config: SystemConfig,
        *,
        db_path: str | None,
        clock: Clock | None,
        flush_interval: float,
        workers: int,
        max_pending: int = 2_000_000,
        alerting: AlertingSettings | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._own_clock = clock is None
        self._closed = False
        self._lock = threading.Lock()
        self.storage = MetricsStorage(":memory:" if db_path is None else db_path)
        self.ledger = StallLedger()
        self.pending = PendingWrites(max_pending)
        self.services = Services()
        self.writer_stats = WriterStats()
        self.aggregate = AggregateState(history_size=config.history_size)
        self.reporter_state = ReporterState()
        self.telemetry = TelemetryChannel(self.clock.time, self._notify_aggregator)
        self.dispatcher = Dispatcher(workers=workers, dead_letters=self._dead_letter)
        services = self.services
        spawn: dict[str, Callable[[pykka.ActorRef[Any]], pykka.ActorRef[Any]]] = {
            "writer": lambda sup: StorageWriter.start(
                supervisor=sup, storage=self.storage, pending=self.pending, clock=self.clock,
                stats=self.writer_stats,
            ),
            "aggregator": lambda sup: MetricsAggregator.start(
                supervisor=sup, channel=self.telemetry, pending=self.pending,
                state=self.aggregate, writer=lambda: services.get("writer"),
            ),
            "reporter": lambda sup: HealthReporter.start(
                supervisor=sup, state=self.reporter_state, pending=self.pending
            ),
        }
        self.coordinator = SwarmCoordinator.start(
            config=config, clock=self.clock, dispatcher=self.dispatcher, ledger=self.ledger,
            services=services, pending=self.pending, spawn=spawn,
        )
        self.coordinator.ask(Snapshot(), timeout=ASK_TIMEOUT)  # returns once on_start has run
        self.alert_router: pykka.ActorRef[Any] | None = None
        self._storage_outage = False
        if alerting is not None:
            self._start_alerting(alerting)
        self.clock.add_stall_listener(self._on_stall)
        self._tick = self.clock.call_every(flush_interval, self._on_tick)
        if config.enable_monitoring:
            # The hot path: the bound method of the channel, no extra frame.
            self.record_task_metric = self.telemetry.record_task  # type: ignore[method-assign]

    # Actor refs of the supervised services (they change when one is restarted)

    @property
    def aggregator(self) -> pykka.ActorRef[Any]:
        """The metrics aggregator's current ref."""
        return self.services.get("aggregator")

    @property
    def writer(self) -> pykka.ActorRef[Any]:
        """The storage writer's current ref."""
        return self.services.get("writer")

    @property
    def reporter(self) -> pykka.ActorRef[Any]:
        """The health reporter's current ref."""
        return self.services.get("reporter")

    # Agents

    def register_agent(
        self,
        agent_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        interval_ms: int | None = None,
        failure_threshold: int | None = None,
    ) -> bool:
        """Start watching an agent; False if it is already registered."""
        message = RegisterAgent(
            agent_id=agent_id, metadata=_copy(metadata), interval_ms=interval_ms,
            failure_threshold=failure_threshold,
        )
        return bool(self._ask_coordinator(message))

    def register_agents(
        self,
        agent_ids: Iterable[str],
        metadata: Mapping[str, Any] | None = None,
        *,
        interval_ms: int | None = None,
        failure_threshold: int | None = None,
    ) -> list[bool]:
        """Start watching many agents at once, in order; for each, False if already registered.

        Every agent is checked before any registers (an invalid id registers
        none); then they register in one message to the coordinator instead
        of a round trip each. ``metadata`` and the settings apply to all.

        Raises:
            InvalidMessage: an agent id or a setting is invalid (the error names it).
        """
        if isinstance(agent_ids, (str, bytes)) or not isinstance(agent_ids, Iterable):
            raise InvalidMessage("agent_ids", agent_ids, "must be a collection of agent ids")
        shared = _copy(metadata)
        message = RegisterAgents(
            agents=tuple(
                RegisterAgent(
                    agent_id=agent_id, metadata=shared, interval_ms=interval_ms,
                    failure_threshold=failure_threshold,
                )
                for agent_id in agent_ids
            )
        )
        # about 0.1 ms per agent; a generous allowance on top of the usual one
        timeout = ASK_TIMEOUT + len(message.agents) / 1000.0
        return [bool(done) for done in self._ask_coordinator(message, timeout)]

    def unregister_agent(self, agent_id: str) -> bool:
        """Stop watching an agent; False if it was not registered."""
        return bool(self._ask_coordinator(UnregisterAgent(agent_id=agent_id)))

    def update_agent_heartbeat(self, agent_id: str, metadata: Mapping[str, Any] | None = None) -> bool:
        """Record a heartbeat; False for an unknown agent."""
        beat = Heartbeat(agent_id=agent_id, timestamp=self.clock.time(), metadata=_copy(metadata))
        if not self._ask_coordinator(beat):
            return False
        if self.config.enable_monitoring:
            # The beat went on to the tracker by tell; a status ask queues behind
            # it, so on return every later query sees the agent's health after it.
            try:
                self._status(agent_id)
            except UnknownAgent:
                pass
        return True

    # Metrics (never block)

    def record_task_metric(
        self,
        task_id: str,
        agent_id: str,
        duration_ms: float,
        result: TaskResult | str,
        tokens_used: int = 0,
        files_changed: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record a finished task (a no-op with monitoring off); never blocks."""
        if self.config.enable_monitoring:  # pragma: no cover - replaced in __init__
            self.telemetry.record_task(
                task_id, agent_id, duration_ms, result, tokens_used, files_changed, metadata
            )

    def record_task_execution(
        self,
        task_id: str,
        agent_id: str,
        duration_ms: float,
        success: bool,
        tokens_used: int = 0,
        files_changed: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record a finished task as a success or a failure."""
        if type(success) is not bool:
            raise InvalidMessage("success", success, "must be True or False")
        self.record_task_metric(
            task_id, agent_id, duration_ms, TaskResult.SUCCESS if success else TaskResult.FAILURE,
            tokens_used, files_changed, metadata,
        )

    def record_agent_metric(
        self, agent_id: str, metric_type: str, value: float, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Record a gauge about one agent (latest value plus history)."""
        metric = AgentMetric(
            agent_id=agent_id, metric_type=metric_type, value=value, timestamp=self.clock.time(),
            metadata=_copy(metadata),
        )
        if self.config.enable_monitoring:
            self.telemetry.send(metric)

    def record_swarm_metric(
        self, metric_type: str, value: float, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Record a gauge about the whole swarm (topology_health, message_throughput, ...)."""
        metric = SwarmMetric(
            swarm_id=self.config.swarm_id, metric_type=metric_type, value=value,
            timestamp=self.clock.time(), metadata=_copy(metadata),
        )
        if self.config.enable_monitoring:
            self.telemetry.send(metric)

    # Health

    def _status(self, agent_id: str) -> HealthStatus | None:
        check_id("agent_id", agent_id)
        result = self._ask_tracker(GetStatus(agent_id=agent_id))
        return result if isinstance(result, HealthStatus) else None

    def _ask_tracker(self, message: GetStatus | GetHistory) -> Any:
        """Ask an agent's tracker through the coordinator, waiting out a restart."""
        for _ in range(50):
            try:
                return self._ask_coordinator(message)
            except pykka.ActorDeadError:
                with self.services.changed:
                    self.services.changed.wait(timeout=0.2)
        raise pykka.ActorDeadError(f"the tracker of {message.agent_id!r} did not come back")

    def check_agent_health(self, agent_id: str) -> HealthState:
        """The agent's health now.

        Raises:
            UnknownAgent: (a KeyError) no such agent is registered.
            MonitoringDisabled: the system tracks no health.
        """
        status = self._status(agent_id)
        if status is None:
            raise MonitoringDisabled("health is not tracked: monitoring is disabled")
        return status.health_state

    def get_agent_health_status(self, agent_id: str) -> dict[str, Any] | None:
        """agent_id, health_state, last_heartbeat (epoch s), heartbeat_age_ms; None if unknown."""
        try:
            status = self._status(agent_id)
        except UnknownAgent:
            return None
        if status is None:
            return None
        return {
            "agent_id": status.agent_id,
            "health_state": status.health_state.value,
            "last_heartbeat": status.last_heartbeat,
            "heartbeat_age_ms": status.heartbeat_age_ms,
            "interval_ms": status.interval_ms,
            "failure_threshold": status.failure_threshold,
            "heartbeats": status.heartbeats,
        }

    def snapshot(self) -> SwarmSnapshot:
        """Every agent's health and the coordinator's counters."""
        result: SwarmSnapshot = self._ask_coordinator(Snapshot())
        return result

    def get_unhealthy_agents(self, min_state: HealthState | str = HealthState.DEGRADED) -> list[str]:
        """Ids of agents at least as sick as ``min_state``."""
        try:
            floor = HealthState(min_state).severity
        except (ValueError, TypeError):
            allowed = ", ".join(state.value for state in HealthState)
            raise InvalidMessage("min_state", min_state, f"must be one of: {allowed}") from None
        return [a.agent_id for a in self.snapshot().agents if a.health_state.severity >= floor]

    def get_heartbeat_history(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's recent heartbeats, oldest first ([] with monitoring off)."""
        check_id("agent_id", agent_id)
        records = self._ask_tracker(GetHistory(agent_id=agent_id)) or []
        return [
            {"timestamp": r.received_at, "sent_at": r.sent_at, "metadata": dict(r.metadata)}
            for r in records
        ]

    def agents_overview(self) -> list[dict[str, Any]]:
        """Every agent's health and task figures, from one snapshot and one read of each store.

        Each: ``agent_id``, ``health_state``, ``last_heartbeat`` (epoch s),
        ``heartbeat_age_ms``, ``uptime_pct``, ``tasks_completed``,
        ``success_rate``, ``p95_duration_ms``, ``total_tokens``; the same
        figures as the report, at a cost that does not grow by asks per agent.
        """
        snapshot = self.snapshot()
        self._ask_service("aggregator", Drain())
        performances: dict[str, dict[str, Any]] = self._ask_service(
            "aggregator", Query(method="agent_performances")
        )
        self.flush()
        uptimes: dict[str, float] = self._query("agents_uptime", now=snapshot.at)
        none = {"tasks_completed": 0, "success_rate": 0.0, "p95_duration_ms": 0.0, "total_tokens": 0}
        return [
            {
                "agent_id": a.agent_id,
                "health_state": a.health_state.value,
                "last_heartbeat": a.last_heartbeat,
                "heartbeat_age_ms": a.heartbeat_age_ms,
                "uptime_pct": uptimes.get(a.agent_id, 100.0),
                **performances.get(a.agent_id, none),
            }
            for a in snapshot.agents
        ]

    def _distribution(self, snapshot: SwarmSnapshot) -> dict[str, int]:
        counts = {state.value: 0 for state in HealthState}
        for agent in snapshot.agents:
            counts[agent.health_state.value] += 1
        return counts

    def check_alerts(self) -> list[dict[str, Any]]:
        """One alert per unhealthy agent: agent_id, severity, message, state, timestamp."""
        snapshot = self.snapshot()
        return [
            {
                "agent_id": a.agent_id,
                "severity": _ALERT_SEVERITY[a.health_state],
                "message": f"agent {a.agent_id} is {a.health_state.value}: no heartbeat for "
                f"{a.heartbeat_age_ms / 1000:.1f} s",
                "state": a.health_state.value,
                "timestamp": snapshot.at,
            }
            for a in snapshot.agents
            if a.health_state is not HealthState.HEALTHY
        ]

    def configure_alerts(
        self,
        enabled: bool = True,
        callbacks: Mapping[HealthState | str, Callable[[HealthChanged], object]] | None = None,
    ) -> None:
        """Turn alert callbacks on or off and set one per health state.

        A callback runs on the reporter's thread with the :class:`HealthChanged`
        event; an exception in it is logged and counted, never propagated.
        """
        table: dict[HealthState, Any] = {}
        if type(enabled) is not bool:
            raise InvalidMessage("enabled", enabled, "must be True or False")
        if callbacks is not None and not isinstance(callbacks, Mapping):
            raise InvalidMessage("callbacks", callbacks, "must be a dict of health state to callable")
        for state, fn in (callbacks or {}).items():
            try:
                key = HealthState(state)
            except ValueError:
                raise InvalidMessage("callbacks", state, "keys must be health states") from None
            if not callable(fn):
                raise InvalidMessage("callbacks", fn, "values must be callable")
            table[key] = fn
        self._ask_service("reporter", ConfigureAlerts(enabled=enabled, callbacks=table))

    def subscribe(self, listener: Callable[[HealthChanged | Alert], object]) -> Callable[[], None]:
        """Call ``listener`` with every :class:`HealthChanged` and :class:`Alert` from now on.

        It runs on the reporter's thread and must not block; an exception in it
        is logged and counted. Returns the function that unsubscribes it.
        """
        if not callable(listener):
            raise InvalidMessage("listener", listener, "must be callable")
        listeners = self.reporter_state.listeners
        listeners.append(listener)

        def unsubscribe() -> None:
            try:
                listeners.remove(listener)
            except ValueError:
                pass

        return unsubscribe

    def get_agent_uptime(
        self, agent_id: str, start_time: Any = None, end_time: Any = None
    ) -> float:
        """Percent of the monitored time in the range that the agent was not FAILED."""
        check_id("agent_id", agent_id)
        self.flush()
        try:
            return float(self._query("agent_uptime", agent_id=agent_id, start_time=_time(start_time, "start_time"),
                                     end_time=_time(end_time, "end_time"), now=self.clock.time()))
        except UnknownAgentRecord:
            raise UnknownAgent(agent_id) from None

    # Alert management (alerting=...): silences, acknowledgements

    def _start_alerting(self, settings: AlertingSettings) -> None:
        loaded = decode_state(self._query("load_alert_state"))
        router = AlertRouter.start(
            settings=settings, clock=self.clock, writer=lambda: self.services.get("writer"),
            swarm_id=self.config.swarm_id, loaded=loaded,
        )
        self.alert_router = router

        def forward(message: Any) -> None:
            try:
                router.tell(message)
            except pykka.ActorDeadError:
                pass

        self.reporter_state.forward = forward
        if settings.failure_rate.enabled:
            self.aggregate.outcomes = lambda counts: forward(TaskOutcomes(counts=counts))

    def _ask_router(self, message: Any) -> Any:
        self._check_open()
        if self.alert_router is None:
            raise MonitoringDisabled("alert management is off: start_system(alerting=...)")
        return _resolve(self.alert_router.ask(message, timeout=ASK_TIMEOUT), ASK_TIMEOUT)

    def send_alert(self, alert: Any) -> None:
        """Hand the alert router a :class:`messages.alerting.AlertInstance` (a rule's, a user's)."""
        from messages.alerting import AlertInstance

        if not isinstance(alert, AlertInstance):
            raise InvalidMessage("alert", alert, "must be a messages.alerting.AlertInstance")
        self._ask_router(alert)

    def add_silence(self, spec: Any) -> str:
        """Create a silence from a :class:`messages.alerting.SilenceSpec`; returns its id."""
        from messages.alerting import SilenceSpec

        if not isinstance(spec, SilenceSpec):
            raise InvalidMessage("silence", spec, "must be a messages.alerting.SilenceSpec")
        return str(self._ask_router(spec))

    def expire_silence(self, silence_id: str) -> bool:
        """End a silence now; False if there is none with that id."""
        from messages.alerting import ExpireSilence

        return bool(self._ask_router(ExpireSilence(silence_id=silence_id)))

    def list_silences(self) -> list[tuple[Any, str]]:
        """Every silence as (SilenceSpec, state), state pending, active or expired."""
        return list(self._ask_router(ListSilences()))

    def acknowledge_alert(self, fingerprint: str, by: str, comment: str = "") -> bool:
        """Acknowledge an alert: its escalation holds until the ack times out."""
        from messages.alerting import Acknowledge

        return bool(self._ask_router(Acknowledge(fingerprint=fingerprint, by=by, comment=comment)))

    def alerting_stats(self) -> dict[str, Any]:
        """The alert router's counters (notices, attempts, failures by integration, ...)."""
        result: dict[str, Any] = self._ask_router(GetAlerting())
        return result

    # Statistics and storage

    def get_task_stats(
        self, agent_id: str | None = None, start_time: Any = None, end_time: Any = None
    ) -> dict[str, Any]:
        """Task statistics; with a time range they come from SQLite after a flush."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        if start_time is None and end_time is None:
            self._ask_service("aggregator", Drain())
            stats: dict[str, Any] = self._ask_service(
                "aggregator", Query(method="task_stats", kwargs={"agent_id": agent_id})
            )
            return stats
        self.flush()
        result: dict[str, Any] = self._query(
            "task_stats", agent_id=agent_id, start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"),
        )
        return result

    def get_agent_performance(self, agent_id: str) -> dict[str, Any]:
        """agent_id, tasks_completed, success_rate, error_rate, avg_duration_ms, total_tokens_used."""
        check_id("agent_id", agent_id)
        self._ask_service("aggregator", Drain())
        result: dict[str, Any] = self._ask_service(
            "aggregator", Query(method="agent_performance", kwargs={"agent_id": agent_id})
        )
        return result

    def query_task_metrics(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[TaskMetric]:
        """Stored task metrics in time order, after everything recorded before the call is stored."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[TaskMetric] = self._query(
            "query_task_metrics", start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"), agent_id=agent_id, limit=limit,
        )
        return result

    def query_health_events(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[HealthChanged]:
        """Stored health transitions in time order, after everything before the call is stored."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[HealthChanged] = self._query(
            "query_health_events", start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"), agent_id=agent_id, limit=limit,
        )
        return result

    def query_alerts(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        severity: str | None = None, limit: int | None = None,
    ) -> list[Alert]:
        """Stored alerts in time order (agent ``*``: the swarm's), after a flush."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[Alert] = self._query(
            "query_alerts", start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"), agent_id=agent_id, severity=severity,
            limit=limit,
        )
        return result

    def get_monitoring_stats(self) -> dict[str, Any]:
        """Counters of every part of the system (just ``monitoring_enabled`` when off)."""
        if not self.config.enable_monitoring:
            return {"monitoring_enabled": False}
        try:
            stats = self.get_task_stats()
        except pykka.ActorDeadError:
            if "aggregator" not in self.services.failed:
                raise
            # the aggregator was given up: its statistics are unknown, and the rest
            # still reports (failed_services is how a user learns of it)
            stats = {"total_tasks": None, "success_rate": None, "avg_duration_ms": None}
        snapshot = self.snapshot()
        distribution = self._distribution(snapshot)
        healthy = distribution[HealthState.HEALTHY.value]
        writer = self.writer_stats
        return {
            "monitoring_enabled": True,
            "metrics_collector": {
                "total_tasks": stats["total_tasks"],
                "success_rate": stats["success_rate"],
                "avg_duration_ms": stats["avg_duration_ms"],
                "buffered": len(self.telemetry),
                "pending_writes": len(self.telemetry) + len(self.pending),
                "stored": self.pending.committed,
                "dropped": self.telemetry.dropped + self.pending.dropped,
                "write_failures": writer.failures,
                "last_write_error": writer.last_error,
            },
            "heartbeat_monitor": {
                "total_agents": len(snapshot.agents),
                "total_heartbeats": snapshot.total_heartbeats,
                "unknown_heartbeats": snapshot.unknown_heartbeats,
                "health_distribution": distribution,
                "stalls": snapshot.stalls,
            },
            "swarm_health": {
                "total_agents": len(snapshot.agents),
                "healthy_agents": healthy,
                "unhealthy_agents": len(snapshot.agents) - healthy,
                "health_distribution": distribution,
            },
            "supervision": {
                "tracker_restarts": snapshot.tracker_restarts,
                "service_restarts": snapshot.service_restarts,
                "failed_services": snapshot.failed_services,
            },
            "alerts": {
                "total": self.reporter_state.alerts,
                "callback_errors": self.reporter_state.callback_errors,
            },
            **({"alerting": self.alerting_stats()} if self.alert_router is not None else {}),
        }

    def get_topology_info(self) -> dict[str, Any]:
        """topology_type, agent_count, connection_count and health_metrics."""
        snapshot = self.snapshot()
        n = len(snapshot.agents)
        kind = self.config.topology_type
        if kind in ("mesh", "adaptive"):
            connections = n * (n - 1) // 2
        elif kind == "ring":
            connections = n if n > 2 else max(0, n - 1)
        else:
            connections = max(0, n - 1)
        unhealthy = {
            a.agent_id: a.health_state.value
            for a in snapshot.agents
            if a.health_state is not HealthState.HEALTHY
        }
        return {
            "topology_type": kind,
            "agent_count": n,
            "connection_count": connections,
            "health_metrics": {
                "healthy_agents": n - len(unhealthy),
                "unhealthy_agents": len(unhealthy),
                "unhealthy_details": unhealthy,
            },
        }

    def report_data(self) -> HealthReport:
        """Everything a report shows, gathered from the actors and SQLite."""
        self.flush()
        snapshot = self.snapshot()
        agents = []
        for a in snapshot.agents:
            perf = self._ask_service(
                "aggregator", Query(method="agent_performance", kwargs={"agent_id": a.agent_id})
            )
            uptime = self._query("agent_uptime", agent_id=a.agent_id, start_time=None,
                                 end_time=None, now=snapshot.at)
            agents.append(
                AgentReport(
                    agent_id=a.agent_id,
                    health_state=a.health_state.value,
                    heartbeat_age_ms=a.heartbeat_age_ms,
                    uptime_pct=float(uptime),
                    tasks_completed=perf["tasks_completed"],
                    success_rate=perf["success_rate"],
                    avg_duration_ms=perf["avg_duration_ms"],
                    p95_duration_ms=perf["p95_duration_ms"],
                    total_tokens=perf["total_tokens_used"],
                    duration_series=perf["duration_series"],
                    throughput_series=perf["throughput_series"],
                )
            )
        alerts = self._ask_service("reporter", Query(method="recent_alerts", kwargs={"limit": 50}))
        return HealthReport(
            swarm_id=self.config.swarm_id,
            timestamp=snapshot.at,
            topology_type=self.config.topology_type,
            agent_count=len(snapshot.agents),
            health_distribution=self._distribution(snapshot),
            agents=agents,
            task_stats=self.get_task_stats(),
            alerts=alerts,
        )

    def generate_report(self, format: str = "markdown") -> str:
        """The health report as Markdown or JSON text.

        Raises:
            ValueError: the format is neither ``markdown`` nor ``json``.
        """
        if format not in ("markdown", "json"):
            raise InvalidMessage("format", format, "must be 'markdown' or 'json'")
        result: str = self._ask_service("reporter", RenderReport(format=format, data=self.report_data()))
        return result

    def inject_fault(self, target: str, reason: str = "injected fault") -> bool:
        """Make a child raise, to see supervision work (the demo and tests use it).

        Args:
            target: an agent id (its tracker), or ``writer``, ``aggregator``,
                ``reporter``.
            reason: the text of the exception.

        Returns:
            False when there is no such child.
        """
        return bool(self._ask_coordinator(Crash(reason=reason, target=target)))

    # Lifecycle

    def flush(self, timeout: float = ASK_TIMEOUT) -> None:
        """Return once everything recorded before the call is committed to SQLite.

        Raises:
            pykka.Timeout: storage stayed unwritable for ``timeout`` seconds.
        """
        self._check_open()
        self._ask_service("aggregator", Drain(), timeout)
        self._ask_service("writer", Flush(), timeout)

    def shutdown(self, timeout: float = ASK_TIMEOUT) -> None:
        """Stop every actor in order, flushing all accepted metrics first; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._tick.cancel()
        try:
            self._ask_coordinator(StopTrackers())
            self.dispatcher.shutdown(timeout=timeout)
            self._ask_service("aggregator", Drain(), timeout)
            self._ask_service("writer", Flush(), timeout)
        except Exception:
            logger.exception(
                "shutdown could not flush: %d metrics were not stored",
                len(self.telemetry) + len(self.pending),
            )
        finally:
            if self.alert_router is not None:
                self.alert_router.stop(timeout=timeout)  # its last state batch is with the writer
            for kind in ("reporter", "aggregator", "writer"):
                self.services.get(kind).stop(timeout=timeout)
            self.coordinator.stop(timeout=timeout)
            self.dispatcher.shutdown(timeout=timeout)
            self.clock.remove_stall_listener(self._on_stall)
            if self._own_clock:
                self.clock.close()
            self.storage.close()

    def __enter__(self) -> SwarmSystem:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # Plumbing

    def _check_open(self) -> None:
        if self._closed:
            raise SystemStopped("the system has been shut down")

    def _ask_coordinator(self, message: Any, timeout: float = ASK_TIMEOUT) -> Any:
        if self._closed and not isinstance(message, StopTrackers):
            raise SystemStopped("the system has been shut down")
        return _resolve(self.coordinator.ask(message, timeout=timeout), timeout)

    def _ask_service(self, kind: str, message: Any, timeout: float = ASK_TIMEOUT) -> Any:
        """Ask a supervised service, waiting out a restart if it is between incarnations."""
        for _ in range(50):
            ref = self.services.get(kind)
            try:
                return _resolve(ref.ask(message, timeout=timeout), timeout)
            except pykka.ActorDeadError:
                if kind in self.services.failed:
                    raise
                with self.services.changed:
                    if self.services.get(kind) is ref:
                        self.services.changed.wait(timeout=0.2)
        raise pykka.ActorDeadError(f"the {kind} did not come back")

    def _query(self, method: str, **kwargs: Any) -> Any:
        return self._ask_service("writer", Query(method=method, kwargs=kwargs))

    def _notify_aggregator(self) -> None:
        try:
            self.services.get("aggregator").tell(Drain())
        except (pykka.ActorDeadError, KeyError):
            pass  # a restarted aggregator drains the buffer as it starts

    def _on_tick(self) -> None:
        if self.alert_router is not None:
            self._storage_condition()
        try:
            if len(self.telemetry):
                self.services.get("aggregator").tell(Drain())
            elif len(self.pending) and self.writer_stats.retry is None:
                self.services.get("writer").tell(Wake())
        except (pykka.ActorDeadError, KeyError):
            pass

    def _storage_condition(self) -> None:
        """A storage outage (the writer backing off) is an alert of its own, resolved when it ends."""
        failing = self.writer_stats.backoff > 0
        if failing == self._storage_outage or self.alert_router is None:
            return
        self._storage_outage = failing
        now = self.clock.time()
        meta: dict[str, Any] = {"alertname": "StorageOutage"}
        if not failing:
            meta["ends_at"] = now
        try:
            self.alert_router.tell(Alert(
                agent_id="*", severity=AlertSeverity.CRITICAL, at=now, metadata=meta,
                message=f"storage is not writable: {self.writer_stats.last_error}",
            ))
        except pykka.ActorDeadError:
            pass

    def _on_stall(self, seconds: float) -> None:
        self.ledger.add(seconds)
        try:
            self.coordinator.tell(StallDetected(seconds=seconds))
        except pykka.ActorDeadError:
            pass

    def _dead_letter(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        if isinstance(message, Beat):
            try:
                self.coordinator.tell(
                    Redeliver(kind="tracker", name=message.agent_id, messages=[message])
                )
            except pykka.ActorDeadError:
                pass


def _resolve(result: Any, timeout: float) -> Any:
    """An actor may answer with a future (it asked another actor without blocking)."""
    while isinstance(result, pykka.Future):
        result = result.get(timeout=timeout)
    return result


def _copy(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pykka never copies a message: copy what the caller handed us."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidMessage("metadata", metadata, "must be a dict")
    return dict(metadata)


def _time(value: Any, field: str) -> float | None:
    return None if value is None else to_epoch(field, value)
