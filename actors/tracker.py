"""One agent's heartbeat tracker: its health state machine, driven by timers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pykka

from actors.analytics.detector import Detector, FixedDetector
from actors.analytics.trend import GapTrend
from actors.history import HeartbeatHistory
from actors.kernel.clock import Clock, TimerHandle
from actors.kernel.runtime import Dispatcher, PooledActor
from actors.kernel.supervision import CountsUnknown, refused
from actors.protocol import (
    Beat,
    CheckDeadline,
    ChildFailed,
    ConfirmRouted,
    GetHistory,
    GetStatus,
    HealthStatus,
    Routed,
    Transition,
)
from messages import Alert, AlertSeverity, Crash, HealthChanged, HealthState

__all__ = ["HeartbeatTracker", "StallLedger", "TrackerState"]

logger = logging.getLogger("swarmpulse.tracker")

_ORDER = (HealthState.HEALTHY, HealthState.DEGRADED, HealthState.CRITICAL, HealthState.FAILED)


class StallLedger:
    """Total time the monitor itself was detected paused; it never counts as silence.

    The clock calls :meth:`add` from its own thread before it fires the timers
    that fell due during the stall, so no tracker convicts an agent for it.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, seconds: float) -> None:
        """Record a stall of ``seconds``."""
        self.total += seconds
        self.count += 1


@dataclass(slots=True)
class TrackerState:
    """What a tracker knows; it outlives any one tracker, so a restart keeps it.

    It has one owner at a time. The coordinator makes it at registration and
    hands it to the tracker it starts, which alone reads and changes it from
    then on; the coordinator takes it back only when that tracker has died
    (it reported :class:`ChildFailed`), to hand it to the next one. What the
    coordinator knows of an agent while the tracker runs comes in messages.
    """

    agent_id: str
    incarnation: int
    interval: float
    threshold: int
    last_mono: float
    last_wall: float
    stall_mark: float
    history: HeartbeatHistory
    health: HealthState = HealthState.HEALTHY
    heartbeats: int = 0
    generation: int = 0
    seq: int = 0  # transitions made so far in this registration
    timer: TimerHandle | None = field(default=None, repr=False)
    detector: Detector | None = field(default=None, repr=False)  # None: fixed thresholds
    trend: GapTrend = field(default_factory=GapTrend, repr=False)

    def __post_init__(self) -> None:
        if self.detector is None:
            self.detector = FixedDetector(self.interval, self.threshold)

    def boundary(self, state: HealthState) -> float:
        """Seconds of silence after which the agent is in ``state`` (its detector decides)."""
        assert self.detector is not None  # set in __post_init__
        return self.detector.boundary(state)


def _caught_up() -> float | None:
    return None


class _Fire:
    """A tracker's timer callback: ask it to check the deadline of one generation.

    One small object per arming, where a lambda over the ref and the generation
    was three (the function, its two closure cells) and their tuple: at 10,000
    agents a timer is armed 2,000 times a second, and each of these lives until
    its deadline, long enough for the garbage collector to promote it, so fewer
    of them make the full collections (a pause of every thread) rarer.
    """

    __slots__ = ("generation", "ref")

    def __init__(self, ref: pykka.ActorRef[Any], generation: int) -> None:
        self.ref = ref
        self.generation = generation

    def __call__(self) -> pykka.Future[Any]:
        # an ask, so that a ManualClock waits for the check before its next timer
        return self.ref.ask(CheckDeadline(generation=self.generation), block=False)


class HeartbeatTracker(CountsUnknown, PooledActor):
    """Tracks one agent's heartbeats and health.

    Accepts :class:`Beat` (routed heartbeats), :class:`CheckDeadline` (its own
    timer), :class:`Routed` (the coordinator's answer to its :class:`ConfirmRouted`,
    sent when the coordinator is behind with heartbeats as a deadline falls due),
    :class:`GetStatus`, :class:`GetHistory` and :class:`Crash`. Sends
    :class:`Transition` (a :class:`HealthChanged` tagged with the registration's
    incarnation and a sequence number) to the coordinator for every transition,
    in order, no state skipped, and :class:`ChildFailed` when it raises.

    Its first timer is armed as it is made, on the thread that starts it (the
    coordinator's), so the deadline is set when the registration returns: a
    manual clock advanced right after it fires it.
    """

    kind = "tracker"

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        state: TrackerState,
        clock: Clock,
        ledger: StallLedger,
        coordinator: pykka.ActorRef[Any],
        backlog: Callable[[], float | None] = _caught_up,
    ) -> None:
        super().__init__(dispatcher=dispatcher)
        self.state = state
        self.clock = clock
        self.ledger = ledger
        self.coordinator = coordinator
        self.backlog = backlog
        # Up to when (monotonic) the coordinator is known to have routed all that
        # reached it: a deadline after that is judged only once it confirms
        # (Routed), so a beat still waiting in its inbox convicts nobody.
        self.routed = state.last_mono
        self.confirming = False
        # Before the actor runs: nothing else touches the state yet, and the timer
        # only sends this actor a message, which waits in its mailbox until it starts.
        self._catch_up()
        self._arm()

    def on_stop(self) -> None:
        """Cancel the pending timer."""
        if self.state.timer is not None:
            self.state.timer.cancel()
            self.state.timer = None

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Tell the coordinator, which restarts this tracker with the same state."""
        if refused(exception_value):
            return
        self.coordinator.tell(
            ChildFailed(kind="tracker", name=self.state.agent_id, error=repr(exception_value))
        )

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Beat():
                self._beat(message)
                return True
            case CheckDeadline(generation=generation):
                if generation == self.state.generation:
                    self.state.timer = None
                    self._catch_up()
                    self._arm()
            case Routed(until=float() as until):
                self.routed = max(self.routed, until)
                if self.confirming:  # else a status question follows, and judges
                    self.confirming = False
                    self._catch_up()
                    self._arm()
            case GetStatus():
                self._catch_up()
                return self._status()
            case GetHistory():
                return list(self.state.history)
            case Crash(reason=reason):
                raise RuntimeError(f"tracker {self.state.agent_id}: {reason}")
            case _:
                return self.unknown(message)
        return None

    def _silence(self, now: float) -> float:
        state = self.state
        return now - state.last_mono - (self.ledger.total - state.stall_mark)

    def _beat(self, beat: Beat) -> None:
        state = self.state
        # routed in order: all that reached the coordinator before this beat is routed
        self.routed = max(self.routed, beat.mono)
        self._catch_up(beat.mono)
        if beat.mono >= state.last_mono:
            age_ms = max(0.0, (beat.mono - state.last_mono) * 1000.0)
            self._gap(beat)
            state.last_mono = beat.mono
            state.last_wall = beat.wall
            # the stalls up to the beat's stamp, not up to now: a stall between the
            # two (the beat waited in a mailbox) is grace for the silence after it
            state.stall_mark = self.ledger.total if beat.stall_mark is None else beat.stall_mark
        else:
            age_ms = 0.0
        state.heartbeats += 1
        state.history.append(beat.wall, beat.sent_at, beat.metadata)
        if state.health is not HealthState.HEALTHY:
            self._emit(state.health, HealthState.HEALTHY, beat.wall, age_ms)
        if state.timer is None or state.timer.when > self._deadline(
            _ORDER[state.health.severity + 1]
        ):
            # a detector that learned from the gap may have brought the next deadline
            # forward (phi); the fixed one only moves it later, and keeps its timer
            self._arm()

    def _gap(self, beat: Beat) -> None:
        """Feed the silence this beat ended (the monitor's stalls taken out) to the detectors.

        Called before ``last_mono`` moves. The silence is the one :meth:`_silence`
        counts, up to the stalls the beat was stamped with.
        """
        state = self.state
        mark = self.ledger.total if beat.stall_mark is None else beat.stall_mark
        gap = beat.mono - state.last_mono - (mark - state.stall_mark)
        assert state.detector is not None
        state.detector.add_gap(gap)
        if not state.trend.add(gap):
            return
        metadata: dict[str, Any] = {"alertname": "AgentAtRisk", "gap_s": round(gap, 3)}
        if state.trend.at_risk:
            message = f"agent {state.agent_id} is at risk of failing: {state.trend.reason}"
        else:  # its gaps look like its baseline again: the warning is resolved
            message = f"agent {state.agent_id} is no longer at risk: its gaps are back to normal"
            metadata["ends_at"] = beat.wall
        self.coordinator.tell(
            Alert(agent_id=state.agent_id, severity=AlertSeverity.WARNING, message=message,
                  at=beat.wall, metadata=metadata)
        )

    def _deadline(self, following: HealthState) -> float:
        """When, on the monotonic clock, silence makes the agent ``following``.

        The timer and the catch-up use this one expression, so a timer that
        fires at its deadline always finds the transition due.
        """
        state = self.state
        return state.last_mono + (self.ledger.total - state.stall_mark) + state.boundary(following)

    def _catch_up(self, now: float | None = None) -> None:
        """Emit every transition that the silence until ``now`` calls for, in order.

        Each event carries the moment its state began (its deadline) and the
        heartbeat age at that moment, however late it is observed. Without a
        ``now`` (a beat's arrival) the silence is judged up to the present, but a
        deadline after :attr:`routed` waits for the coordinator's :class:`Routed`:
        the beat that ends the silence may still be in its inbox.
        """
        state = self.state
        present = now is None
        if now is None:
            now = self.clock.monotonic()
        wall_offset = None
        while state.health is not HealthState.FAILED:
            following = _ORDER[state.health.severity + 1]
            deadline = self._deadline(following)
            if now < deadline:
                return
            if wall_offset is None:
                # Before convicting: a pause of the whole process that the clock's
                # thread has not reported yet is grace, not silence.
                self.clock.check_stall()
                deadline = self._deadline(following)
                if now < deadline:
                    return
                # One reading of both clocks for every transition found here:
                # transitions that share a deadline share its time.
                wall_offset = self.clock.time() - self.clock.monotonic()
            if present and deadline > self.routed and not self._routed_by(deadline):
                self._confirm(now)
                return
            self._emit(state.health, following, wall_offset + deadline,
                       (deadline - state.last_mono) * 1000.0)

    def _routed_by(self, deadline: float) -> bool:
        """Whether all that reached the coordinator before ``deadline`` is handled by
        this tracker too: the coordinator has handled it (read first) and nothing it
        routed here still waits in this mailbox."""
        pending = self.backlog()
        return (pending is None or pending >= deadline) and self.actor_inbox.empty()

    def _confirm(self, until: float) -> None:
        """Ask the coordinator to confirm it has routed all that reached it before ``until``."""
        if not self.confirming:
            self.confirming = True
            state = self.state
            self.coordinator.tell(
                ConfirmRouted(agent_id=state.agent_id, incarnation=state.incarnation, until=until)
            )

    def _emit(self, previous: HealthState, current: HealthState, at: float, age_ms: float) -> None:
        """Tell the coordinator, numbering the transition in its registration's sequence.

        ``at`` is the wall clock of the moment the state began, jumps included;
        readers order one agent's events by that sequence (their insertion
        order), never by time, which a wall clock jump can turn back.
        """
        state = self.state
        state.health = current
        state.seq += 1
        self.coordinator.tell(
            Transition(
                incarnation=state.incarnation,
                seq=state.seq,
                event=HealthChanged(
                    agent_id=state.agent_id,
                    previous=previous,
                    current=current,
                    at=at,
                    heartbeat_age_ms=age_ms,
                ),
            )
        )

    def _arm(self) -> None:
        """Schedule the timer for the next state's deadline (none once FAILED)."""
        state = self.state
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if state.health is HealthState.FAILED:
            return
        due = self._deadline(_ORDER[state.health.severity + 1])
        if self.confirming and due <= self.clock.monotonic():
            return  # due already, and waiting for Routed, which judges it
        state.generation += 1
        state.timer = self.clock.call_at(due, _Fire(self.actor_ref, state.generation))

    def _status(self) -> HealthStatus:
        state = self.state
        return HealthStatus(
            agent_id=state.agent_id,
            health_state=state.health,
            last_heartbeat=state.last_wall,
            heartbeat_age_ms=max(0.0, (self.clock.monotonic() - state.last_mono) * 1000.0),
            interval_ms=round(state.interval * 1000),
            failure_threshold=state.threshold,
            heartbeats=state.heartbeats,
            phi=self._phi(),
            at_risk=state.trend.at_risk,
        )

    def _phi(self) -> float | None:
        """The detector's suspicion after the current silence (None for fixed thresholds)."""
        assert self.state.detector is not None
        phi = self.state.detector.phi(max(0.0, self._silence(self.clock.monotonic())))
        return None if phi is None else min(phi, 1e6)  # finite, for JSON
