"""The demo run: a swarm of simulated agents, scripted faults, a live view, and the reports."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Final

from actors import SwarmSystem, start_system
from demo.agent import DEMO_PRICES
from demo.faults import STUCK_LIMIT_S, FaultPlan, FaultStep
from demo.frame import capture
from demo.live import QuietView, RunInfo, View, relay_logs
from demo.stored import stored_metrics
from demo.serve import start_demo_server
from demo.swarm import Swarm
from demo.tasks import Tally, TaskQueue, agent_roster
from messages import Alert, HealthChanged, HealthReport, HealthState, render_json, render_markdown
from storage import MetricsStorage

__all__ = ["RunOptions", "RunResult", "count_tasks", "run"]

_FRAME_EVERY: Final = 0.25
_METRICS_EVERY: Final = 1.0
_ANALYSIS: Final = {  # the analyst's (and the trackers' early-warning) alerts, as the run shows them
    "TaskStuck": "STUCK", "TaskStillStuck": "STUCK", "TaskStuckFinished": "UNSTUCK",
    "SlowTasks": "SLOW", "SlowTasksEnded": "SLOW", "OutlierAgent": "OUTLIER",
    "DurationRegression": "SHIFT", "FailureRegression": "SHIFT", "AgentAtRisk": "AT RISK",
}


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run the demo (the command line's options)."""

    agents: int = 12
    duration: float = 20.0
    interval_ms: int = 500
    seed: int | None = None
    db_path: str = "swarm_metrics.db"
    report_path: str = "swarm_report.json"
    failure_threshold: int = 3
    swarm_id: str = "demo-swarm"
    topology: str = "mesh"
    serve_port: int | None = None  # the HTTP server's port (0: a free one); None: no server


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did, for the final summary and for tests.

    Attributes:
        seed: the seed used (drawn at random when none was given).
        plan: the scripted faults.
        report: the final health report (also written as JSON).
        markdown: the report rendered as Markdown.
        elapsed: seconds the swarm ran.
        interrupted: stopped early by Ctrl-C (or the ``stop`` event).
        signal: the number of the signal that stopped it (SIGINT, SIGTERM, SIGHUP), or None.
        recorded_tasks: task metrics the agents recorded.
        recorded_agent_metrics: agent gauges the agents recorded.
        recorded_swarm_metrics: swarm gauges the run recorded.
        stored_tasks: task metrics of this run found in SQLite at the end.
        stored_agent_metrics: agent gauges of this run found in SQLite.
        stored_swarm_metrics: swarm gauges of this run found in SQLite.
        tasks_before: task metrics already in the database before the run.
        tracker_restarts: heartbeat trackers the coordinator restarted.
        crash_heartbeats_before: the crashed agent's heartbeat count when it crashed.
        crash_heartbeats_sent: heartbeats its pulse sent over the whole run.
        crash_heartbeats_counted: heartbeats its (restarted) tracker counted in all.
        db_path: the database, absolute.
        report_path: the JSON report, absolute.
        signal: the number of the signal that stopped it, or None.
        phi_silent_s: how long the phi agent had been silent when phi accrual convicted it.
        phi_value: its phi just after (at least the threshold).
    """

    seed: int
    plan: FaultPlan
    report: HealthReport
    markdown: str
    elapsed: float
    interrupted: bool
    recorded_tasks: int
    recorded_agent_metrics: int
    recorded_swarm_metrics: int
    stored_tasks: int
    stored_agent_metrics: int
    stored_swarm_metrics: int
    tasks_before: int
    tracker_restarts: int
    crash_heartbeats_before: int | None
    crash_heartbeats_sent: int | None
    crash_heartbeats_counted: int | None
    db_path: str
    report_path: str
    signal: int | None = None
    phi_silent_s: float | None = None
    phi_value: float | None = None


class _Stop:
    """Whether the run should end early: the caller's event is set, or a signal came."""

    def __init__(self, event: threading.Event | None) -> None:
        self.event = event if event is not None else threading.Event()
        self.signalled = False
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signalled or self.event.is_set()

    def wait(self, seconds: float) -> None:
        # A signal handler only sets a flag (setting an Event from a handler can
        # deadlock on the Event's own lock), so wait in slices it can cut short.
        self.event.wait(min(seconds, _FRAME_EVERY))


@contextmanager
def _signals(stop: _Stop) -> Iterator[None]:
    """Ctrl-C (and SIGTERM, SIGHUP) end the run cleanly; a second one exits at once, unflushed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.signalled:
            os.write(2, b"second interrupt: exiting now, without the report\n")
            os._exit(128 + signum)
        stop.signalled = True
        stop.signum = signum

    names = ("SIGINT", "SIGTERM", "SIGHUP")  # SIGHUP: the terminal closed; not on Windows
    signals = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def count_tasks(path: str) -> int:
    """Task metrics already in a database the run would append to (0 for no file).

    Opened for writing, as the run will: an older schema is migrated, a file
    that is not ours is refused before anything starts.

    Raises:
        StorageError: NotOurDatabase, SchemaTooNew, or the file cannot be opened.
    """
    if not os.path.exists(path):
        return 0
    with MetricsStorage(path, create=False) as storage:
        return storage.task_stats()["total_tasks"]


def _write_atomically(path: str, text: str) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def run(options: RunOptions, view: View | None = None,
        stop: threading.Event | None = None) -> RunResult:
    """Run the demo swarm for ``options.duration`` seconds (or until stopped) and report.

    Everything random comes from one ``random.Random(seed)``: the fault plan,
    then the task sequence. The database and the JSON report are written
    whatever ends the run: the duration, Ctrl-C, SIGTERM or ``stop``.

    Args:
        options: the run's settings.
        view: what to show while it runs (nothing by default).
        stop: set it to end the run early, as Ctrl-C does.

    Raises:
        StorageError: the database cannot be opened or written (NotOurDatabase,
            SchemaTooNew, ...), before any agent starts.
        OSError: the JSON report cannot be written.
    """
    view = view if view is not None else QuietView()
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    roster = agent_roster(options.agents)
    interval = options.interval_ms / 1000.0
    plan = FaultPlan.choose(rng, [agent_id for agent_id, _ in roster], duration=options.duration,
                            interval=interval, failure_threshold=options.failure_threshold)
    queue = TaskQueue(rng)
    tally = Tally()
    halt = _Stop(stop)
    tasks_before = count_tasks(options.db_path)
    with _signals(halt), start_system(
        options.db_path, swarm_id=options.swarm_id, topology_type=options.topology,
        heartbeat_interval_ms=options.interval_ms, failure_threshold=options.failure_threshold,
        stuck_limit_s=STUCK_LIMIT_S, prices=DEMO_PRICES,
    ) as system, MetricsStorage(options.db_path, readonly=True, create=False) as reader:
        started_at = system.clock.time()
        server = None if options.serve_port is None else start_demo_server(system, options.serve_port)
        view.start(RunInfo(agents=options.agents, duration=options.duration,
                           interval_ms=options.interval_ms, seed=seed,
                           db_path=options.db_path, started_at=started_at,
                           url=None if server is None else server.url))
        try:
            with relay_logs(view, started_at):
                outcome = _swarm_run(system, reader, started_at, options, plan, queue, tally,
                                     halt, view)
        finally:
            view.close()
            if server is not None:
                server.stop()
    stored = _stored_counts(options.db_path, started_at)
    return RunResult(
        seed=seed, plan=plan, report=outcome.report, markdown=outcome.markdown,
        elapsed=outcome.elapsed, interrupted=bool(halt),
        recorded_tasks=tally.tasks, recorded_agent_metrics=tally.agent_metrics,
        recorded_swarm_metrics=tally.swarm_metrics,
        stored_tasks=stored[0], stored_agent_metrics=stored[1], stored_swarm_metrics=stored[2],
        tasks_before=tasks_before, tracker_restarts=outcome.tracker_restarts,
        crash_heartbeats_before=outcome.crash_before, crash_heartbeats_sent=outcome.crash_sent,
        crash_heartbeats_counted=outcome.crash_counted,
        db_path=os.path.abspath(options.db_path), report_path=os.path.abspath(options.report_path),
        signal=halt.signum, phi_silent_s=outcome.phi_silent_s, phi_value=outcome.phi_value,
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    report: HealthReport
    markdown: str
    elapsed: float
    tracker_restarts: int
    crash_before: int | None
    crash_sent: int | None
    crash_counted: int | None
    phi_silent_s: float | None = None
    phi_value: float | None = None


class _Watch:
    """Shows the analyst's alerts as notes, and catches the moment phi convicts its agent.

    ``listener`` is a :meth:`SwarmSystem.subscribe` listener (it runs on the callback
    thread: it only notes and keeps); the run's loop reads phi afterwards.
    """

    def __init__(self, view: View, started_at: float, phi_agent: str | None) -> None:
        self.view = view
        self.started_at = started_at
        self.phi_agent = phi_agent
        self.phi_failed: HealthChanged | None = None
        self.phi_noted = False

    def listener(self, event: HealthChanged | Alert) -> None:
        if isinstance(event, HealthChanged):
            if (event.agent_id == self.phi_agent and event.current is HealthState.FAILED
                    and self.phi_failed is None):
                self.phi_failed = event
            return
        kind = _ANALYSIS.get(str(event.metadata.get("alertname", "")))
        if kind is not None:
            self.view.note(max(0.0, event.at - self.started_at), kind, event.message)

    def note_phi(self, system: SwarmSystem, interval: float, threshold: int) -> tuple[float, float] | None:
        """Once phi has convicted its agent, say so with its phi (once); the figures, or None."""
        event = self.phi_failed
        if event is None or self.phi_agent is None:
            return None
        status = system.get_agent_health_status(self.phi_agent)
        phi = None if status is None else status.get("phi")
        if phi is None:
            return None
        silent = event.heartbeat_age_ms / 1000.0
        if not self.phi_noted:
            self.phi_noted = True
            self.view.note(max(0.0, event.at - self.started_at), "PHI",
                           f"{self.phi_agent} FAILED by phi accrual after {silent:.2f} s of silence, "
                           f"as phi reached {system.config.phi.threshold:g} (phi {phi:.1f} when "
                           f"read); the fixed thresholds would wait {threshold * interval:.2f} s")
        return silent, float(phi)


def _swarm_run(
    system: SwarmSystem,
    reader: MetricsStorage,
    started_at: float,
    options: RunOptions,
    plan: FaultPlan,
    queue: TaskQueue,
    tally: Tally,
    halt: _Stop,
    view: View,
) -> _Outcome:
    """Start the agents, drive faults, frames and swarm gauges; then stop and report."""
    system.configure_alerts(callbacks={state: view.health_changed for state in HealthState})
    watch = _Watch(view, started_at, plan.agent("phi"))
    unsubscribe = system.subscribe(watch.listener)
    clock = system.clock
    interval = options.interval_ms / 1000.0
    if plan.complete_by > options.duration:
        view.note(0.0, "NOTE", f"a run of {options.duration:g} s is too short to see every "
                               f"fault; {plan.complete_by:.1f} s is enough")
    start = clock.monotonic()
    phi_agent = plan.agent("phi")
    swarm = Swarm(system, agent_roster(options.agents), queue, tally,
                  phi_agents=frozenset() if phi_agent is None else frozenset({phi_agent}))
    crashed = plan.agent("crash")
    crash_before: int | None = None
    phi: tuple[float, float] | None = None
    restarts_seen = 0
    try:
        pending: list[FaultStep] = list(plan.steps)
        next_frame = next_metrics = 0.0
        last_tasks = 0
        while not halt:
            elapsed = clock.monotonic() - start
            if elapsed >= options.duration:
                break
            while pending and pending[0].at <= elapsed:
                step = pending.pop(0)
                if step.kind == "crash":
                    status = system.get_agent_health_status(step.agent_id)
                    crash_before = None if status is None else int(status["heartbeats"])
                view.note(elapsed, "FAULT", step.describe(interval))
                step.apply(system, swarm)
            if not watch.phi_noted:
                phi = watch.note_phi(system, interval, options.failure_threshold) or phi
            if crashed is not None and crash_before is not None and not restarts_seen:
                restarts_seen = system.snapshot().tracker_restarts
                if restarts_seen:
                    _note_restart(system, view, elapsed, crashed, crash_before)
            if elapsed >= next_metrics:
                next_metrics += _METRICS_EVERY
                last_tasks = _record_swarm_gauges(system, tally, options, last_tasks)
            if elapsed >= next_frame:
                next_frame += _FRAME_EVERY
                view.frame(capture(system, elapsed, options.duration, reader, started_at))
            wake = min(next_frame, next_metrics, options.duration,
                       pending[0].at if pending else options.duration)
            halt.wait(max(0.0, wake - (clock.monotonic() - start)))
        elapsed = min(clock.monotonic() - start, options.duration)
        if halt:
            view.note(elapsed, "STOP", "interrupted: stopping cleanly and writing the report "
                                       "(interrupt again to quit at once, without it)")
        queue.close()
        swarm.stop_work()
        system.flush()  # the last frame shows everything, as the summary does
        if not watch.phi_noted:
            phi = watch.note_phi(system, interval, options.failure_threshold) or phi
        view.frame(capture(system, elapsed, options.duration, reader, started_at))
        for finding in system.get_findings():
            view.note(elapsed, "FINDING", finding["text"])
        report = system.report_data()
        markdown = render_markdown(report)
        _write_atomically(options.report_path, render_json(report))
    finally:
        unsubscribe()
        swarm.stop()
    counted = sent = None
    if crashed is not None:
        status = system.get_agent_health_status(crashed)
        counted = None if status is None else int(status["heartbeats"])
        sent = swarm.heartbeats_sent(crashed)
    restarts = system.snapshot().tracker_restarts
    return _Outcome(report=report, markdown=markdown, elapsed=elapsed, tracker_restarts=restarts,
                    crash_before=crash_before, crash_sent=sent, crash_counted=counted,
                    phi_silent_s=None if phi is None else phi[0],
                    phi_value=None if phi is None else phi[1])


def _note_restart(
    system: SwarmSystem, view: View, elapsed: float, agent_id: str, before: int
) -> None:
    """Say that the crashed tracker is back, and that it kept its state."""
    status = system.get_agent_health_status(agent_id)
    if status is None:
        return
    view.note(elapsed, "RESTART", f"{agent_id}: tracker restarted, state kept: "
                                  f"{before} -> {status['heartbeats']} beats, {status['health_state']}")


def _record_swarm_gauges(
    system: SwarmSystem, tally: Tally, options: RunOptions, last_tasks: int
) -> int:
    """Record the swarm's healthy share and throughput of the last second; return the task count."""
    snapshot = system.snapshot()
    healthy = sum(1 for a in snapshot.agents if a.health_state is HealthState.HEALTHY)
    share = healthy / len(snapshot.agents) if snapshot.agents else 1.0
    tasks = tally.tasks
    meta = {"topology": options.topology}
    system.record_swarm_metric("topology_health", share, meta)
    system.record_swarm_metric("tasks_per_second", float(tasks - last_tasks) / _METRICS_EVERY, meta)
    tally.swarm_metric()
    tally.swarm_metric()
    return tasks


def _stored_counts(path: str, since: float) -> tuple[int, int, int]:
    """Task metrics, agent gauges and swarm gauges stored since the run started.

    Opened for writing (it was just written): the last connection to close then
    removes the WAL files, which a read-only one cannot.
    """
    with MetricsStorage(path, create=False) as storage:
        tasks = storage.task_stats(start_time=since)["total_tasks"]
        agent_gauges = len(storage.query_agent_metrics(start_time=since))
        total = stored_metrics(storage, since)  # what the live view showed, by one definition
        return tasks, agent_gauges, total - tasks - agent_gauges

