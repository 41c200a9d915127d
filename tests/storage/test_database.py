"""Tests for storage/database.py: lifecycle, threads, and failing transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from storage import MetricsStorage, StorageError

from .builders import T0, alert, health, row, task


def count_rows(path: Path, table: str = "task_metrics") -> int:
    """Rows in a table, read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_context_manager_closes_and_close_is_idempotent(db_path: Path) -> None:
    """Leaving the with block closes; close() again is harmless."""
    with MetricsStorage(db_path) as storage:
        assert not storage.closed
    assert storage.closed
    storage.close()
    assert storage.closed


def test_a_closed_storage_refuses_work_naming_the_operation(db_path: Path) -> None:
    """Every call on a closed storage raises StorageError saying what was tried."""
    storage = MetricsStorage(db_path)
    storage.close()
    with pytest.raises(StorageError, match="query_task_metrics failed: the storage is closed"):
        storage.query_task_metrics()
    with pytest.raises(StorageError, match="store_batch"):
        storage.store_batch(tasks=[row()])


def test_an_owner_on_another_thread_may_carry_on(db_path: Path) -> None:
    """A storage opened on one thread can be used by its next owner on another thread."""
    storage = MetricsStorage(db_path)
    storage.store_batch(tasks=[row("t1")])
    failures: list[BaseException] = []

    def next_owner() -> None:
        try:
            storage.store_batch(tasks=[row("t2")])
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    thread = threading.Thread(target=next_owner)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and not failures
    assert [m.task_id for m in storage.query_task_metrics()] == ["t1", "t2"]
    storage.close()


def test_a_locked_database_fails_the_batch_after_the_busy_timeout(db_path: Path) -> None:
    """While another connection holds BEGIN EXCLUSIVE, a write fails as busy and keeps nothing."""
    storage = MetricsStorage(db_path, busy_timeout=0.05)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError) as info:
            storage.store_batch(tasks=[row()], alerts=[alert()])
        assert info.value.operation == "store_batch"
        assert "locked" in info.value.reason and "SQLITE_BUSY" in info.value.reason
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert count_rows(db_path) == 0
    storage.store_batch(tasks=[row()])  # the lock is gone: the same storage works again
    assert count_rows(db_path) == 1
    storage.close()


def test_a_full_disk_fails_the_whole_batch(db_path: Path) -> None:
    """When the file may not grow (max_bytes), the batch that does not fit leaves nothing."""
    storage = MetricsStorage(db_path, max_bytes=400 * 1024)
    stored = 0
    with pytest.raises(StorageError) as info:
        for batch in range(100):
            tasks = [
                row(f"t{batch}-{i}", f"a{i % 7}", metadata={"pad": "x" * 200}, timestamp=T0 + i)
                for i in range(200)
            ]
            storage.store_batch(tasks=tasks, health_events=[health(at=T0 + batch)])
            stored += 200
    assert info.value.operation == "store_batch"
    assert "full" in info.value.reason
    assert stored > 0
    assert count_rows(db_path) == stored
    assert count_rows(db_path, "health_events") == stored // 200
    stats = storage.task_stats()
    assert stats["total_tasks"] == stored  # the rollups hold nothing of the failed batch either
    storage.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_file_fails_writes_with_the_reason(db_path: Path) -> None:
    """A database file the process may not write (0o444) fails writes as read-only."""
    MetricsStorage(db_path).close()
    db_path.chmod(0o444)
    try:
        with pytest.raises(StorageError, match="readonly|read-only|unable to open"):
            with MetricsStorage(db_path) as storage:
                storage.store_batch(tasks=[row()])
    finally:
        db_path.chmod(0o644)
    assert count_rows(db_path) == 0


def test_a_read_only_database_fails_writes_with_the_reason(db_path: Path) -> None:
    """Where file modes cannot stop the writer (root), a read-only open does: SQLITE_READONLY."""
    MetricsStorage(db_path).close()
    with MetricsStorage(db_path, readonly=True) as storage:
        with pytest.raises(StorageError) as info:
            storage.store_task_metric(task())
    assert info.value.operation == "store_task_metric"
    assert "SQLITE_READONLY" in info.value.reason
    assert count_rows(db_path) == 0


def test_a_corrupt_database_fails_queries_saying_so(db_path: Path) -> None:
    """Garbage over the task table's pages makes queries raise StorageError: malformed."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=[row(f"t{i}", timestamp=T0 + i) for i in range(2_000)])
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'task_metrics'").fetchone()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    with db_path.open("r+b") as file:
        file.seek((root[0] - 1) * page_size)
        file.write(b"\xa5" * page_size)
    with MetricsStorage(db_path) as storage:
        with pytest.raises(StorageError) as info:
            storage.query_task_metrics()
    assert info.value.operation == "query_task_metrics"
    assert "malformed" in info.value.reason
