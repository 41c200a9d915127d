"""The simulated work: agent roles, a seeded shared task queue, and a tally of what was recorded."""

from __future__ import annotations

import collections
import random
import threading
from dataclasses import dataclass
from typing import Final, Protocol

from messages import TaskResult

__all__ = ["ROLES", "Task", "TaskQueue", "TaskSource", "Tally", "agent_roster", "task_title"]

ROLES: Final = ("backend", "frontend", "tester", "reviewer", "devops", "researcher")
"""The roles of the simulated agents, in the order a roster cycles through them."""

_WORK: Final = {
    "backend": ("implement endpoint", "fix query", "add migration", "refactor service"),
    "frontend": ("build component", "fix layout", "wire form", "add route"),
    "tester": ("write unit tests", "run e2e suite", "reproduce bug", "fuzz parser"),
    "reviewer": ("review PR", "check style", "audit security", "approve change"),
    "devops": ("update pipeline", "bump image", "tune autoscaler", "rotate logs"),
    "researcher": ("survey library", "read paper", "benchmark option", "summarise issue"),
}
TIMEOUT_SECONDS: Final = 4.0
"""A task that times out has run this long."""
_RESULTS: Final = (  # cumulative probability, result: mostly success, rarely cancelled
    (0.78, TaskResult.SUCCESS),
    (0.88, TaskResult.FAILURE),
    (0.94, TaskResult.PARTIAL),
    (0.99, TaskResult.TIMEOUT),
    (1.00, TaskResult.CANCELLED),
)


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of simulated work, drawn in full when it is taken from the queue.

    Attributes:
        task_id: ``T-0001``, ``T-0002``, ... in the order tasks are taken.
        seconds: how long the agent works on it.
        result: how it ends.
        tokens: tokens the agent spends on it.
        files: files it changes.
        kind: which of its role's kinds of work it is (see :func:`task_title`).
        pause: seconds the agent idles after it, before taking the next task.
    """

    task_id: str
    seconds: float
    result: TaskResult
    tokens: int
    files: int
    kind: int
    pause: float


class TaskSource(Protocol):
    """Where an agent takes its next task from; called on the agent's thread."""

    def take(self, agent_id: str) -> Task | None:
        """Return the next task, or None when there is no more work."""
        ...


class TaskQueue:
    """An endless backlog shared by every agent; task n is the same for a given seed.

    Every draw happens under one lock in the order tasks are taken, from the
    run's single ``random.Random``, so the sequence of tasks depends only on
    the seed (which agent takes which task depends on timing).
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._taken = 0
        self._closed = False

    @property
    def taken(self) -> int:
        """Tasks handed out so far."""
        return self._taken

    def close(self) -> None:
        """Hand out no more tasks."""
        with self._lock:
            self._closed = True

    def take(self, agent_id: str) -> Task | None:
        """Return the next task, or None once the queue is closed."""
        with self._lock:
            if self._closed:
                return None
            self._taken += 1
            return self._draw(f"T-{self._taken:04d}")

    def _draw(self, task_id: str) -> Task:
        rng = self._rng
        seconds = min(3.0, max(0.2, rng.lognormvariate(-0.2, 0.55)))
        roll = rng.random()
        result = next(r for p, r in _RESULTS if roll < p)
        if result is TaskResult.TIMEOUT:
            seconds = TIMEOUT_SECONDS
        elif result is TaskResult.CANCELLED:
            seconds *= 0.3
        tokens = int(seconds * rng.uniform(600.0, 2400.0))
        productive = result in (TaskResult.SUCCESS, TaskResult.PARTIAL)
        files = rng.randint(0, 8) if productive else rng.randint(0, 1)
        return Task(
            task_id=task_id,
            seconds=round(seconds, 3),
            result=result,
            tokens=tokens,
            files=files,
            kind=rng.randrange(4),
            pause=round(rng.uniform(0.05, 0.3), 3),
        )


def agent_roster(count: int) -> list[tuple[str, str]]:
    """Return ``count`` (agent_id, role) pairs: backend-1, frontend-1, ..., backend-2, ..."""
    return [(f"{ROLES[i % len(ROLES)]}-{i // len(ROLES) + 1}", ROLES[i % len(ROLES)])
            for i in range(count)]


def task_title(role: str, task: Task) -> str:
    """What a task of ``role`` is, in words (``review PR``)."""
    kinds = _WORK.get(role, _WORK["backend"])
    return kinds[task.kind % len(kinds)]


class Tally:
    """What the agents recorded, counted as they record it; safe from any thread.

    The simulation compares these counts with what SQLite holds at the end.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.tasks = 0
        self.agent_metrics = 0
        self.swarm_metrics = 0
        self.per_agent: collections.Counter[str] = collections.Counter()

    def task(self, agent_id: str) -> None:
        """Count a task metric (and the agent metric that goes with it)."""
        with self._changed:
            self.tasks += 1
            self.agent_metrics += 1
            self.per_agent[agent_id] += 1
            self._changed.notify_all()

    def swarm_metric(self) -> None:
        """Count a swarm metric."""
        with self._changed:
            self.swarm_metrics += 1

    def wait_for_tasks(self, count: int, timeout: float) -> bool:
        """Block until ``count`` tasks were recorded; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.tasks >= count, timeout=timeout)
