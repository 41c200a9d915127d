"""The supervising actor: registration, routing, and supervision of its children."""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors.analytics.detector import Detector, FixedDetector, PhiDetector
from actors.analytics.phi import DEFAULT_PHI, PhiSettings
from actors.callbacks import CallbackRunner
from actors.errors import UnknownAgent
from actors.history import HeartbeatHistory
from actors.kernel.arrivals import ArrivalInbox
from actors.kernel.clock import Clock
from actors.kernel.runtime import Dispatcher
from actors.kernel.supervision import CountsUnknown, RestartIntensity, failed
from actors.pending import ServiceStarted, WriteBatch
from actors.protocol import (
    AgentSnapshot,
    Beat,
    ChildFailed,
    ConfirmRouted,
    Flush,
    GetHistory,
    GetStatus,
    HealthStatus,
    Redeliver,
    Routed,
    Snapshot,
    StallDetected,
    StopTrackers,
    SwarmSnapshot,
    Transition,
)
from actors.tracker import HeartbeatTracker, StallLedger, TrackerState
from messages import (
    AgentMetric,
    AgentRegistered,
    AgentUnregistered,
    Alert,
    AlertSeverity,
    Crash,
    HealthChanged,
    HealthState,
    Heartbeat,
    MetricBatch,
    RegisterAgent,
    RegisterAgents,
    SwarmMetric,
    TaskMetric,
    UnregisterAgent,
)
from storage import Batch

__all__ = ["Services", "SwarmCoordinator", "SystemConfig"]

logger = logging.getLogger("swarmpulse.coordinator")

SERVICE_KINDS = ("writer", "aggregator", "reporter", "analyst")
_ORDER = (HealthState.HEALTHY, HealthState.DEGRADED, HealthState.CRITICAL, HealthState.FAILED)


@dataclass(frozen=True, slots=True)
class SystemConfig:
    """The settings a system was started with."""

    swarm_id: str = "swarm"
    topology_type: str = "mesh"
    heartbeat_interval_ms: int = 5000
    failure_threshold: int = 3
    history_size: int = 100
    enable_monitoring: bool = True
    max_restarts: int = 3
    restart_period: float = 5.0
    detector: str = "fixed"
    phi: PhiSettings = DEFAULT_PHI


class Services:
    """The live refs of the supervised singletons; the coordinator swaps them on restart."""

    def __init__(self) -> None:
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self.failed: set[str] = set()
        self.restarts = 0
        self.changed = threading.Condition()

    def get(self, kind: str) -> pykka.ActorRef[Any]:
        """The current ref of ``kind`` (writer, aggregator or reporter)."""
        return self.refs[kind]

    def replace(self, kind: str, ref: pykka.ActorRef[Any]) -> None:
        """Install a new incarnation and wake whoever waits for it."""
        with self.changed:
            self.refs[kind] = ref
            self.changed.notify_all()

    def record(self, *, restarted: bool = False, gave_up: str | None = None) -> None:
        """Count a restart or a child given up, and wake whoever waits for one."""
        with self.changed:
            if restarted:
                self.restarts += 1
            if gave_up is not None:
                self.failed.add(gave_up)
            self.changed.notify_all()

    def wait_for_restarts(self, count: int, timeout: float) -> bool:
        """Block until ``count`` restarts (trackers and services) have happened."""
        with self.changed:
            return self.changed.wait_for(lambda: self.restarts >= count, timeout=timeout)


@dataclass(slots=True)
class _Agent:
    """What the coordinator knows of one registration; only the coordinator touches it.

    ``state`` belongs to the running tracker: the coordinator reads it only
    after that tracker has died. Health, last beat and beat count are the
    coordinator's own, kept from the beats it routes and the transitions it is sent.
    """

    state: TrackerState
    registered_at: float
    intensity: RestartIntensity
    incarnation: int
    deadline: float  # seconds of silence until FAILED
    tracker: pykka.ActorRef[Any] | None = None
    held: list[Any] = field(default_factory=list)
    given_up: bool = False
    last_mono: float = 0.0
    last_wall: float = 0.0
    heartbeats: int = 0
    health: HealthState = HealthState.HEALTHY
    seq: int = 0  # the last transition taken


def _is_heartbeat(envelope: Any) -> bool:
    """The inbox's items a tracker waits for before it judges a silence."""
    return type(envelope.message) is Heartbeat


class SwarmCoordinator(CountsUnknown, pykka.ThreadingActor):
    """Registers agents, routes heartbeats, and supervises every other actor.

    Accepts :class:`RegisterAgent` (reply bool, once the tracker's first
    deadline is armed), :class:`UnregisterAgent` (reply bool, or a future that
    resolves to True once the tracker has stopped and its timer is cancelled),
    :class:`RegisterAgents` (reply a list of bool),
    :class:`Heartbeat` (reply bool: False for an unknown agent),
    :class:`GetStatus` and :class:`GetHistory` (reply a future from the
    tracker), :class:`Flush` (reply the writer's, once what it forwarded is
    stored), :class:`Snapshot`, :class:`StopTrackers`, and from its children
    :class:`Transition`, :class:`ChildFailed`, :class:`Redeliver`,
    :class:`StallDetected` and :class:`ConfirmRouted` (answered with
    :class:`Routed` to the tracker, after everything that arrived before it).
    Spawns a :class:`HeartbeatTracker` per agent;
    sends transitions and alerts to the reporter, and what it stores to the
    writer as :class:`~actors.pending.WriteBatch` (it forwards a child's too,
    held while the writer restarts); hands each transition to the callback
    runner (it only queues); forwards telemetry sent to it to the aggregator.
    A transition of an earlier registration of the same id (its incarnation
    is not the current one) is dropped and counted in ``stale_transitions``.

    Each registration's failure deadline is told to the clock
    (:meth:`Clock.set_shortest_deadline`), so that a real clock knows which
    pause of the monitor would convict an agent.
    """

    kind = "coordinator"
    use_daemon_thread = True  # see SupervisedActor: the exit hook stops it first
    actor_inbox: ArrivalInbox

    @staticmethod
    def _create_actor_inbox() -> ArrivalInbox:
        # each message stamped as it arrives: a beat's time is when it reached the
        # monitor, not when the monitor, behind on its inbox, got round to it
        return ArrivalInbox()

    def __init__(
        self,
        *,
        config: SystemConfig,
        clock: Clock,
        dispatcher: Dispatcher,
        ledger: StallLedger,
        services: Services,
        spawn: dict[str, Callable[[pykka.ActorRef[Any]], pykka.ActorRef[Any]]],
        runner: CallbackRunner,
    ) -> None:
        super().__init__()
        self.actor_inbox.bind(clock.monotonic, lambda: ledger.total, _is_heartbeat)
        self.runner = runner
        self.config = config
        self.clock = clock
        self.dispatcher = dispatcher
        self.ledger = ledger
        self.services = services
        self.spawn = spawn
        self.agents: dict[str, _Agent] = {}
        self.service_intensity = {
            kind: RestartIntensity(config.max_restarts, config.restart_period)
            for kind in SERVICE_KINDS
        }
        self.held: dict[str, list[Any]] = {kind: [] for kind in SERVICE_KINDS}
        self.total_heartbeats = 0
        self.unknown_heartbeats = 0
        self.unknown_messages = 0
        self.tracker_restarts = 0
        self.stalls = 0
        self.stale_transitions = 0
        self._incarnations = itertools.count(1)
        # failure deadlines in force -> how many registrations have each
        self._deadlines: dict[float, int] = {}
        self._shortest = config.heartbeat_interval_ms / 1000.0 * config.failure_threshold
        self.clock.set_shortest_deadline(self._shortest)

    def on_start(self) -> None:
        """Start the writer, the aggregator, the reporter and the analyst, in that order."""
        for kind in SERVICE_KINDS:
            self.services.replace(kind, self.spawn[kind](self.actor_ref))

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        try:
            return self._dispatch(message)
        finally:
            self.actor_inbox.done()  # before an asker has the answer (ArrivalInbox.oldest_pending)

    def _dispatch(self, message: Any) -> Any:
        match message:
            case Heartbeat():
                return self._heartbeat(message)
            case Transition(incarnation=int() as incarnation, seq=int() as seq, event=HealthChanged() as event):
                self._transition(incarnation, seq, event)
            case RegisterAgent():
                events: list[AgentRegistered] = []
                done = self._register(message, events)
                self._store(Batch(agent_events=events))
                return done
            case RegisterAgents(agents=tuple() as agents):
                events = []
                results = [self._register(agent, events) for agent in agents]
                self._store(Batch(agent_events=events))
                return results
            case TaskMetric() | AgentMetric() | SwarmMetric() | MetricBatch():
                self._to_service("aggregator", message)
            case WriteBatch(batch=Batch()):
                self._to_service("writer", message)  # a child's: held while the writer restarts
            case UnregisterAgent(agent_id=agent_id):
                return self._unregister(agent_id)
            case GetStatus(agent_id=str() as agent_id) | GetHistory(agent_id=str() as agent_id):
                return self._ask_tracker(agent_id, message)
            case Snapshot():
                return self._snapshot()
            case ChildFailed(kind=str(), name=str()) if not self._alive(message):
                self._child_failed(message)
            case Redeliver(kind=str() as kind, name=str(), messages=list()) if (
                kind == "tracker" or kind in SERVICE_KINDS
            ):
                self._redeliver(message)
            case Alert(agent_id=str() as agent_id) if agent_id in self.agents:
                self._to_service("reporter", message)  # a tracker's warning (AgentAtRisk)
            case StallDetected(seconds=float() | int() as seconds) if 0 <= seconds < math.inf:
                self._stalled(seconds)
            case ConfirmRouted(agent_id=str() as agent_id, incarnation=int() as incarnation,
                               until=float() as until):
                agent = self.agents.get(agent_id)
                if agent is not None and agent.incarnation == incarnation:
                    self._to_tracker(agent, Routed(until=until))
            case StopTrackers():
                return self._stop_trackers()
            case Flush():
                # after what this actor forwarded to the writer: the writer's reply, a future
                if "writer" in self.services.failed:
                    return None
                return self.services.get("writer").ask(message, block=False)
            case Crash(target=str() as target):
                return self._inject(target, message)
            case _:
                # also a malformed request, or a ChildFailed about a child that is alive
                return self.unknown(message)
        return None

    def _alive(self, failure: ChildFailed) -> bool:
        """Whether the child a ChildFailed names still runs (then the report is false)."""
        if failure.kind == "tracker":
            agent = self.agents.get(failure.name)
            return agent is not None and agent.tracker is not None and agent.tracker.is_alive()
        ref = self.services.refs.get(failure.kind)
        return ref is not None and ref.is_alive()

    # Registration and routing

    def _store(self, batch: Batch) -> None:
        if len(batch):
            self._to_service("writer", WriteBatch(sender="coordinator", batch=batch))

    def _register(self, message: RegisterAgent, events: list[AgentRegistered]) -> bool:
        if message.agent_id in self.agents:
            return False
        config = self.config
        interval_ms = message.interval_ms or config.heartbeat_interval_ms
        threshold = message.failure_threshold or config.failure_threshold
        now, wall = self.clock.monotonic(), self.clock.time()
        incarnation = next(self._incarnations)
        detector: Detector = (
            PhiDetector(interval_ms / 1000.0, config.phi)
            if (message.detector or config.detector) == "phi"
            else FixedDetector(interval_ms / 1000.0, threshold)
        )
        state = TrackerState(
            agent_id=message.agent_id,
            incarnation=incarnation,
            interval=interval_ms / 1000.0,
            threshold=threshold,
            detector=detector,
            last_mono=now,
            last_wall=wall,
            stall_mark=self.ledger.total,
            history=HeartbeatHistory(config.history_size),
        )
        agent = _Agent(
            state=state,
            registered_at=wall,
            intensity=RestartIntensity(config.max_restarts, config.restart_period),
            incarnation=incarnation,
            deadline=state.boundary(HealthState.FAILED),
            last_mono=now,
            last_wall=wall,
        )
        self.agents[message.agent_id] = agent
        self._deadline_added(agent.deadline)
        if config.enable_monitoring:
            agent.tracker = self._spawn_tracker(state)
        events.append(
            AgentRegistered(
                agent_id=message.agent_id,
                at=wall,
                interval_ms=interval_ms,
                failure_threshold=threshold,
                metadata=message.metadata,
            )
        )
        return True

    def _spawn_tracker(self, state: TrackerState) -> pykka.ActorRef[Any]:
        return HeartbeatTracker.start(
            dispatcher=self.dispatcher,
            state=state,
            clock=self.clock,
            ledger=self.ledger,
            coordinator=self.actor_ref,
            backlog=self.actor_inbox.oldest_pending,
        )

    def _unregister(self, agent_id: str) -> bool | pykka.Future[bool]:
        agent = self.agents.pop(agent_id, None)
        if agent is None:
            return False
        self._deadline_removed(agent.deadline)
        self._store(Batch(agent_events=(AgentUnregistered(agent_id=agent_id, at=self.clock.time()),)))
        if agent.tracker is None:
            return True
        # The reply waits for the tracker's on_stop, which cancels its timer.
        return agent.tracker.stop(block=False).map(lambda _stopped: True)

    def _deadline_added(self, deadline: float) -> None:
        self._deadlines[deadline] = self._deadlines.get(deadline, 0) + 1
        if deadline < self._shortest:
            self._shortest = deadline
            self.clock.set_shortest_deadline(deadline)

    def _deadline_removed(self, deadline: float) -> None:
        left = self._deadlines[deadline] - 1
        if left:
            self._deadlines[deadline] = left
            return
        del self._deadlines[deadline]
        if deadline <= self._shortest:
            config = self.config
            default = config.heartbeat_interval_ms / 1000.0 * config.failure_threshold
            shortest = min(self._deadlines, default=default)
            self._shortest = min(shortest, default)
            self.clock.set_shortest_deadline(self._shortest)

    def _heartbeat(self, message: Heartbeat) -> bool:
        agent = self.agents.get(message.agent_id)
        if agent is None:
            self.unknown_heartbeats += 1
            return False
        self.total_heartbeats += 1
        # When the beat reached the inbox, and the stalls counted by then: a stall
        # while it waited there is grace for the silence after it.
        now, mark = self.actor_inbox.arrival
        wall = self.clock.time() - (self.clock.monotonic() - now)
        agent.last_mono = now
        agent.last_wall = wall
        if agent.given_up or not self.config.enable_monitoring:
            return True
        agent.heartbeats += 1
        self._to_tracker(
            agent,
            Beat(
                agent_id=message.agent_id,
                mono=now,
                wall=wall,
                sent_at=message.timestamp,
                metadata=message.metadata,
                stall_mark=mark,
            ),
        )
        return True

    def _to_tracker(self, agent: _Agent, message: Any) -> None:
        if agent.tracker is None or agent.held:
            agent.held.append(message)
            return
        try:
            agent.tracker.tell(message)
        except pykka.ActorDeadError:
            agent.held.append(message)

    def _ask_tracker(self, agent_id: str, message: GetStatus | GetHistory) -> Any:
        agent = self.agents.get(agent_id)
        if agent is None:
            return failed(UnknownAgent(agent_id))  # raises for an asker; a tell harms nothing
        if not self.config.enable_monitoring:
            return None
        if agent.tracker is not None and not agent.given_up:
            if isinstance(message, GetStatus):
                # all that reached this inbox before the question is routed: the
                # tracker may judge the silence up to it
                agent.tracker.tell(Routed(until=self.actor_inbox.arrival[0]))
            return agent.tracker.ask(message, block=False)
        # given up: its last tracker is dead, so its state is the coordinator's again
        if isinstance(message, GetHistory):
            return list(agent.state.history)
        state = agent.state
        return HealthStatus(
            agent_id=agent_id,
            health_state=agent.health,
            last_heartbeat=agent.last_wall,
            heartbeat_age_ms=max(0.0, (self.clock.monotonic() - agent.last_mono) * 1000.0),
            interval_ms=round(state.interval * 1000),
            failure_threshold=state.threshold,
            heartbeats=agent.heartbeats,
        )

    # Health events

    def _transition(self, incarnation: int, seq: int, event: HealthChanged) -> None:
        """Take a tracker's transition, unless it is of an earlier registration."""
        agent = self.agents.get(event.agent_id)
        if agent is None or agent.incarnation != incarnation or seq <= agent.seq:
            self.stale_transitions += 1
            logger.debug("dropped a transition of an earlier registration: %r", event)
            return
        agent.seq = seq
        self._health_changed(agent, event)

    def _health_changed(self, agent: _Agent, event: HealthChanged) -> None:
        agent.health = event.current
        self._store(Batch(health_events=(event,)))
        self.runner.transition(event)  # callbacks and subscribers: one hop, not two
        self._to_service("reporter", event)

    def _stalled(self, seconds: float) -> None:
        self.stalls += 1
        self._to_service(
            "reporter",
            Alert(
                agent_id="*",
                severity=AlertSeverity.WARNING,
                message=(
                    f"the monitor itself was paused for {seconds:.1f} s; "
                    "every agent was given that much grace instead of being convicted"
                ),
                at=self.clock.time(),
                metadata={"stall_seconds": seconds},
            ),
        )

    # Supervision

    def _child_failed(self, failure: ChildFailed) -> None:
        now = self.clock.monotonic()
        if failure.kind == "tracker":
            self._tracker_failed(failure, now)
            return
        if failure.kind not in SERVICE_KINDS:
            return
        logger.error("%s failed: %s", failure.kind, failure.error)
        if self.service_intensity[failure.kind].allow(now):
            ref = self.spawn[failure.kind](self.actor_ref)
            self.services.replace(failure.kind, ref)
            self.services.record(restarted=True)
            for other in SERVICE_KINDS:  # so that the others address the new one
                if other != failure.kind:
                    self._to_service(other, ServiceStarted(kind=failure.kind, ref=ref))
            held, self.held[failure.kind] = self.held[failure.kind], []
            for message in held:
                self._to_service(failure.kind, message)
            return
        self.services.record(gave_up=failure.kind)
        intensity = self.service_intensity[failure.kind]
        alert = Alert(
            agent_id="*",
            severity=AlertSeverity.CRITICAL,
            message=(
                f"the {failure.kind} crashed more than {intensity.max_restarts} times in "
                f"{intensity.period:g} s and is not restarted again: {failure.error}"
            ),
            at=self.clock.time(),
        )
        logger.critical("%s", alert.message)
        if failure.kind == "reporter":
            self._store(Batch(alerts=(alert,)))  # no reporter is left to raise it: store it
        else:
            self._to_service("reporter", alert)

    def _tracker_failed(self, failure: ChildFailed, now: float) -> None:
        agent = self.agents.get(failure.name)
        if agent is None or agent.given_up:
            return
        logger.error("tracker %s failed: %s", failure.name, failure.error)
        if agent.intensity.allow(now):
            self.tracker_restarts += 1
            agent.tracker = self._spawn_tracker(agent.state)
            held, agent.held = agent.held, []
            for message in held:
                self._to_tracker(agent, message)
            self.services.record(restarted=True)
            return
        agent.given_up = True
        agent.tracker = None
        state = agent.state  # its last tracker is dead: the state is ours again
        wall = self.clock.time()
        age_ms = max(0.0, (now - agent.last_mono) * 1000.0)
        for step in _ORDER[agent.health.severity + 1 :]:
            event = HealthChanged(
                agent_id=failure.name, previous=agent.health, current=step, at=wall,
                heartbeat_age_ms=age_ms,
            )
            state.health = step
            self._health_changed(agent, event)
        self._to_service(
            "reporter",
            Alert(
                agent_id=failure.name,
                severity=AlertSeverity.CRITICAL,
                message=(
                    f"tracker crashed more than {agent.intensity.max_restarts} times in "
                    f"{agent.intensity.period:g} s; agent marked failed and no longer "
                    f"tracked: {failure.error}"
                ),
                at=wall,
            ),
        )

    def _redeliver(self, message: Redeliver) -> None:
        if message.kind == "tracker":
            agent = self.agents.get(message.name)
            if agent is not None and not agent.given_up:
                for item in message.messages:
                    self._to_tracker(agent, item)
            return
        for item in message.messages:
            self._to_service(message.kind, item)

    def _to_service(self, kind: str, message: Any) -> None:
        if kind in self.services.failed:
            return
        try:
            self.services.get(kind).tell(message)
        except pykka.ActorDeadError:
            self.held[kind].append(message)

    def _inject(self, target: str, message: Crash) -> bool:
        """Forward a fault to a child; False when there is no such child."""
        if target in SERVICE_KINDS:
            self._to_service(target, message)
            return True
        agent = self.agents.get(target)
        if agent is None or agent.tracker is None:
            return False
        self._to_tracker(agent, message)
        return True

    # Queries and shutdown

    def _snapshot(self) -> SwarmSnapshot:
        now = self.clock.monotonic()
        return SwarmSnapshot(
            at=self.clock.time(),
            agents=[
                AgentSnapshot(
                    agent_id=agent_id,
                    health_state=agent.health,
                    last_heartbeat=agent.last_wall,
                    heartbeat_age_ms=max(0.0, (now - agent.last_mono) * 1000.0),
                    registered_at=agent.registered_at,
                    heartbeats=agent.heartbeats,
                )
                for agent_id, agent in self.agents.items()
            ],
            total_heartbeats=self.total_heartbeats,
            unknown_heartbeats=self.unknown_heartbeats,
            tracker_restarts=self.tracker_restarts,
            service_restarts={k: v.total for k, v in self.service_intensity.items()},
            failed_services=sorted(self.services.failed),
            stalls=self.stalls,
        )

    def _stop_trackers(self) -> int:
        """Close every agent's monitored time; the caller stops the trackers' dispatcher.

        Stopping 10,000 trackers one ask at a time made 10,000 reply futures,
        whose allocation set off full garbage collections; the dispatcher stops
        them all in start order without one.
        """
        wall = self.clock.time()
        for agent in self.agents.values():
            agent.tracker = None
            agent.given_up = True
        self._store(
            Batch(agent_events=[AgentUnregistered(agent_id=a, at=wall) for a in self.agents])
        )
        return len(self.agents)
