"""Promise 7: wall-clock jumps and stalls of the monitor itself convict nobody.

A stall is real here: a child process runs the system on a SystemClock and the
test freezes the whole process with SIGSTOP for longer than the agents' failure
deadline, then lets it go on with SIGCONT.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import messages
from actors import ManualClock, PooledActor, SwarmSystem, SystemClock, start_system
from actors.testing import parts
from messages import HealthState
from tests.reliability.conftest import WAIT, Child, Transitions, settle

# Wall-clock jumps, on a manual clock


@pytest.fixture
def manual() -> Iterator[tuple[SwarmSystem, ManualClock, Transitions]]:
    """A system on a manual clock (1 s interval, FAILED after 3 s), with its transitions."""
    clock = ManualClock()
    system = start_system(None, clock=clock, heartbeat_interval_ms=1000, failure_threshold=3)
    transitions = Transitions()
    system.configure_alerts(callbacks={state: transitions for state in HealthState})
    yield system, clock, transitions
    system.shutdown()
    clock.close()


def test_wall_clock_jumps_cause_no_false_failures(
    manual: tuple[SwarmSystem, ManualClock, Transitions],
) -> None:
    """An hour back and an hour forward: beating agents stay HEALTHY, a silent one fails on time."""
    system, clock, transitions = manual
    for agent in ("beats", "also-beats", "silent"):
        system.register_agent(agent)
    start = clock.time()
    jumps = {3: -3600.0, 7: +3600.0, 9: +3600.0, 11: -7200.0}
    for step in range(16):  # 16 steps of 0.25 s: 4 s, FAILED for the silent one at 3 s
        system.update_agent_heartbeat("beats")
        system.update_agent_heartbeat("also-beats")
        if step in jumps:
            clock.jump_wall(jumps[step])
        clock.advance(0.25)
    system.update_agent_heartbeat("beats")
    assert system.check_agent_health("beats") is HealthState.HEALTHY
    assert system.check_agent_health("also-beats") is HealthState.HEALTHY
    assert system.check_agent_health("silent") is HealthState.FAILED
    settle(system)
    assert transitions.of("beats") == []
    assert transitions.of("also-beats") == []
    assert transitions.of("silent") == [
        ("healthy", "degraded"), ("degraded", "critical"), ("critical", "failed"),
    ]
    # each transition happened after exactly 1, 2 and 3 s of monotonic silence; its
    # timestamp is the wall clock of that moment, jumps included (-1 h, 0, -1 h)
    ats = [e.at - start for e in transitions.events if e.agent_id == "silent"]
    assert ats == pytest.approx([1.0 - 3600.0, 2.0, 3.0 - 3600.0])


# A stall of the whole monitor process, in a child

BEATERS = 100
INTERVAL_MS = 200  # beaters: FAILED after 3 x 200 ms of silence
SILENT_INTERVAL_MS = 1000  # the silent agent: DEGRADED 1 s, CRITICAL 2 s, FAILED 3 s
STOP_SECONDS = 1.0  # each SIGSTOP: longer than both the beaters' deadline and the threshold
STOPS = 3

CHILD = """
import json, sys, threading, time
from actors import SystemClock, start_system
from actors.testing import parts
from messages import HealthState, Heartbeat
from actors.protocol import GetRecentAlerts

beaters, interval_ms, silent_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
clock = SystemClock(watchdog_interval=0.05)  # the default threshold: from the deadlines
system = start_system(None, clock=clock, heartbeat_interval_ms=interval_ms, failure_threshold=3)
out = threading.Lock()
silent_failed = threading.Event()

def emit(**fields):
    with out:
        print(json.dumps(fields), flush=True)

def on_transition(event):
    emit(kind="transition", agent=event.agent_id, previous=event.previous.value,
         current=event.current.value, at=event.at)
    if event.agent_id == "silent" and event.current is HealthState.FAILED:
        silent_failed.set()

system.configure_alerts(callbacks={state: on_transition for state in HealthState})
clock.add_stall_listener(lambda seconds: emit(kind="stall", seconds=seconds))
ids = [f"beater-{i}" for i in range(beaters)]
for agent in ids:
    system.register_agent(agent)
stop = threading.Event()

def beat():
    tell = system.coordinator.tell
    while not stop.is_set():
        now = time.time()
        for agent in ids:
            tell(Heartbeat(agent_id=agent, timestamp=now))
        stop.wait(0.02)

beating = threading.Thread(target=beat)
beating.start()
emit(kind="ready")
for line in sys.stdin:
    command = line.strip()
    if command == "silent":
        registered = time.time()
        system.register_agent("silent", interval_ms=silent_ms)
        emit(kind="silent", registered=registered)
    elif command == "ping":
        emit(kind="pong")
    elif command == "finish":
        break
silent_failed.wait(timeout=30)
stop.set()
beating.join()
stats = system.get_monitoring_stats()
alerts = system.reporter.ask(GetRecentAlerts(limit=200))
emit(kind="done", stalls=stats["heartbeat_monitor"]["stalls"], grace=parts(system).ledger.total,
     distribution=stats["heartbeat_monitor"]["health_distribution"],
     swarm_alerts=[[a.severity.value, a.message] for a in alerts if a.agent_id == "*"])
system.shutdown()
clock.close()
"""


def test_a_stalled_monitor_convicts_nobody_on_resume(child: Callable[..., Child]) -> None:
    """SIGSTOP the monitor longer than the failure deadline: no beating agent is convicted,
    the silent one fails a full deadline after the stall, and the stall is reported."""
    process = child(CHILD, str(BEATERS), str(INTERVAL_MS), str(SILENT_INTERVAL_MS))
    process.next_of("ready")
    process.send("ping")
    process.next_of("pong")  # the beaters have been beating a while
    process.send("silent")
    registered = process.next_of("silent")["registered"]
    pause = threading.Event()
    for _ in range(STOPS):
        process.signal(signal.SIGSTOP)
        pause.wait(STOP_SECONDS)  # the length of the fault, not a wait for a result
        process.signal(signal.SIGCONT)
        process.next_of("stall")  # the child noticed; only then the next stop
        process.send("ping")
        process.next_of("pong")
    process.send("finish")
    lines = process.finish()
    done = [line for line in lines if line["kind"] == "done"]
    assert done, f"the child did not finish: {''.join(process.stderr)}"
    summary = done[0]
    transitions = [line for line in lines if line["kind"] == "transition"]

    convicted = sorted({t["agent"] for t in transitions if t["agent"] != "silent"})
    assert convicted == [], f"{len(convicted)} beating agents changed state: {transitions[:6]}"
    silent = [t for t in transitions if t["agent"] == "silent"]
    assert [(t["previous"], t["current"]) for t in silent] == [
        ("healthy", "degraded"), ("degraded", "critical"), ("critical", "failed"),
    ]
    assert summary["stalls"] >= STOPS
    assert summary["grace"] >= STOPS * (STOP_SECONDS - 0.2)
    # the silent agent got the stalls as grace: DEGRADED one interval after registration
    # plus at least the grace it was given, not on the first resume
    degraded_after = silent[0]["at"] - registered
    assert degraded_after >= SILENT_INTERVAL_MS / 1000 + STOP_SECONDS - 0.2
    warnings = [a for a in summary["swarm_alerts"] if a[0] == "warning" and "paused" in a[1]]
    assert len(warnings) == summary["stalls"]
    assert summary["distribution"] == {
        "healthy": BEATERS, "degraded": 0, "critical": 0, "failed": 1,
    }
    print(
        f"stall: {STOPS} x SIGSTOP {STOP_SECONDS} s; stalls detected {summary['stalls']}, "
        f"grace {summary['grace']:.2f} s; silent agent DEGRADED {degraded_after:.2f} s "
        "after registering"
    )


def _hold(held: threading.Event, release: threading.Event) -> None:
    """A timer callback that holds the clock's thread until released (a stalled monitor)."""
    held.set()
    release.wait(WAIT)


def test_a_stall_noticed_first_by_a_heartbeat_convicts_nobody() -> None:
    """The monitor's clock thread is held up longer than the failure deadline (a stall by
    its own definition) and a heartbeat is handled before that thread runs again: the
    stall is detected right there and granted, so the agent is not convicted.

    This is the race SIGSTOP/SIGCONT leaves to chance (which thread runs first on
    resume), made certain: the clock thread is held in a timer callback.
    """
    clock = SystemClock(watchdog_interval=0.05)  # the default threshold: 0.3 s for 0.6 s deadlines
    system = start_system(None, clock=clock, heartbeat_interval_ms=200, failure_threshold=3)
    transitions = Transitions()
    try:
        system.configure_alerts(callbacks={state: transitions for state in HealthState})
        system.register_agent("a")
        system.update_agent_heartbeat("a")
        held, release = threading.Event(), threading.Event()
        clock.call_later(0.0, lambda: _hold(held, release))
        assert held.wait(WAIT)  # the clock thread is stuck: no timer fires, no stall reported
        release.wait(1.0)  # the length of the fault (FAILED after 0.6 s), not a wait for a result
        system.update_agent_heartbeat("a")  # the first thing handled after the pause
        release.set()
        assert system.check_agent_health("a") is HealthState.HEALTHY
        settle(system)
        assert transitions.of("a") == []
        assert system.get_monitoring_stats()["heartbeat_monitor"]["stalls"] == 1
    finally:
        release.set()
        system.shutdown()
        clock.close()


class _Busy(PooledActor):
    """Holds the dispatcher's only worker until released, as a long handler would."""

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(WAIT)
        return None


def test_heartbeats_queued_across_a_stall_convict_nobody() -> None:
    """A heartbeat stamped before a stall but handled after it (it waited in the tracker's
    mailbox) keeps the stall as grace for the silence that follows it: the next heartbeat,
    after the stall, finds the agent HEALTHY."""
    clock = SystemClock(watchdog_interval=0.05)  # the default threshold: 0.3 s for 0.6 s deadlines
    system = start_system(
        None, clock=clock, heartbeat_interval_ms=200, failure_threshold=3, workers=1
    )
    transitions = Transitions()
    worker_free, clock_free = threading.Event(), threading.Event()
    try:
        system.configure_alerts(callbacks={state: transitions for state in HealthState})
        system.register_agent("a")
        system.update_agent_heartbeat("a")
        _Busy.start(dispatcher=parts(system).dispatcher).tell(worker_free)  # trackers wait now
        system.coordinator.tell(messages.Heartbeat(agent_id="a", timestamp=clock.time()))
        system.snapshot()  # the beat is stamped and queued for the tracker
        held = threading.Event()
        clock.call_later(0.0, lambda: _hold(held, clock_free))
        assert held.wait(WAIT)
        clock_free.wait(1.0)  # the stall: longer than FAILED (0.6 s); pacing the fault
        system.coordinator.tell(messages.Heartbeat(agent_id="a", timestamp=clock.time()))
        system.snapshot()  # stamped after the stall, which it detected
        clock_free.set()
        worker_free.set()  # the tracker handles both beats, the old one first
        assert system.check_agent_health("a") is HealthState.HEALTHY
        settle(system)
        assert transitions.of("a") == []
        assert system.get_agent_health_status("a")["heartbeats"] == 3  # type: ignore[index]
    finally:
        clock_free.set()
        worker_free.set()
        system.shutdown()
        clock.close()


class _PausableTime:
    """A monotonic time source the test moves: a pause of the monitor without real time."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_a_one_second_pause_against_200_ms_beats_is_a_stall_for_the_default_clock() -> None:
    """The default SystemClock (only its time source injected): the shortest failure deadline
    (0.6 s) sets its threshold, so a 1 s pause is a stall and none of 20 agents is convicted."""
    time_source = _PausableTime()
    clock = SystemClock(monotonic=time_source)
    system = start_system(None, clock=clock, heartbeat_interval_ms=200, failure_threshold=3)
    try:
        assert clock.stall_threshold == pytest.approx(0.3)
        agents = [f"agent-{i}" for i in range(20)]
        system.register_agents(agents)
        for agent in agents:
            system.update_agent_heartbeat(agent)
        time_source.now += 1.0  # the whole monitor was paused for a second
        states = {system.check_agent_health(agent) for agent in agents}
        assert states <= {HealthState.HEALTHY, HealthState.DEGRADED}, states
        assert system.get_monitoring_stats()["heartbeat_monitor"]["stalls"] >= 1
    finally:
        system.shutdown()
        clock.close()


def test_a_shorter_deadline_registered_lowers_the_default_threshold() -> None:
    """An agent registered with a shorter deadline than the default protects it too."""
    clock = SystemClock()
    system = start_system(None, clock=clock, heartbeat_interval_ms=5000)
    try:
        assert clock.stall_threshold == pytest.approx(2.0)  # 15 s deadlines: at most 2 s
        system.register_agent("fast", interval_ms=100, failure_threshold=2)
        assert clock.stall_threshold == pytest.approx(0.1)
        system.unregister_agent("fast")
        system.snapshot()
        assert clock.stall_threshold == pytest.approx(2.0)
    finally:
        system.shutdown()
        clock.close()
