"""Tests for storage/inserts.py: how messages become rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from messages import InvalidMessage
from storage import MetricsStorage, TaskColumns, task_row
from storage.inserts import INSERT_TASK_SQL, as_task_columns

from .builders import T0, alert, health, row, task


def test_as_task_columns_converts_metrics_and_rows_and_passes_columns_through() -> None:
    """TaskMetrics and rows become columns; columns are not copied or checked."""
    existing = row("r")
    columns = as_task_columns([task("m"), existing])
    assert [columns.task_ids[0], columns.task_ids[1]] == ["m", "r"]
    assert tuple(getattr(columns, f)[0] for f in TaskColumns.__slots__) == task_row(task("m"))
    assert as_task_columns(columns) is columns


@pytest.mark.parametrize("with_metadata", [False, True])
@pytest.mark.parametrize("count", [1, 3, 4000, 4001, 8000 + 2048 + 7])
def test_any_number_of_rows_is_stored_in_order_once(
    db_path: Path, count: int, with_metadata: bool
) -> None:
    """Rows go in thousands to a statement and the rest in smaller ones: none lost, none twice;
    with metadata on one row or on none (then a statement without the column)."""
    rows = [row(f"t{i}", duration_ms=float(i)) for i in range(count)]
    if with_metadata:
        rows[-1] = row(f"t{count - 1}", duration_ms=float(count - 1), metadata={"k": [1, "x"]})
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=TaskColumns.from_rows(rows).packed())
    conn = sqlite3.connect(db_path)
    stored = conn.execute(
        "SELECT task_id, duration_ms, metadata FROM task_metrics ORDER BY id"
    ).fetchall()
    conn.close()
    expected: list[tuple[str, float, str | None]] = [
        (f"t{i}", float(i), None) for i in range(count)
    ]
    if with_metadata:
        expected[-1] = (f"t{count - 1}", float(count - 1), '{"k":[1,"x"]}')
    assert stored == expected


def test_columns_concatenate_in_order() -> None:
    """Batches of columns join end to end; a row of the wrong width is refused."""
    first = TaskColumns.from_rows([row("a", duration_ms=1.5), row("b")])
    second = TaskColumns.from_rows([row("c", tokens_used=7)])
    for parts in ([first, TaskColumns.from_rows([]), second], [first.packed(), second.packed()]):
        joined = TaskColumns.concat(parts)
        assert list(joined.task_ids) == ["a", "b", "c"]
        assert list(joined.durations)[0] == 1.5 and list(joined.tokens)[2] == 7
        assert len(joined) == 3
    mixed = TaskColumns.concat([first.packed(), second])  # an array and a tuple: a tuple
    assert type(mixed.durations) is tuple and len(mixed) == 3
    with pytest.raises(ValueError, match="8 fields"):
        TaskColumns.from_rows([("short",)])  # type: ignore[list-item]


def test_agents_are_stored_by_integer_key(db_path: Path) -> None:
    """Every table but agents holds the integer agent_key, not the id."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=[row(agent_id="worker-7")], health_events=[health("worker-7")])
    conn = sqlite3.connect(db_path)
    key = conn.execute("SELECT agent_key FROM agents WHERE agent_id = 'worker-7'").fetchone()[0]
    assert conn.execute("SELECT agent_key, typeof(agent_key) FROM task_metrics").fetchone() == (
        key,
        "integer",
    )
    assert conn.execute("SELECT agent_key FROM health_events").fetchone() == (key,)
    conn.close()


def test_times_are_real_epoch_seconds_and_empty_metadata_is_null(db_path: Path) -> None:
    """Timestamps are stored as REAL; no metadata is NULL; metadata is JSON text."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=[row("a", timestamp=T0), row("b", metadata={"k": 1})])
    conn = sqlite3.connect(db_path)
    stored = conn.execute(
        "SELECT typeof(timestamp), metadata, typeof(metadata) FROM task_metrics ORDER BY id"
    ).fetchall()
    conn.close()
    assert stored == [("real", None, "null"), ("real", '{"k":1}', "text")]


def test_swarm_alerts_have_no_agent_key(db_path: Path) -> None:
    """An alert for '*' is stored with a NULL agent_key."""
    with MetricsStorage(db_path) as storage:
        storage.store_alert(alert("*"))
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT agent_key FROM alerts").fetchone() == (None,)
    conn.close()


def test_the_insert_statement_names_every_task_column() -> None:
    """INSERT_TASK_SQL inserts the eight task columns, agent by key."""
    assert INSERT_TASK_SQL.count("?") == 8
    assert "agent_key" in INSERT_TASK_SQL


def test_agent_events_must_be_agent_events(storage: MetricsStorage) -> None:
    """Anything else in agent_events is refused."""
    with pytest.raises(InvalidMessage):
        storage.store_agent_events([health()])  # type: ignore[list-item]


def test_a_remainder_of_more_than_4096_rows_is_stored_in_statements_of_2048(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more rows to a statement than twice the largest remainder statement, the rest
    still goes in statements of 2048, 1024, ...: never an empty VALUES (it halved the size
    after each remainder statement, reached 0 rows and failed with "incomplete input")."""
    import storage.inserts

    monkeypatch.setattr(storage.inserts, "ROWS_PER_STATEMENT", 10_000)
    count = 10_000 + 9_000  # a remainder of 9,000 rows: 4 x 2048 + 512 + 256 + 32 + 8
    rows = [row(f"t{i}", duration_ms=float(i)) for i in range(count)]
    with MetricsStorage(db_path) as storage_:
        storage_.store_batch(tasks=TaskColumns.from_rows(rows).packed())
    conn = sqlite3.connect(db_path)
    stored = conn.execute("SELECT task_id FROM task_metrics ORDER BY id").fetchall()
    conn.close()
    assert stored == [(f"t{i}",) for i in range(count)]
