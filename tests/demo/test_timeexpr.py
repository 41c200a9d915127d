"""Time expressions: durations ago, ISO 8601 times, and the ranges they make."""

from __future__ import annotations

import pytest

from demo.errors import BadTimeExpression
from demo.timeexpr import parse_duration, parse_instant, time_range

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("15m", 900.0), ("24h", 86_400.0), ("7d", 604_800.0), ("1.5h", 5400.0),
     ("2w", 1_209_600.0), (" 10M ", 600.0)],
)
def test_durations_are_read_in_their_unit(text: str, seconds: float) -> None:
    """30s, 15m, 24h, 7d (and decimals, weeks, any case) are seconds."""
    assert parse_duration(text) == seconds


def test_a_duration_means_that_long_before_now() -> None:
    """--since 24h starts a day before now and leaves the end open."""
    assert time_range("24h", None, None, NOW) == (NOW - 86_400.0, None)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [("2023-11-14T22:13:20", NOW), ("2023-11-14 22:13:20", NOW), ("2023-11-14T22:13:20Z", NOW),
     ("2023-11-15T00:13:20+02:00", NOW), ("2023-11-14", NOW - 80_000.0)],
)
def test_iso_times_are_utc_unless_they_say_otherwise(text: str, epoch: float) -> None:
    """A naive ISO 8601 time is UTC; Z and offsets are honoured; a date is its midnight."""
    assert parse_instant(text, "--start", now=0.0) == epoch


@pytest.mark.parametrize("text", ["yesterday", "24", "h", "-5m", "3 days", "2023-13-01", ""])
def test_anything_else_is_a_bad_time_expression_naming_the_option(text: str) -> None:
    """A bad expression names the option and what it got."""
    with pytest.raises(BadTimeExpression) as caught:
        time_range(text, None, None, NOW)
    assert caught.value.option == "--since"
    assert repr(text) in str(caught.value)


def test_zero_duration_is_refused() -> None:
    """0s selects nothing and is refused rather than silently empty."""
    with pytest.raises(BadTimeExpression):
        parse_duration("0s")


def test_since_and_start_cannot_be_combined() -> None:
    """--since with --start is ambiguous and refused."""
    with pytest.raises(BadTimeExpression, match="not both"):
        time_range("1h", "2h", None, NOW)


def test_an_end_before_the_start_is_refused() -> None:
    """An empty range is a mistake, not an empty answer."""
    with pytest.raises(BadTimeExpression, match="after the start"):
        time_range(None, "1h", "2h", NOW)


def test_start_and_end_accept_durations_and_times() -> None:
    """--start 2h --end 2023-11-14T22:13:20 mixes both forms."""
    assert time_range(None, "2h", "2023-11-14T22:13:20", NOW) == (NOW - 7200.0, NOW)
