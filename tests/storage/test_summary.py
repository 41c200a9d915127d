"""Tests for storage/summary.py: TaskSummary adding, merging, encoding, and its stats."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import TaskResult
from storage import TaskSummary
from storage.summary import encoded_total_ms, exact_stats

from .builders import PERCENTILE_KEYS, assert_stats_match, expected_stats, row

tasks = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
        st.sampled_from([r.value for r in TaskResult]),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=120,
)


def summary_of(items: list[tuple[float, str, int, int]]) -> TaskSummary:
    """A summary with every task added one by one."""
    summary = TaskSummary()
    for duration, result, tokens, files in items:
        summary.add(duration, result, tokens, files)
    return summary


def columns(
    items: list[tuple[float, str, int, int]],
) -> tuple[list[float], list[str], list[int], list[int]]:
    """The four columns of some tasks."""
    return (
        [i[0] for i in items],
        [i[1] for i in items],
        [i[2] for i in items],
        [i[3] for i in items],
    )


def test_stats_of_hand_computed_tasks() -> None:
    """Ten tasks of 1..10 ms: every figure as worked out by hand, percentiles within 1%."""
    summary = summary_of(
        [(float(ms), "success" if ms <= 7 else "failure", ms, 1) for ms in range(1, 11)]
    )
    stats = summary.to_stats()
    assert stats["total_tasks"] == 10
    assert stats["success_rate"] == 70.0
    assert stats["error_rate"] == 30.0
    assert stats["avg_duration_ms"] == 5.5
    assert (stats["min_duration_ms"], stats["max_duration_ms"]) == (1.0, 10.0)
    assert stats["total_tokens"] == 55
    assert stats["total_files_changed"] == 10
    assert stats["results_breakdown"] == {
        "success": 7,
        "failure": 3,
        "partial": 0,
        "timeout": 0,
        "cancelled": 0,
    }
    for key, exact in zip(PERCENTILE_KEYS, (5.5, 9.1, 9.55, 9.91), strict=True):
        assert stats[key] == pytest.approx(exact, rel=0.01)
    assert stats["exact"] is False


def test_exact_stats_interpolate_linearly_between_closest_ranks() -> None:
    """exact_stats: median 5.5, p90 9.1, p95 9.55, p99 9.91 for 1..10 ms (numpy's default)."""
    durations = [float(ms) for ms in range(10, 0, -1)]
    summary = summary_of([(d, "success", 0, 0) for d in durations])
    stats = exact_stats(summary, durations)
    assert [stats[key] for key in PERCENTILE_KEYS] == pytest.approx([5.5, 9.1, 9.55, 9.91])
    assert stats["exact"] is True


def test_exact_stats_refuse_durations_of_other_tasks() -> None:
    """Durations that do not match the summary's count are a bug, not data."""
    with pytest.raises(ValueError):
        exact_stats(summary_of([(1.0, "success", 0, 0)]), [1.0, 2.0])


def test_empty_summary_reports_zeros_and_every_result() -> None:
    """No tasks: 0 everywhere, every TaskResult in the breakdown at 0."""
    stats = TaskSummary().to_stats()
    assert stats["total_tasks"] == 0
    assert stats["success_rate"] == stats["error_rate"] == 0.0
    assert all(stats[key] == 0.0 for key in PERCENTILE_KEYS)
    assert stats["min_duration_ms"] == stats["max_duration_ms"] == stats["avg_duration_ms"] == 0.0
    assert stats["results_breakdown"] == {r.value: 0 for r in TaskResult}


def test_error_rate_counts_everything_that_is_not_success() -> None:
    """Failure, partial, timeout and cancelled are all errors."""
    summary = summary_of([(1.0, r.value, 0, 0) for r in TaskResult])
    stats = summary.to_stats()
    assert stats["success_rate"] == 20.0
    assert stats["error_rate"] == 80.0


def test_unknown_result_values_still_count() -> None:
    """A result outside TaskResult (from an unchecked row) is kept in the breakdown."""
    stats = summary_of([(1.0, "exploded", 0, 0)]).to_stats()
    assert stats["results_breakdown"]["exploded"] == 1
    assert stats["error_rate"] == 100.0


@settings(max_examples=150, deadline=None, database=None)
@given(tasks)
def test_add_columns_equals_adding_one_by_one(items: list[tuple[float, str, int, int]]) -> None:
    """add_columns, looped or counted in C, gives the summary add gives."""
    one_by_one = summary_of(items)
    bulk = TaskSummary()
    bulk.add_columns(*columns(items))
    assert bulk == one_by_one
    picked = TaskSummary()
    picked.add_columns(*columns(items), list(range(len(items))))
    assert picked == one_by_one


def test_add_columns_adds_only_the_given_positions() -> None:
    """Positions pick tasks out of longer columns."""
    items = [(float(i), "success", i, 0) for i in range(100)]
    picked = TaskSummary()
    picked.add_columns(*columns(items), [3, 50, 99])
    assert picked == summary_of([items[3], items[50], items[99]])


@pytest.mark.parametrize("size", [3, 64])
def test_a_negative_duration_adds_nothing(size: int) -> None:
    """A bad duration anywhere in a batch raises and leaves the summary as it was."""
    summary = summary_of([(1.0, "success", 1, 1)])
    before = TaskSummary.from_bytes(summary.to_bytes())
    items = [(2.0, "failure", 1, 1)] * (size - 1) + [(-1.0, "failure", 1, 1)]
    with pytest.raises(ValueError):
        summary.add_columns(*columns(items))
    with pytest.raises(ValueError):
        summary.add(-1.0, "failure", 1, 1)
    assert summary == before


@settings(max_examples=150, deadline=None, database=None)
@given(tasks, tasks)
def test_merging_equals_adding_everything_to_one(
    left: list[tuple[float, str, int, int]], right: list[tuple[float, str, int, int]]
) -> None:
    """merge gives the counts, extremes, results and buckets of one summary of both."""
    merged = summary_of(left)
    merged.merge(summary_of(right))
    both = summary_of(left + right)
    assert merged.histogram == both.histogram
    assert merged.count == both.count
    assert (merged.tokens, merged.files, merged.results) == (both.tokens, both.files, both.results)
    assert (merged.min_ms, merged.max_ms) == (both.min_ms, both.max_ms)
    assert math.isclose(merged.total_ms, both.total_ms, rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=100, deadline=None, database=None)
@given(tasks, st.lists(tasks, max_size=6))
def test_merging_encoded_summaries_equals_merging_each_decoded(
    first: list[tuple[float, str, int, int]], parts: list[list[tuple[float, str, int, int]]]
) -> None:
    """merge_encoded of to_bytes outputs is merge(from_bytes(b)) of each in turn, sums to the bit."""
    blobs = [summary_of(items).to_bytes() for items in parts]
    one_by_one, at_once = summary_of(first), summary_of(first)
    for blob in blobs:
        one_by_one.merge(TaskSummary.from_bytes(blob))
    at_once.merge_encoded(blobs)
    assert at_once == one_by_one
    assert at_once.to_stats() == one_by_one.to_stats()
    at_once.add(5.0, "success", 1, 1)  # still one histogram: its bins and the summary's agree
    one_by_one.add(5.0, "success", 1, 1)
    assert at_once == one_by_one


@settings(max_examples=100, deadline=None, database=None)
@given(tasks)
def test_the_total_of_an_encoded_summary_is_its_total(
    items: list[tuple[float, str, int, int]],
) -> None:
    """encoded_total_ms reads total_ms alone, the same float from_bytes gives."""
    blob = summary_of(items).to_bytes()
    assert encoded_total_ms(blob) == TaskSummary.from_bytes(blob).total_ms


@settings(max_examples=100, deadline=None, database=None)
@given(tasks)
def test_bytes_round_trip(items: list[tuple[float, str, int, int]]) -> None:
    """from_bytes(to_bytes(s)) equals s, empty summaries included."""
    summary = summary_of(items)
    assert TaskSummary.from_bytes(summary.to_bytes()) == summary


def test_stats_of_a_large_skewed_sample_are_within_one_percent() -> None:
    """100,000 Pareto-ish durations: counts exact, p50..p99 within 1% of nearest rank."""
    rng = random.Random(5)
    rows = [
        row(duration_ms=rng.paretovariate(1.2) * 20.0, result=rng.choice(["success", "timeout"]))
        for _ in range(100_000)
    ]
    summary = TaskSummary()
    summary.add_columns(
        [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows], [r[5] for r in rows]
    )
    assert_stats_match(dict(summary.to_stats()), expected_stats(rows), exact=False)
