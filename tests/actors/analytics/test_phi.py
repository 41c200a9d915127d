"""The phi-accrual detector: Akka's formula, its inverse, the guard, constant memory."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.analytics.detector import FixedDetector, PhiDetector
from actors.analytics.phi import PhiAccrual, PhiSettings
from messages import HealthState


def _steady(gap: float, n: int = 50, **settings: object) -> PhiAccrual:
    phi = PhiAccrual(interval=gap, settings=PhiSettings(**settings))  # type: ignore[arg-type]
    for _ in range(n):
        phi.add_gap(gap)
    return phi


def test_phi_is_minus_log10_of_the_normal_tail() -> None:
    """phi(t) = -log10(1 - F(t)) with F normal(mean + pause, std)."""
    phi = PhiAccrual(interval=1.0, settings=PhiSettings(min_std=0.01, guard=False))
    for gap in (0.9, 1.1) * 100:
        phi.add_gap(gap)
    mean, std = phi.mean, phi.std
    for t in (0.5, 1.0, 1.2, 1.4):
        tail = 0.5 * math.erfc((t - mean) / std / math.sqrt(2))
        assert phi.phi(t) == pytest.approx(-math.log10(tail), rel=1e-9)
    assert phi.phi(mean) == pytest.approx(math.log10(2), rel=1e-6)  # half the mass is past the mean


@given(st.floats(min_value=0.1, max_value=30.0), st.floats(min_value=0.2, max_value=16.0))
def test_silence_for_inverts_phi(interval: float, level: float) -> None:
    """The closed-form moment a level is crossed is where phi equals that level."""
    phi = PhiAccrual(interval=interval, settings=PhiSettings(guard=False))
    for k in range(40):
        phi.add_gap(interval * (1 + 0.05 * math.sin(k)))
    t = phi.silence_for(level)
    assert phi.phi(t) == pytest.approx(level, rel=1e-6)
    assert phi.phi(t * 0.999) < level


def test_min_std_keeps_a_regular_agent_from_conviction_by_milliseconds() -> None:
    """With identical gaps the spread is its floor (100 ms), not 0."""
    phi = _steady(1.0)
    assert phi.std == pytest.approx(0.1, rel=0.05)
    assert phi.phi(1.05) < 1.0


def test_acceptable_pause_shifts_every_threshold() -> None:
    """acceptable_pause is added to the mean before phi is computed (Akka)."""
    plain = _steady(5.0, guard=False)
    paused = _steady(5.0, guard=False, acceptable_pause=3.0)
    assert paused.silence_for(8.0) == pytest.approx(plain.silence_for(8.0) + 3.0)


def test_guard_holds_failed_back_until_the_longest_recent_gap_passed() -> None:
    """A silence the agent recently ended with a beat is not taken for its death."""
    phi = _steady(5.0, n=200)
    unguarded = _steady(5.0, n=200, guard=False)
    phi.add_gap(8.0)
    unguarded.add_gap(8.0)
    assert phi.silence_for(8.0) >= 8.0 * 1.1
    assert unguarded.silence_for(8.0) < phi.silence_for(8.0)
    assert phi.silence_for(1.0) == pytest.approx(unguarded.silence_for(1.0))  # only FAILED


def test_guard_forgets_a_long_gap_after_guard_samples_beats_and_is_capped() -> None:
    """One wild gap cannot blind the detector: capped at 3 x mean, gone after the window."""
    phi = _steady(1.0, n=20, guard_samples=10)
    unguarded = _steady(1.0, n=20, guard=False)
    phi.add_gap(60.0)
    unguarded.add_gap(60.0)
    assert phi.longest_recent == 60.0
    assert phi.silence_for(8.0) == pytest.approx(
        max(unguarded.silence_for(8.0), min(66.0, 3.0 * phi.mean)))
    for _ in range(10):
        phi.add_gap(1.0)
    assert phi.longest_recent == 1.0


def test_window_is_bounded_by_max_samples() -> None:
    """Old gaps leave the window: the mean follows the last max_samples gaps."""
    phi = PhiAccrual(interval=1.0, settings=PhiSettings(max_samples=10))
    for _ in range(50):
        phi.add_gap(1.0)
    for _ in range(10):
        phi.add_gap(3.0)
    assert phi.mean == pytest.approx(3.0)
    assert phi.samples == 60


def test_bad_gaps_are_ignored() -> None:
    """A negative, NaN or infinite gap never poisons the window."""
    phi = _steady(1.0)
    before = (phi.mean, phi.std)
    for bad in (-1.0, math.nan, math.inf):
        phi.add_gap(bad)
    assert (phi.mean, phi.std) == before


@pytest.mark.parametrize(
    "settings",
    [dict(threshold=0), dict(min_std=-1), dict(acceptable_pause=-0.1), dict(max_samples=1),
     dict(degraded_phi=5, critical_phi=3), dict(guard="yes"), dict(guard_cap=0.5),
     dict(threshold=math.nan)],
)
def test_settings_out_of_range_are_refused_by_name(settings: dict[str, object]) -> None:
    """Each bad setting is refused with its name in the message."""
    with pytest.raises(ValueError, match=next(iter(settings))):
        PhiSettings(**settings)  # type: ignore[arg-type]


def test_detectors_give_rising_boundaries() -> None:
    """DEGRADED < CRITICAL < FAILED for both detectors; fixed keeps today's multiples."""
    fixed = FixedDetector(interval=5.0, threshold=3)
    assert [fixed.boundary(s) for s in (HealthState.DEGRADED, HealthState.CRITICAL,
                                        HealthState.FAILED)] == [5.0, 10.0, 15.0]
    phi = PhiDetector(interval=1.0)
    for _ in range(30):
        phi.add_gap(1.0)
    d, c, f = (phi.boundary(s) for s in (HealthState.DEGRADED, HealthState.CRITICAL,
                                         HealthState.FAILED))
    assert 1.0 < d < c < f < 2.0
    assert phi.phi(f) == pytest.approx(8.0, rel=1e-6)
    assert fixed.phi(3.0) is None
