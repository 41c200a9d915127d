"""Round trips through both encodings, and decoding errors that name the field."""

from __future__ import annotations

import datetime as dt

import pytest

import messages
from messages import (
    AgentMetric,
    AgentRegistered,
    AgentUnregistered,
    Alert,
    AlertSeverity,
    Crash,
    HealthChanged,
    HealthState,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    RegisterAgents,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    UnregisterAgent,
)

T0 = 1_700_000_000.0

EXAMPLES: list[messages.AnyMessage] = [
    TaskMetric(
        task_id="t-1",
        agent_id="backend",
        duration_ms=1234.5,
        result=TaskResult.PARTIAL,
        tokens_used=900,
        files_changed=3,
        timestamp=1_700_000_000.25,
        metadata={"model": "m", "nested": {"a": [1, 2.5, None, True]}},
    ),
    AgentMetric(agent_id="a", metric_type="queue_depth", value=-3.5, timestamp=T0 + 1),
    SwarmMetric(swarm_id="s", metric_type="topology_health", value=0.97, timestamp=T0 + 2),
    Heartbeat(agent_id="tester", timestamp=T0 + 3, metadata={"load": 0.5}),
    RegisterAgent(agent_id="r", interval_ms=500, failure_threshold=4),
    RegisterAgents(agents=(RegisterAgent(agent_id="r1"), RegisterAgent(agent_id="r2"))),
    UnregisterAgent(agent_id="r"),
    HealthChanged(
        agent_id="a",
        previous=HealthState.HEALTHY,
        current=HealthState.DEGRADED,
        at=T0 + 4,
        heartbeat_age_ms=5000.0,
    ),
    Alert(agent_id="*", severity=AlertSeverity.CRITICAL, message="down", at=T0 + 5),
    AgentRegistered(agent_id="a", at=T0 + 6, interval_ms=5000, failure_threshold=3),
    AgentUnregistered(agent_id="a", at=T0 + 7),
    Crash(reason="test"),
]


@pytest.mark.parametrize("format", ["msgpack", "json"])
@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_survives_a_round_trip(message: messages.AnyMessage, format: messages.Format) -> None:
    """Encoding then decoding gives back an equal message of the same type."""
    decoded = messages.decode(messages.encode(message, format), format)
    assert type(decoded) is type(message)
    assert decoded == message


def test_a_mixed_stream_decodes_into_the_right_types() -> None:
    """The tag lets each message of a mixed list decode into its own class."""
    decoded = [messages.decode(messages.encode(m)) for m in EXAMPLES]
    assert [type(m) for m in decoded] == [type(m) for m in EXAMPLES]


def test_json_uses_lower_case_enum_values_and_a_type_tag() -> None:
    """The JSON form carries the tag and enum values as lower-case strings."""
    text = messages.encode(EXAMPLES[0], "json").decode()
    assert '"type":"task_metric"' in text
    assert '"result":"partial"' in text


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'{"type":"task_metric","task_id":"t","agent_id":"a","duration_ms":-1,'
         b'"result":"success","timestamp":1700000000}', "duration_ms"),
        (b'{"type":"task_metric","task_id":"t","agent_id":"a","duration_ms":1,'
         b'"result":"exploded","timestamp":1700000000}', "result"),
        (b'{"type":"task_metric","task_id":"t","agent_id":"a","duration_ms":1,'
         b'"result":"success","tokens_used":"many","timestamp":1700000000}', "tokens_used"),
        (b'{"type":"heartbeat","agent_id":"","timestamp":1700000000}', "agent_id"),
        (b'{"type":"heartbeat","agent_id":"a\\u0007","timestamp":1700000000}', "agent_id"),
        (b'{"type":"heartbeat","agent_id":"a","timestamp":1700000000,"extra":1}', "extra"),
        (b'{"type":"nope","agent_id":"a"}', "type"),
        (b'{"type":"heartbeat","agent_id":"a","timestamp":1700000000,"metadata":{"k":"'
         + b"x" * 9000 + b'"}}', "metadata"),
        (b'{"type":"heartbeat"', "message"),
        (b"[" * 100_000, "message"),
    ],
)
def test_decoding_bad_json_names_the_field(data: bytes, field: str) -> None:
    """Malformed or rule-breaking JSON raises InvalidMessage naming the field."""
    with pytest.raises(InvalidMessage) as caught:
        messages.decode(data, "json")
    assert caught.value.field == field
    assert field in str(caught.value)


def test_decoding_garbage_msgpack_is_an_invalid_message() -> None:
    """Bytes that are not msgpack raise InvalidMessage, not a msgspec error."""
    with pytest.raises(InvalidMessage):
        messages.decode(b"\xc1\xc1\xc1")


def test_an_unknown_format_is_refused() -> None:
    """Only msgpack and json are formats."""
    with pytest.raises(InvalidMessage, match="format"):
        messages.encode(EXAMPLES[0], "xml")  # type: ignore[arg-type]


def test_datetimes_become_utc_epoch_seconds() -> None:
    """An aware datetime and a naive one (taken as UTC) become epoch seconds."""
    aware = dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    naive = dt.datetime(2026, 1, 1)
    a = Heartbeat(agent_id="a", timestamp=aware)  # type: ignore[arg-type]
    b = Heartbeat(agent_id="a", timestamp=naive)  # type: ignore[arg-type]
    assert a.timestamp == b.timestamp == 1_767_225_600.0
