"""Promise 1: a clean shutdown stores every accepted metric, once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import pykka
import pytest

from actors import ManualClock, SwarmSystem, start_system
from actors.errors import ShutdownIncomplete, SystemStopped
from actors.testing import parts
from messages import HealthState, TaskMetric, TaskResult
from tests.reliability.conftest import WAIT, Child, stored_tasks

TOTAL = 200_000
THREADS = 4
AGENTS = 4
TAIL = 1000  # recorded last, by the test itself: less than a batch, so still buffered
PER_SOURCE = (TOTAL - TAIL) // (THREADS + AGENTS)
CHUNK = 995  # divides PER_SOURCE (24,875)


class _Work:
    """Ask an agent to record ``count`` tasks starting at ``first``."""

    def __init__(self, first: int, count: int) -> None:
        self.first = first
        self.count = count


class _Agent(pykka.ThreadingActor):
    """A swarm agent: records a task metric per unit of work, as a real agent would."""

    def __init__(self, system: SwarmSystem, name: str, as_messages: bool) -> None:
        super().__init__()
        self.system = system
        self.name = name
        self.as_messages = as_messages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Work):
            telemetry = parts(self.system).telemetry
            now = self.system.clock.time()
            for n in range(message.first, message.first + message.count):
                if self.as_messages:
                    telemetry.send(
                        TaskMetric(
                            task_id=f"{self.name}-{n}", agent_id=self.name, duration_ms=2.5,
                            result=TaskResult.SUCCESS, tokens_used=3, timestamp=now,
                        )
                    )
                else:
                    telemetry.record_task(f"{self.name}-{n}", self.name, 2.5, "success", 3, 1)
        return None


def test_clean_shutdown_stores_every_metric_exactly_once(db_path: str) -> None:
    """200,000 metrics from threads and agent actors are all in SQLite after shutdown, none twice.

    On a manual clock no periodic drain runs: the last 1,000 metrics (less than a batch)
    are still buffered when shutdown begins, and only shutdown itself can store them.
    """
    clock = ManualClock()
    system = start_system(db_path, clock=clock)
    agents = [
        _Agent.start(system, f"actor-{i}", as_messages=i % 2 == 0) for i in range(AGENTS)
    ]
    go = threading.Event()
    errors: list[BaseException] = []

    def record_from_thread(k: int) -> None:
        go.wait(timeout=WAIT)
        try:
            record = system.record_task_metric
            for n in range(PER_SOURCE):
                record(f"thread-{k}-{n}", f"thread-{k}", 1.5, "failure" if n % 7 == 0 else "success")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=record_from_thread, args=(k,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for first in range(0, PER_SOURCE, CHUNK):
        for agent in agents:
            agent.tell(_Work(first, CHUNK))
    go.set()
    for thread in threads:
        thread.join(timeout=WAIT)
    for agent in agents:  # an ask queues behind the work: on return, all of it is recorded
        agent.ask("sync", timeout=WAIT)
        agent.stop(timeout=WAIT)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)

    system.get_task_stats()  # the aggregator has taken everything so far
    for n in range(TAIL):
        system.record_task_metric(f"tail-{n}", "tail", 1.0, "success")
    assert len(parts(system).telemetry) == TAIL
    system.shutdown()  # nothing was flushed before
    clock.close()

    assert stored_tasks(db_path) == (TOTAL, TOTAL)


# Shutdown when something does not stop, concurrent shutdowns, calls after it


def test_shutdown_stops_all_it_can_when_one_step_times_out_and_a_retry_finishes(db_path: str) -> None:
    """A callback that outlives shutdown's timeout: every actor still stops, the data is stored,
    only the callback step is reported, and the retry after it returns finishes the job."""
    clock = ManualClock()
    system = start_system(db_path, clock=clock, heartbeat_interval_ms=1000, callback_timeout=WAIT)
    release, blocked = threading.Event(), threading.Event()

    def stuck(event: Any) -> None:
        blocked.set()
        release.wait(WAIT)

    system.configure_alerts(callbacks={HealthState.DEGRADED: stuck})
    system.register_agent("a")
    for n in range(500):
        system.record_task_metric(f"t-{n}", "a", 1.0, "success")
    clock.advance(1.0)
    assert blocked.wait(WAIT)
    try:
        with pytest.raises(ShutdownIncomplete) as raised:
            system.shutdown(timeout=0.5)
        assert raised.value.steps == ["callbacks"]
        assert pykka.ActorRegistry.get_all() == []  # every actor stopped all the same
        assert stored_tasks(db_path) == (500, 500)
        threads = {t.name for t in threading.enumerate()}
        assert not any(n.startswith(("swarmpulse-worker", "swarmpulse-clock")) for n in threads)
    finally:
        release.set()
    system.shutdown(timeout=WAIT)  # the retry: now the callback has returned, it is done
    system.shutdown()  # and then a no-op
    clock.close()


def test_concurrent_shutdowns_all_return_once_everything_is_stored(db_path: str) -> None:
    """Three threads shut down at once; each finds all 200,000 metrics stored when it returns."""
    total = 200_000
    clock = ManualClock()
    system = start_system(db_path, clock=clock)
    record = system.record_task_metric
    for n in range(total):
        record(f"t-{n}", f"agent-{n % 10}", 1.0, "success")
    start = threading.Barrier(3)
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def shut_down() -> None:
        try:
            start.wait(WAIT)
            system.shutdown()
            seen.append(stored_tasks(db_path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=shut_down) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    clock.close()
    assert not errors
    assert seen == [(total, total)] * 3


def test_every_call_after_shutdown_raises_system_stopped(db_path: str) -> None:
    """After shutdown, every method (and a kept reference to the hot path) raises SystemStopped."""
    clock = ManualClock()
    system = start_system(db_path, clock=clock)
    system.register_agent("a")
    record = system.record_task_metric  # kept from before, as a hot loop would
    send = system.send
    system.shutdown()
    clock.close()
    calls: dict[str, Callable[[], object]] = {
        "kept record_task_metric": lambda: record("t", "a", 1.0, "success"),
        "kept record_task_metric, a new id": lambda: record("t", "new", 1.0, "success"),
        "record_task_metric": lambda: system.record_task_metric("t", "a", 1.0, "success"),
        "record_task_execution": lambda: system.record_task_execution("t", "a", 1.0, True),
        "record_agent_metric": lambda: system.record_agent_metric("a", "cpu", 0.5),
        "record_swarm_metric": lambda: system.record_swarm_metric("topology_health", 1.0),
        "telemetry.send": lambda: send(TaskMetric(task_id="t", agent_id="a", duration_ms=1.0,
                                                  result=TaskResult.SUCCESS, timestamp=1.8e9)),
        "update_agent_heartbeat": lambda: system.update_agent_heartbeat("a"),
        "register_agent": lambda: system.register_agent("b"),
        "register_agents": lambda: system.register_agents(["c"]),
        "unregister_agent": lambda: system.unregister_agent("a"),
        "check_agent_health": lambda: system.check_agent_health("a"),
        "get_agent_health_status": lambda: system.get_agent_health_status("a"),
        "get_heartbeat_history": lambda: system.get_heartbeat_history("a"),
        "get_agent_uptime": lambda: system.get_agent_uptime("a"),
        "get_unhealthy_agents": lambda: system.get_unhealthy_agents(),
        "check_alerts": lambda: system.check_alerts(),
        "snapshot": lambda: system.snapshot(),
        "get_task_stats": lambda: system.get_task_stats(),
        "get_task_stats in a range": lambda: system.get_task_stats(start_time=1e9, end_time=1e9 + 1),
        "get_agent_performance": lambda: system.get_agent_performance("a"),
        "query_task_metrics": lambda: system.query_task_metrics(),
        "get_monitoring_stats": lambda: system.get_monitoring_stats(),
        "unregistered_agent_metrics": lambda: system.unregistered_agent_metrics(),
        "get_topology_info": lambda: system.get_topology_info(),
        "generate_report": lambda: system.generate_report("json"),
        "configure_alerts": lambda: system.configure_alerts(enabled=False),
        "subscribe": lambda: system.subscribe(print),
        "inject_fault": lambda: system.inject_fault("writer"),
        "flush": lambda: system.flush(),
    }
    for name, call in calls.items():
        with pytest.raises(SystemStopped):
            call()
            pytest.fail(f"{name} did not raise")
    assert stored_tasks(db_path) == (0, 0)


def test_a_thread_recording_through_shutdown_loses_nothing(db_path: str) -> None:
    """Every metric a racing thread got accepted is stored; the first refusal is SystemStopped."""
    clock = ManualClock()
    system = start_system(db_path, clock=clock)
    record = system.record_task_metric
    accepted = 0
    refused: list[BaseException] = []
    running = threading.Event()

    def keep_recording() -> None:
        nonlocal accepted
        try:
            while True:
                record(f"t-{accepted}", "busy", 1.0, "success")
                accepted += 1
                if accepted == 10_000:
                    running.set()
        except BaseException as exc:
            refused.append(exc)
            running.set()

    thread = threading.Thread(target=keep_recording)
    thread.start()
    assert running.wait(WAIT)
    system.shutdown()
    thread.join(WAIT)
    clock.close()
    assert [type(e) for e in refused] == [SystemStopped]
    assert stored_tasks(db_path) == (accepted, accepted)


# Exit: a program that never calls shutdown, Ctrl-C, a callback that never returns

_FORGETFUL = """
import json, sys, threading
from actors import start_system

swarm = start_system(sys.argv[1], heartbeat_interval_ms=60_000)
swarm.register_agent("a")
for n in range(1000):
    swarm.record_task_metric(f"t-{n}", "a", 1.0, "success")
print(json.dumps({"kind": "recorded"}), flush=True)
if sys.argv[2] == "wait":
    threading.Event().wait()  # until Ctrl-C
# and never a call to shutdown()
"""


def test_a_program_that_never_shuts_down_exits_with_its_metrics_stored(
    db_path: str, child: Callable[..., Child]
) -> None:
    """The exit hook flushes and stops a system the program forgot: it exits, rows stored."""
    program = child(_FORGETFUL, db_path, "return")
    assert program.next()["kind"] == "recorded"
    program.finish()
    assert program.proc.returncode == 0, "".join(program.stderr)
    assert stored_tasks(db_path) == (1000, 1000)


def test_ctrl_c_ends_a_program_that_never_shuts_down_with_its_metrics_stored(
    db_path: str, child: Callable[..., Child]
) -> None:
    """SIGINT to a program blocked with a running system: it exits, and the rows are stored."""
    program = child(_FORGETFUL, db_path, "wait")
    assert program.next()["kind"] == "recorded"
    program.signal(signal.SIGINT)
    program.finish()
    assert program.proc.returncode is not None
    assert "KeyboardInterrupt" in "".join(program.stderr)
    assert stored_tasks(db_path) == (1000, 1000)


_STUCK_CALLBACK = """
import json, sys, threading
from actors import start_system
from messages import HealthState

swarm = start_system(sys.argv[1], heartbeat_interval_ms=20, callback_timeout=0.5)
called = threading.Event()

def never_returns(event):
    called.set()
    threading.Event().wait()

swarm.configure_alerts(callbacks={HealthState.DEGRADED: never_returns})
swarm.register_agent("a")
for n in range(100):
    swarm.record_task_metric(f"t-{n}", "a", 1.0, "success")
assert called.wait(30)
swarm.shutdown(timeout=10)
print(json.dumps({"kind": "shut down"}), flush=True)
"""


def test_a_callback_that_never_returns_does_not_keep_the_process_from_exiting(
    db_path: str, child: Callable[..., Child]
) -> None:
    """shutdown returns with a callback still blocked, and the process then exits."""
    program = child(_STUCK_CALLBACK, db_path)
    assert program.next()["kind"] == "shut down"
    program.finish()
    assert program.proc.returncode == 0, "".join(program.stderr)
    assert stored_tasks(db_path) == (100, 100)
