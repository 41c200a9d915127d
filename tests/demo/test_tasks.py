"""The simulated work: a seeded task queue, the roster, and the tally."""

from __future__ import annotations

import random
from collections import Counter

from demo.tasks import ROLES, Tally, TaskQueue, agent_roster, task_title
from messages import TaskResult


def _tasks(seed: int, count: int) -> list[object]:
    queue = TaskQueue(random.Random(seed))
    return [queue.take("any") for _ in range(count)]


def test_the_same_seed_gives_the_same_tasks() -> None:
    """Task n is the same for a given seed, whichever agent takes it."""
    assert _tasks(42, 50) == _tasks(42, 50)
    assert _tasks(42, 50) != _tasks(43, 50)


def test_results_are_mostly_success_with_every_other_outcome_present() -> None:
    """A realistic mix: mostly success, some failure, partial and timeout, rare cancelled."""
    queue = TaskQueue(random.Random(1))
    tasks = [queue.take("any") for _ in range(2000)]
    counts = Counter(t.result for t in tasks if t is not None)
    assert 0.70 < counts[TaskResult.SUCCESS] / 2000 < 0.86
    assert counts[TaskResult.FAILURE] > counts[TaskResult.PARTIAL] > counts[TaskResult.CANCELLED] > 0
    assert counts[TaskResult.TIMEOUT] > 0


def test_durations_run_from_a_few_hundred_ms_to_a_few_seconds() -> None:
    """Work takes 0.2 s to 3 s, a timeout 4 s, a cancellation less."""
    queue = TaskQueue(random.Random(2))
    for _ in range(500):
        task = queue.take("any")
        assert task is not None
        if task.result is TaskResult.TIMEOUT:
            assert task.seconds == 4.0
        elif task.result is not TaskResult.CANCELLED:
            assert 0.2 <= task.seconds <= 3.0
        assert task.tokens >= 0 and task.files >= 0


def test_a_closed_queue_hands_out_nothing() -> None:
    """After close, agents find no more work."""
    queue = TaskQueue(random.Random(3))
    assert queue.take("a") is not None
    queue.close()
    assert queue.take("a") is None
    assert queue.taken == 1


def test_the_roster_cycles_through_the_roles() -> None:
    """Agents are named by role and number: backend-1, frontend-1, ..., backend-2."""
    roster = agent_roster(8)
    assert [role for _, role in roster[: len(ROLES)]] == list(ROLES)
    assert roster[0] == ("backend-1", "backend")
    assert roster[len(ROLES)] == ("backend-2", "backend")
    assert len({agent_id for agent_id, _ in agent_roster(40)}) == 40


def test_task_titles_follow_the_role() -> None:
    """A reviewer reviews, a tester tests."""
    task = TaskQueue(random.Random(4)).take("a")
    assert task is not None
    assert task_title("reviewer", task) != task_title("tester", task)


def test_the_tally_counts_tasks_per_agent() -> None:
    """Each recorded task counts once, with its agent gauge."""
    tally = Tally()
    tally.task("a")
    tally.task("a")
    tally.task("b")
    tally.swarm_metric()
    assert (tally.tasks, tally.agent_metrics, tally.swarm_metrics) == (3, 3, 1)
    assert tally.per_agent == {"a": 2, "b": 1}
    assert tally.wait_for_tasks(3, timeout=0.0)
    assert not tally.wait_for_tasks(4, timeout=0.0)
