"""Promise 1: a clean shutdown stores every accepted metric, once."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from actors import ManualClock, SwarmSystem, start_system
from messages import TaskMetric, TaskResult
from tests.reliability.conftest import WAIT, stored_tasks

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
            telemetry = self.system.telemetry
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
    assert len(system.telemetry) == TAIL
    system.shutdown()  # nothing was flushed before
    clock.close()

    assert stored_tasks(db_path) == (TOTAL, TOTAL)
