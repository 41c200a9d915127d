"""Page-Hinkley shifts, heartbeat-gap trends, stuck limits, slow bursts, costs."""

from __future__ import annotations

import math
import random

import pytest

from actors.analytics.cost import Price, parse_prices, task_cost
from actors.analytics.pagehinkley import FAILURE_SHIFT, P95_SHIFT, PageHinkley, ShiftSettings
from actors.analytics.stuck import SLOW_MIN_SAMPLES, KindStats, StuckSettings, stuck_after
from actors.analytics.trend import GapTrend


def _first_alarm(ph: PageHinkley, values: list[float]) -> int | None:
    for i, v in enumerate(values):
        if ph.update(v):
            return i
    return None


def test_page_hinkley_matches_rivers_update_in_absolute_mode() -> None:
    """river's defaults: 30 warm-up values, delta 0.005, threshold 50, in the stream's units."""
    ph = PageHinkley(ShiftSettings())
    assert _first_alarm(ph, [1.0] * 100) is None
    alarm = _first_alarm(ph, [10.0] * 20)
    # after the step each value adds about (10 - mean) - delta: 50 is passed on the 7th
    assert alarm is not None and alarm <= 7


def test_p95_shift_finds_a_step_and_not_noise() -> None:
    """A +50% step in per-minute p95 is found within 15 minutes; a day of noise never alarms."""
    rng = random.Random(11)
    noise = [1000 * math.exp(rng.gauss(0, 0.1)) for _ in range(1440)]
    assert _first_alarm(PageHinkley(P95_SHIFT), noise) is None
    step = noise[:60] + [v * 1.5 for v in noise[60:120]]
    alarm = _first_alarm(PageHinkley(P95_SHIFT), step)
    assert alarm is not None and 60 <= alarm < 75


def test_failure_shift_finds_a_rise_in_failure_rate() -> None:
    """Failure rate 5% -> 35% is found; steady 5% with sampling noise is not."""
    rng = random.Random(5)
    steady = [sum(rng.random() < 0.05 for _ in range(30)) / 30 for _ in range(1440)]
    assert _first_alarm(PageHinkley(FAILURE_SHIFT), steady) is None
    rise = steady[:60] + [sum(rng.random() < 0.35 for _ in range(30)) / 30 for _ in range(30)]
    alarm = _first_alarm(PageHinkley(FAILURE_SHIFT), rise)
    assert alarm is not None and 60 <= alarm < 75


def test_page_hinkley_ignores_non_finite_and_refuses_bad_settings() -> None:
    """NaN never alarms; a negative threshold is refused by name."""
    ph = PageHinkley(ShiftSettings(min_instances=1))
    assert ph.update(math.nan) is False
    with pytest.raises(ValueError, match="threshold"):
        PageHinkley(ShiftSettings(threshold=-1.0))


def test_gap_trend_warns_before_the_interval_and_settles() -> None:
    """Gaps drifting from 4 s towards 5 s warn before any reaches 5 s; steady gaps never warn."""
    rng = random.Random(2)
    trend = GapTrend()
    changes = [trend.add(4.0 + rng.gauss(0, 0.1)) for _ in range(200)]
    assert not any(changes)
    warned_at = None
    for i in range(40):
        gap = 4.0 + 0.025 * i
        if trend.add(gap) and trend.at_risk:
            warned_at = gap
            break
    assert warned_at is not None and warned_at < 5.0
    assert "rising" in trend.reason
    settled = [trend.add(4.0) for _ in range(100)]
    assert any(settled) and not trend.at_risk


def test_gap_trend_warns_on_jitter() -> None:
    """The same mean with a much wider spread is a warning too."""
    rng = random.Random(9)
    trend = GapTrend()
    for _ in range(200):
        trend.add(5.0 + rng.gauss(0, 0.05))
    assert any(trend.add(5.0 + rng.choice((-1.5, 1.5))) for _ in range(30))
    assert trend.at_risk


def test_stuck_limit_is_the_smaller_of_fixed_and_k_times_p99() -> None:
    """A fixed limit applies at once; k x p99 only after min_samples."""
    stats = KindStats()
    settings = StuckSettings(limit_s=600.0, kind_limits_s={"review": 30.0})
    assert stuck_after("code", stats, settings) == 600.0
    assert stuck_after("review", stats, settings) == 30.0
    assert stuck_after("code", None, StuckSettings()) is None
    for _ in range(19):
        stats.observe(1000.0)
    assert stuck_after("code", stats, StuckSettings()) is None
    stats.observe(2000.0)
    limit = stuck_after("code", stats, StuckSettings())
    assert limit == pytest.approx(3 * stats.percentile_ms(99) / 1000.0)
    assert stuck_after("code", stats, settings) == pytest.approx(limit)  # smaller than 600


def test_a_burst_of_slow_tasks_is_one_incident() -> None:
    """Ten slow tasks in a row open one incident that closes after five normal ones."""
    rng = random.Random(4)
    stats = KindStats()
    for _ in range(SLOW_MIN_SAMPLES):
        assert stats.observe(1000 + rng.gauss(0, 50)) is None
    events = [stats.observe(5000.0) for _ in range(10)]
    assert [e[0] for e in events if e] == ["opened"]
    after = [stats.observe(1000.0) for _ in range(5)]
    closed = [e for e in after if e]
    assert len(closed) == 1 and closed[0][0] == "closed" and closed[0][1].count == 10
    assert stats.slow_tasks == 10


def test_no_task_is_scored_slow_before_the_warm_up() -> None:
    """Two tasks 2.5 x the median after 99 others: no incident yet, as a MAD of so few is
    too uncertain; after 100, the same two open one."""
    rng = random.Random(8)
    early = KindStats()
    for _ in range(SLOW_MIN_SAMPLES - 1):
        early.observe(1000.0 * math.exp(rng.gauss(0.0, 0.25)))
    assert [early.observe(2500.0), early.observe(2500.0)] == [None, None]
    assert early.slow_tasks == 0
    warm = KindStats()
    for _ in range(SLOW_MIN_SAMPLES):
        warm.observe(1000.0 * math.exp(rng.gauss(0.0, 0.25)))
    events = [warm.observe(3500.0), warm.observe(3500.0)]
    assert [e[0] for e in events if e] == ["opened"]


def test_noise_alone_opens_no_slow_incident_in_new_streams() -> None:
    """300 new streams of 200 log-normal tasks (sigma 0.25, as the bench's swarms): no
    incident, warm-up included (with the old 20-task warm-up, this seed gave three)."""
    rng = random.Random(0)
    opened = 0
    for _ in range(300):
        stats = KindStats()
        scale = rng.uniform(500.0, 5000.0)
        for _ in range(200):
            event = stats.observe(scale * math.exp(rng.gauss(0.0, 0.25)))
            opened += event is not None and event[0] == "opened"
    assert opened == 0


def test_one_moderately_slow_task_is_flagged_but_opens_no_incident() -> None:
    """A lone task just past 3.5 is counted; a lone task past 7 opens an incident at once."""
    stats = KindStats()
    for i in range(SLOW_MIN_SAMPLES):
        stats.observe(1000.0 * (1.1 if i % 2 else 0.9))
    assert stats.observe(1700.0) is None and stats.slow_tasks == 1
    for _ in range(5):
        stats.observe(1000.0)
    event = stats.observe(20_000.0)
    assert event is not None and event[0] == "opened"


def test_cost_from_metadata_and_price_table() -> None:
    """tokens_in/out at per-million prices; an unknown model has no cost, not 0."""
    prices = parse_prices({"gpt-4o": {"input": 2.5, "output": 10.0}})
    assert prices == {"gpt-4o": Price(2.5, 10.0)}
    cost = task_cost({"model": "gpt-4o", "tokens_in": 1000, "tokens_out": 500}, prices)
    assert cost == pytest.approx(0.0075)
    assert task_cost({"model": "other", "tokens_in": 5}, prices) is None
    assert task_cost({}, prices) is None
    assert task_cost({"model": "gpt-4o", "tokens_in": -1}, prices) is None


@pytest.mark.parametrize("raw, key", [
    ({"m": {"input": -1}}, "prices.m.input"),
    ({"m": {"input": 1, "outptu": 2}}, "prices.m"),
    ({"m": 3}, "prices.m"),
    ({"": {"input": 1}}, "model name"),
])
def test_bad_price_tables_are_refused_by_key_path(raw: dict[str, object], key: str) -> None:
    """Each mistake names where it is."""
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        parse_prices(raw)
