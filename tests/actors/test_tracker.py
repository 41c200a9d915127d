"""Health semantics through the real tracker actors, on a manual clock."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pykka
import pytest

from actors import (
    Dispatcher,
    HeartbeatTracker,
    ManualClock,
    PooledActor,
    SwarmSystem,
    TimerHandle,
    UnknownAgent,
    start_system,
)
from actors.history import HeartbeatHistory
from actors.protocol import Transition
from actors.testing import EventRecorder, parts
from actors.tracker import StallLedger, TrackerState
from messages import HealthChanged, HealthState, Heartbeat, UnregisterAgent
from tests.clocks import CoordinatorHoldingClock
from tests.events import EventLog


def test_a_silent_agent_goes_degraded_critical_failed_at_its_deadlines(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """Each state begins exactly at its deadline: 1x, 2x and 3x the interval."""
    system.register_agent("a")
    clock.advance(0.999)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    clock.advance(0.999)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.CRITICAL
    clock.advance(1.0)
    assert system.check_agent_health("a") is HealthState.FAILED
    events.wait_for(3)
    assert events.transitions("a") == [
        ("healthy", "degraded"),
        ("degraded", "critical"),
        ("critical", "failed"),
    ]


def test_one_long_silence_still_emits_every_state_in_order(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """Jumping far past every deadline skips no state."""
    system.register_agent("a")
    clock.advance(60)
    events.wait_for(3)
    assert [c for _, c in events.transitions("a")] == ["degraded", "critical", "failed"]
    ages = [e.heartbeat_age_ms for e in events.events]
    assert ages == [1000.0, 2000.0, 3000.0]


def test_any_heartbeat_brings_a_failed_agent_back_to_healthy(
    system: SwarmSystem, clock: ManualClock, events: EventLog
) -> None:
    """Recovery is one transition straight to HEALTHY, and the clock restarts."""
    system.register_agent("a")
    clock.advance(3.5)
    assert system.update_agent_heartbeat("a", {"note": "back"})
    assert system.check_agent_health("a") is HealthState.HEALTHY
    events.wait_for(4)
    assert events.transitions("a")[-1] == ("failed", "healthy")
    clock.advance(0.999)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.DEGRADED


def test_regular_heartbeats_keep_an_agent_healthy(system: SwarmSystem, clock: ManualClock) -> None:
    """An agent beating inside its interval never leaves HEALTHY."""
    system.register_agent("a")
    for _ in range(50):
        clock.advance(0.9)
        assert system.update_agent_heartbeat("a")
    assert system.get_unhealthy_agents() == []
    assert system.check_agent_health("a") is HealthState.HEALTHY


def test_per_agent_interval_and_threshold_override_the_defaults(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """An agent registered with its own interval and threshold follows them."""
    system.register_agent("slow", interval_ms=10_000, failure_threshold=5)
    system.register_agent("fast", interval_ms=100)
    clock.advance(0.3)
    assert system.check_agent_health("fast") is HealthState.FAILED
    assert system.check_agent_health("slow") is HealthState.HEALTHY
    clock.advance(40)
    assert system.check_agent_health("slow") is HealthState.CRITICAL
    clock.advance(10)
    assert system.check_agent_health("slow") is HealthState.FAILED


def test_a_stall_of_the_monitor_convicts_nobody(system: SwarmSystem, clock: ManualClock) -> None:
    """After the monitor itself was paused, agents get the pause as grace."""
    system.register_agent("a")
    clock.advance(0.5)
    clock.stall(30)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.499)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert system.check_agent_health("a") is HealthState.DEGRADED
    assert system.get_monitoring_stats()["heartbeat_monitor"]["stalls"] == 1


def test_wall_clock_jumps_change_no_health(system: SwarmSystem, clock: ManualClock) -> None:
    """Health runs on the monotonic clock: an hour's jump either way is ignored."""
    system.register_agent("a")
    clock.jump_wall(3600)
    assert system.check_agent_health("a") is HealthState.HEALTHY
    clock.jump_wall(-7200)
    clock.advance(0.5)
    assert system.check_agent_health("a") is HealthState.HEALTHY


def test_heartbeat_history_keeps_the_last_n_with_metadata(
    clock: ManualClock, db_path: str
) -> None:
    """History is bounded by history_size and keeps each heartbeat's metadata."""
    from actors import start_system

    with start_system(db_path, history_size=5, clock=clock) as system:
        system.register_agent("a")
        for i in range(8):
            clock.advance(0.1)
            system.update_agent_heartbeat("a", {"i": i})
        history = system.get_heartbeat_history("a")
    assert [h["metadata"]["i"] for h in history] == [3, 4, 5, 6, 7]
    assert history[0]["timestamp"] < history[-1]["timestamp"]


def test_status_reports_state_age_and_last_heartbeat(system: SwarmSystem, clock: ManualClock) -> None:
    """get_agent_health_status gives the state string, last beat and its age."""
    system.register_agent("a")
    beat_at = clock.time()
    clock.advance(1.5)
    status = system.get_agent_health_status("a")
    assert status is not None
    assert status["health_state"] == "degraded"
    assert status["last_heartbeat"] == pytest.approx(beat_at)
    assert status["heartbeat_age_ms"] == pytest.approx(1500.0)
    assert status["tracked"] is True
    with pytest.raises(UnknownAgent):
        system.get_agent_health_status("nobody")


def test_unknown_agents_are_refused_clearly(system: SwarmSystem) -> None:
    """Health of an unknown agent raises UnknownAgent (a KeyError); heartbeats say False."""
    with pytest.raises(UnknownAgent) as caught:
        system.check_agent_health("ghost")
    assert isinstance(caught.value, KeyError)
    assert caught.value.agent_id == "ghost"
    assert system.update_agent_heartbeat("ghost") is False
    assert system.unregister_agent("ghost") is False


def test_register_twice_and_unregister(system: SwarmSystem) -> None:
    """A second registration says False; unregistering stops the tracking."""
    assert system.register_agent("a") is True
    assert system.register_agent("a") is False
    assert system.unregister_agent("a") is True
    with pytest.raises(UnknownAgent):
        system.check_agent_health("a")


def test_concurrent_heartbeats_from_many_threads_are_all_counted(
    system: SwarmSystem,
) -> None:
    """Eight threads beating at once lose no heartbeat."""
    for i in range(8):
        system.register_agent(f"agent-{i}")
    start = threading.Barrier(8)

    def beat(i: int) -> None:
        start.wait()
        for _ in range(100):
            assert system.update_agent_heartbeat(f"agent-{i}")

    threads = [threading.Thread(target=beat, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stats = system.get_monitoring_stats()
    assert stats["heartbeat_monitor"]["total_heartbeats"] == 800
    assert all(len(system.get_heartbeat_history(f"agent-{i}")) == 100 for i in range(8))


# Timing correctness: shared deadlines, determinism, incarnations, state ownership


def _stored(db_path: str, agent_id: str) -> list[tuple[str, str, float, float]]:
    """(previous, current, at, heartbeat_age_ms) of an agent's stored transitions, in stored order."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return list(conn.execute(
            "SELECT e.previous_state, e.current_state, e.at, e.heartbeat_age_ms FROM health_events "
            "AS e JOIN agents AS a ON a.agent_key = e.agent_key WHERE a.agent_id = ? ORDER BY e.id",
            (agent_id,),
        ))
    finally:
        conn.close()


def test_critical_and_failed_sharing_a_deadline_share_its_time_on_the_real_clock(db_path: str) -> None:
    """failure_threshold=2: CRITICAL and FAILED are stamped alike, in order, and uptime is < 100%."""
    swarm = start_system(db_path, heartbeat_interval_ms=20, failure_threshold=2)
    try:
        recorder = EventRecorder()
        swarm.subscribe(recorder)
        swarm.register_agent("a")
        failed = recorder.wait_for_transition("a", "failed")
        critical = recorder.wait_for_transition("a", "critical")
        assert critical.at == failed.at
        assert recorder.states("a") == [
            ("healthy", "degraded"), ("degraded", "critical"), ("critical", "failed"),
        ]
        # while it stays FAILED, the time since the shared deadline counts as down
        assert swarm.get_agent_uptime("a") < 100.0
        assert [row[:2] for row in _stored(db_path, "a")] == recorder.states("a")
    finally:
        swarm.shutdown()


def test_register_then_advance_fires_the_new_deadline_every_time(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """300 times: an advance right after register_agent degrades it, and every view agrees;
    right after unregister_agent its timer is gone."""
    timers = clock.pending
    for n in range(300):
        system.register_agent("a")
        clock.advance(1.0)
        assert system.check_agent_health("a") is HealthState.DEGRADED, n
        assert system.get_unhealthy_agents() == ["a"], n
        assert [a.health_state for a in system.snapshot().agents] == [HealthState.DEGRADED], n
        if n % 50 == 0:
            report = json.loads(system.generate_report("json"))
            assert report["health_distribution"]["degraded"] == 1, n
        system.unregister_agent("a")
        assert clock.pending == timers, n


def test_transitions_of_an_earlier_registration_are_dropped(
    system: SwarmSystem, clock: ManualClock, db_path: str
) -> None:
    """A transition tagged with an old incarnation is neither taken, stored nor sent to callbacks."""
    recorder = EventRecorder()
    system.subscribe(recorder)
    system.register_agent("a")
    system.unregister_agent("a")
    system.register_agent("a")  # the second registration: incarnation 2
    stale = HealthChanged(agent_id="a", previous=HealthState.HEALTHY,
                          current=HealthState.DEGRADED, at=clock.time(), heartbeat_age_ms=1000.0)
    system.coordinator.tell(Transition(incarnation=1, seq=1, event=stale))
    clock.advance(1.0)  # the live registration's own transition, after the stale one
    recorder.wait_for_transition("a", "degraded")
    system.flush()
    assert len(recorder.transitions("a")) == 1
    assert len(_stored(db_path, "a")) == 1


def test_transitions_arrive_as_messages_not_by_reading_the_trackers_state(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """The coordinator's view of health is what it was told: a Transition changes it."""
    system.register_agent("a")
    told = HealthChanged(agent_id="a", previous=HealthState.HEALTHY,
                         current=HealthState.CRITICAL, at=clock.time(), heartbeat_age_ms=0.0)
    system.coordinator.tell(Transition(incarnation=1, seq=1, event=told))
    assert [a.health_state for a in system.snapshot().agents] == [HealthState.CRITICAL]
    assert system.check_agent_health("a") is HealthState.HEALTHY  # the tracker's own, untouched


def test_thousands_of_register_unregister_cycles_take_no_stale_transition(db_path: str) -> None:
    """3,000 cycles on the real clock, each registration unregistered by a tell once a
    transition has been seen since it registered: the stored transitions are chains, each
    from HEALTHY (a stale one would break a chain), and the subscribers get exactly those."""
    swarm = start_system(db_path, failure_threshold=2)
    seen = threading.Condition()
    delivered: list[tuple[str, str]] = []

    def count(event: object) -> None:
        if isinstance(event, HealthChanged):
            with seen:
                delivered.append((event.previous.value, event.current.value))
                seen.notify_all()

    swarm.subscribe(count)
    try:
        for n in range(3000):
            with seen:
                before = len(delivered)
            swarm.register_agent("a", interval_ms=1 + n % 2)  # FAILED after 2 or 4 ms
            with seen:
                assert seen.wait_for(lambda: len(delivered) > before, timeout=10)
            swarm.coordinator.tell(UnregisterAgent(agent_id="a"))  # its tracker may run on a while
        swarm.flush()
        stored = [row[:2] for row in _stored(db_path, "a")]
        with seen:  # every stored transition reaches the subscribers too, in the same order
            assert seen.wait_for(lambda: len(delivered) >= len(stored), timeout=10)
            assert delivered == stored
        assert stored[0][0] == "healthy"
        for (_, current), (previous, _) in zip(stored, stored[1:]):
            assert previous in (current, "healthy"), stored
    finally:
        swarm.shutdown()


class _FakeCoordinator(pykka.ThreadingActor):
    """Stands in for the coordinator: keeps what a tracker tells it."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[object] = []

    def on_receive(self, message: object) -> object:
        if message == "told":
            return list(self.told)
        self.told.append(message)
        return None


def test_a_tracker_alone_tells_numbered_transitions_of_its_incarnation(clock: ManualClock) -> None:
    """Started with a fake coordinator: its deadline is armed as it starts, and each transition
    travels as a Transition with the registration's incarnation and the next sequence number."""
    dispatcher = Dispatcher(workers=1)
    coordinator = _FakeCoordinator.start()
    try:
        state = TrackerState(
            agent_id="a", incarnation=7, interval=1.0, threshold=2, last_mono=clock.monotonic(),
            last_wall=clock.time(), stall_mark=0.0, history=HeartbeatHistory(4),
        )
        HeartbeatTracker.start(
            dispatcher=dispatcher, state=state, clock=clock, ledger=StallLedger(),
            coordinator=coordinator,
        )
        clock.advance(2.0)  # DEGRADED at 1 s; CRITICAL and FAILED share the deadline at 2 s
        told = coordinator.ask("told", timeout=10)
        assert [(t.incarnation, t.seq, t.event.current.value) for t in told] == [
            (7, 1, "degraded"), (7, 2, "critical"), (7, 3, "failed"),
        ]
        assert told[1].event.at == told[2].event.at == clock.time()
    finally:
        dispatcher.shutdown()
        coordinator.stop()


class _Busy(PooledActor):
    """Holds the dispatcher's only worker until released, as a long handler would."""

    def on_receive(self, message: object) -> object:
        if isinstance(message, tuple):
            holding, release = message
            holding.set()
            release.wait(10)
        return None


class _SignallingClock(ManualClock):
    """A manual clock that says when a deadline's callback (a tracker's ask) has been made."""

    def __init__(self) -> None:
        super().__init__()
        self.fired = threading.Event()

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        def call() -> object:
            result = callback()
            self.fired.set()
            return result

        return super().call_at(when, call)


def test_a_deadline_of_the_old_registration_handled_after_re_registering_is_dropped(
    db_path: str,
) -> None:
    """The old tracker handles its deadline only after the agent unregistered and registered
    again (its worker was busy): that transition is not taken for the new registration."""
    clock = _SignallingClock()
    swarm = start_system(db_path, clock=clock, heartbeat_interval_ms=1000, workers=1)
    recorder = EventRecorder()
    swarm.subscribe(recorder)
    holding, release = threading.Event(), threading.Event()
    advanced = threading.Thread(target=clock.advance, args=(1.0,))
    try:
        swarm.register_agent("a")
        _Busy.start(dispatcher=parts(swarm).dispatcher).tell((holding, release))
        assert holding.wait(10)  # trackers wait from now on
        advanced.start()  # the old tracker's deadline falls due; it waits for the worker
        assert clock.fired.wait(10)  # its CheckDeadline is in its mailbox, before any stop
        swarm.coordinator.tell(UnregisterAgent(agent_id="a"))
        swarm.register_agent("a")  # the new registration, before the old tracker ran again
        release.set()  # the old tracker now handles its deadline, then its stop
        advanced.join(10)
        assert swarm.check_agent_health("a") is HealthState.HEALTHY
        assert [a.health_state for a in swarm.snapshot().agents] == [HealthState.HEALTHY]
        clock.advance(1.0)  # the new registration's own first deadline
        recorder.wait_for_transition("a", "degraded")
        swarm.flush()
        assert [row[:2] for row in _stored(db_path, "a")] == [("healthy", "degraded")]
        assert recorder.states("a") == [("healthy", "degraded")]
    finally:
        release.set()
        if advanced.ident is not None:
            advanced.join(10)
        swarm.shutdown()
        clock.close()


@pytest.fixture
def held(db_path: str) -> Iterator[tuple[SwarmSystem, CoordinatorHoldingClock, EventRecorder]]:
    """Agents "a" and "b" (1 s interval) registered, then, half a second on, the coordinator
    held on b's beat, and a's beat waiting in its inbox behind it."""
    clock = CoordinatorHoldingClock()
    swarm = start_system(db_path, clock=clock, heartbeat_interval_ms=1000)
    recorder = EventRecorder()
    swarm.subscribe(recorder)
    try:
        swarm.register_agent("a")
        swarm.register_agent("b")
        clock.advance(0.5)
        clock.hold_coordinator()
        swarm.coordinator.tell(Heartbeat(agent_id="b", timestamp=clock.time()))
        assert clock.holding.wait(10)
        swarm.coordinator.tell(Heartbeat(agent_id="a", timestamp=clock.time()))
        yield swarm, clock, recorder
    finally:
        clock.release.set()
        swarm.shutdown()
        clock.close()


def test_a_beat_waiting_in_the_coordinators_inbox_convicts_nobody(
    held: tuple[SwarmSystem, CoordinatorHoldingClock, EventRecorder],
) -> None:
    """The coordinator is held while a's beat waits in its inbox past all a's deadlines (1, 2
    and 3 s): nothing is judged until the beat is routed, and it counts from its arrival."""
    swarm, clock, recorder = held
    clock.advance(2.7)  # 3.2 s since the registrations; the beats arrived at 0.5 s
    clock.release.set()
    for agent in ("a", "b"):
        critical = recorder.wait_for_transition(agent, "critical")
        assert swarm.check_agent_health(agent) is HealthState.CRITICAL
        assert recorder.states(agent) == [("healthy", "degraded"), ("degraded", "critical")]
        degraded = recorder.transitions(agent)[0]
        assert (degraded.heartbeat_age_ms, critical.heartbeat_age_ms) == pytest.approx((1000, 2000))
        assert critical.at - degraded.at == pytest.approx(1.0)
        assert clock.time() - critical.at == pytest.approx(0.7)  # 2.5 s after registering
    clock.advance(0.3)  # 3 s after the beats arrived
    recorder.wait_for_transition("a", "failed")


def test_a_stall_while_a_beat_waits_in_the_coordinators_inbox_is_grace(
    held: tuple[SwarmSystem, CoordinatorHoldingClock, EventRecorder],
) -> None:
    """A pause of the monitor after a's beat arrived, while it still waited, is grace for the
    silence after the beat, as it is for any silence."""
    swarm, clock, recorder = held
    clock.stall(5.0)
    clock.release.set()
    assert swarm.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.999)
    assert swarm.check_agent_health("a") is HealthState.HEALTHY
    clock.advance(0.001)
    assert swarm.check_agent_health("a") is HealthState.DEGRADED
    assert recorder.states("a") == [("healthy", "degraded")]
