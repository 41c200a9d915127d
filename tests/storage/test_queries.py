"""Tests for storage/queries.py: argument checks shared by every query."""

from __future__ import annotations

import datetime as dt

import pytest

from messages import AlertSeverity, InvalidMessage, TaskResult
from storage.queries import check_limit, enum_value, time_bound


def test_time_bounds_accept_epoch_seconds_and_datetimes() -> None:
    """Numbers pass through as floats; datetimes become epoch seconds, naive meaning UTC."""
    assert time_bound("start_time", None) is None
    assert time_bound("start_time", 1_700_000_010) == 1_700_000_010.0
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert time_bound("start_time", aware) == aware.timestamp()
    assert time_bound("start_time", aware.replace(tzinfo=None)) == aware.timestamp()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "yesterday", True])
def test_bad_time_bounds_are_refused_naming_the_argument(bad: object) -> None:
    """A bound that is not a time raises InvalidMessage for that argument."""
    with pytest.raises(InvalidMessage) as info:
        time_bound("end_time", bad)
    assert info.value.field == "end_time"


def test_limit_none_means_no_limit() -> None:
    """None becomes SQLite's -1; a number stays."""
    assert check_limit(None) == -1
    assert check_limit(0) == 0
    assert check_limit(5) == 5


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_limits_are_refused(bad: object) -> None:
    """A limit must be None or an int >= 0."""
    with pytest.raises(InvalidMessage):
        check_limit(bad)  # type: ignore[arg-type]


def test_enum_filters_accept_members_and_values() -> None:
    """A result or severity filter may be the enum member or its string."""
    assert enum_value("result", TaskResult.TIMEOUT, TaskResult) == "timeout"
    assert enum_value("result", "timeout", TaskResult) == "timeout"
    assert enum_value("severity", AlertSeverity.INFO, AlertSeverity) == "info"


def test_unknown_enum_filters_are_refused_listing_the_values() -> None:
    """An unknown result raises InvalidMessage listing the allowed ones."""
    with pytest.raises(InvalidMessage, match="success, failure"):
        enum_value("result", "great", TaskResult)
