"""Every rule of the protocol refuses bad values built in code, naming the field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from messages import (
    AgentMetric,
    Alert,
    HealthChanged,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    SwarmMetric,
    TaskMetric,
    TaskResult,
)

GOOD: dict[str, Any] = {
    "task_id": "t",
    "agent_id": "a",
    "duration_ms": 1.0,
    "result": "success",
    "timestamp": 1.0,
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
        (AgentMetric, {"agent_id": "a", "metric_type": "m", "value": math.nan, "timestamp": 1.0}, "value"),
        (AgentMetric, {"agent_id": "a", "metric_type": "", "value": 1.0, "timestamp": 1.0}, "metric_type"),
        (SwarmMetric, {"swarm_id": "s", "metric_type": "m", "value": -math.inf, "timestamp": 1.0}, "value"),
        (SwarmMetric, {"swarm_id": "", "metric_type": "m", "value": 1.0, "timestamp": 1.0}, "swarm_id"),
        (Heartbeat, {"agent_id": "a", "timestamp": 1.0, "metadata": None}, "metadata"),
        (RegisterAgent, {"agent_id": "a", "interval_ms": 0}, "interval_ms"),
        (RegisterAgent, {"agent_id": "a", "interval_ms": 1.5}, "interval_ms"),
        (RegisterAgent, {"agent_id": "a", "failure_threshold": 1}, "failure_threshold"),
        (HealthChanged, {"agent_id": "a", "previous": "healthy", "current": "zombie",
                         "at": 1.0, "heartbeat_age_ms": 0.0}, "current"),
        (Alert, {"agent_id": "a", "severity": "loud", "message": "m", "at": 1.0}, "severity"),
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
