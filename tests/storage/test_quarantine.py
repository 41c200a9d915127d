"""Tests for storage/quarantine.py and MetricsStorage.store_isolating: a batch whose data
the database refuses stores everything but the items at fault, which are kept verbatim."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from storage import (
    Batch,
    MetricsStorage,
    StorageError,
    TaskColumns,
    TaskRow,
    decode_payload,
)
from tests.storage.builders import T0, agent_metric, alert, row

HUGE = 9.3e18  # a timestamp whose minute bucket overflows SQLite's 64-bit integer


def hostile(item: object, **fields: object) -> object:
    """``item`` with fields set past its validation, as a bug upstream could."""
    for name, value in fields.items():
        msgspec.structs.force_setattr(item, name, value)
    return item


def _rows(n: int, agent: str = "a1") -> list[TaskRow]:
    return [row(f"t{i}", agent, 10.0 + i, timestamp=T0 + i) for i in range(n)]


def test_one_row_with_an_overflowing_timestamp_is_quarantined_and_the_rest_stored(
    file_storage: MetricsStorage,
) -> None:
    """102 good rows around one whose rollup bucket overflows: 102 stored, 1 quarantined."""
    rows = _rows(102)
    rows.insert(50, row("hostile", "a1", 5.0, timestamp=HUGE))
    batch = Batch(tasks=TaskColumns.from_rows(rows))
    with pytest.raises(OverflowError):
        file_storage.store(batch)  # the whole transaction refused, as the writer saw it
    refused = file_storage.store_isolating(batch, now=T0 + 500)
    assert [r.kind for r in refused] == ["tasks"]
    assert "OverflowError" in refused[0].error
    stored = file_storage.query_task_metrics()
    assert sorted(m.task_id for m in stored) == sorted(f"t{i}" for i in range(102))
    assert file_storage.task_stats(start_time=T0, end_time=T0 + 1000)["total_tasks"] == 102
    kept = file_storage.query_quarantine()
    assert file_storage.quarantined_count() == 1
    assert kept[0].at == T0 + 500
    assert decode_payload(kept[0]) == list(row("hostile", "a1", 5.0, timestamp=HUGE))


def test_items_of_every_kind_are_isolated_each_with_its_own_error(
    storage: MetricsStorage,
) -> None:
    """A bad gauge (metadata that is no JSON) and a bad alert beside good rows: only they go."""
    good_gauge = agent_metric("a1", value=2.0)
    bad_gauge = hostile(agent_metric("a2"), metadata={"x": object()})
    bad_alert = hostile(alert(), message=None)  # a NOT NULL column
    batch = Batch(
        tasks=TaskColumns.from_rows(_rows(10)),
        agent_metrics=(good_gauge, bad_gauge),  # type: ignore[arg-type]
        alerts=(alert(), bad_alert),  # type: ignore[arg-type]
    )
    refused = storage.store_isolating(batch, now=T0)
    assert sorted(r.kind for r in refused) == ["agent_metrics", "alerts"]
    by_kind = {r.kind: r for r in refused}
    assert by_kind["agent_metrics"].encoding == "repr"  # object() has no msgpack form
    assert "object object" in decode_payload(by_kind["agent_metrics"])
    assert by_kind["alerts"].encoding == "msgpack"
    assert decode_payload(by_kind["alerts"])["type"] == "alert"
    assert "IntegrityError" in by_kind["alerts"].error
    assert len(storage.query_task_metrics()) == 10
    assert [m.value for m in storage.query_agent_metrics()] == [2.0]
    assert len(storage.query_alerts()) == 1


def test_a_batch_of_mostly_bad_rows_keeps_every_good_one(storage: MetricsStorage) -> None:
    """300 bad rows interleaved with 300 good ones: 300 stored, 300 quarantined."""
    rows: list[TaskRow] = []
    for i in range(300):
        rows.append(row(f"good-{i}", timestamp=T0 + i))
        rows.append(row(f"bad-{i}", timestamp=HUGE + i * 1e6))
    refused = storage.store_isolating(Batch(tasks=TaskColumns.from_rows(rows)), now=T0)
    assert len(refused) == 300
    assert storage.quarantined_count() == 300
    assert sorted(m.task_id for m in storage.query_task_metrics()) == sorted(
        f"good-{i}" for i in range(300)
    )


def test_a_database_that_refuses_writes_is_an_outage_not_bad_data(db_path: Path) -> None:
    """A read-only connection: StorageError, nothing stored and nothing quarantined."""
    with MetricsStorage(db_path) as storage:
        conn = storage._conn
        assert isinstance(conn, sqlite3.Connection)
        conn.execute("PRAGMA query_only = ON")
        rows = _rows(5)
        rows.append(row("hostile", timestamp=HUGE))
        with pytest.raises(StorageError, match="readonly"):
            storage.store_isolating(Batch(tasks=TaskColumns.from_rows(rows)), now=T0)
        conn.execute("PRAGMA query_only = OFF")
        assert storage.query_task_metrics() == []
        assert storage.quarantined_count() == 0
        assert len(storage.store_isolating(Batch(tasks=TaskColumns.from_rows(rows)), T0)) == 1
        assert len(storage.query_task_metrics()) == 5


def test_a_clean_batch_is_stored_whole_with_its_summaries(storage: MetricsStorage) -> None:
    """No bad item: nothing quarantined, and the statistics count every row."""
    assert storage.store_isolating(Batch(tasks=TaskColumns.from_rows(_rows(40))), now=T0) == []
    assert storage.task_stats(start_time=T0, end_time=T0 + 100)["total_tasks"] == 40
    assert storage.quarantined_count() == 0
