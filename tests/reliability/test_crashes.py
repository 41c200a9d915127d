"""Promise 4: real exceptions in real actors, under load, lose nothing and break no
health sequence; a crash loop ends in FAILED with a critical alert, not a spin.

Time is a ManualClock moved by the test in steps, so "heartbeating throughout"
and "silent" are exact, while other threads record metrics and heartbeat other
agents as fast as they can.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest

from actors import HeartbeatTracker, ManualClock, SwarmSystem, start_system
from actors.protocol import GetRecentAlerts, ReadAlerts, ReadHealthEvents
from actors.testing import parts, wait_for_given_up, wait_for_restarts
from messages import HealthState, Heartbeat
from tests.reliability.conftest import (
    FAILED,
    WAIT,
    LogWatch,
    Transitions,
    read,
    read_only,
    settle,
    stored_task_ids,
    stored_tasks,
    writable,
    writer_barrier,
    writer_connection,
)

STEP = 0.25  # seconds of monitor time per step; agents: 1 s interval, FAILED after 3 s


class Traffic:
    """Threads recording metrics and heartbeating background agents until stopped."""

    def __init__(self, system: SwarmSystem, background: list[str]) -> None:
        self.system = system
        self.background = background
        self.stop = threading.Event()
        self.recorded = [0, 0]
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._record, args=(k,), name=f"record-{k}") for k in range(2)
        ] + [threading.Thread(target=self._beat, name="beat")]

    def _record(self, k: int) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                for _ in range(100):
                    self.system.record_task_metric(f"r{k}-{n}", f"worker-{k}", 3.0, "success")
                    n += 1
                self.recorded[k] = n
                self.stop.wait(0.002)
        except BaseException as exc:  # pragma: no cover - asserted by the test
            self.errors.append(exc)

    def _beat(self) -> None:
        try:
            clock = self.system.clock
            while not self.stop.is_set():
                for agent in self.background:
                    self.system.coordinator.tell(Heartbeat(agent_id=agent, timestamp=clock.time()))
                self.stop.wait(0.002)
        except BaseException as exc:  # pragma: no cover - asserted by the test
            self.errors.append(exc)

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=WAIT)
        assert not any(thread.is_alive() for thread in self.threads)
        assert not self.errors, self.errors


@pytest.fixture
def swarm(db_path: str) -> Iterator[tuple[SwarmSystem, ManualClock, Transitions]]:
    """A system on a manual clock and a real file, with every transition collected."""
    clock = ManualClock()
    system = start_system(db_path, clock=clock, heartbeat_interval_ms=1000, failure_threshold=3)
    transitions = Transitions()
    system.configure_alerts(callbacks={state: transitions for state in HealthState})
    yield system, clock, transitions
    system.shutdown()
    clock.close()


def _alerts(system: SwarmSystem) -> list[tuple[str, str, str]]:
    alerts = system.reporter.ask(GetRecentAlerts(limit=200), timeout=WAIT)
    assert isinstance(alerts, list)
    return [(a.agent_id, a.severity.value, a.message) for a in alerts]


def test_crashes_amid_traffic_restart_everything_and_lose_nothing(
    swarm: tuple[SwarmSystem, ManualClock, Transitions], db_path: str
) -> None:
    """Trackers, aggregator, writer and reporter crash amid traffic: all restart, the steady
    agent never leaves HEALTHY, the silent one goes DEGRADED, CRITICAL, FAILED once each,
    and every recorded metric is stored once."""
    system, clock, transitions = swarm
    background = [f"bg-{i}" for i in range(20)]
    for agent in ["steady", "silent", *background]:
        system.register_agent(agent)
    # step: targets. The silent agent's tracker crashes while HEALTHY, DEGRADED and
    # CRITICAL; each child crashes at most 3 times in 5 s (its restart intensity).
    faults = {
        1: ["silent", "aggregator"],
        2: ["steady", "writer"],
        3: ["reporter", "bg-3"],
        5: ["silent", "writer", "aggregator"],
        7: ["reporter", "steady"],
        9: ["silent", "aggregator"],
        11: ["writer", "reporter"],
    }
    injected = 0
    with Traffic(system, background) as traffic:
        for step in range(16):  # 4 s: the silent agent is FAILED at 3 s
            system.update_agent_heartbeat("steady")
            for target in faults.get(step, []):
                assert system.inject_fault(target, f"fault at step {step}")
                injected += 1
            clock.advance(STEP)
            if step % 4 == 3:  # a clock tick drains; a flush while crashing must also work
                system.flush()
        assert wait_for_restarts(system, injected, timeout=WAIT)
        system.update_agent_heartbeat("steady")
    recorded = sum(traffic.recorded)
    system.flush()

    assert stored_tasks(db_path) == (recorded, recorded)
    assert system.check_agent_health("steady") is HealthState.HEALTHY
    assert system.check_agent_health("silent") is HealthState.FAILED
    settle(system)
    assert transitions.of("steady") == []
    assert transitions.of("silent") == [
        ("healthy", "degraded"), ("degraded", "critical"), ("critical", "failed"),
    ]
    stored = read(system, ReadHealthEvents())
    assert [(e.previous.value, e.current.value) for e in stored if e.agent_id == "silent"] == [
        ("healthy", "degraded"), ("degraded", "critical"), ("critical", "failed"),
    ]
    assert not [e for e in stored if e.agent_id == "steady"]
    supervision = system.get_monitoring_stats()["supervision"]
    assert supervision["tracker_restarts"] == 6
    assert supervision["service_restarts"] == {"writer": 3, "aggregator": 3, "reporter": 3, "analyst": 0}
    assert supervision["failed_services"] == []
    assert parts(system).services.restarts == injected
    # every message the restarts sent around (ServiceStarted, redeliveries) was understood
    assert set(system.get_monitoring_stats()["unknown_messages"].values()) == {0}
    print(f"crashes: {injected} faults injected and restarted amid traffic; {recorded} metrics, "
          "all stored once")


def test_a_writer_crash_during_an_outage_loses_nothing(db_path: str) -> None:
    """The writer crashes while 5,000 metrics wait for a read-only database: its next
    incarnation keeps retrying them, and once writable every one is stored, once."""
    clock = ManualClock()
    recorded = [f"waiting-{n}" for n in range(5000)]
    with LogWatch("swarmpulse.writer") as log, start_system(db_path, clock=clock) as system:
        system.flush()
        read_only(writer_connection(system))  # the writer is idle: nothing pending
        for task_id in recorded:
            system.record_task_metric(task_id, "agent", 1.0, "success")
        system.get_task_stats()  # drained into the pending writes; the write fails
        log.wait_for(FAILED)
        writer_barrier(system)
        assert len(parts(system).backlog) == len(recorded)
        assert system.inject_fault("writer", "crash with 5,000 pending")
        assert wait_for_restarts(system, 1, timeout=WAIT)
        log.wait_for(FAILED, count=2)  # the new writer tried them as it started
        writer_barrier(system)
        assert len(parts(system).backlog) == len(recorded)
        writable(writer_connection(system))  # idle: its retry waits for our clock
        clock.advance(parts(system).writer_stats.backoff)
        system.flush()
        assert stored_task_ids(db_path) == recorded
    clock.close()


def _live_trackers() -> list[pykka.ActorRef[HeartbeatTracker]]:
    return [ref for ref in pykka.ActorRegistry.get_by_class(HeartbeatTracker) if ref.is_alive()]


def test_a_tracker_crash_loop_ends_in_failed_with_a_critical_alert(
    swarm: tuple[SwarmSystem, ManualClock, Transitions],
) -> None:
    """Four crashes of one tracker within 5 s: three restarts, then FAILED and a critical
    alert; no fourth restart, and the agent's heartbeats no longer revive a tracker."""
    system, clock, transitions = swarm
    system.register_agent("looping")
    system.register_agent("bystander")
    for restart in range(1, 4):
        assert system.inject_fault("looping", f"loop {restart}")
        assert wait_for_restarts(system, restart, timeout=WAIT)
        clock.advance(0.5)
        system.update_agent_heartbeat("looping")
        system.update_agent_heartbeat("bystander")
    assert system.inject_fault("looping", "loop 4")
    transitions.wait_until(lambda: len(transitions.of("looping")) >= 3)
    settle(system)
    assert transitions.of("looping") == [
        ("healthy", "degraded"), ("degraded", "critical"), ("critical", "failed"),
    ]
    assert system.check_agent_health("looping") is HealthState.FAILED
    assert not system.inject_fault("looping")  # nothing left to crash: no spin
    system.update_agent_heartbeat("looping")
    clock.advance(5.0)
    assert system.check_agent_health("looping") is HealthState.FAILED
    system.update_agent_heartbeat("bystander")
    assert system.check_agent_health("bystander") is HealthState.HEALTHY
    assert parts(system).services.restarts == 3
    assert len(_live_trackers()) == 1  # the bystander's
    critical = [a for a in _alerts(system) if a[0] == "looping" and a[1] == "critical"]
    assert any("crashed more than 3 times" in a[2] for a in critical)


@pytest.mark.parametrize("service", ["writer", "aggregator", "reporter", "analyst"])
def test_a_service_crash_loop_is_given_up_with_a_critical_alert(
    swarm: tuple[SwarmSystem, ManualClock, Transitions], db_path: str, service: str
) -> None:
    """Four crashes of a service within 5 s: three restarts, then it is listed in
    failed_services with a critical alert, and not restarted again."""
    system, clock, transitions = swarm
    for restart in range(1, 4):
        assert system.inject_fault(service, f"loop {restart}")
        assert wait_for_restarts(system, restart, timeout=WAIT)
    assert system.inject_fault(service, "loop 4")
    assert wait_for_given_up(system, service, timeout=WAIT)
    snapshot = system.snapshot()  # the coordinator has finished handling the failure
    assert snapshot.failed_services == [service]
    assert snapshot.service_restarts[service] == 3
    assert system.inject_fault(service, "loop 5")  # told to no one: still no restart
    system.snapshot()
    assert parts(system).services.restarts == 3
    message = f"the {service} crashed more than 3 times"
    if service != "reporter":
        assert [a for a in _alerts(system) if a[1] == "critical" and message in a[2]]
        assert system.get_monitoring_stats()["supervision"]["failed_services"] == [service]
    else:
        # the reporter itself is gone: the alert is still stored for whoever reads storage
        system.flush()
        stored = read(system, ReadAlerts())
        assert [a for a in stored if a.severity.value == "critical" and message in a.message]


def test_batches_sent_to_a_crashing_writer_are_redelivered_and_stored_once(db_path: str) -> None:
    """Five batches told to the writer right behind a fault that crashes it: they reach the
    next writer (handed back by supervision, or sent again by the aggregator when it hears
    of the new writer, or both) and each metric is stored exactly once."""
    clock = ManualClock()
    recorded = [f"behind-{k}-{i}" for k in range(5) for i in range(1000)]
    with start_system(db_path, clock=clock) as system:
        system.flush()
        assert system.inject_fault("writer", "crash with batches behind it")
        for k in range(5):
            for task_id in recorded[k * 1000 : (k + 1) * 1000]:
                system.record_task_metric(task_id, "agent", 1.0, "success")
            system.get_task_stats()  # a drain: one WriteBatch to the writer, dead or alive
        assert wait_for_restarts(system, 1, timeout=WAIT)
        system.flush()
        assert stored_task_ids(db_path) == recorded
        collector = system.get_monitoring_stats()["metrics_collector"]
        assert collector["pending_writes"] == 0 and collector["dropped"] == 0
    clock.close()
