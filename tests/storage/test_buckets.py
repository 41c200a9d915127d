"""Tests for storage/buckets.py and task_stats_by_agent: every agent in one pass, same numbers."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from storage import MetricsStorage, stats
from storage.buckets import LoadedBuckets, SqlBuckets
from storage.summary import TaskSummary

from .builders import T0, row

AGENTS = ("a1", "a2", "a3", "a4", "quiet")
RANGES = [
    (None, None),
    (T0 - 5000.0, None),
    (None, T0 + 4000.5),
    (T0 - 3 * 3600.0, T0 + 3 * 3600.0),  # whole hours
    (T0 - 5000.25, T0 + 7321.75),  # hours, minutes and rows at both edges
    (T0 + 600.0, T0 + 1800.0),  # minutes only
    (T0 + 10.5, T0 + 40.25),  # rows only, within a minute
    (T0 + 90_000.0, T0 + 99_000.0),  # no task
    (T0 + 50.0, T0 + 50.0),  # empty
]


@pytest.fixture
def spread() -> Iterator[MetricsStorage]:
    """Four busy agents over five hours around T0, one with only four tasks; exact up to 40 rows."""
    rng = random.Random(5)
    rows = []
    for i in range(3000):
        agent = AGENTS[i % 4]
        at = T0 - 2.5 * 3600 + rng.random() * 5 * 3600
        rows.append(row(f"t{i}", agent, rng.lognormvariate(4.0, 1.2),
                        rng.choice(["success", "success", "failure", "timeout"]),
                        rng.randrange(500), rng.randrange(4), at))
    rows += [row(f"q{i}", "quiet", 10.0 + i, "success", 1, 0, T0 + 100.0 * i) for i in range(4)]
    with MetricsStorage(":memory:", exact_max_rows=40) as storage:
        for first in range(0, len(rows), 700):  # several batches: buckets merged read-modify-write
            storage.store_batch(tasks=rows[first : first + 700])
        yield storage


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_stats_by_agent_are_task_stats_of_each_agent(
    spread: MetricsStorage, start: float | None, end: float | None
) -> None:
    """task_stats_by_agent gives each agent exactly task_stats' numbers, floats to the last bit."""
    by_agent = spread.task_stats_by_agent(start_time=start, end_time=end)
    assert list(by_agent) == sorted(AGENTS)
    for agent_id in AGENTS:
        assert by_agent[agent_id] == spread.task_stats(start, end, agent_id=agent_id), agent_id
    if (start, end) in RANGES[:5]:  # the quiet agent's from its rows, the others' from rollups
        assert [s["exact"] for s in by_agent.values()] == [False] * 4 + [True]


def test_stats_by_agent_of_named_agents_keep_their_order_and_know_no_stranger(
    spread: MetricsStorage,
) -> None:
    """The ids asked for, in that order; an id never seen has the empty stats task_stats gives it."""
    by_agent = spread.task_stats_by_agent(T0 - 5000.25, None, agent_ids=["a3", "nobody", "a1"])
    assert list(by_agent) == ["a3", "nobody", "a1"]
    assert by_agent["nobody"] == spread.task_stats(T0 - 5000.25, None, agent_id="nobody")
    assert by_agent["a1"] == spread.task_stats(T0 - 5000.25, None, agent_id="a1")


def test_stats_by_agent_read_a_few_agents_at_a_time_with_the_same_numbers(
    spread: MetricsStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two keys' buckets held at a time (an id asked twice, too): still each agent's task_stats."""
    monkeypatch.setattr(stats, "KEYS_PER_READ", 2)
    ids = ["a4", "quiet", "a1", "a4", "a2", "a3"]
    by_agent = spread.task_stats_by_agent(T0 - 5000.25, T0 + 7321.75, agent_ids=ids)
    assert list(by_agent) == ["a4", "quiet", "a1", "a2", "a3"]
    for agent_id in ids:
        assert by_agent[agent_id] == spread.task_stats(T0 - 5000.25, T0 + 7321.75, agent_id)


def test_loaded_buckets_answer_as_sqlite_does_inside_and_outside_what_was_loaded(
    spread: MetricsStorage,
) -> None:
    """Counts and merged summaries are SQLite's, for pieces loaded, partly loaded or not loaded."""
    conn = spread._conn
    assert conn is not None
    hour = int(T0)
    keys = [k for (k,) in conn.execute("SELECT agent_key FROM agents ORDER BY agent_key")]
    loaded = LoadedBuckets(conn, keys[:2], {"hour": (hour - 2 * 3600, hour + 3600)})
    sql = SqlBuckets(conn)
    pieces = [(hour - 2 * 3600, hour + 3600), (hour - 3600, hour), (hour - 3 * 3600, hour),
              (hour, hour + 3 * 3600), (hour, hour)]
    for key in [0, *keys]:
        for level, (low, high) in [("hour", p) for p in pieces] + [("minute", (hour, hour + 600))]:
            assert loaded.count(level, key, low, high) == sql.count(level, key, low, high)
            mine, theirs = TaskSummary(), TaskSummary()
            loaded.add(level, key, low, high, mine)
            sql.add(level, key, low, high, theirs)
            assert mine == theirs and mine.total_ms == theirs.total_ms


@pytest.mark.parametrize(("low", "high", "slices"), [
    (T0 - 2.5 * 3600, T0 + 2.5 * 3600, 4),  # hour buckets
    (T0 - 5000.25, T0 + 7321.75, 20),  # minute buckets
    (T0 + 10.5, T0 + 400.25, 20),  # rows
    (T0 + 90_000.0, T0 + 99_000.0, 5),  # no task
])
def test_series_by_agent_are_task_series_of_each_agent(
    spread: MetricsStorage, low: float, high: float, slices: int
) -> None:
    """task_series_by_agent draws each agent's sparkline exactly as task_series does."""
    ids = [*AGENTS, "nobody"]
    by_agent = spread.task_series_by_agent(low, high, ids, slices=slices)
    assert list(by_agent) == ids
    for agent_id in ids:
        assert by_agent[agent_id] == spread.task_series(low, high, agent_id, slices), agent_id
