"""The fault plan: who suffers what, and when."""

from __future__ import annotations

import random

from demo.faults import SLOW_SECONDS, STALL_INTERVALS, STUCK_LIMIT_S, FaultPlan
from demo.tasks import TIMEOUT_SECONDS
from demo.tasks import agent_roster

IDS = [agent_id for agent_id, _ in agent_roster(12)]


def _plan(seed: int, ids: list[str] = IDS, duration: float = 20.0) -> FaultPlan:
    return FaultPlan.choose(random.Random(seed), ids, duration=duration, interval=0.5,
                            failure_threshold=3)


def test_six_different_agents_get_the_six_faults_in_time_order() -> None:
    """Slow, hung task, silence, phi death, stall, tracker crash: distinct agents, in that order."""
    plan = _plan(1)
    assert [s.kind for s in plan.steps] == ["slow", "stuck", "silence", "phi", "stall", "crash"]
    assert len({s.agent_id for s in plan.steps}) == 6
    assert [s.at for s in plan.steps] == sorted(s.at for s in plan.steps)


def test_every_fault_shows_within_the_default_run() -> None:
    """With 500 ms heartbeats, everything has happened well before 20 s."""
    assert _plan(1).complete_by < 20.0 * 0.8


def test_the_slow_and_stuck_tasks_are_told_apart() -> None:
    """A slow task stays short of the stuck limit; it is at least twice the longest normal task."""
    assert SLOW_SECONDS[1] < STUCK_LIMIT_S
    assert SLOW_SECONDS[0] >= 1.8 * TIMEOUT_SECONDS


def test_a_stall_outlasts_critical_but_not_failed() -> None:
    """2 < stall length < 3 intervals: the agent goes CRITICAL and comes back."""
    assert 2 < STALL_INTERVALS < 3


def test_the_same_seed_chooses_the_same_plan() -> None:
    """The plan is the first thing drawn from the run's generator."""
    assert _plan(5) == _plan(5)
    assert {_plan(seed).steps[0].agent_id for seed in range(20)} != {_plan(5).steps[0].agent_id}


def test_fewer_agents_get_fewer_faults() -> None:
    """Two agents: one dies, one stalls; no tracker crash, no phi death, no hang, no slow agent."""
    plan = _plan(1, IDS[:2])
    assert sorted(s.kind for s in plan.steps) == ["silence", "stall"]
    assert plan.agent("crash") is None and plan.agent("phi") is None


def test_faults_wait_a_few_intervals_in_a_short_run() -> None:
    """In a 2 s run the faults still come after the agents have beaten a few times."""
    plan = _plan(1, duration=2.0)
    assert plan.steps[0].at >= 1.0
    assert plan.complete_by > 2.0
