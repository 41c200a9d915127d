"""Every rule of the protocol refuses bad values built in code, naming the field."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import msgspec
import pytest

import messages
from messages import (
    MAX_METADATA_DEPTH,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    AgentMetric,
    AgentRegistered,
    AgentUnregistered,
    Alert,
    HealthChanged,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    to_epoch,
)

T0 = 1_700_000_000.0

GOOD: dict[str, Any] = {
    "task_id": "t",
    "agent_id": "a",
    "duration_ms": 1.0,
    "result": "success",
    "timestamp": T0,
}

BAD_TASK_FIELDS: list[tuple[str, object]] = [
    ("task_id", ""),
    ("task_id", "x" * 257),
    ("task_id", 42),
    ("agent_id", "tab\there"),
    ("agent_id", "bell\x07"),
    ("agent_id", "c1\x85"),
    ("agent_id", None),
    ("duration_ms", -0.001),
    ("duration_ms", math.nan),
    ("duration_ms", math.inf),
    ("duration_ms", "12"),
    ("duration_ms", True),
    ("result", "exploded"),
    ("result", 1),
    ("tokens_used", -1),
    ("tokens_used", 1.5),
    ("tokens_used", False),
    ("files_changed", -2),
    ("timestamp", -1.0),
    ("timestamp", math.nan),
    ("timestamp", "yesterday"),
    ("metadata", {str(i): i for i in range(65)}),
    ("metadata", {"big": "x" * 8200}),
    ("metadata", {1: "int key"}),
    ("metadata", {"obj": object()}),
    ("metadata", ["not", "a", "dict"]),
]


@pytest.mark.parametrize(("field", "value"), BAD_TASK_FIELDS, ids=lambda v: repr(v)[:30])
def test_a_bad_task_metric_field_is_refused_by_name(field: str, value: object) -> None:
    """Each bad value raises InvalidMessage (a ValueError) naming its field."""
    with pytest.raises(InvalidMessage) as caught:
        TaskMetric(**{**GOOD, field: value})
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_limits_are_inclusive() -> None:
    """A 256-character id, 64 metadata keys and zero counts are all accepted."""
    metric = TaskMetric(
        **{**GOOD, "task_id": "x" * 256, "duration_ms": 0, "metadata": {str(i): i for i in range(64)}}
    )
    assert metric.tokens_used == 0
    assert len(metric.metadata) == 64


def test_result_strings_become_enum_members() -> None:
    """A result given as its string is stored as the TaskResult member."""
    assert TaskMetric(**{**GOOD, "result": "timeout"}).result is TaskResult.TIMEOUT


def test_unicode_ids_and_sql_looking_ids_are_plain_data() -> None:
    """Non-ASCII text and SQL fragments are valid ids, kept verbatim."""
    for agent_id in ["agent-ü-🚀", "x'; DROP TABLE task_metrics; --", "<b>*bold*</b>"]:
        assert TaskMetric(**{**GOOD, "agent_id": agent_id}).agent_id == agent_id


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (AgentMetric, {"agent_id": "a", "metric_type": "m", "value": math.nan, "timestamp": T0}, "value"),
        (AgentMetric, {"agent_id": "a", "metric_type": "", "value": 1.0, "timestamp": T0}, "metric_type"),
        (SwarmMetric, {"swarm_id": "s", "metric_type": "m", "value": -math.inf, "timestamp": T0}, "value"),
        (SwarmMetric, {"swarm_id": "", "metric_type": "m", "value": 1.0, "timestamp": T0}, "swarm_id"),
        (Heartbeat, {"agent_id": "a", "timestamp": T0, "metadata": None}, "metadata"),
        (RegisterAgent, {"agent_id": "a", "interval_ms": 0}, "interval_ms"),
        (RegisterAgent, {"agent_id": "a", "interval_ms": 1.5}, "interval_ms"),
        (RegisterAgent, {"agent_id": "a", "failure_threshold": 1}, "failure_threshold"),
        (HealthChanged, {"agent_id": "a", "previous": "healthy", "current": "zombie",
                         "at": T0, "heartbeat_age_ms": 0.0}, "current"),
        (Alert, {"agent_id": "a", "severity": "loud", "message": "m", "at": T0}, "severity"),
    ],
)
def test_other_messages_refuse_bad_fields_by_name(cls: Any, kwargs: dict[str, Any], field: str) -> None:
    """Gauges, heartbeats, registrations and events check their fields too."""
    with pytest.raises(InvalidMessage) as caught:
        cls(**kwargs)
    assert caught.value.field == field


def test_messages_are_frozen() -> None:
    """A message cannot be changed after it is built."""
    metric = TaskMetric(**GOOD)
    with pytest.raises(AttributeError):
        metric.duration_ms = 5.0  # type: ignore[misc]


# Times: one documented range of epoch seconds, for every message that carries one

NOW_MS = 1_764_547_200_000.0  # 2025-12-01 in milliseconds, what time.time() * 1000 gives
TIMED: list[tuple[type[Any], dict[str, Any], str]] = [
    (TaskMetric, GOOD, "timestamp"),
    (AgentMetric, {"agent_id": "a", "metric_type": "m", "value": 1.0, "timestamp": T0}, "timestamp"),
    (SwarmMetric, {"swarm_id": "s", "metric_type": "m", "value": 1.0, "timestamp": T0}, "timestamp"),
    (Heartbeat, {"agent_id": "a", "timestamp": T0}, "timestamp"),
    (HealthChanged, {"agent_id": "a", "previous": "healthy", "current": "degraded", "at": T0,
                     "heartbeat_age_ms": 0.0}, "at"),
    (Alert, {"agent_id": "a", "severity": "info", "message": "m", "at": T0}, "at"),
    (AgentRegistered, {"agent_id": "a", "at": T0, "interval_ms": 1000, "failure_threshold": 3}, "at"),
    (AgentUnregistered, {"agent_id": "a", "at": T0}, "at"),
]


@pytest.mark.parametrize(("cls", "kwargs", "field"), TIMED, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("encoding", [None, "json", "msgpack"])
def test_a_millisecond_timestamp_is_refused_saying_so(
    cls: type[Any], kwargs: dict[str, Any], field: str, encoding: str | None
) -> None:
    """time.time() * 1000 is refused, built in code or decoded, with a text naming milliseconds."""
    with pytest.raises(InvalidMessage) as caught:
        if encoding is None:
            cls(**{**kwargs, field: NOW_MS})
        else:
            good = messages.encode(cls(**kwargs), encoding)  # type: ignore[arg-type]
            raw = msgspec.json.decode(good) if encoding == "json" else msgspec.msgpack.decode(good)
            bad = {**raw, field: NOW_MS}
            data = msgspec.json.encode(bad) if encoding == "json" else msgspec.msgpack.encode(bad)
            messages.decode(data, encoding)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "milliseconds" in str(caught.value) and "out of range" in str(caught.value)


@pytest.mark.parametrize(("cls", "kwargs", "field"), TIMED, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("value", [9.3e18, 1e308, 0.0, 1.0, MIN_TIMESTAMP - 1, MAX_TIMESTAMP + 1])
def test_a_time_outside_the_range_is_refused(
    cls: type[Any], kwargs: dict[str, Any], field: str, value: float
) -> None:
    """Past 2200-01-01 or before 2000-01-01 is refused as out of range, in code and decoded."""
    with pytest.raises(InvalidMessage, match="out of range") as caught:
        cls(**{**kwargs, field: value})
    assert caught.value.field == field
    data = messages.encode(cls(**kwargs), "json").replace(
        f'"{field}":{T0}'.encode(), f'"{field}":{value!r}'.encode()
    )
    assert data != messages.encode(cls(**kwargs), "json")
    with pytest.raises(InvalidMessage, match="out of range") as decoded:
        messages.decode(data, "json")
    assert decoded.value.field == field


@pytest.mark.parametrize(("cls", "kwargs", "field"), TIMED, ids=lambda v: getattr(v, "__name__", ""))
def test_the_time_range_includes_both_ends(cls: type[Any], kwargs: dict[str, Any], field: str) -> None:
    """2000-01-01 and 2200-01-01 themselves are accepted, as numbers and as datetimes."""
    for value in (MIN_TIMESTAMP, MAX_TIMESTAMP, dt.datetime(2000, 1, 1), dt.datetime(2200, 1, 1)):
        message = cls(**{**kwargs, field: value})
        assert getattr(message, field) in (MIN_TIMESTAMP, MAX_TIMESTAMP)
        assert messages.decode(messages.encode(message)) == message


@pytest.mark.parametrize(
    "value", [0, -1.0, 1e308, 9.3e18, NOW_MS, dt.datetime(1970, 1, 1), dt.datetime(9999, 12, 31),
              float("inf"), 2**80]
)
def test_to_epoch_refuses_what_is_out_of_range(value: object) -> None:
    """messages.to_epoch, behind every time argument of the facade and storage, has the same range."""
    with pytest.raises(InvalidMessage) as caught:
        to_epoch("start_time", value)
    assert caught.value.field == "start_time"


def test_to_epoch_refuses_a_datetime_whose_offset_raises() -> None:
    """A tzinfo that raises gives InvalidMessage, not its own exception."""

    class Broken(dt.tzinfo):
        def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
            raise RuntimeError("no offset")

    with pytest.raises(InvalidMessage) as caught:
        to_epoch("end_time", dt.datetime(2024, 1, 1, tzinfo=Broken()))
    assert caught.value.field == "end_time"


# Metadata depth


def _deep(depth: int) -> dict[str, Any]:
    """A dict nested ``depth`` levels deep, the outer one counting 1."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


WITH_METADATA: list[tuple[type[Any], dict[str, Any]]] = [
    (TaskMetric, GOOD),
    (AgentMetric, {"agent_id": "a", "metric_type": "m", "value": 1.0, "timestamp": T0}),
    (SwarmMetric, {"swarm_id": "s", "metric_type": "m", "value": 1.0, "timestamp": T0}),
    (Heartbeat, {"agent_id": "a", "timestamp": T0}),
    (Alert, {"agent_id": "a", "severity": "info", "message": "m", "at": T0}),
    (RegisterAgent, {"agent_id": "a"}),
]


@pytest.mark.parametrize(("cls", "kwargs"), WITH_METADATA, ids=lambda v: getattr(v, "__name__", ""))
def test_metadata_may_nest_32_levels(cls: type[Any], kwargs: dict[str, Any]) -> None:
    """32 levels (the metadata dict counting one) are accepted and survive a round trip."""
    assert MAX_METADATA_DEPTH == 32
    message = cls(**{**kwargs, "metadata": _deep(32)})
    assert messages.decode(messages.encode(message, "json"), "json") == message


@pytest.mark.parametrize(("cls", "kwargs"), WITH_METADATA, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("depth", [33, 990, 999, 5000, 100_000])
def test_deeper_metadata_is_refused_by_name_at_any_depth(
    cls: type[Any], kwargs: dict[str, Any], depth: int
) -> None:
    """Past 32 levels: InvalidMessage naming metadata and the limit, never a RecursionError,
    whether built in code or decoded from JSON."""
    with pytest.raises(InvalidMessage) as caught:
        cls(**{**kwargs, "metadata": _deep(depth)})
    assert caught.value.field == "metadata"
    assert "32 levels" in str(caught.value)
    good = messages.encode(cls(**kwargs), "json")
    data = good.replace(b'"metadata":{}', b'"metadata":' + b'{"d":' * (depth - 1) + b"{}" + b"}" * (depth - 1))
    assert data != good
    with pytest.raises(InvalidMessage) as decoded:
        messages.decode(data, "json")
    assert decoded.value.field in ("metadata", "message")


def test_deep_lists_count_as_levels_too() -> None:
    """Lists nest like dicts: 33 levels of lists inside the metadata are refused."""
    value: Any = []
    for _ in range(30):
        value = [value]
    TaskMetric(**{**GOOD, "metadata": {"l": value}})  # 1 dict + 31 lists
    with pytest.raises(InvalidMessage, match="32 levels"):
        TaskMetric(**{**GOOD, "metadata": {"l": [value]}})


def test_a_metadata_cycle_is_refused() -> None:
    """A dict that contains itself is refused as too deep, not a RecursionError."""
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(InvalidMessage) as caught:
        Heartbeat(agent_id="a", timestamp=T0, metadata=cyclic)
    assert caught.value.field == "metadata"


# Exact types


class _LooksLikeSuccess:
    """Hashes and compares equal to "success" without being a str."""

    def __hash__(self) -> int:
        return hash("success")

    def __eq__(self, other: object) -> bool:
        return other == "success"


class _Str(str):
    """A str subclass."""


@pytest.mark.parametrize("result", [_LooksLikeSuccess(), _Str("success")], ids=["eq", "str-subclass"])
def test_a_result_must_be_a_real_str_or_member(result: object) -> None:
    """An object merely equal to a result value is refused naming result."""
    with pytest.raises(InvalidMessage) as caught:
        TaskMetric(**{**GOOD, "result": result})
    assert caught.value.field == "result"


def test_an_agent_id_must_be_a_real_str() -> None:
    """A str subclass is refused as an id, even when equal to a valid one."""
    with pytest.raises(InvalidMessage) as caught:
        TaskMetric(**{**GOOD, "agent_id": _Str("a")})
    assert caught.value.field == "agent_id"


def _even(field: str, value: object) -> object:
    if type(value) is not int or value % 2:
        raise messages.InvalidMessage(field, value, "must be even")
    return value


def _doubled_text(field: str, value: object) -> object:
    return str(value) * 2


_EVEN = messages.constraints.Rule(metas=(msgspec.Meta(ge=0),), check=_even)
_TEXT = messages.constraints.Rule(metas=(), check=_doubled_text)


class _Ruled(messages.base.Message, tag="ruled_test", kw_only=True, frozen=True):
    n: Annotated[int, msgspec.Meta(ge=0), _EVEN]
    label: Annotated[str, _TEXT] = "x"
    free: int = 0


def test_a_messages_checks_are_the_rules_its_field_types_carry() -> None:
    """checker(struct) runs each field's Rule in field order, keeps what it returns, skips plain fields."""
    assert messages.constraints.rules_of(_Ruled) == {"n": _EVEN, "label": _TEXT}
    check = messages.constraints.checker(_Ruled)
    built = _Ruled(n=4, label="ab", free=-1)  # no __post_init__ of its own: nothing checked yet
    check(built)
    assert (built.n, built.label, built.free) == (4, "abab", -1)
    with pytest.raises(messages.InvalidMessage) as caught:
        check(_Ruled(n=3))
    assert caught.value.field == "n"

