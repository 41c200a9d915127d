"""Tests for server/taskrows.py: a batch decoded as rows takes and refuses what the protocol does."""

from __future__ import annotations

import math
from types import UnionType
from typing import Any, Union, get_args, get_origin

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messages import MAX_COUNT, InvalidMessage, TaskMetric, constraints, decode
from messages.constraints import rule_of, rules_of
from server import taskrows
from server.batch import MetricItems, decode_metrics
from server.taskrows import RowTaskMetric
from server.ingest import METRIC_TYPES
from storage import task_row

NOW = 1_700_000_000.0
GOOD: dict[str, Any] = {"type": "task_metric", "task_id": "t", "agent_id": "a", "duration_ms": 1.5,
                        "result": "success", "tokens_used": 3, "files_changed": 1,
                        "timestamp": NOW}

# Each field: values the protocol takes and values it refuses, in both ways it can refuse
# them (msgspec's constraints while decoding, or TaskMetric.__post_init__ after).
_VARIANTS: dict[str, Any] = {
    "task_id": st.sampled_from(["t", "x" * 256, "caf\u00e9", "a\x01b", "\x7f", "a\u0085", "",
                                "y" * 257, "tab\there"]),
    "agent_id": st.sampled_from(["a", "b", "agent-\x1b[31m", "", "z" * 300]),
    "duration_ms": st.one_of(st.floats(0, 1e9), st.integers(0, 10**6),
                             st.sampled_from([math.inf, -1.0, -0.0, 0.0])),
    "result": st.sampled_from(["success", "failure", "timeout", "partial", "exploded"]),
    "tokens_used": st.one_of(st.integers(0, 10), st.sampled_from([MAX_COUNT, MAX_COUNT + 1, 2**64 - 1,
                                                                   -1])),
    "files_changed": st.sampled_from([0, 1, MAX_COUNT + 1]),
    "timestamp": st.sampled_from([NOW, NOW - 3600.0, 946_684_800.0, 7_258_118_400.0, NOW * 1000]),
    "metadata": st.sampled_from([{}, {"k": 1}, {"nested": {"x": [1, 2]}}, {"bad": math.nan},
                                 {"k" + str(i): i for i in range(65)}, {"big": "x" * 9000}]),
}


# Only what msgspec's constraints let through (less the ids' pattern): every batch of these
# takes the rows' way, so the checks a column at a time decide.
_DECODABLE: dict[str, Any] = {
    "task_id": st.sampled_from(["t", "x" * 256, "caf\u00e9", "a\x01b", "\x7f", "a\u0085", "tab\there"]),
    "agent_id": st.sampled_from(["a", "b", "agent-\x1b[31m"]),
    "duration_ms": st.one_of(st.floats(0, 1e9), st.sampled_from([math.inf, 0.0, 7])),
    "tokens_used": st.sampled_from([0, 5, MAX_COUNT, MAX_COUNT + 1, 2**64 - 1]),
    "files_changed": st.sampled_from([0, 1, MAX_COUNT + 1]),
    "metadata": st.sampled_from([{}, {"k": 1}, {"nested": {"x": [1, 2]}}, {"bad": math.nan},
                                 {"big": "x" * 9000}, {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]),
}


def _item(changes: dict[str, Any]) -> dict[str, Any]:
    return {**GOOD, **changes}


def _protocol(item: dict[str, Any]) -> Any:
    """What the protocol makes of one item alone: its row, or the field it refuses."""
    try:
        metric = decode(msgspec.msgpack.encode(item), "msgpack")
    except InvalidMessage as exc:
        return exc.field
    assert isinstance(metric, TaskMetric)
    return task_row(metric)


def _batch(items: list[dict[str, Any]]) -> dict[int, Any]:
    """What decode_metrics makes of the batch, per index: a row, or the refused field."""
    decoded, refused = decode_metrics(msgspec.msgpack.encode(items), "msgpack", METRIC_TYPES, NOW,
                                      10_000, None)
    assert isinstance(decoded, MetricItems)
    outcome: dict[int, Any] = {r.index: r.field for r in refused}
    if decoded.rows is not None:
        for index, row in zip(decoded.rows.indexes, decoded.rows.columns.rows(), strict=True):
            outcome[index] = tuple(row)
    for index, message in decoded.messages:
        assert isinstance(message, TaskMetric)
        outcome[index] = task_row(message)
    return outcome


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.fixed_dictionaries({}, optional=_VARIANTS), min_size=1, max_size=12))
def test_a_batch_as_rows_takes_and_refuses_each_item_as_the_protocol_does(
    changes: list[dict[str, Any]]
) -> None:
    """Every item: the same row as messages.decode gives it alone, or refused naming its field."""
    items = [_item(change) for change in changes]
    expected = {i: _protocol(item) for i, item in enumerate(items)}
    assert _batch(items) == {i: tuple(v) if isinstance(v, tuple) else v for i, v in expected.items()}


def test_a_valid_batch_becomes_rows_with_no_message_of_its_own() -> None:
    """5,000 valid tasks: one set of columns, indexes in order, results as plain strings."""
    items = [_item({"task_id": f"t{i}", "result": "failure" if i % 7 else "success"})
             for i in range(5000)]
    decoded, refused = decode_metrics(msgspec.msgpack.encode(items), "msgpack", METRIC_TYPES, NOW,
                                      10_000, None)
    assert refused == [] and decoded.messages == []
    assert decoded.rows is not None and list(decoded.rows.indexes) == list(range(5000))
    columns = decoded.rows.columns
    assert columns.task_ids[4999] == "t4999"
    assert {type(r) for r in columns.results} == {str} and columns.results[7] == "success"
    assert set(columns.metadata) == {None}


def test_metadata_left_out_is_an_empty_dict_and_null_metadata_is_refused() -> None:
    """Left out beside items with metadata (good and bad), as the protocol takes each alone."""
    items = [_item({"task_id": f"t{i}"}) for i in range(6)]
    items[1]["metadata"] = {"k": 1}
    items[2]["metadata"] = {"bad": math.nan}
    items[3]["metadata"] = None
    items[4]["agent_id"] = "bad\x01id"  # a suspect with no metadata: built as a TaskMetric
    outcome = _batch(items)
    assert outcome == {i: _protocol(item) for i, item in enumerate(items)}
    assert outcome[2] == outcome[3] == "metadata" and outcome[4] == "agent_id"
    assert outcome[0][-1] is None and outcome[5][-1] is None and outcome[1][-1] == {"k": 1}


def test_one_hostile_id_in_a_big_batch_is_refused_alone() -> None:
    """A control character in one id of 2,000: that index refused by field, the rest taken."""
    items = [_item({"task_id": f"t{i}"}) for i in range(2000)]
    items[1234]["agent_id"] = "evil\x1b]0;title\x07"
    decoded, refused = decode_metrics(msgspec.msgpack.encode(items), "msgpack", METRIC_TYPES, NOW,
                                      10_000, None)
    assert [(r.index, r.field) for r in refused] == [(1234, "agent_id")]
    assert decoded.rows is not None and len(decoded.rows.indexes) == 1999
    assert 1234 not in decoded.rows.indexes


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.fixed_dictionaries({}, optional=_DECODABLE), min_size=1, max_size=12))
def test_what_only_the_message_rules_refuse_is_found_a_column_at_a_time(
    changes: list[dict[str, Any]]
) -> None:
    """Control characters, infinity, counts past MAX_COUNT, bad metadata: refused as alone."""
    items = [_item(change) for change in changes]
    decoded, _ = decode_metrics(msgspec.msgpack.encode(items), "msgpack", METRIC_TYPES, NOW,
                                10_000, None)
    assert decoded.messages == []  # the rows' way, not the item-by-item one
    expected = {i: _protocol(item) for i, item in enumerate(items)}
    assert _batch(items) == {i: tuple(v) if isinstance(v, tuple) else v for i, v in expected.items()}


def _metas(annotation: Any) -> list[msgspec.Meta]:
    members = [a for a in get_args(annotation) if a is not msgspec.UnsetType]
    if get_origin(annotation) in (Union, UnionType) and len(members) == 1:
        annotation = members[0]  # a field with a default factory: its type, or UNSET
    return [extra for extra in get_args(annotation)[1:] if isinstance(extra, msgspec.Meta)]


def test_the_row_type_decodes_with_taskmetrics_own_constraint_objects() -> None:
    """Each field of RowTaskMetric: TaskMetric's Meta objects themselves, less those its rule screens."""
    rules = rules_of(TaskMetric)
    assert set(rules) == set(TaskMetric.__struct_fields__)  # every field has its rule
    rows = {f.name: f for f in msgspec.structs.fields(RowTaskMetric)}
    for field in msgspec.structs.fields(TaskMetric):
        rule = rules[field.name]
        assert rule_of(field.type) is rule
        expected = [m for m in _metas(field.type) if not any(m is s for s in rule.screened)]
        got = _metas(rows[field.name].type)
        assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected, strict=True))
        assert all(any(s is m for m in _metas(field.type)) for s in rule.screened)
        if field.default_factory is msgspec.NODEFAULT:
            assert rows[field.name].default == field.default
        else:  # left out: UNSET, no new object per item; the protocol's factory fills it in
            assert rows[field.name].default is msgspec.UNSET
    # the screens the row path runs are the rules' own, with their own checks
    assert [(n, s, c) for n, s, c in taskrows._SCREENS] == [
        (n, r.screen, r.check) for n, r in rules.items() if r.screen is not None]


def test_a_rule_changed_in_messages_changes_the_row_path_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """MAX_COUNT lowered in messages.constraints alone: TaskMetric and the batch rows both refuse past it."""
    monkeypatch.setattr(constraints, "MAX_COUNT", 10)
    with pytest.raises(InvalidMessage) as caught:
        TaskMetric(**{k: v for k, v in _item({"tokens_used": 11}).items() if k != "type"})
    assert caught.value.field == "tokens_used"
    items = [_item({"task_id": f"t{i}", "tokens_used": 9 + i}) for i in range(3)]
    outcome = _batch(items)
    assert outcome[0][4] == 9 and outcome[1][4] == 10 and outcome[2] == "tokens_used"
