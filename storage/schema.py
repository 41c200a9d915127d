"""The database schema: its identity, its version, and the migrations to it.

A swarmpulse database carries ``PRAGMA application_id`` :data:`APPLICATION_ID`
and ``PRAGMA user_version`` = the number of migrations applied. Migrations
run in order, all pending ones in one transaction, when a writer opens the
database. A shipped migration never changes: a new schema is a new migration
at the end of :data:`MIGRATIONS`.

Tables (timestamps are REAL epoch seconds; agents are referred to by key):

* ``agents``: ``agent_key`` (integer primary key), ``agent_id`` (unique),
  ``registered_at``, ``unregistered_at``, ``interval_ms``, ``failure_threshold``,
  ``metadata``. Rows appear on registration or on the first data naming the agent.
* ``task_metrics``, ``agent_metrics``, ``health_events``, ``alerts``: one row per
  message, indexed by time and by (agent, time). An alert about the whole swarm
  (agent ``*``) has a NULL ``agent_key``.
* ``swarm_metrics``: one row per message, indexed by time and by (metric, time).
* ``task_rollup_minute``, ``task_rollup_hour`` (migration 2): keyed by
  (``agent_key``, ``bucket_start``), one encoded
  :class:`~storage.summary.TaskSummary` and its ``task_count`` per (minute or
  hour, agent) that holds tasks, and per bucket for the whole swarm under
  ``agent_key`` 0 (``storage.rollup.SWARM_KEY``); kept in the same
  transaction as the task rows.
* ``quarantine`` (migration 3): one row per item a batch held that could not be
  stored for a reason of its data: ``at``, ``kind``, ``error``, ``encoding``
  and the item verbatim in ``payload`` (see :mod:`storage.quarantine`).
* ``swarm_metadata`` (migration 4): ``key`` (primary key), ``value`` (text): the
  settings of the system that last opened the file (``swarm_id``,
  ``topology_type``), written at start-up (see :mod:`storage.metadata`).
* ``alert_active``, ``alert_silences``, ``alert_acks``, ``alert_nflog``,
  ``alert_outbox``, ``alert_escalations`` (the alerting migration): the alert
  router's durable state, see :mod:`storage.alertstate`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from storage.errors import SchemaTooNew
from storage.quarantine import QUARANTINE_TABLE
from storage.rollup import rebuild_rollups

__all__ = [
    "ALERT_TABLES",
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Header",
    "Migration",
    "migrate",
    "read_header",
]

APPLICATION_ID: Final = 0x53574D50
"""``PRAGMA application_id`` of a swarmpulse database ("SWMP")."""


@dataclass(frozen=True)
class Migration:
    """One step of the schema's history.

    Attributes:
        version: the schema version once applied (its position, from 1).
        description: what it changes, in words.
        statements: the DDL, one statement each.
        backfill: fills what the DDL created from rows already there.
    """

    version: int
    description: str
    statements: tuple[str, ...]
    backfill: Callable[[sqlite3.Connection], object] | None = None


_BASE_TABLES: Final = (
    """CREATE TABLE agents (
        agent_key INTEGER PRIMARY KEY,
        agent_id TEXT NOT NULL UNIQUE,
        registered_at REAL,
        unregistered_at REAL,
        interval_ms INTEGER,
        failure_threshold INTEGER,
        metadata TEXT
    )""",
    """CREATE TABLE task_metrics (
        id INTEGER PRIMARY KEY,
        task_id TEXT NOT NULL,
        agent_key INTEGER NOT NULL REFERENCES agents (agent_key),
        duration_ms REAL NOT NULL,
        result TEXT NOT NULL,
        tokens_used INTEGER NOT NULL,
        files_changed INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        metadata TEXT
    )""",
    "CREATE INDEX task_metrics_by_time ON task_metrics (timestamp)",
    "CREATE INDEX task_metrics_by_agent_time ON task_metrics (agent_key, timestamp)",
    """CREATE TABLE agent_metrics (
        id INTEGER PRIMARY KEY,
        agent_key INTEGER NOT NULL REFERENCES agents (agent_key),
        metric_type TEXT NOT NULL,
        value REAL NOT NULL,
        timestamp REAL NOT NULL,
        metadata TEXT
    )""",
    "CREATE INDEX agent_metrics_by_time ON agent_metrics (timestamp)",
    "CREATE INDEX agent_metrics_by_agent_time ON agent_metrics (agent_key, timestamp)",
    """CREATE TABLE swarm_metrics (
        id INTEGER PRIMARY KEY,
        swarm_id TEXT NOT NULL,
        metric_type TEXT NOT NULL,
        value REAL NOT NULL,
        timestamp REAL NOT NULL,
        metadata TEXT
    )""",
    "CREATE INDEX swarm_metrics_by_time ON swarm_metrics (timestamp)",
    "CREATE INDEX swarm_metrics_by_type_time ON swarm_metrics (metric_type, timestamp)",
    """CREATE TABLE health_events (
        id INTEGER PRIMARY KEY,
        agent_key INTEGER NOT NULL REFERENCES agents (agent_key),
        previous_state TEXT NOT NULL,
        current_state TEXT NOT NULL,
        at REAL NOT NULL,
        heartbeat_age_ms REAL NOT NULL
    )""",
    "CREATE INDEX health_events_by_time ON health_events (at)",
    "CREATE INDEX health_events_by_agent_time ON health_events (agent_key, at)",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        agent_key INTEGER REFERENCES agents (agent_key),
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        at REAL NOT NULL,
        metadata TEXT
    )""",
    "CREATE INDEX alerts_by_time ON alerts (at)",
    "CREATE INDEX alerts_by_agent_time ON alerts (agent_key, at)",
)

_ROLLUP_TABLES: Final = tuple(
    f"""CREATE TABLE {table} (
        agent_key INTEGER NOT NULL,
        bucket_start INTEGER NOT NULL,
        task_count INTEGER NOT NULL,
        summary BLOB NOT NULL,
        PRIMARY KEY (agent_key, bucket_start)
    ) WITHOUT ROWID"""
    for table in ("task_rollup_minute", "task_rollup_hour")
)

_METADATA_TABLES: Final = (
    """CREATE TABLE swarm_metadata (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
)

ALERT_TABLES: Final = (
    "alert_active",
    "alert_silences",
    "alert_acks",
    "alert_nflog",
    "alert_outbox",
    "alert_escalations",
)

ALERT_STATE_DDL: Final = tuple(
    f"""CREATE TABLE {table} (
        key TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        updated_at REAL NOT NULL
    )"""
    for table in ALERT_TABLES
)


MIGRATIONS: Final = (
    Migration(1, "base tables: agents, metrics, health events, alerts", _BASE_TABLES),
    Migration(2, "per-minute and per-hour task rollups", _ROLLUP_TABLES, rebuild_rollups),
    Migration(3, "quarantine: items refused for their data, kept verbatim", QUARANTINE_TABLE),
    Migration(4, "the swarm's settings: swarm id and topology", _METADATA_TABLES),
    Migration(5, "alert management state: active alerts, silences, acks, nflog, outbox, escalations",
              ALERT_STATE_DDL),
)
"""Every migration, in increasing order of version; the last one's is SCHEMA_VERSION."""

SCHEMA_VERSION: Final = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""


@dataclass(frozen=True)
class Header:
    """What identifies a database: its application id, version and table count."""

    application_id: int
    user_version: int
    tables: int


def read_header(conn: sqlite3.Connection) -> Header:
    """Read the database's identity without writing anything.

    Raises:
        sqlite3.DatabaseError: the file is not a SQLite database (and others).
    """
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return Header(int(application_id), int(user_version), int(tables))


def migrate(conn: sqlite3.Connection, path: str) -> tuple[int, int]:
    """Apply every pending migration in one transaction.

    The version is read again inside the transaction, so two writers opening
    a new database at once migrate it once.

    Args:
        conn: an autocommit connection (``isolation_level=None``) to our database.
        path: the database's path, for errors.

    Returns:
        The versions before and after.

    Raises:
        SchemaTooNew: the database is newer than :data:`SCHEMA_VERSION`.
        sqlite3.Error: a migration failed; nothing was changed.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = read_header(conn).user_version
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(path, found, SCHEMA_VERSION)
        for migration in (m for m in MIGRATIONS if m.version > found):
            for statement in migration.statements:
                conn.execute(statement)
            if migration.backfill is not None:
                migration.backfill(conn)
        if found == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found, SCHEMA_VERSION
