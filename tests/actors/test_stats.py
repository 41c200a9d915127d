"""Task statistics through the facade: exact while small, the same from memory and from SQLite."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import ManualClock, SwarmSystem
from actors.protocol import GetTaskStats
from storage import EXACT_SAMPLES

PERCENTILES = {
    "median_duration_ms": 0.5,
    "p90_duration_ms": 0.9,
    "p95_duration_ms": 0.95,
    "p99_duration_ms": 0.99,
}


def linear(values: list[float], q: float) -> float:
    """numpy's default quantile (method "linear"), written out: h = (n - 1) * q, interpolated."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def _record(system: SwarmSystem, agent_id: str, durations: list[float]) -> None:
    for i, duration in enumerate(durations):
        system.record_task_metric(f"{agent_id}-{i}", agent_id, duration, "success")


def _both_paths(system: SwarmSystem, clock: ManualClock, agent_id: str | None) -> tuple[Any, Any]:
    """The statistics without a time range (memory) and over one that holds everything (SQLite)."""
    memory = system.get_task_stats(agent_id)
    stored = system.get_task_stats(agent_id, start_time=1e9, end_time=clock.time() + 1)
    return memory, stored


@pytest.mark.parametrize(
    ("durations", "median"),
    [([1000.0, 1200.0, 1400.0, 1600.0, 1800.0], 1400.0), ([1000.0, 2000.0], 1500.0)],
)
def test_the_median_of_a_few_tasks_is_exact_on_both_paths(
    system: SwarmSystem, clock: ManualClock, durations: list[float], median: float
) -> None:
    """1000..1800 by 200 has median 1400 (not 1401.15); [1000, 2000] has 1500 (not 1000)."""
    system.register_agent("worker")
    _record(system, "worker", durations)
    for agent_id in ("worker", None):
        for stats in _both_paths(system, clock, agent_id):
            assert stats["median_duration_ms"] == median
            assert stats["exact"] is True


def test_an_agents_statistics_are_served_from_memory_once_they_match_the_file(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """The first read checks the in-memory tally against SQLite; later reads use memory."""
    system.register_agent("worker")
    _record(system, "worker", [5.0, 7.0])
    first = system.get_task_stats("worker")
    live = system.aggregator.ask(GetTaskStats(agent_id="worker"))
    assert live.verified is True
    assert live.stats == first
    _record(system, "worker", [9.0])
    assert system.get_task_stats("worker")["median_duration_ms"] == 7.0


def test_in_memory_and_stored_statistics_agree_and_follow_linear_interpolation(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """For any durations, of an agent and of the swarm: memory and SQLite give the same
    percentiles; up to EXACT_SAMPLES tasks they are numpy's linear ones exactly, past it
    within 1% with exact=False."""
    every: list[float] = []
    agents = iter(range(10**6))

    @settings(max_examples=25, deadline=None, database=None)
    @given(
        seed=st.integers(0, 2**32),
        count=st.sampled_from([1, 2, 3, 4, 7, 10, 100, EXACT_SAMPLES, EXACT_SAMPLES + 1, 1500]),
        ties=st.booleans(),
    )
    def check(seed: int, count: int, ties: bool) -> None:
        rng = random.Random(seed)
        durations = [
            float(rng.randint(0, 5)) * 100.0 if ties else rng.lognormvariate(6.0, 1.5)
            for _ in range(count)
        ]
        agent_id = f"agent-{next(agents)}"
        system.register_agent(agent_id)
        _record(system, agent_id, durations)
        clock.advance(0.5)
        every.extend(durations)
        for who, values in ((agent_id, durations), (None, every)):
            system.get_task_stats(who)  # the first read of an agent vouches for its tally
            memory, stored = _both_paths(system, clock, who)
            assert memory["total_tasks"] == stored["total_tasks"] == len(values)
            exact = len(values) <= EXACT_SAMPLES
            assert memory["exact"] is stored["exact"] is exact
            for key, q in PERCENTILES.items():
                assert memory[key] == stored[key], (key, who)
                expected = linear(values, q)
                if exact:
                    assert math.isclose(memory[key], expected, rel_tol=1e-12, abs_tol=1e-12)
                else:
                    assert math.isclose(memory[key], expected, rel_tol=0.01), (key, who)
        assert system.aggregator.ask(GetTaskStats(agent_id=agent_id)).verified is True

    check()
