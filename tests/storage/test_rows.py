"""Tests for storage/rows.py: task rows, metadata text, and messages rebuilt from rows."""

from __future__ import annotations

from messages import AlertSeverity, HealthState, TaskResult
from storage import AgentRecord, TaskColumns, TaskRow, task_row
from storage.rows import (
    alert_from_row,
    dump_metadata,
    health_event_from_row,
    load_metadata,
    task_metric_from_row,
)

from .builders import T0, task


def test_task_row_holds_every_field_in_order_with_the_result_value() -> None:
    """task_row gives the documented tuple, result as its string, no metadata as None."""
    metric = task(
        task_id="t9",
        agent_id="a9",
        duration_ms=1.5,
        result="timeout",
        tokens_used=3,
        files_changed=2,
        timestamp=T0 + 1,
    )
    assert task_row(metric) == ("t9", "a9", 1.5, "timeout", 3, 2, T0 + 1, None)
    assert type(task_row(metric)[3]) is str


def test_task_row_keeps_metadata() -> None:
    """Metadata is passed on as the dict it is."""
    assert task_row(task(metadata={"k": [1, 2]}))[7] == {"k": [1, 2]}


def test_empty_metadata_is_stored_as_null_and_read_back_empty() -> None:
    """{} and None both become NULL; NULL reads back as {}."""
    assert dump_metadata({}) is None
    assert dump_metadata(None) is None
    assert load_metadata(None) == {}


def test_metadata_text_is_json_read_back_equal() -> None:
    """Metadata is JSON text, in key order, and reads back equal."""
    metadata = {"b": 1, "a": {"nested": [1, 2.5, None, True, "x"]}, "unicode": "é✓"}
    text = dump_metadata(metadata)
    assert text == '{"b":1,"a":{"nested":[1,2.5,null,true,"x"]},"unicode":"é✓"}'
    assert load_metadata(text) == metadata


def test_messages_are_rebuilt_from_rows_with_enums() -> None:
    """Rows become messages whose enum fields are enum members again."""
    metric = task_metric_from_row(("t1", "a1", 2.0, "partial", 1, 1, T0, None))
    assert metric.result is TaskResult.PARTIAL
    event = health_event_from_row(("a1", "healthy", "critical", T0, 5.0))
    assert (event.previous, event.current) == (HealthState.HEALTHY, HealthState.CRITICAL)


def test_a_swarm_alert_row_has_agent_star() -> None:
    """An alert row without an agent is an alert about the swarm, agent '*'."""
    alert = alert_from_row((None, "critical", "down", T0, '{"n":3}'))
    assert alert.agent_id == "*"
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.metadata == {"n": 3}


def test_agent_record_defaults_to_an_unregistered_agent() -> None:
    """An AgentRecord built from an id alone has no registration and no metadata."""
    record = AgentRecord(agent_id="a1")
    assert (record.registered_at, record.unregistered_at, record.interval_ms) == (None, None, None)
    assert record.metadata == {}


def test_a_task_row_names_its_fields_and_columns_hold_them_in_order() -> None:
    """TaskRow is the one declaration of the layout: by name, as a tuple, and as columns."""
    metric = task(metadata={"k": 1})
    row = task_row(metric)
    assert (row.task_id, row.agent_id, row.result, row.metadata) == ("t1", "a1", "success", {"k": 1})
    columns = TaskColumns.from_rows([row, tuple(row)])
    assert columns.row(1) == row and type(columns.row(1)) is TaskRow
    assert columns.rows() == [row, row]
    assert columns.take([1]).task_ids == ("t1",)
    assert TaskRow._fields == (
        "task_id", "agent_id", "duration_ms", "result", "tokens_used", "files_changed",
        "timestamp", "metadata",
    )
