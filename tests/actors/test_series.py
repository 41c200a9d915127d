"""Tests for actors/series.py: task counts and durations per time bucket."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.series import TaskSeries

task = st.tuples(st.floats(min_value=0.0, max_value=0.9), st.floats(min_value=0.0, max_value=1e4))
# batches of 32 or more, as the aggregator drains them (smaller ones go task by task)
batches = st.lists(st.lists(task, min_size=32, max_size=80), min_size=2, max_size=6)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches=batches, gap=st.floats(min_value=0.0, max_value=40.0))
def test_adding_a_batch_at_once_equals_adding_each_task(
    batches: list[list[tuple[float, float]]], gap: float
) -> None:
    """add_many (which counts a batch within one bucket at once) equals add, task by task."""
    by_task, by_batch = TaskSeries(max_buckets=8), TaskSeries(max_buckets=8)
    offset = 1_700_000_000.0
    for batch in batches:
        stamps = [offset + t for t, _ in batch]
        durations = [d for _, d in batch]
        for stamp, duration in zip(stamps, durations):
            by_task.add(stamp, duration)
        by_batch.add_many(stamps, durations, list(range(len(batch))))
        offset += gap
    assert by_batch.counts == by_task.counts
    assert by_batch.width == by_task.width
    assert by_batch.totals == pytest.approx(by_task.totals)
