"""Tests for storage/stats.py: range plans, and task_stats exact and from rollups."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import MetricsStorage, TaskRow
from storage.stats import plan

from .builders import T0, assert_stats_match, expected_stats, row

times = st.one_of(
    st.floats(min_value=T0 - 7200, max_value=T0 + 7200, allow_nan=False),
    st.integers(min_value=-120, max_value=120).map(lambda m: T0 + 60.0 * m),  # on boundaries
)


@settings(max_examples=300, deadline=None, database=None)
@given(times, times)
def test_a_plan_covers_the_range_exactly_with_aligned_rollups(start: float, end: float) -> None:
    """Segments tile [start, end) in order; hours and minutes sit on their boundaries."""
    segments = plan(start, end)
    if end <= start:
        assert segments == []
        return
    assert segments[0][1] == start and segments[-1][2] == end
    for (_, _, previous_end), (_, next_start, _) in zip(segments, segments[1:]):
        assert previous_end == next_start
    for kind, low, high in segments:
        assert low < high
        if kind == "hour":
            assert low % 3600 == 0 and high % 3600 == 0
        elif kind == "minute":
            assert low % 60 == 0 and high % 60 == 0
        else:  # rows only for what no whole minute covers: none fits inside
            assert math.ceil(low / 60) * 60 + 60 > high


def test_a_long_range_uses_hours_minutes_and_two_edges() -> None:
    """A range from mid-minute to mid-minute days apart: rows, minutes, hours, minutes, rows."""
    segments = plan(T0 + 90.5, T0 + 86_400 + 150.25)
    assert [kind for kind, _, _ in segments] == ["rows", "minute", "hour", "minute", "rows"]
    assert segments[2][1:] == (T0 + 3600, T0 + 86_400)


HAND_ROWS = [
    row(
        f"t{ms}",
        "a1" if ms % 2 else "a2",
        float(ms),
        "success" if ms <= 6 else "timeout",
        tokens_used=100 * ms,
        files_changed=ms % 3,
        timestamp=T0 + 10 * ms,
    )
    for ms in range(1, 11)
]


def test_small_ranges_are_computed_exactly(storage: MetricsStorage) -> None:
    """Ten tasks: every figure as computed by hand (linear interpolation), exact=True."""
    storage.store_batch(tasks=HAND_ROWS)
    stats = storage.task_stats(start_time=T0, end_time=T0 + 3600)
    assert stats == {
        "total_tasks": 10,
        "success_rate": 60.0,
        "error_rate": 40.0,
        "avg_duration_ms": 5.5,
        "min_duration_ms": 1.0,
        "max_duration_ms": 10.0,
        "median_duration_ms": 5.5,
        "p90_duration_ms": 9.1,
        "p95_duration_ms": 9.55,
        "p99_duration_ms": pytest.approx(9.91),
        "total_tokens": 5500,
        "total_files_changed": 10,
        "results_breakdown": {
            "success": 6,
            "failure": 0,
            "partial": 0,
            "timeout": 4,
            "cancelled": 0,
        },
        "exact": True,
    }


def test_agent_and_time_filters_select_the_tasks_counted(storage: MetricsStorage) -> None:
    """Only a2's tasks in [T0+20, T0+60): 2, 4 ms (60 excluded)."""
    storage.store_batch(tasks=HAND_ROWS)
    stats = storage.task_stats(start_time=T0 + 20, end_time=T0 + 60, agent_id="a2")
    assert stats["total_tasks"] == 2
    assert (stats["min_duration_ms"], stats["max_duration_ms"]) == (2.0, 4.0)


def test_no_range_means_all_time(storage: MetricsStorage) -> None:
    """Without bounds every task counts, and either bound alone limits one side."""
    storage.store_batch(tasks=HAND_ROWS + [row("old", timestamp=T0 - 86_400 * 3)])
    assert storage.task_stats()["total_tasks"] == 11
    assert storage.task_stats(start_time=T0)["total_tasks"] == 10
    assert storage.task_stats(end_time=T0 + 50)["total_tasks"] == 5


def test_an_empty_range_has_zero_stats(storage: MetricsStorage) -> None:
    """No tasks in range: zeros, every result at 0, exact."""
    storage.store_batch(tasks=HAND_ROWS)
    stats = storage.task_stats(start_time=T0 + 5000, end_time=T0 + 6000)
    assert stats["total_tasks"] == 0 and stats["p95_duration_ms"] == 0.0 and stats["exact"]
    assert storage.task_stats(start_time=T0 + 50, end_time=T0 + 50)["total_tasks"] == 0


def test_past_the_threshold_stats_come_from_rollups(storage: MetricsStorage) -> None:
    """Above exact_max_rows the percentiles are estimates (exact=False), counts still exact."""
    with MetricsStorage(":memory:", exact_max_rows=5) as small:
        small.store_batch(tasks=HAND_ROWS)
        assert_stats_match(
            dict(small.task_stats(T0, T0 + 3600)), expected_stats(HAND_ROWS), exact=False
        )
        assert small.task_stats(T0, T0 + 50)["exact"] is True  # 4 rows: exact again


row_strategy = st.builds(
    lambda agent, minute, second, duration, result: row(
        "t", agent, duration, result, 1, 2, T0 - 5400 + minute * 60.0 + second
    ),
    st.sampled_from(["a1", "a2", "a3"]),
    st.integers(min_value=0, max_value=180),
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=59.999, allow_nan=False)),
    st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=1e5, allow_nan=False)),
    st.sampled_from(["success", "failure", "timeout"]),
)
window_times = st.one_of(
    st.floats(min_value=T0 - 6000, max_value=T0 + 6000, allow_nan=False),
    st.integers(min_value=-100, max_value=100).map(lambda m: T0 + 60.0 * m),
)


@settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(row_strategy, min_size=1, max_size=120),
    window_times,
    window_times,
    st.sampled_from([None, "a1", "a3"]),
    st.integers(min_value=1, max_value=40),
)
def test_rollups_agree_with_the_rows_for_any_window(
    rows: list[TaskRow], start: float, end: float, agent: str | None, batch: int
) -> None:
    """Over minute and hour boundaries, rollup stats equal the rows' (percentiles within 1%)."""
    start, end = min(start, end), max(start, end)
    chosen = [r for r in rows if start <= r[6] < end and agent in (None, r[1])]
    expected = expected_stats(chosen)
    rollup = MetricsStorage(":memory:", exact_max_rows=0)
    exact = MetricsStorage(":memory:")
    with rollup, exact:
        for i in range(0, len(rows), batch):
            rollup.store_batch(tasks=rows[i : i + batch])
            exact.store_batch(tasks=rows[i : i + batch])
        by_rollup = dict(rollup.task_stats(start, end, agent))
        by_rows = dict(exact.task_stats(start, end, agent))
    assert_stats_match(by_rows, expected, exact=True)
    if chosen:
        assert_stats_match(by_rollup, expected, exact=False)
    else:
        assert by_rollup["total_tasks"] == 0


@pytest.fixture(scope="module")
def skewed() -> Iterator[tuple[MetricsStorage, list[TaskRow]]]:
    """60,000 heavy-tailed tasks from 12 agents over 6 hours, in batches; rollups only."""
    rng = random.Random(2024)
    rows = sorted(
        (
            row(
                f"t{i}",
                f"agent-{rng.randrange(12)}",
                rng.paretovariate(1.3) * 15.0 if i % 3 else rng.lognormvariate(7.0, 1.0),
                rng.choices(["success", "failure", "timeout", "partial"], [85, 8, 5, 2])[0],
                rng.randrange(4000),
                rng.randrange(12),
                T0 + rng.random() * 6 * 3600,
            )
            for i in range(60_000)
        ),
        key=lambda r: r[6],
    )
    storage = MetricsStorage(":memory:", exact_max_rows=0)
    for i in range(0, len(rows), 5_000):
        storage.store_batch(tasks=rows[i : i + 5_000])
    yield storage, rows
    storage.close()


@pytest.mark.parametrize(
    ("start", "end", "agent"),
    [
        (None, None, None),
        (T0 + 1234.5, T0 + 5 * 3600 + 77.25, None),
        (T0 + 3600, T0 + 4 * 3600, None),
        (T0 + 59.9, T0 + 3 * 3600 + 0.1, "agent-3"),
        (T0 + 7000, T0 + 7100, "agent-11"),
    ],
)
def test_rollup_stats_of_a_large_skewed_sample_match_exact_values(
    skewed: tuple[MetricsStorage, list[TaskRow]],
    start: float | None,
    end: float | None,
    agent: str | None,
) -> None:
    """Counts, sums, min and max exact; p50, p90, p95, p99 within 1% of nearest rank."""
    storage, rows = skewed
    low = float("-inf") if start is None else start
    high = float("inf") if end is None else end
    chosen = [r for r in rows if low <= r[6] < high and agent in (None, r[1])]
    stats = dict(storage.task_stats(start, end, agent))
    assert_stats_match(stats, expected_stats(chosen), exact=False)
