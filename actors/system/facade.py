"""The synchronous facade: start the actor system in-process and talk to it plainly."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pykka

from actors.aggregator import AggregateState, MetricsAggregator
from actors.alerting.config import AlertingSettings
from actors.analyst import Analyst
from actors.analytics.state import AnalystSettings, AnalystState
from actors.callbacks import DEFAULT_CALLBACK_TIMEOUT, CallbackRunner
from actors.channel import TelemetryChannel, UnknownAgents
from actors.coordinator import Services, SwarmCoordinator, SystemConfig
from actors.kernel.clock import Clock, SystemClock
from actors.kernel.runtime import Dispatcher
from actors.pending import Backlog
from actors.protocol import Snapshot
from actors.reporter import HealthReporter, ReporterState
from actors.system.agents import AgentsFacade
from actors.system.lifecycle import Lifecycle, _running
from actors.system.monitoring import MonitoringViews
from actors.system.plumbing import ASK_TIMEOUT, _copy
from actors.system.report import ReportViews
from actors.tracker import StallLedger
from actors.writer import StorageWriter, WriterStats
from messages import (
    DEFAULT_KIND,
    AgentMetric,
    Crash,
    InvalidMessage,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    TaskStarted,
)
from storage import MetricsStorage, TaskColumns


class SwarmSystem(AgentsFacade, ReportViews, MonitoringViews, Lifecycle):
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
        gc_freeze: bool = False,
    ) -> None:
        self._config = config
        self._gc_freeze = gc_freeze
        self._froze = False  # gc.freeze() called: gc.unfreeze() at shutdown
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._own_clock = clock is None
        self._closed = False
        self._lock = threading.Lock()  # held by the one shutdown that runs; others wait
        self._done: set[str] = set()  # the shutdown steps done so far
        self._known_lock = threading.Lock()
        self._phi_agents: set[str] = set()  # registered with the phi detector
        self._storage = MetricsStorage(":memory:" if db_path is None else db_path)
        # Before any actor owns the storage: what the file holds, and our settings in it.
        self._untracked = self._restore_agents(self._storage)
        self._storage.store_metadata(
            {"swarm_id": config.swarm_id, "topology_type": config.topology_type}
        )
        swarm_tally = self._storage.task_tally(None)
        self._ledger = StallLedger()
        # Each owned by one actor (the backlog and writer_stats by the writer, the
        # aggregate by the aggregator) and handed to its next incarnation; the
        # facade only reads their counters.
        self._pending = Backlog(max_pending)
        self._services = Services()
        self._writer_stats = WriterStats()
        self._aggregate = AggregateState(
            history_size=config.history_size, max_unacked=max(2 * max_pending, 100_000)
        )
        if swarm_tally is not None:
            self._aggregate.swarm = swarm_tally
        self._reporter_state = ReporterState()
        self._analyst_state = AnalystState(settings=analysis or AnalystSettings())
        self._callbacks = CallbackRunner(callback_timeout)
        self._telemetry = TelemetryChannel(
            self._clock.time, self._notify_aggregator, unknown_agents=unknown_agents
        )
        self._dispatcher = Dispatcher(workers=workers, dead_letters=self._dead_letter)
        services = self._services
        spawn: dict[str, Callable[[pykka.ActorRef[Any]], pykka.ActorRef[Any]]] = {
            "writer": lambda sup: StorageWriter.start(
                supervisor=sup, storage=self._storage, backlog=self._pending, clock=self._clock,
                stats=self._writer_stats,
            ),
            # the writer's ref as it is now; the coordinator tells it of a new one
            "aggregator": lambda sup: MetricsAggregator.start(
                supervisor=sup, channel=self._telemetry, state=self._aggregate,
                writer=services.get("writer"), time=self._clock.time,
                analyst=lambda: services.refs.get("analyst"),
            ),
            "reporter": lambda sup: HealthReporter.start(
                supervisor=sup, state=self._reporter_state, runner=self._callbacks,
            ),
            "analyst": lambda sup: Analyst.start(
                supervisor=sup, state=self._analyst_state, clock=self._clock,
                alerts=lambda: services.get("reporter"),
            ),
        }
        self._telemetry.started = self._started
        self._coordinator = SwarmCoordinator.start(
            config=config, clock=self._clock, dispatcher=self._dispatcher, ledger=self._ledger,
            services=services, spawn=spawn, runner=self._callbacks,
        )
        self._coordinator.ask(Snapshot(), timeout=ASK_TIMEOUT)  # returns once on_start has run
        self._alert_router: pykka.ActorRef[Any] | None = None
        self._storage_outage = False
        self._storage_backlog = False
        self._quarantined_seen = 0
        if alerting is not None:
            self._start_alerting(alerting)
        self._clock.add_stall_listener(self._on_stall)
        self._tick = self._clock.call_every(flush_interval, self._on_tick)
        if config.enable_monitoring:
            # The hot path: the bound method of the channel, no extra frame. After
            # shutdown the channel refuses it with SystemStopped.
            self.record_task_metric = self._telemetry.record_task  # type: ignore[method-assign]
            self.send = self._telemetry.send  # type: ignore[method-assign]
        _running.add(self)

    # What it was started with, and the refs agent actors tell

    @property
    def config(self) -> SystemConfig:
        """The settings the system was started with (frozen)."""
        return self._config

    @property
    def clock(self) -> Clock:
        """The clock all of the system's time goes through (``start_system(clock=...)``, or its own)."""
        return self._clock

    @property
    def coordinator(self) -> pykka.ActorRef[Any]:
        """The coordinator's ref: agent actors tell it :class:`messages.Heartbeat` (and
        ``RegisterAgent`` / ``UnregisterAgent``, or ask them for the answer); telemetry
        told to it goes on to the aggregator."""
        return self._coordinator

    # Actor refs of the supervised services (they change when one is restarted)

    @property
    def aggregator(self) -> pykka.ActorRef[Any]:
        """The metrics aggregator's current ref."""
        return self._services.get("aggregator")

    @property
    def writer(self) -> pykka.ActorRef[Any]:
        """The storage writer's current ref."""
        return self._services.get("writer")

    @property
    def reporter(self) -> pykka.ActorRef[Any]:
        """The health reporter's current ref."""
        return self._services.get("reporter")

    # Tasks

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
        self._telemetry.send(TaskStarted(
            task_id=task_id, agent_id=agent_id, kind=kind, timestamp=self._clock.time(),
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
        begun = self._clock.monotonic()
        result = TaskResult.FAILURE
        try:
            yield finish
            result = TaskResult.SUCCESS
        finally:
            duration_ms = max(0.0, (self._clock.monotonic() - begun) * 1000.0)
            if not self._closed:
                self.record_task_metric(task_id, agent_id, duration_ms, result, metadata=finish)

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
        if self._config.enable_monitoring:  # pragma: no cover - replaced in __init__
            self._telemetry.record_task(
                task_id, agent_id, duration_ms, result, tokens_used, files_changed, metadata
            )

    def send(self, message: TaskMetric | AgentMetric | SwarmMetric | TaskStarted) -> None:
        """Hand the system a telemetry message the caller built (a no-op with monitoring off).

        The cheapest way in for an agent that already holds the message: an
        append to the buffer the aggregator drains, never blocking, with no
        message per metric. A :class:`TaskStarted` goes to the analyst at once.

        Raises:
            InvalidMessage: the message is none of the four.
            SystemStopped: the system has been shut down.
            UnknownAgent: it names an agent that is not registered, and the system
                was started with ``unknown_agents="refuse"``.
        """
        self._check_open()
        if self._config.enable_monitoring:  # pragma: no cover - replaced in __init__
            self._telemetry.send(message)

    def send_rows(self, rows: TaskColumns) -> list[int]:
        """Hand the system task rows already valid as :class:`TaskMetric` s, as one chunk.

        The batch form of :meth:`send` for rows decoded in bulk (the HTTP edge's
        batches): one append, the ``unknown_agents`` policy applied to the set of
        ids. The caller vouches that every row keeps TaskMetric's rules.

        Returns:
            The positions of the rows refused (their agent is not registered and
            the policy is ``"refuse"``); the others are buffered.

        Raises:
            SystemStopped: the system has been shut down.
        """
        self._check_open()
        if not self._config.enable_monitoring:
            return []
        return self._telemetry.send_rows(rows)

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
            timestamp=self._clock.time() if timestamp is None else timestamp,
            metadata=_copy(metadata),
        )
        if self._config.enable_monitoring:
            self._telemetry.send(metric)

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
            swarm_id=self._config.swarm_id, metric_type=metric_type, value=value,
            timestamp=self._clock.time() if timestamp is None else timestamp,
            metadata=_copy(metadata),
        )
        if self._config.enable_monitoring:
            self._telemetry.send(metric)

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
