"""Tests for storage/histogram.py: LogHistogram buckets, quantiles, merging, encoding."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.histogram import (
    GAMMA,
    RELATIVE_ACCURACY,
    LogHistogram,
    linear_position,
    linear_quantile,
    nearest_rank,
)

from .builders import linear as exact_quantile

durations = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
quantiles = st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0])


def histogram_of(values: list[float]) -> LogHistogram:
    """A histogram with every value added one by one."""
    histogram = LogHistogram()
    for value in values:
        histogram.add(value)
    return histogram


def test_relative_accuracy_is_well_inside_one_percent() -> None:
    """gamma follows from the accuracy and leaves room under the promised 1%."""
    assert GAMMA == pytest.approx((1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY))
    assert RELATIVE_ACCURACY <= 0.005


def test_nearest_rank_reads_quantiles_as_decimals() -> None:
    """0.9 of 10 is rank 9 (binary 0.9 * 10 would round up to 10); ranks start at 1."""
    assert nearest_rank(0.9, 10) == 9
    assert nearest_rank(0.95, 20) == 19
    assert nearest_rank(0.5, 4) == 2
    assert nearest_rank(0.0, 5) == 1
    assert nearest_rank(1.0, 5) == 5


@pytest.mark.parametrize(("q", "n"), [(-0.1, 5), (1.5, 5), (0.5, 0)])
def test_nearest_rank_refuses_bad_quantiles_and_empty_sets(q: float, n: int) -> None:
    """A quantile outside [0, 1] or an empty set has no rank."""
    with pytest.raises(ValueError):
        nearest_rank(q, n)


def test_linear_position_reads_quantiles_as_decimals() -> None:
    """0.9 of 11 values is position 9 exactly (binary 0.9 * 10 is a hair above 9)."""
    assert linear_position(0.9, 11) == (9, 0.0)
    assert linear_position(0.5, 2) == (0, 0.5)
    assert linear_position(0.5, 5) == (2, 0.0)
    assert linear_position(0.95, 5) == (3, pytest.approx(0.8))
    assert linear_position(1.0, 5) == (4, 0.0)


def test_linear_quantile_interpolates_between_the_closest_ranks() -> None:
    """The median of an even count is the mean of the two middle values (numpy's default)."""
    assert linear_quantile([1000.0, 2000.0], 0.5) == 1500.0
    assert linear_quantile([1000.0, 1200.0, 1400.0, 1600.0, 1800.0], 0.5) == 1400.0
    assert linear_quantile([100.0, 200.0, 300.0, 400.0, 1000.0], 0.95) == pytest.approx(880.0)
    assert linear_quantile([7.0], 0.99) == 7.0


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(durations, min_size=1, max_size=300), quantiles)
def test_quantile_is_within_half_a_percent_of_the_exact_linear_value(
    values: list[float], q: float
) -> None:
    """Any quantile of any data is within RELATIVE_ACCURACY of the exact interpolated value."""
    estimate = histogram_of(values).quantile(q)
    exact = exact_quantile(values, q)
    assert math.isclose(estimate, exact, rel_tol=RELATIVE_ACCURACY * 1.0001, abs_tol=1e-9)


def test_zero_has_its_own_bucket_and_quantile() -> None:
    """Zeros are counted apart; a quantile between zeros is exactly 0."""
    histogram = histogram_of([0.0, 0.0, 0.0, 5.0])
    assert histogram.zero_count == 3
    assert histogram.count() == 4
    assert histogram.quantile(0.5) == 0.0
    assert histogram.quantile(0.75) == pytest.approx(1.25, rel=RELATIVE_ACCURACY)
    assert histogram.quantile(1.0) == pytest.approx(5.0, rel=RELATIVE_ACCURACY)


@pytest.mark.parametrize("bad", [-1.0, -1e-300, math.nan])
def test_negative_or_nan_values_are_refused(bad: float) -> None:
    """A duration below zero or NaN raises ValueError and changes nothing."""
    histogram = histogram_of([1.0])
    with pytest.raises(ValueError):
        histogram.add(bad)
    with pytest.raises(ValueError):
        histogram.add_many([2.0, bad])
    assert histogram == histogram_of([1.0])


def test_empty_histogram_has_no_quantile() -> None:
    """Asking an empty histogram for a quantile raises ValueError."""
    with pytest.raises(ValueError):
        LogHistogram().quantile(0.5)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(durations, max_size=100), st.lists(durations, max_size=100))
def test_merging_equals_adding_everything_to_one(left: list[float], right: list[float]) -> None:
    """merge(a, b) has exactly the buckets of one histogram fed a and b."""
    merged = histogram_of(left)
    merged.merge(histogram_of(right))
    assert merged == histogram_of(left + right)
    assert merged.count() == len(left) + len(right)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(durations, max_size=200))
def test_add_many_equals_adding_one_by_one(values: list[float]) -> None:
    """add_many (counted in C) gives the buckets add gives."""
    bulk = LogHistogram()
    bulk.add_many(values)
    assert bulk == histogram_of(values)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(durations, max_size=200))
def test_bytes_round_trip(values: list[float]) -> None:
    """from_bytes(to_bytes(h)) equals h."""
    histogram = histogram_of(values)
    assert LogHistogram.from_bytes(histogram.to_bytes()) == histogram


def test_encoding_is_compact() -> None:
    """A day of skewed durations encodes in a few kilobytes, not per value."""
    rng = random.Random(7)
    histogram = histogram_of([rng.lognormvariate(6.0, 1.5) for _ in range(50_000)])
    assert len(histogram.to_bytes()) < 8_000


def test_quantiles_of_a_large_skewed_sample_match_exact_values() -> None:
    """p50/p90/p95/p99 of 50,000 log-normal durations are within 0.5% of exact."""
    rng = random.Random(11)
    values = [rng.lognormvariate(5.0, 2.0) for _ in range(50_000)]
    histogram = histogram_of(values)
    for q in (0.5, 0.9, 0.95, 0.99):
        assert math.isclose(
            histogram.quantile(q), exact_quantile(values, q), rel_tol=RELATIVE_ACCURACY
        )


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(durations, min_size=1, max_size=200), st.lists(quantiles, min_size=1, max_size=6))
def test_several_quantiles_at_once_match_the_exact_values(
    values: list[float], qs: list[float]
) -> None:
    """quantiles(qs), in any order and with repeats, gives each exact value within accuracy."""
    estimates = histogram_of(values).quantiles(qs)
    for q, estimate in zip(qs, estimates, strict=True):
        exact = exact_quantile(values, q)
        assert math.isclose(estimate, exact, rel_tol=RELATIVE_ACCURACY * 1.0001, abs_tol=1e-9)


@given(st.lists(st.floats(min_value=0.0, max_value=1e7, allow_nan=False), max_size=200))
def test_cumulative_counts_each_value_at_its_representative(values: list[float]) -> None:
    """cumulative(bounds) counts the values whose quantile representative is at most each bound."""
    h = histogram_of(values)
    bounds = [0.0, 1.0, 5.0, 250.0, 1000.0, 60_000.0]
    expected = []
    for bound in bounds:
        at_most = sum(1 for v in values if v <= bound * (1 - RELATIVE_ACCURACY))
        up_to = sum(1 for v in values if v <= bound * (1 + 2 * RELATIVE_ACCURACY))
        expected.append((at_most, up_to))
    counts = h.cumulative(bounds)
    assert counts == sorted(counts)
    for count, (low, high) in zip(counts, expected):
        assert low <= count <= high


def test_cumulative_refuses_bounds_out_of_order() -> None:
    """Bounds must ascend from zero: a histogram's buckets cannot be read otherwise."""
    with pytest.raises(ValueError, match="ascending"):
        LogHistogram().cumulative([5.0, 1.0])
    with pytest.raises(ValueError, match="ascending"):
        LogHistogram().cumulative([-1.0])


@settings(max_examples=300, deadline=None, database=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=1, max_value=2**62))
def test_linear_position_is_the_decimal_quantile_times_n_minus_one(q: float, n: int) -> None:
    """The lower rank and weight are those of Fraction(repr(q)) * (n - 1), to the last bit."""
    position = Fraction(repr(q)) * (n - 1)
    lower = math.floor(position)
    assert linear_position(q, n) == (lower, float(position - lower))
