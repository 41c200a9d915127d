"""Tests for storage/schema.py: identity, versions, and migrations applied at open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import SCHEMA_VERSION, MetricsStorage, SchemaTooNew, StorageError
from storage.schema import APPLICATION_ID, MIGRATIONS

from .builders import T0, row

V1_ROWS = [
    row(
        f"t{i}",
        f"a{i % 3}",
        duration_ms=0.25 * (i % 40),  # exact binary fractions: sums equal in any order
        result="success" if i % 4 else "failure",
        tokens_used=i,
        files_changed=i % 5,
        timestamp=T0 - 5400 + 37.5 * i,
    )
    for i in range(300)
]


def make_v1_database(path: Path) -> None:
    """Write a version-1 database by hand: migration 1's DDL, rows in every table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO agents (agent_key, agent_id, registered_at, interval_ms, failure_threshold, "
        "metadata) VALUES (1, 'a0', ?, 1000, 3, '{\"zone\":\"eu\"}'), (2, 'a1', NULL, NULL, NULL, "
        "NULL), (3, 'a2', NULL, NULL, NULL, NULL)",
        (T0 - 9000,),
    )
    conn.executemany(
        "INSERT INTO task_metrics (task_id, agent_key, duration_ms, result, tokens_used, "
        "files_changed, timestamp, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r[0], int(r[1][1:]) + 1, r[2], r[3], r[4], r[5], r[6], None) for r in V1_ROWS],
    )
    conn.execute(
        "INSERT INTO health_events (agent_key, previous_state, current_state, at, "
        "heartbeat_age_ms) VALUES (1, 'healthy', 'failed', ?, 4000.0)",
        (T0 - 100,),
    )
    conn.execute(
        "INSERT INTO alerts (agent_key, severity, message, at) VALUES (NULL, 'info', 'hi', ?)",
        (T0,),
    )
    conn.execute("COMMIT")
    conn.close()


def header(path: Path) -> tuple[int, int, list[str]]:
    """application_id, user_version and table names of a database file."""
    conn = sqlite3.connect(path)
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    finally:
        conn.close()
    return application_id, version, sorted(tables)


def test_migrations_are_numbered_in_order() -> None:
    """MIGRATIONS[i] brings the schema to version i + 1; the last is SCHEMA_VERSION."""
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == MIGRATIONS[-1].version == 5


def test_a_new_database_gets_our_identity_and_every_table(db_path: Path) -> None:
    """Creating a database records APPLICATION_ID, the latest version, and all tables."""
    MetricsStorage(db_path).close()
    application_id, version, tables = header(db_path)
    assert (application_id, version) == (APPLICATION_ID, SCHEMA_VERSION)
    assert tables == [
        "agent_metrics",
        "agents",
        "alert_acks",
        "alert_active",
        "alert_escalations",
        "alert_nflog",
        "alert_outbox",
        "alert_silences",
        "alerts",
        "health_events",
        "quarantine",
        "swarm_metadata",
        "swarm_metrics",
        "task_metrics",
        "task_rollup_hour",
        "task_rollup_minute",
    ]


def test_a_version_1_database_is_migrated_with_every_row_kept(db_path: Path) -> None:
    """Opening a hand-made v1 file migrates it to v2 and loses no row of any table."""
    make_v1_database(db_path)
    with MetricsStorage(db_path) as storage:
        assert storage.settings()["schema_version"] == SCHEMA_VERSION
        tasks = storage.query_task_metrics()
        assert [(m.task_id, m.agent_id, m.duration_ms, m.timestamp) for m in tasks] == [
            (r[0], r[1], r[2], r[6]) for r in V1_ROWS
        ]
        assert len(storage.query_health_events()) == 1
        assert [a.agent_id for a in storage.query_alerts()] == ["*"]
        assert storage.agents()[0].metadata == {"zone": "eu"}
    assert header(db_path)[1] == SCHEMA_VERSION


def test_migration_backfills_rollups_equal_to_a_fresh_database(db_path: Path) -> None:
    """After migrating, rollup-based stats equal those of a new database given the same rows."""
    make_v1_database(db_path)
    windows = [
        (None, None, None),
        (T0 - 5400, T0 + 5400, None),
        (T0 - 3599.5, T0 + 61.25, None),
        (T0 - 7200, T0, "a1"),
        (T0 - 1000.5, T0 + 4000.75, "a2"),
    ]
    migrated = MetricsStorage(db_path, exact_max_rows=0)
    fresh = MetricsStorage(":memory:", exact_max_rows=0)
    with migrated, fresh:
        fresh.store_batch(tasks=V1_ROWS)
        for start, end, agent in windows:
            stats = migrated.task_stats(start, end, agent)
            assert stats["exact"] is False
            assert stats == fresh.task_stats(start, end, agent)


def test_a_newer_schema_is_refused_and_the_file_left_untouched(db_path: Path) -> None:
    """A file at a version above SCHEMA_VERSION raises SchemaTooNew; its bytes do not change."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=V1_ROWS[:10])
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = db_path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(SchemaTooNew) as info:
            MetricsStorage(db_path, readonly=readonly)
        assert (info.value.found, info.value.supported) == (SCHEMA_VERSION + 5, SCHEMA_VERSION)
        assert info.value.path == str(db_path)
    assert db_path.read_bytes() == before


def test_a_failed_migration_changes_nothing(db_path: Path) -> None:
    """If a migration fails, open raises StorageError and the file stays at version 1."""
    make_v1_database(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute(  # a duration no TaskSummary accepts makes the backfill fail
        "INSERT INTO task_metrics (task_id, agent_key, duration_ms, result, tokens_used, "
        "files_changed, timestamp) VALUES ('bad', 1, -5.0, 'success', 0, 0, ?)",
        (T0,),
    )
    conn.commit()
    conn.close()
    with pytest.raises(StorageError) as info:
        MetricsStorage(db_path)
    assert info.value.operation == "open"
    assert "migration" in info.value.reason
    application_id, version, tables = header(db_path)
    assert version == 1
    assert "task_rollup_minute" not in tables


def test_opening_a_current_database_again_changes_no_version(db_path: Path) -> None:
    """Reopening runs no migration: the version and the data stay."""
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=V1_ROWS[:5])
    with MetricsStorage(db_path) as storage:
        assert storage.settings()["schema_version"] == SCHEMA_VERSION
        assert len(storage.query_task_metrics()) == 5


def test_an_older_database_gains_the_metadata_table(db_path: Path) -> None:
    """A v1 file opened for writing gets swarm_metadata, empty until a system sets it."""
    make_v1_database(db_path)
    with MetricsStorage(db_path) as storage:
        assert storage.metadata() == {}
        storage.store_metadata({"swarm_id": "acc", "topology_type": "ring"})
        storage.store_metadata({"topology_type": "star"})
        assert storage.metadata() == {"swarm_id": "acc", "topology_type": "star"}
    assert "swarm_metadata" in header(db_path)[2]
