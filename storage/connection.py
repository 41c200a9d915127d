"""Opening a metrics database: checks, pragmas and migrations, in that order.

Nothing is written before the file is known to be ours and not too new, so a
refused file is left byte for byte as it was.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from typing import Final

from storage.errors import NotOurDatabase, SchemaTooNew, StorageError, from_sqlite
from storage.schema import APPLICATION_ID, SCHEMA_VERSION, migrate, read_header

__all__ = ["MEMORY", "open_connection"]

MEMORY: Final = ":memory:"
_OPEN: Final = "open"


def _uri(path: str, mode: str) -> str:
    quoted = urllib.parse.quote(os.path.abspath(path), safe="/")
    return f"file:{quoted}?mode={mode}"


def _connect(path: str, readonly: bool, create: bool, busy_timeout: float) -> sqlite3.Connection:
    if path == MEMORY:
        if readonly or not create:
            raise StorageError(_OPEN, "an in-memory database is always new: it needs create=True")
        return sqlite3.connect(
            MEMORY, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    if (readonly or not create) and not os.path.exists(path):
        raise StorageError(_OPEN, f"{path} does not exist (and create=False or readonly=True)")
    mode = "ro" if readonly else "rw" if not create else "rwc"
    try:
        return sqlite3.connect(
            _uri(path, mode),
            uri=True,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from exc


def _open_error(path: str, exc: sqlite3.Error) -> StorageError:
    """The StorageError of a failed open, naming the file (SQLite's own message does not)."""
    error = from_sqlite(_OPEN, exc)
    return StorageError(_OPEN, f"{path}: {error.reason}")


def _check(conn: sqlite3.Connection, path: str, readonly: bool, create: bool) -> int:
    """Return the schema version, or raise if the database is not one we may use."""
    try:
        header = read_header(conn)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise NotOurDatabase(path, "the file is not a SQLite database") from exc
        raise
    if header.application_id != APPLICATION_ID:
        if header.application_id != 0 or header.tables != 0:
            raise NotOurDatabase(
                path,
                f"a SQLite database with application_id {header.application_id} "
                f"and {header.tables} schema objects",
            )
        if readonly or not create:
            raise NotOurDatabase(path, "a SQLite database without the swarmpulse schema")
        return 0
    if header.user_version > SCHEMA_VERSION:
        raise SchemaTooNew(path, header.user_version, SCHEMA_VERSION)
    if readonly and header.user_version < SCHEMA_VERSION:
        raise StorageError(
            _OPEN,
            f"{path} has schema version {header.user_version}, older than {SCHEMA_VERSION}; "
            "a read-only open cannot migrate it (open it once for writing)",
        )
    return header.user_version


def open_connection(
    path: str,
    *,
    readonly: bool,
    create: bool,
    busy_timeout: float,
    max_bytes: int | None,
) -> sqlite3.Connection:
    """Open, check, configure and migrate a metrics database.

    Every error names ``path``; ``~`` in it is expanded.

    The connection is in autocommit mode (transactions are explicit) and may be
    used from any one thread at a time.

    Raises:
        NotOurDatabase: not SQLite, or SQLite without our schema (when it may
            not be created).
        SchemaTooNew: written by a newer swarmpulse.
        StorageError: anything else (missing file, locked, unreadable, ...).
    """
    if path != MEMORY:
        path = os.path.expanduser(path)
    conn = _connect(path, readonly, create, busy_timeout)
    try:
        version = _check(conn, path, readonly, create)
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        elif path != MEMORY:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if max_bytes is not None:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {max(1, max_bytes // page_size):d}")
        if version < SCHEMA_VERSION:
            migrate(conn, path)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise _open_error(path, exc) from exc
        if isinstance(exc, Exception) and not isinstance(exc, StorageError):
            raise StorageError(
                _OPEN, f"{path}: migration failed: {type(exc).__name__}: {exc}"
            ) from exc
        raise
    return conn
