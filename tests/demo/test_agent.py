"""The simulated agent: a busy or blocked agent keeps beating, and stays HEALTHY."""

from __future__ import annotations

import threading
from pathlib import Path

from actors import start_system
from demo.swarm import Swarm
from demo.tasks import Tally, Task
from messages import HealthState, TaskResult
from storage import MetricsStorage
from tests.demo.conftest import EventLog

INTERVAL_MS = 500
"""The default interval: half of it is the slack a loaded machine has before a false DEGRADED."""


class OneTask:
    """A task source that hands out one task, then nothing."""

    def __init__(self, task: Task) -> None:
        self.task: Task | None = task

    def take(self, agent_id: str) -> Task | None:
        """The task, the first time."""
        task, self.task = self.task, None
        return task


class BlockingSource:
    """A task source whose ``take`` holds the agent's thread until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def take(self, agent_id: str) -> Task | None:
        """Block the calling agent, then hand out nothing."""
        self.entered.set()
        self.release.wait(timeout=10)
        return None


def _stored_transitions(db: str, agent_id: str) -> list[tuple[str, str]]:
    with MetricsStorage(db, readonly=True, create=False) as storage:
        return [(e.previous.value, e.current.value)
                for e in storage.query_health_events(agent_id=agent_id)]


def test_an_agent_busy_longer_than_three_intervals_stays_healthy(tmp_path: Path) -> None:
    """A 1.6 s task with 500 ms heartbeats (FAILED after 3 silent intervals) never degrades it."""
    db = str(tmp_path / "busy.db")
    task = Task(task_id="T-1", seconds=1.6, result=TaskResult.SUCCESS, tokens=100, files=2,
                kind=0, pause=0.1)
    events = EventLog()
    tally = Tally()
    with start_system(db, heartbeat_interval_ms=INTERVAL_MS, failure_threshold=3) as system:
        system.configure_alerts(callbacks={state: events for state in HealthState})
        swarm = Swarm(system, [("worker-1", "backend")], OneTask(task), tally)
        try:
            assert tally.wait_for_tasks(1, timeout=10)
            status = system.get_agent_health_status("worker-1")
        finally:
            swarm.stop()
        recorded = system.query_task_metrics(agent_id="worker-1")
    assert status is not None and status["health_state"] == "healthy"
    assert status["heartbeats"] >= 4  # it beat all through the task
    assert len(recorded) == 1 and recorded[0].duration_ms >= 3 * INTERVAL_MS
    assert _stored_transitions(db, "worker-1") == []
    assert events.transitions("worker-1") == []


def test_an_agent_blocked_in_its_own_thread_keeps_beating(tmp_path: Path) -> None:
    """Heartbeats come from the clock's thread: an agent stuck for 4 intervals stays HEALTHY."""
    db = str(tmp_path / "blocked.db")
    source = BlockingSource()
    waited = threading.Event()
    with start_system(db, heartbeat_interval_ms=INTERVAL_MS, failure_threshold=3) as system:
        swarm = Swarm(system, [("worker-1", "backend")], source, Tally())
        try:
            assert source.entered.wait(timeout=10)  # the agent's thread is now stuck in take()
            system.clock.call_later(4 * INTERVAL_MS / 1000, waited.set)
            assert waited.wait(timeout=10)
            status = system.get_agent_health_status("worker-1")
        finally:
            source.release.set()
            swarm.stop()
    assert status is not None and status["health_state"] == "healthy"
    assert status["heartbeats"] >= 6  # it beat while its thread was stuck
    assert _stored_transitions(db, "worker-1") == []
