"""The synchronous facade: start the actor system in-process and talk to it plainly."""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Final

import msgspec
import pykka

from actors.aggregator import AggregateState, MetricsAggregator
from actors.alerting.config import AlertingSettings, load_config
from actors.alerting.protocol import GetAlerting, GetReceivers, ListAlerts, ListSilences
from actors.alerting.router import AlertRouter
from actors.alerting.rules import task_outcomes
from actors.alerting.sources import INSTANT_TTL
from actors.alerting.state import decode_state
from actors.analyst import Analyst
from actors.analytics.cost import parse_prices
from actors.analytics.phi import DEFAULT_PHI, PhiSettings
from actors.analytics.requests import (
    AgentJoined,
    AgentLeft,
    GetCost,
    GetFindings,
    GetInFlight,
    GetProfiles,
    role_of,
)
from actors.analytics.state import AnalystSettings, AnalystState
from actors.analytics.stuck import StuckSettings
from actors.callbacks import DEFAULT_CALLBACK_TIMEOUT, CallbackRunner
from actors.channel import UNKNOWN_AGENT_POLICIES, TelemetryChannel, UnknownAgents
from actors.coordinator import Services, SwarmCoordinator, SystemConfig
from actors.errors import (
    AgentNotTracked,
    MonitoringDisabled,
    ShutdownIncomplete,
    SystemStopped,
    UnknownAgent,
)
from actors.kernel.clock import Clock, SystemClock
from actors.kernel.runtime import Dispatcher
from actors.pending import Backlog, CountUnacked
from actors.protocol import (
    AgentSnapshot,
    Beat,
    ConfigureAlerts,
    Drain,
    Flush,
    GetAgentPerformances,
    GetCounters,
    GetHistory,
    GetRecentAlerts,
    GetStatus,
    GetTaskStats,
    GetTotals,
    HealthStatus,
    LiveStats,
    MetricsSnapshot,
    ReadAgent,
    ReadAgentMetrics,
    ReadAgentsUptime,
    ReadAgentUptime,
    ReadAlerts,
    ReadAlertState,
    ReadHealthEvents,
    ReadLatestAgentMetrics,
    ReadLatestSwarmMetrics,
    ReadSwarmMetrics,
    ReadTaskMetrics,
    ReadTaskSeries,
    ReadTaskSpan,
    ReadTaskStats,
    ReadTaskTrend,
    Redeliver,
    Release,
    RenderReport,
    Snapshot,
    StallDetected,
    StopTrackers,
    StorageRead,
    SwarmSnapshot,
    Verified,
    Wake,
)
from actors.reporter import HealthReporter, ReporterState
from actors.tracker import StallLedger
from actors.writer import StorageWriter, WriterStats
from messages import (
    DEFAULT_KIND,
    AgentMetric,
    AgentReport,
    Alert,
    AlertSeverity,
    Crash,
    Gauge,
    HealthChanged,
    HealthReport,
    HealthState,
    Heartbeat,
    InvalidMessage,
    ReceiverStats,
    RegisterAgent,
    RegisterAgents,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    TaskStarted,
    UnregisterAgent,
    check_finite,
    check_id,
    check_timestamp,
    to_epoch,
)
from messages.control import DETECTORS, check_interval, check_threshold
from storage import AgentRecord, MetricsStorage, NeverTracked, UnknownAgentRecord

__all__ = ["EXIT_TIMEOUT", "TOPOLOGIES", "Event", "SwarmSystem", "start_system"]

logger = logging.getLogger("swarmpulse.system")

TOPOLOGIES: Final = ("mesh", "hierarchical", "star", "ring", "adaptive")
_ALERT_SEVERITY: Final = {
    HealthState.DEGRADED: "warning",
    HealthState.CRITICAL: "critical",
    HealthState.FAILED: "critical",
}
ASK_TIMEOUT: Final = 30.0
EXIT_TIMEOUT: Final = 30.0
"""Seconds each step of the shutdown at interpreter exit may take."""

Event = HealthChanged | Alert
"""What :meth:`SwarmSystem.subscribe` listeners are given."""
MAX_HISTORY: Final = 1_000_000
MAX_WORKERS: Final = 256
REPORT_SLICES: Final = 20
"""Slices of a report's sparklines (the command line's stored report draws as many)."""


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
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
    unknown_agents: UnknownAgents = "store",
    alerting: AlertingSettings | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    detector: str = "fixed",
    phi: PhiSettings | None = None,
    prices: Mapping[str, Any] | None = None,
    stuck_limit_s: float | None = None,
    stuck_kind_limits_s: Mapping[str, float] | None = None,
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
        callback_timeout: seconds one alert callback or subscriber may run (5 by
            default). One still running then is logged and counted
            (``callback_timeouts``), and the next ones run without waiting for it.
        unknown_agents: a task or agent metric about an agent that is not
            registered is stored and counted (``"store"``, in
            ``get_monitoring_stats()["metrics_collector"]["unregistered_agent_metrics"]``),
            or refused with :class:`UnknownAgent` (``"refuse"``).
        alerting: alert management (routes, receivers, silences, escalation):
            a TOML file's path, TOML text, a parsed dict or settings from
            :func:`actors.alerting.load_config`. None: no alert router; the
            in-process callbacks of :meth:`SwarmSystem.configure_alerts` work either way.
        detector: how every agent's silence is judged unless it registers with its
            own: ``"fixed"`` (multiples of the interval, the default) or ``"phi"``
            (phi accrual over the agent's own heartbeat gaps).
        phi: the phi detector's settings (:class:`actors.analytics.PhiSettings`);
            None: Akka's defaults (threshold 8, min_std 100 ms).
        prices: model -> ``{"input": x, "output": y}``, prices per million tokens;
            a task whose metadata names ``model``, ``tokens_in`` and ``tokens_out``
            is priced (:meth:`SwarmSystem.get_cost`).
        stuck_limit_s: seconds a task in flight may run before it is stuck (None:
            only the k x p99 rule, once a kind has 20 finished tasks).
        stuck_kind_limits_s: such limits per task kind; they take precedence.

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
    if clock is not None:  # the fast path stamps metrics with clock.time() unchecked
        _check_clock(clock)
    if (
        type(callback_timeout) not in (int, float)
        or not 0 < callback_timeout < math.inf
    ):
        raise InvalidMessage("callback_timeout", callback_timeout, "must be a positive number of seconds")
    if unknown_agents not in UNKNOWN_AGENT_POLICIES:
        raise InvalidMessage(
            "unknown_agents", unknown_agents, f"must be one of: {', '.join(UNKNOWN_AGENT_POLICIES)}"
        )
    if detector not in DETECTORS:
        raise InvalidMessage("detector", detector, f"must be one of: {', '.join(DETECTORS)}")
    if phi is not None and not isinstance(phi, PhiSettings):
        raise InvalidMessage("phi", phi, "must be an actors.analytics.PhiSettings")
    analysis = _analyst_settings(prices, stuck_limit_s, stuck_kind_limits_s)
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
        detector=detector,
        phi=DEFAULT_PHI if phi is None else phi,
    )
    return SwarmSystem(config, db_path=db_path, clock=clock, flush_interval=flush_interval,
                       workers=workers, max_pending=max_pending, callback_timeout=callback_timeout,
                       unknown_agents=unknown_agents, alerting=settings, analysis=analysis)


class SwarmSystem:
    """A running swarmpulse: actor refs plus blocking methods; a context manager.

    Use :func:`start_system` to make one. Methods are safe to call from any
    thread except from inside one of the system's own actors. After
    :meth:`shutdown` has begun, every method raises :class:`SystemStopped`
    at once. A system still running when the interpreter exits is shut down
    then (flushing what it accepted), so a program that never calls
    :meth:`shutdown` still exits with its metrics stored.
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
        callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
        unknown_agents: UnknownAgents = "store",
        alerting: AlertingSettings | None = None,
        analysis: AnalystSettings | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._own_clock = clock is None
        self._closed = False
        self._lock = threading.Lock()  # held by the one shutdown that runs; others wait
        self._done: set[str] = set()  # the shutdown steps done so far
        self._known_lock = threading.Lock()
        self._phi_agents: set[str] = set()  # registered with the phi detector
        self.storage = MetricsStorage(":memory:" if db_path is None else db_path)
        # Before any actor owns the storage: what the file holds, and our settings in it.
        self._untracked = self._restore_agents(self.storage)
        self.storage.store_metadata(
            {"swarm_id": config.swarm_id, "topology_type": config.topology_type}
        )
        swarm_tally = self.storage.task_tally(None)
        self.ledger = StallLedger()
        # Each owned by one actor (the backlog and writer_stats by the writer, the
        # aggregate by the aggregator) and handed to its next incarnation; the
        # facade only reads their counters.
        self.pending = Backlog(max_pending)
        self.services = Services()
        self.writer_stats = WriterStats()
        self.aggregate = AggregateState(
            history_size=config.history_size, max_unacked=max(2 * max_pending, 100_000)
        )
        if swarm_tally is not None:
            self.aggregate.swarm = swarm_tally
        self.reporter_state = ReporterState()
        self.analyst_state = AnalystState(settings=analysis or AnalystSettings())
        self.callbacks = CallbackRunner(callback_timeout)
        self.telemetry = TelemetryChannel(
            self.clock.time, self._notify_aggregator, unknown_agents=unknown_agents
        )
        self.dispatcher = Dispatcher(workers=workers, dead_letters=self._dead_letter)
        services = self.services
        spawn: dict[str, Callable[[pykka.ActorRef[Any]], pykka.ActorRef[Any]]] = {
            "writer": lambda sup: StorageWriter.start(
                supervisor=sup, storage=self.storage, backlog=self.pending, clock=self.clock,
                stats=self.writer_stats,
            ),
            # the writer's ref as it is now; the coordinator tells it of a new one
            "aggregator": lambda sup: MetricsAggregator.start(
                supervisor=sup, channel=self.telemetry, state=self.aggregate,
                writer=services.get("writer"), time=self.clock.time,
                analyst=lambda: services.refs.get("analyst"),
            ),
            "reporter": lambda sup: HealthReporter.start(
                supervisor=sup, state=self.reporter_state, runner=self.callbacks,
            ),
            "analyst": lambda sup: Analyst.start(
                supervisor=sup, state=self.analyst_state, clock=self.clock,
                alerts=lambda: services.get("reporter"),
            ),
        }
        self.telemetry.started = self._started
        self.coordinator = SwarmCoordinator.start(
            config=config, clock=self.clock, dispatcher=self.dispatcher, ledger=self.ledger,
            services=services, spawn=spawn, runner=self.callbacks,
        )
        self.coordinator.ask(Snapshot(), timeout=ASK_TIMEOUT)  # returns once on_start has run
        self.alert_router: pykka.ActorRef[Any] | None = None
        self._storage_outage = False
        self._storage_backlog = False
        self._quarantined_seen = 0
        if alerting is not None:
            self._start_alerting(alerting)
        self.clock.add_stall_listener(self._on_stall)
        self._tick = self.clock.call_every(flush_interval, self._on_tick)
        if config.enable_monitoring:
            # The hot path: the bound method of the channel, no extra frame. After
            # shutdown the channel refuses it with SystemStopped.
            self.record_task_metric = self.telemetry.record_task  # type: ignore[method-assign]
        _running.add(self)

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
        detector: str | None = None,
    ) -> bool:
        """Start watching an agent; False if it is already registered.

        ``detector`` (``"fixed"`` or ``"phi"``) overrides the system's for this agent.
        """
        message = RegisterAgent(
            agent_id=agent_id, metadata=_copy(metadata), interval_ms=interval_ms,
            failure_threshold=failure_threshold, detector=detector,
        )
        done = bool(self._ask_coordinator(message))
        self._tracked((agent_id,))
        if done:
            self._joined((message,))
        return done

    def _joined(self, agents: Iterable[RegisterAgent]) -> None:
        at = self.clock.time()
        for agent in agents:
            if (agent.detector or self.config.detector) == "phi":
                with self._known_lock:
                    self._phi_agents.add(agent.agent_id)
            self._to_analyst(AgentJoined(agent_id=agent.agent_id, at=at, role=role_of(agent.metadata)))

    def register_agents(
        self,
        agent_ids: Iterable[str],
        metadata: Mapping[str, Any] | None = None,
        *,
        interval_ms: int | None = None,
        failure_threshold: int | None = None,
        detector: str | None = None,
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
                    failure_threshold=failure_threshold, detector=detector,
                )
                for agent_id in agent_ids
            )
        )
        # about 0.1 ms per agent; a generous allowance on top of the usual one
        timeout = ASK_TIMEOUT + len(message.agents) / 1000.0
        done = [bool(done) for done in self._ask_coordinator(message, timeout)]
        self._tracked([agent.agent_id for agent in message.agents])
        self._joined([agent for agent, new in zip(message.agents, done, strict=True) if new])
        return done

    def unregister_agent(self, agent_id: str) -> bool:
        """Stop watching an agent and release what is kept of it in memory.

        Its stored history stays: reads about it answer from SQLite.

        Returns:
            False if it was not registered (nothing changes then).
        """
        if not self._ask_coordinator(UnregisterAgent(agent_id=agent_id)):
            return False
        self.telemetry.forget(agent_id)
        with self._known_lock:
            self._phi_agents.discard(agent_id)
        self._to_analyst(AgentLeft(agent_id=agent_id))
        try:  # drains first: what it recorded before leaving is counted, then released
            self.services.get("aggregator").tell(Release(agent_id=agent_id))
        except (pykka.ActorDeadError, KeyError):
            pass  # between aggregator incarnations: the state stays in memory, still right
        return True

    def update_agent_heartbeat(self, agent_id: str, metadata: Mapping[str, Any] | None = None) -> bool:
        """Record a heartbeat.

        An agent known from the database the system started on, and listed as
        not tracked, registers again with its stored settings on its first beat.

        Returns:
            False for an agent that is not registered (nothing changes then).
        """
        beat = Heartbeat(agent_id=agent_id, timestamp=self.clock.time(), metadata=_copy(metadata))
        if not self._ask_coordinator(beat):
            with self._known_lock:
                record = self._untracked.get(agent_id, (None, None))[1]
            if record is None:
                return False
            self.register_agent(
                agent_id, record.metadata, interval_ms=record.interval_ms,
                failure_threshold=record.failure_threshold,
            )
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

    def _to_analyst(self, message: Any) -> None:
        """Tell the analyst, unless it is between incarnations or given up (then it misses it)."""
        ref = self.services.refs.get("analyst")
        if ref is None or "analyst" in self.services.failed:
            return
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            pass

    def _started(self, message: TaskStarted) -> None:
        if self.config.enable_monitoring:
            self._to_analyst(message)

    # Tasks in flight and analytics

    def task_started(
        self, agent_id: str, task_id: str, kind: str = DEFAULT_KIND,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Say that an agent began a task (its :meth:`record_task_metric` ends it); never blocks.

        Raises:
            InvalidMessage: a field breaks a rule of :class:`messages.TaskStarted`.
            SystemStopped: the system has been shut down.
            UnknownAgent: the agent is not registered and unknown agents are refused.
        """
        self._check_open()
        self.telemetry.send(TaskStarted(
            task_id=task_id, agent_id=agent_id, kind=kind, timestamp=self.clock.time(),
            metadata=_copy(metadata),
        ))

    @contextlib.contextmanager
    def task(
        self, agent_id: str, task_id: str, kind: str = DEFAULT_KIND,
        metadata: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Run a task under watch: its start now, its finish (timed by the clock) at the end.

        The block gets the finish's metadata (a dict it may add to: ``model``,
        ``tokens_in``, ``tokens_out``...). An exception in the block records a
        failure and is raised again.

        Example:
            >>> with swarm.task("coder-1", "t-1", kind="code") as meta:   # doctest: +SKIP
            ...     meta["model"] = "gpt-4o"
        """
        finish = {"kind": kind, **_copy(metadata)}
        self.task_started(agent_id, task_id, kind, metadata)
        begun = self.clock.monotonic()
        result = TaskResult.FAILURE
        try:
            yield finish
            result = TaskResult.SUCCESS
        finally:
            duration_ms = max(0.0, (self.clock.monotonic() - begun) * 1000.0)
            if not self._closed:
                self.record_task_metric(task_id, agent_id, duration_ms, result, metadata=finish)

    def get_tasks_in_flight(self, agent_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Tasks started and not finished, per agent: task_id, kind, started, running_s, limit_s, stuck."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        result: dict[str, list[dict[str, Any]]] = self._ask_service(
            "analyst", GetInFlight(agent_id=agent_id))
        return result

    def get_findings(self) -> list[dict[str, Any]]:
        """Plain-language findings about the swarm (``text``) with the ``numbers`` behind each."""
        result: list[dict[str, Any]] = self._ask_service("analyst", GetFindings())
        return result

    def get_agent_profiles(self) -> dict[str, dict[str, Any]]:
        """Per agent: busy and idle shares, throughput, time in LLM calls/tools/waiting, cost."""
        result: dict[str, dict[str, Any]] = self._ask_service("analyst", GetProfiles())
        return result

    def get_cost(self) -> dict[str, Any]:
        """total, by_agent, currency, priced_tasks, unpriced_tasks (from the price table)."""
        result: dict[str, Any] = self._ask_service("analyst", GetCost())
        return result

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
        """Record a finished task (a no-op with monitoring off); never blocks.

        Raises:
            InvalidMessage: a field breaks a rule of :class:`messages.TaskMetric`.
            SystemStopped: the system has been shut down.
            UnknownAgent: the agent is not registered and the system was started
                with ``unknown_agents="refuse"``.
        """
        self._check_open()
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
        self._check_open()
        if type(success) is not bool:
            raise InvalidMessage("success", success, "must be True or False")
        self.record_task_metric(
            task_id, agent_id, duration_ms, TaskResult.SUCCESS if success else TaskResult.FAILURE,
            tokens_used, files_changed, metadata,
        )

    def record_agent_metric(
        self,
        agent_id: str,
        metric_type: str,
        value: float,
        metadata: Mapping[str, Any] | None = None,
        *,
        timestamp: Any = None,
    ) -> None:
        """Record a gauge about one agent (latest value plus history).

        Args:
            timestamp: when it was measured (epoch s or datetime); None for now.

        Raises:
            InvalidMessage: a field breaks a rule of :class:`messages.AgentMetric`.
            UnknownAgent: the agent is not registered and the system was started
                with ``unknown_agents="refuse"``.
        """
        self._check_open()
        metric = AgentMetric(
            agent_id=agent_id, metric_type=metric_type, value=value,
            timestamp=self.clock.time() if timestamp is None else timestamp,
            metadata=_copy(metadata),
        )
        if self.config.enable_monitoring:
            self.telemetry.send(metric)

    def record_swarm_metric(
        self,
        metric_type: str,
        value: float,
        metadata: Mapping[str, Any] | None = None,
        *,
        timestamp: Any = None,
    ) -> None:
        """Record a gauge about the whole swarm (topology_health, message_throughput, ...).

        Args:
            timestamp: when it was measured (epoch s or datetime); None for now.
        """
        self._check_open()
        metric = SwarmMetric(
            swarm_id=self.config.swarm_id, metric_type=metric_type, value=value,
            timestamp=self.clock.time() if timestamp is None else timestamp,
            metadata=_copy(metadata),
        )
        if self.config.enable_monitoring:
            self.telemetry.send(metric)

    def get_agent_metrics(
        self,
        agent_id: str,
        metric_type: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
    ) -> list[AgentMetric]:
        """The agent's stored gauges in [start_time, end_time), oldest first.

        Everything recorded before the call is stored first.

        Args:
            agent_id: the agent.
            metric_type: only this gauge, or every one.
            start_time: inclusive start (epoch s or datetime), None for the beginning.
            end_time: exclusive end, None for no end.
        """
        check_id("agent_id", agent_id)
        if metric_type is not None:
            check_id("metric_type", metric_type)
        self.flush()
        result: list[AgentMetric] = self._read(ReadAgentMetrics(
            agent_id=agent_id, metric_type=metric_type,
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
        ))
        return result

    def get_latest_gauges(self, agent_id: str | None = None) -> list[AgentMetric]:
        """The latest stored value of each gauge of an agent (every agent for None).

        Everything recorded before the call is stored first.
        """
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[AgentMetric] = self._read(ReadLatestAgentMetrics(agent_id=agent_id))
        return result

    def get_swarm_metrics(
        self, metric_type: str | None = None, start_time: Any = None, end_time: Any = None
    ) -> list[SwarmMetric]:
        """The swarm's stored gauges in [start_time, end_time), oldest first.

        Everything recorded before the call is stored first.
        """
        if metric_type is not None:
            check_id("metric_type", metric_type)
        self.flush()
        result: list[SwarmMetric] = self._read(ReadSwarmMetrics(
            metric_type=metric_type,
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
        ))
        return result

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

    def _not_tracked(self, agent_id: str) -> UnknownAgent:
        """The error for an agent that is not registered: is it known from stored data?"""
        return AgentNotTracked(agent_id) if self._stored_agent(agent_id) else UnknownAgent(agent_id)

    def check_agent_health(self, agent_id: str) -> HealthState:
        """The agent's health now.

        Raises:
            UnknownAgent: (a KeyError) the system has never seen this agent.
            AgentNotTracked: (an UnknownAgent) the agent is known from stored
                data but not registered, so it has no health now.
            MonitoringDisabled: the system tracks no health.
        """
        try:
            status = self._status(agent_id)
        except UnknownAgent:
            raise self._not_tracked(agent_id) from None
        if status is None:
            raise MonitoringDisabled("health is not tracked: monitoring is disabled")
        return status.health_state

    def get_agent_health_status(self, agent_id: str) -> dict[str, Any] | None:
        """agent_id, health_state, last_heartbeat (epoch s), heartbeat_age_ms, ..., tracked.

        An agent known from stored data but not registered has ``tracked``
        False, ``health_state`` ``"unknown"`` and None for the live figures.
        None when monitoring is disabled.

        Raises:
            UnknownAgent: the system has never seen this agent.
        """
        try:
            status = self._status(agent_id)
        except UnknownAgent:
            error = self._not_tracked(agent_id)
            if not isinstance(error, AgentNotTracked):
                raise error from None
            return {
                "agent_id": agent_id,
                "health_state": "unknown",
                "last_heartbeat": None,
                "heartbeat_age_ms": None,
                "interval_ms": None,
                "failure_threshold": None,
                "heartbeats": 0,
                "tracked": False,
                "phi": None,
            }
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
            "tracked": True,
            "phi": status.phi,
        }

    def snapshot(self) -> SwarmSnapshot:
        """Every agent's health and the coordinator's counters.

        Registered agents come first (``tracked=True``); then the agents the
        database held when the system started that have not registered or
        beaten since (``tracked=False``: their ``health_state`` is the last
        one stored, HEALTHY if none was, ``last_heartbeat`` the last time
        stored of them, and ``heartbeat_age_ms`` and ``heartbeats`` 0). The
        health counts, reports and topology count tracked agents only.
        """
        live = self._live_snapshot()
        with self._known_lock:
            untracked = [entry[0] for entry in self._untracked.values()]
        if not untracked:
            return live
        return msgspec.structs.replace(live, agents=[*live.agents, *untracked])

    def _live_snapshot(self) -> SwarmSnapshot:
        """The coordinator's snapshot: the tracked agents only."""
        result: SwarmSnapshot = self._ask_coordinator(Snapshot())
        return result

    def metrics_snapshot(self) -> MetricsSnapshot:
        """Everything an exporter (``/metrics``, OpenTelemetry) reads, cheaply at scrape time.

        One ask to the coordinator (every agent's health), one to the aggregator
        (every agent's task counters, all durations as one histogram, the latest
        agent gauges), one to the reporter (transitions and alerts by kind), and
        the buffers' counters: tens of
        milliseconds at 10,000 agents, where a call per agent would take seconds.
        Metrics recorded before the call are counted (the aggregator drains first).
        """
        self._ask_service("aggregator", Drain())
        tasks = self._ask_service("aggregator", GetTotals())
        swarm = self.snapshot()
        # asked after the coordinator: every transition in its snapshot has reached the reporter
        transitions, alerts = self._ask_service("reporter", GetCounters())
        return MetricsSnapshot(
            swarm=swarm,
            tasks=tasks,
            transitions=transitions,
            alerts=alerts,
            pending_writes=len(self.telemetry) + max(len(self.pending), self.aggregate.outbox.rows),
            dropped=self.telemetry.dropped + self.pending.dropped + self.aggregate.outbox.dropped,
            quarantined=self.writer_stats.quarantined + self.aggregate.quarantined,
            phi=self._phi_values(),
            cost=self.get_cost()["by_agent"],
            receivers=self._receiver_stats(),
        )

    def _receiver_stats(self) -> list[ReceiverStats]:
        """The alert router's counters per integration; none with alerting off."""
        if self.alert_router is None:
            return []
        return list(self._ask_router(GetReceivers()))

    def _phi_values(self) -> dict[str, float]:
        """The phi of every agent with the phi detector (one ask each: phi is opt-in)."""
        values: dict[str, float] = {}
        with self._known_lock:
            agent_ids = sorted(self._phi_agents)
        for agent_id in agent_ids:
            try:
                status = self._status(agent_id)
            except UnknownAgent:
                continue
            if status is not None and status.phi is not None:
                values[agent_id] = status.phi
        return values

    def get_unhealthy_agents(self, min_state: HealthState | str = HealthState.DEGRADED) -> list[str]:
        """Ids of tracked agents at least as sick as ``min_state``."""
        try:
            floor = HealthState(min_state).severity
        except (ValueError, TypeError):
            allowed = ", ".join(state.value for state in HealthState)
            raise InvalidMessage("min_state", min_state, f"must be one of: {allowed}") from None
        agents = self._live_snapshot().agents
        return [a.agent_id for a in agents if a.health_state.severity >= floor]

    def get_heartbeat_history(
        self, agent_id: str, start_time: Any = None, end_time: Any = None
    ) -> list[dict[str, Any]]:
        """The agent's recent heartbeats in [start_time, end_time), oldest first.

        ``timestamp`` is when the beat was received (epoch s); at most
        ``history_size`` beats are kept. [] with monitoring off, and for an
        agent known from stored data but not registered (heartbeats are not stored).

        Raises:
            UnknownAgent: the system has never seen this agent.
        """
        check_id("agent_id", agent_id)
        start, end = _time(start_time, "start_time"), _time(end_time, "end_time")
        try:
            records = self._ask_tracker(GetHistory(agent_id=agent_id)) or []
        except UnknownAgent:
            error = self._not_tracked(agent_id)
            if isinstance(error, AgentNotTracked):
                return []
            raise error from None
        return [
            {"timestamp": r.received_at, "sent_at": r.sent_at, "metadata": dict(r.metadata)}
            for r in records
            if (start is None or r.received_at >= start) and (end is None or r.received_at < end)
        ]

    def agents_overview(self) -> list[dict[str, Any]]:
        """Every agent's health and task figures, from one snapshot and one read of each store.

        Each: ``agent_id``, ``health_state``, ``last_heartbeat`` (epoch s),
        ``heartbeat_age_ms``, ``uptime_pct``, ``tasks_completed``,
        ``success_rate``, ``p95_duration_ms``, ``total_tokens`` and ``duration_series``
        (mean task duration per slice of the agent's recent tasks, as the live view
        draws it); the same
        figures as the report, at a cost that does not grow by asks per agent.
        """
        snapshot = self.snapshot()
        self._ask_service("aggregator", Drain())
        performances: dict[str, dict[str, Any]] = self._ask_service(
            "aggregator", GetAgentPerformances()
        )
        self.flush()
        uptimes: dict[str, float] = self._read(ReadAgentsUptime(now=snapshot.at))
        none = {"tasks_completed": 0, "success_rate": 0.0, "p95_duration_ms": 0.0, "total_tokens": 0,
                "duration_series": []}
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
            if agent.tracked:
                counts[agent.health_state.value] += 1
        return counts

    def check_alerts(self) -> list[dict[str, Any]]:
        """One alert per unhealthy agent: agent_id, severity, message, state, timestamp."""
        snapshot = self._live_snapshot()
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

        A callback is called with the :class:`HealthChanged` event of each
        transition into its state, on the system's callback thread, never on an
        actor's: callbacks run one at a time, in the order of the transitions.
        Whatever one raises (``SystemExit`` and ``KeyboardInterrupt`` too) is
        logged and counted in ``get_monitoring_stats()["alerts"]["callback_errors"]``;
        one still running after ``callback_timeout`` seconds is logged and counted
        in ``callback_timeouts``, and the next ones run without it. A slow callback
        never delays a report.
        """
        self._check_open()
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

    def subscribe(self, listener: Callable[[Event], object]) -> Callable[[], None]:
        """Call ``listener`` with every :class:`HealthChanged` and :class:`Alert` from now on.

        Each transition is delivered as its ``HealthChanged`` followed by the
        ``Alert`` it raised; other alerts (a stall of the monitor, a service given
        up) as an ``Alert``. Listeners run like alert callbacks, with the same
        protections (see :meth:`configure_alerts`), whether alerts are enabled
        or not.

        Returns:
            A function that unsubscribes the listener; calling it again, or after
            shutdown, does nothing.

        Raises:
            InvalidMessage: ``listener`` is not callable.
            SystemStopped: the system has been shut down.

        Example:
            ```py
            with start_system() as swarm:
                seen = []
                unsubscribe = swarm.subscribe(seen.append)
                ...
                unsubscribe()
            ```
        """
        self._check_open()
        if not callable(listener):
            raise InvalidMessage("listener", listener, "must be callable")
        return self.callbacks.subscribe(listener)

    def get_agent_uptime(
        self, agent_id: str, start_time: Any = None, end_time: Any = None
    ) -> float:
        """Percent of the monitored time in the range that the agent was not FAILED.

        100.0 when the agent was tracked but nothing of it was monitored in range.

        Raises:
            UnknownAgent: the system has never seen this agent.
            AgentNotTracked: the agent was never registered (it is known only
                from its metrics), so it has no monitored time.
        """
        check_id("agent_id", agent_id)
        request = ReadAgentUptime(
            agent_id=agent_id, now=self.clock.time(), start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"),
        )
        self.flush()
        try:
            return float(self._read(request))
        except NeverTracked:
            raise AgentNotTracked(agent_id) from None
        except UnknownAgentRecord:
            raise UnknownAgent(agent_id) from None

    # Alert management (alerting=...): silences, acknowledgements

    def _start_alerting(self, settings: AlertingSettings) -> None:
        loaded = decode_state(self._read(ReadAlertState()))
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
        p95 = settings.duration_p95
        durations = p95 is not None and p95.enabled
        per_kind = durations and p95 is not None and p95.per_kind
        if settings.failure_rate.enabled or durations:
            self.aggregate.outcomes = lambda columns, groups: forward(
                task_outcomes(columns, groups, durations=durations, per_kind=per_kind))

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

    def list_alerts(self, limit: int = 500) -> list[dict[str, Any]]:
        """The alert router's alerts, firing first, newest first: ``fingerprint``,
        ``labels``, ``annotations``, ``startsAt``, ``endsAt`` (epoch s), ``status``
        (firing or resolved), ``muted`` (by a silence or an inhibition rule),
        ``acknowledgedBy`` (None until acknowledged).

        Raises:
            MonitoringDisabled: alert management is off.
        """
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise InvalidMessage("limit", limit, "must be an integer from 1 to 10000")
        return list(self._ask_router(ListAlerts(limit=limit)))

    def alerting_stats(self) -> dict[str, Any]:
        """The alert router's counters (notices, attempts, failures by integration, ...)."""
        result: dict[str, Any] = self._ask_router(GetAlerting())
        return result

    # Statistics and storage

    def get_task_stats(
        self, agent_id: str | None = None, start_time: Any = None, end_time: Any = None
    ) -> dict[str, Any]:
        """Task statistics, of one agent or of the swarm.

        Without a time range they come from memory (every task the file holds,
        and every task recorded since); with one, from SQLite after a flush.
        Both give the same numbers on the same tasks: percentiles are exact
        while the population holds at most ``storage.EXACT_SAMPLES`` tasks
        (``exact`` True), from the histogram within 1% beyond.

        Raises:
            UnknownAgent: the system has never seen ``agent_id``.
        """
        if agent_id is not None:
            check_id("agent_id", agent_id)
        if start_time is None and end_time is None:
            return self._live_stats(agent_id).stats
        request = ReadTaskStats(
            agent_id=agent_id, start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"),
        )
        self.flush()
        if agent_id is not None and not self._stored_agent(agent_id, flushed=True):
            raise UnknownAgent(agent_id)
        result: dict[str, Any] = dict(self._read(request))
        return result

    def _live_stats(
        self, agent_id: str | None, *, known: bool = False, flushed: bool = False
    ) -> LiveStats:
        """The statistics of all time: the aggregator's, or SQLite's when it cannot vouch for them.

        The aggregator holds an agent's tasks since its in-memory state
        began. Until the stored count is seen to match it (an agent seen for
        the first time in this run), the stored statistics answer, and a
        match is reported back so that later reads stay in memory.

        Args:
            agent_id: the agent, or None for the swarm.
            known: the caller knows the agent is registered (no need to ask storage).
            flushed: the caller has just flushed everything recorded before.

        Raises:
            UnknownAgent: the system has never seen ``agent_id``.
        """
        if not flushed:
            self._ask_service("aggregator", Drain())
        live: LiveStats | None = self._ask_service("aggregator", GetTaskStats(agent_id=agent_id))
        if live is not None and live.verified:
            return live
        assert agent_id is not None  # the swarm's statistics are always vouched for
        if live is not None or not flushed:
            # After reading the tally: the stored count then includes every task it
            # counted, so the two are equal only if the file holds no others.
            self.flush()
        if not known and not self._stored_agent(agent_id, flushed=True):
            raise UnknownAgent(agent_id)
        stored: dict[str, Any] = dict(self._read(ReadTaskStats(agent_id=agent_id)))
        if live is None:
            return LiveStats(stats=stored, verified=False)
        count = live.stats["total_tasks"]
        if stored["total_tasks"] == count:
            verified = Verified(agent_id=agent_id, count=count, serial=live.serial)
            self._ask_service("aggregator", verified)
        return msgspec.structs.replace(live, stats=stored)

    def get_agent_performance(self, agent_id: str) -> dict[str, Any]:
        """agent_id, tasks_completed, success_rate, error_rate, avg_duration_ms, total_tokens_used.

        Also ``p95_duration_ms``, and ``duration_series`` / ``throughput_series``
        (mean duration and task count per time slice, for sparklines, of the
        tasks recorded since the system started).

        Raises:
            UnknownAgent: the system has never seen this agent.
        """
        check_id("agent_id", agent_id)
        return _performance(agent_id, self._live_stats(agent_id))

    def query_task_metrics(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[TaskMetric]:
        """Stored task metrics in time order, after everything recorded before the call is stored."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        request = ReadTaskMetrics(
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
            agent_id=agent_id, limit=limit,
        )
        self.flush()
        result: list[TaskMetric] = self._read(request)
        return result

    def get_task_trend(
        self, agent_id: str | None = None, start_time: Any = None, end_time: Any = None,
        slices: int = 60,
    ) -> list[dict[str, Any]]:
        """The range cut into ``slices`` equal slices, each with its task figures, from the rollups.

        Each slice: ``start``, ``end`` (epoch s), ``tasks``, ``failures``,
        ``p50_ms`` and ``p95_ms`` (None with no task) and ``tokens``. The range
        defaults to the last hour; ``agent_id=None`` is the whole swarm.

        Raises:
            UnknownAgent: the system has never seen ``agent_id``.
            InvalidMessage: a bad time, or ``slices`` not in 1..1440.
        """
        if agent_id is not None:
            check_id("agent_id", agent_id)
        end = _time(end_time, "end_time")
        end = self.clock.time() if end is None else end
        start = _time(start_time, "start_time")
        start = end - 3600.0 if start is None else start
        self.flush()
        try:
            points = self._read(ReadTaskTrend(start_time=start, end_time=end, slices=slices,
                                              agent_id=agent_id))
        except UnknownAgentRecord:
            raise UnknownAgent(str(agent_id)) from None
        return [point._asdict() for point in points]

    def query_health_events(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[HealthChanged]:
        """Stored health transitions in time order, after everything before the call is stored."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[HealthChanged] = self._read(ReadHealthEvents(
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
            agent_id=agent_id, limit=limit,
        ))
        return result

    def query_alerts(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        severity: str | None = None, limit: int | None = None,
    ) -> list[Alert]:
        """Stored alerts in time order (agent ``*``: the swarm's), after a flush."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[Alert] = self._read(ReadAlerts(
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
            agent_id=agent_id, severity=severity, limit=limit,
        ))
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
        snapshot = self._live_snapshot()
        distribution = self._distribution(snapshot)
        healthy = distribution[HealthState.HEALTHY.value]
        writer = self.writer_stats
        outbox = self.aggregate.outbox
        return {
            "monitoring_enabled": True,
            "metrics_collector": {
                "total_tasks": stats["total_tasks"],
                "success_rate": stats["success_rate"],
                "avg_duration_ms": stats["avg_duration_ms"],
                "buffered": len(self.telemetry),
                # batches on their way to the writer, and those it holds
                "pending_writes": len(self.telemetry) + outbox.rows + len(self.pending),
                "stored": self.pending.committed,
                "dropped": self.telemetry.dropped + self.pending.dropped + outbox.dropped,
                "quarantined": writer.quarantined + self.aggregate.quarantined,
                "uncounted_batches": self.aggregate.stats_errors,  # stored, not in the statistics
                "last_quarantine_error": writer.last_quarantine_error,
                "unregistered_agent_metrics": self.telemetry.unregistered,
                "write_failures": writer.failures,
                "last_write_error": writer.last_error,
            },
            "unknown_messages": {
                "coordinator": self.coordinator.proxy().unknown_messages.get(timeout=ASK_TIMEOUT),
                "aggregator": self.aggregate.unknown_messages,
                "writer": writer.unknown_messages,
                "reporter": self.reporter_state.unknown_messages,
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
                "callback_calls": self.callbacks.calls,
                "callback_errors": self.callbacks.errors,
                "callback_timeouts": self.callbacks.timeouts,
            },
            **({"alerting": self.alerting_stats()} if self.alert_router is not None else {}),
        }

    def get_topology_info(self) -> dict[str, Any]:
        """topology_type, agent_count, connection_count and health_metrics (tracked agents)."""
        snapshot = self._live_snapshot()
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
        """Everything a report shows, gathered from the actors and SQLite (tracked agents).

        Health comes from the trackers; every task figure, uptime, gauge and
        sparkline comes from what is stored, through the same storage reads as
        the command line's report of the file, so the two show the same numbers.
        """
        self.flush()
        snapshot = self._live_snapshot()
        gauges: dict[str, list[Gauge]] = {}
        for metric in self._read(ReadLatestAgentMetrics()):
            gauges.setdefault(metric.agent_id, []).append(
                Gauge(metric_type=metric.metric_type, value=metric.value, timestamp=metric.timestamp)
            )
        span = self._read(ReadTaskSpan())
        low, high = span if span is not None else (snapshot.at, snapshot.at)
        agents = []
        for a in snapshot.agents:
            durations, counts = self._read(
                ReadTaskSeries(low=low, high=high, agent_id=a.agent_id, slices=REPORT_SLICES)
            )
            stats = self._read(ReadTaskStats(agent_id=a.agent_id))
            uptime = self._read(ReadAgentUptime(agent_id=a.agent_id, now=snapshot.at))
            agents.append(
                AgentReport(
                    agent_id=a.agent_id,
                    health_state=a.health_state.value,
                    heartbeat_age_ms=a.heartbeat_age_ms,
                    uptime_pct=float(uptime),
                    tasks_completed=stats["total_tasks"],
                    success_rate=stats["success_rate"],
                    avg_duration_ms=stats["avg_duration_ms"],
                    p95_duration_ms=stats["p95_duration_ms"],
                    total_tokens=stats["total_tokens"],
                    duration_series=durations,
                    throughput_series=counts,
                    gauges=gauges.get(a.agent_id, []),
                )
            )
        alerts = self._ask_service("reporter", GetRecentAlerts(limit=50))
        swarm_gauges = [
            Gauge(metric_type=m.metric_type, value=m.value, timestamp=m.timestamp)
            for m in self._read(ReadLatestSwarmMetrics())
        ]
        return HealthReport(
            swarm_id=self.config.swarm_id,
            timestamp=snapshot.at,
            topology_type=self.config.topology_type,
            agent_count=len(snapshot.agents),
            health_distribution=self._distribution(snapshot),
            agents=agents,
            task_stats=dict(self._read(ReadTaskStats())),
            alerts=alerts,
            swarm_gauges=swarm_gauges,
            findings=[finding["text"] for finding in self.get_findings()],
            receivers=self._receiver_stats(),
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
        self._flush(timeout)

    def _flush(self, timeout: float, *, closing: bool = False) -> None:
        """Drain, then wait for the writer; again while the aggregator waits for acknowledgements.

        The coordinator's Flush reaches the writer after every batch it forwarded
        (the reporter's alerts go that way); the aggregator's batches went straight
        to the writer before its Drain replied. A batch the aggregator could not
        hand over (the writer was restarting) is sent again to the next writer, so
        a flush waits until the aggregator holds nothing unacknowledged.
        """
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self._ask_service("aggregator", Drain(), timeout, closing=closing)
            self._flush_writer(timeout)
            unacked = self._ask_service("aggregator", CountUnacked(), timeout, closing=closing)
            if not unacked or "writer" in self.services.failed or time.monotonic() > deadline:
                return
            if unacked == last:  # no progress: the writer is between incarnations
                with self.services.changed:
                    self.services.changed.wait(timeout=0.05)
            last = unacked

    def _flush_writer(self, timeout: float) -> None:
        for _ in range(50):
            try:
                # not _ask_coordinator: shutdown flushes too, once the system is closed
                _resolve(self.coordinator.ask(Flush(), timeout=timeout), timeout)
                return
            except pykka.ActorDeadError:
                with self.services.changed:
                    self.services.changed.wait(timeout=0.2)
        raise pykka.ActorDeadError("the writer did not come back")

    def shutdown(self, timeout: float = ASK_TIMEOUT) -> None:
        """Store every accepted metric, then stop every actor and thread of the system.

        From the moment it begins, every other method raises :class:`SystemStopped`.
        Each step (stop the trackers, flush, stop each service, the callbacks, the
        clock, close the file) is tried even when one before it failed; calling
        ``shutdown`` again retries only the steps not done. Calls from several
        threads at once wait for the first and return once it has finished:
        everything is stored by then. Idempotent.

        Args:
            timeout: seconds each step may wait.

        Raises:
            ShutdownIncomplete: (a TimeoutError) some step failed or timed out;
                ``.steps`` names them. The others were done.
        """
        with self._lock:  # a second caller waits for the first (each step is bounded)
            self._shutdown(timeout)

    def _shutdown(self, timeout: float) -> None:
        """One pass over the shutdown steps not done yet; the caller holds the lock."""
        self._closed = True
        self.telemetry.close()
        _running.discard(self)
        failed: list[str] = []
        for name, step in self._shutdown_steps():
            if name in self._done:
                continue
            try:
                done = step(timeout)
            except Exception:
                logger.exception("shutdown step %r failed", name)
                done = False
            if done is False:
                failed.append(name)
            else:
                self._done.add(name)
        if failed:
            raise ShutdownIncomplete(failed)

    def _shutdown_steps(self) -> list[tuple[str, Callable[[float], bool | None]]]:
        """The steps of a shutdown in order; one that returns False is not done."""

        def stop(kind: str) -> Callable[[float], None]:
            def step(timeout: float) -> None:
                # False (it was dead already: given up) is done too; a Timeout is not
                ref = self.coordinator if kind == "coordinator" else self.services.get(kind)
                ref.stop(timeout=timeout)

            return step

        return [
            ("tick", lambda _t: self._tick.cancel()),
            ("trackers", self._stop_trackers),
            ("flush", self._final_flush),
            ("alert_router", self._stop_alert_router),
            ("analyst", stop("analyst")),
            ("reporter", stop("reporter")),
            ("callbacks", self.callbacks.close),
            ("aggregator", stop("aggregator")),
            ("writer", stop("writer")),
            ("coordinator", stop("coordinator")),
            ("dispatcher", lambda t: self.dispatcher.shutdown(timeout=t)),
            ("clock", self._release_clock),
            ("storage", self._close_storage),
        ]

    def _stop_trackers(self, timeout: float) -> None:
        if "coordinator" not in self._done:
            _resolve(self.coordinator.ask(StopTrackers(), timeout=timeout), timeout)
        self.dispatcher.shutdown(timeout=timeout)

    def _final_flush(self, timeout: float) -> None:
        """Everything accepted, into SQLite; a record that raced the close is taken too."""
        if {"aggregator", "writer"} & (self._done | self.services.failed):
            # given up (failed_services says so), or a retry after they were stopped
            # anyway: nothing can store them now
            logger.error("shutdown: %d metrics were not stored", len(self.telemetry) + len(self.pending))
            return
        try:
            for _ in range(3):
                self._flush(timeout, closing=True)
                if not len(self.telemetry):
                    return
        except Exception:
            logger.error(
                "shutdown could not flush: %d metrics were not stored",
                len(self.telemetry) + len(self.pending),
            )
            raise

    def _stop_alert_router(self, timeout: float) -> None:
        """Stop the alert router (its last state batch goes to the writer before it stops)."""
        if self.alert_router is not None:
            self.alert_router.stop(timeout=timeout)

    def _release_clock(self, timeout: float) -> None:
        self.clock.remove_stall_listener(self._on_stall)
        if self._own_clock:
            self.clock.close()

    def _close_storage(self, timeout: float) -> bool:
        """Close the file, once the writer that uses its connection has stopped."""
        if "writer" not in self._done:
            return False
        self.storage.close()
        return True

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
        self._check_open()
        return _resolve(self.coordinator.ask(message, timeout=timeout), timeout)

    def _ask_service(
        self, kind: str, message: Any, timeout: float = ASK_TIMEOUT, *, closing: bool = False
    ) -> Any:
        """Ask a supervised service, waiting out a restart if it is between incarnations.

        Raises:
            SystemStopped: the system is shut down (unless ``closing``: the
                shutdown's own requests).
        """
        if not closing:
            self._check_open()
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

    def _read(self, request: StorageRead) -> Any:
        """Ask the writer one typed read (it owns the connection)."""
        return self._ask_service("writer", request)

    def _stored_agent(self, agent_id: str, *, flushed: bool = False) -> bool:
        """Whether the database knows the agent (registered once, or named by data).

        Everything recorded before the call is flushed first (unless the caller
        just did), so an agent that only buffered metrics counts as known.
        """
        if not flushed:
            self.flush()
        record: AgentRecord | None = self._read(ReadAgent(agent_id=agent_id))
        return record is not None

    def _tracked(self, agent_ids: Iterable[str]) -> None:
        """These agents are registered: their metrics take the fast path, and they are tracked."""
        ids = list(agent_ids)
        self.telemetry.admit(ids)
        if self._untracked:
            with self._known_lock:
                for agent_id in ids:
                    self._untracked.pop(agent_id, None)

    @staticmethod
    def _restore_agents(storage: MetricsStorage) -> dict[str, tuple[AgentSnapshot, AgentRecord]]:
        """Every agent a database holds, as a not-tracked snapshot entry with its record."""
        states = storage.last_states()
        found: dict[str, tuple[AgentSnapshot, AgentRecord]] = {}
        for record in storage.agents():
            last = record.unregistered_at or record.registered_at or 0.0
            entry = AgentSnapshot(
                agent_id=record.agent_id,
                health_state=HealthState(states.get(record.agent_id, HealthState.HEALTHY.value)),
                last_heartbeat=last,
                heartbeat_age_ms=0.0,
                registered_at=record.registered_at or 0.0,
                heartbeats=0,
                tracked=False,
            )
            found[record.agent_id] = (entry, record)
        return found

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
        """The storage's conditions as alerts of their own: an outage (the writer backing off)
        and a backlog (more than half of ``max_pending`` waiting; it resolves below a
        quarter), each resolved when it ends, and rows quarantined (an instant, raised
        again while more are)."""
        if self.alert_router is None:
            return
        now = self.clock.time()
        failing = self.writer_stats.backoff > 0
        if failing != self._storage_outage:
            self._storage_outage = failing
            self._system_alert("StorageOutage", AlertSeverity.CRITICAL, failing,
                               f"storage is not writable: {self.writer_stats.last_error}")
        backlog = len(self.telemetry) + max(len(self.pending), self.aggregate.outbox.rows)
        limit = self.pending.max_rows
        if backlog > limit // 2 and not self._storage_backlog:
            self._storage_backlog = True
            self._system_alert("StorageBacklog", AlertSeverity.WARNING, True,
                               f"{backlog} metrics wait to be written (max_pending {limit}: past "
                               "it the oldest are dropped)")
        elif backlog < limit // 4 and self._storage_backlog:
            self._storage_backlog = False
            self._system_alert("StorageBacklog", AlertSeverity.WARNING, False,
                               f"{backlog} metrics wait to be written")
        quarantined = self.writer_stats.quarantined + self.aggregate.quarantined
        if quarantined > self._quarantined_seen:
            new, self._quarantined_seen = quarantined - self._quarantined_seen, quarantined
            self._system_alert("StorageQuarantine", AlertSeverity.WARNING, True,
                               f"{new} rows could not be stored and were quarantined "
                               f"({quarantined} in all)", ends_at=now + INSTANT_TTL)

    def _system_alert(self, name: str, severity: AlertSeverity, firing: bool, message: str,
                      ends_at: float | None = None) -> None:
        """Tell the alert router a swarm-wide condition started (or, not ``firing``, ended)."""
        if self.alert_router is None:
            return
        now = self.clock.time()
        meta: dict[str, Any] = {"alertname": name}
        if not firing:
            meta["ends_at"] = now
        elif ends_at is not None:
            meta["ends_at"] = ends_at
        try:
            self.alert_router.tell(Alert(agent_id="*", severity=severity, at=now, metadata=meta,
                                         message=message))
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


_running: weakref.WeakSet[SwarmSystem] = weakref.WeakSet()
"""Systems started and not yet shut down; weak, so that the hook keeps none alive."""


def _shutdown_at_exit() -> None:
    """Shut down every system still running as the interpreter exits.

    Every thread of a system is a daemon thread, so the interpreter reaches its
    exit hooks (a program that never called ``shutdown``, or one ended by
    Ctrl-C); the threads still run then, and this stores what was accepted.
    """
    for system in list(_running):
        try:
            system.shutdown(timeout=EXIT_TIMEOUT)
        except Exception:
            logger.exception("shutting down a system at exit failed")


atexit.register(_shutdown_at_exit)


def _resolve(result: Any, timeout: float) -> Any:
    """An actor may answer with a future (it asked another actor without blocking)."""
    while isinstance(result, pykka.Future):
        result = result.get(timeout=timeout)
    return result


def _performance(agent_id: str, live: LiveStats) -> dict[str, Any]:
    """The ``get_agent_performance`` dict of an agent's statistics."""
    stats = live.stats
    return {
        "duration_series": list(live.duration_series),
        "throughput_series": list(live.throughput_series),
        "agent_id": agent_id,
        "tasks_completed": stats["total_tasks"],
        "success_rate": stats["success_rate"],
        "error_rate": stats["error_rate"],
        "avg_duration_ms": stats["avg_duration_ms"],
        "p95_duration_ms": stats["p95_duration_ms"],
        "total_tokens_used": stats["total_tokens"],
    }


def _copy(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pykka never copies a message: copy what the caller handed us.

    The copy is then checked by the message it goes into.
    """
    if metadata is None:
        return {}
    if type(metadata) is dict:
        return dict(metadata)
    if not isinstance(metadata, Mapping):
        raise InvalidMessage("metadata", metadata, "must be a dict")
    try:
        return dict(metadata)
    except Exception as exc:  # a Mapping of the caller's whose methods raise
        raise InvalidMessage("metadata", metadata, f"must be a dict that can be copied ({exc})") from None


def _time(value: Any, field: str) -> float | None:
    """A time argument as epoch seconds (None stays None: that end of a range is open).

    Raises:
        InvalidMessage: the value is not a time in the range of
            :func:`messages.to_epoch` (2000-01-01 to 2200-01-01 UTC); a range past
            it is refused, never clamped.
    """
    return None if value is None else to_epoch(field, value)


def _analyst_settings(
    prices: Mapping[str, Any] | None,
    limit_s: float | None,
    kind_limits_s: Mapping[str, float] | None,
) -> AnalystSettings:
    """The analyst's settings from :func:`start_system`'s arguments, each checked.

    Raises:
        InvalidMessage: naming the argument that is wrong.
    """
    try:
        table = parse_prices(prices) if prices is not None else {}
    except ValueError as exc:
        raise InvalidMessage("prices", prices, str(exc)) from None
    for name, value in (("stuck_limit_s", limit_s),):
        if value is not None and (type(value) not in (int, float) or not 0 < value < math.inf):
            raise InvalidMessage(name, value, "must be a positive number of seconds")
    kinds: dict[str, float] = {}
    if kind_limits_s is not None:
        if not isinstance(kind_limits_s, Mapping):
            raise InvalidMessage("stuck_kind_limits_s", kind_limits_s, "must be a dict of kind to seconds")
        for kind, value in kind_limits_s.items():
            if not isinstance(kind, str) or not kind:
                raise InvalidMessage("stuck_kind_limits_s", kind, "a kind must be a non-empty string")
            if type(value) not in (int, float) or not 0 < value < math.inf:
                raise InvalidMessage(f"stuck_kind_limits_s.{kind}", value,
                                     "must be a positive number of seconds")
            kinds[kind] = float(value)
    stuck = StuckSettings(limit_s=None if limit_s is None else float(limit_s), kind_limits_s=kinds)
    return AnalystSettings(stuck=stuck, prices=table)


def _check_clock(clock: Clock) -> None:
    """Refuse a clock whose wall time is outside the range every message's time must be in."""
    try:
        check_timestamp("clock", clock.time())
    except InvalidMessage as exc:
        raise InvalidMessage("clock", exc.value, f"time() {exc.reason}") from None
