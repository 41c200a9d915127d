"""Robust statistics: modified z-scores, the recent window, outliers among peers."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.analytics.robust import RecentWindow, modified_z, peer_outliers, spread


def test_modified_z_is_iglewicz_hoaglin() -> None:
    """0.6745 * (x - median) / MAD."""
    median, mad, mean_ad = spread([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (median, mad) == (3.0, 1.0)
    assert modified_z(100.0, median, mad, mean_ad) == pytest.approx(0.6745 * 97.0)


def test_zero_mad_falls_back_to_mean_absolute_deviation_then_infinity() -> None:
    """More than half equal: the mean absolute deviation stands in; all equal: any other is far."""
    median, mad, mean_ad = spread([5.0, 5.0, 5.0, 6.0])
    assert mad == 0.0 and mean_ad > 0.0
    assert 0 < modified_z(6.0, median, mad, mean_ad) < math.inf
    median, mad, mean_ad = spread([5.0] * 4)
    assert modified_z(5.0, median, mad, mean_ad) == 0.0
    assert modified_z(5.1, median, mad, mean_ad) == math.inf


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=60),
       st.integers(min_value=3, max_value=20))
def test_window_keeps_the_last_values_and_their_median(values: list[float], size: int) -> None:
    """The window holds the last `size` values in order; median/percentile match a sort."""
    window = RecentWindow(size)
    for v in values:
        window.add(v)
    kept = values[-size:]
    assert window.values() == kept
    ordered = sorted(kept)
    mid = len(ordered) // 2
    expected = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    assert window.median() == pytest.approx(expected)
    assert window.percentile(0) == ordered[0] and window.percentile(100) == ordered[-1]


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    """numpy's default: the 50th of [1000, 2000] is 1500, the 90th of 1..10 is 9.1."""
    w = RecentWindow(10)
    for v in (1000.0, 2000.0):
        w.add(v)
    assert w.percentile(50) == 1500.0
    w = RecentWindow(10)
    for v in range(1, 11):
        w.add(float(v))
    assert w.percentile(90) == pytest.approx(9.1)


def test_empty_window_and_non_finite_values() -> None:
    """An empty window answers nan/0; NaN and inf never enter it."""
    w = RecentWindow(3)
    assert math.isnan(w.median()) and w.z_score(5.0) == 0.0
    w.add(math.nan)
    w.add(math.inf)
    assert len(w) == 0
    with pytest.raises(ValueError, match="size"):
        RecentWindow(2)


def test_peer_outlier_needs_three_peers_and_a_real_difference() -> None:
    """One slow agent among peers is found; too few peers or identical peers flag nothing."""
    rng = random.Random(3)
    peers = {f"coder-{i}": 1000 + rng.gauss(0, 40) for i in range(6)}
    assert peer_outliers(peers) == {}
    assert list(peer_outliers({**peers, "coder-slow": 2500.0})) == ["coder-slow"]
    assert peer_outliers({"a": 1.0, "b": 1.0, "c": 50.0}) == {}  # only two peers each
    assert peer_outliers({"a": 100.0, "b": 100.0, "c": 100.0, "d": 101.0}) == {}  # within 25%
    assert list(peer_outliers({"a": 100.0, "b": 100.0, "c": 100.0, "d": 300.0})) == ["d"]


def test_peer_outliers_low_values_only_when_asked() -> None:
    """A fast agent is not a bottleneck unless high_only is off."""
    peers = {"a": 100.0, "b": 105.0, "c": 98.0, "d": 102.0, "fast": 5.0}
    assert peer_outliers(peers) == {}
    assert list(peer_outliers(peers, high_only=False)) == ["fast"]


def _peer_outliers_by_brute_force(values: dict[str, float], threshold: float = 3.5,
                                  min_peers: int = 3, min_ratio: float = 1.25) -> dict[str, float]:
    """Each member against a fresh sort of the others: the definition, quadratic."""
    found = {}
    for key, value in values.items():
        median, mad, mean_ad = spread(v for k, v in values.items() if k != key)
        z = modified_z(value, median, mad, mean_ad)
        floor = median * min_ratio if median > 0 else median + 0.05
        if not (z > 0 and value < floor) and z > threshold:
            found[key] = z
    return found


@given(st.lists(st.sampled_from([90.0, 100.0, 100.0, 110.0, 120.0, 300.0, 1000.0])
                | st.floats(min_value=0.0, max_value=1e4), min_size=4, max_size=40))
def test_peer_outliers_are_the_leave_one_out_definition(values: list[float]) -> None:
    """Scored with at most three sorts, each member's z is the one a sort of the others gives
    (ties, equal values and zero MADs included)."""
    peers = {f"a{i}": v for i, v in enumerate(values)}
    expected = _peer_outliers_by_brute_force(peers)
    got = peer_outliers(peers)
    assert got.keys() == expected.keys()
    for key, z in expected.items():
        assert got[key] == pytest.approx(z, rel=1e-9) or got[key] == z
