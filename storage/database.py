"""The connection every MetricsStorage part shares, and its transactions."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final, Self

from messages import InvalidMessage, check_millis
from storage.connection import open_connection
from storage.errors import StorageError, from_sqlite
from storage.keys import AgentKeys
from storage.rollup import Rollups
from storage.stats import EXACT_SAMPLES

__all__ = ["DEFAULT_EXACT_MAX_ROWS", "Database"]

DEFAULT_EXACT_MAX_ROWS: Final = EXACT_SAMPLES
"""``task_stats`` computes exactly from rows when a range holds at most this many.

The same size as the aggregator's (:data:`storage.stats.EXACT_SAMPLES`), so the
in-memory and the stored statistics of the same tasks agree.
"""


class Database:
    """An open metrics database: its connection, lifecycle and transactions.

    The base of :class:`~storage.metrics.MetricsStorage`; see there for the
    arguments and the threading rule.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = "swarm_metrics.db",
        *,
        readonly: bool = False,
        create: bool = True,
        busy_timeout: float = 5.0,
        max_bytes: int | None = None,
        exact_max_rows: int = DEFAULT_EXACT_MAX_ROWS,
    ) -> None:
        check_millis("busy_timeout", busy_timeout)
        if max_bytes is not None and (type(max_bytes) is not int or max_bytes < 1):
            raise InvalidMessage("max_bytes", max_bytes, "must be None or a positive integer")
        if type(exact_max_rows) is not int or exact_max_rows < 0:
            raise InvalidMessage("exact_max_rows", exact_max_rows, "must be an integer >= 0")
        path = os.fspath(db_path)
        self.path = path if path == ":memory:" else os.path.expanduser(path)
        self.readonly = readonly
        self.exact_max_rows = exact_max_rows
        self._keys = AgentKeys()
        self._rollups = Rollups()
        self._conn: sqlite3.Connection | None = open_connection(
            self.path,
            readonly=readonly,
            create=create,
            busy_timeout=busy_timeout,
            max_bytes=max_bytes,
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._conn is None

    def close(self) -> None:
        """Close the database; calling it again does nothing."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "readonly" if self.readonly else "open"
        return f"{type(self).__name__}({self.path!r}, {state})"

    def settings(self) -> dict[str, Any]:
        """Return the connection's settings, for diagnostics.

        Keys: ``schema_version``, ``journal_mode``, ``synchronous`` (1 is
        NORMAL), ``foreign_keys``, ``query_only``, ``busy_timeout_ms``,
        ``max_page_count``, ``page_size``.
        """
        with self._transaction("settings", write=False) as conn:
            names = ("journal_mode", "synchronous", "foreign_keys", "query_only")
            found = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}
            found["schema_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
            found["busy_timeout_ms"] = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            found["max_page_count"] = conn.execute("PRAGMA max_page_count").fetchone()[0]
            found["page_size"] = conn.execute("PRAGMA page_size").fetchone()[0]
        return found

    @contextmanager
    def _transaction(self, operation: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """Run the body in one transaction; roll back and raise StorageError on failure."""
        conn = self._conn
        if conn is None:
            raise StorageError(operation, "the storage is closed")
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise from_sqlite(operation, exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # pragma: no cover - the original error says more
                    pass
            if write:
                self._keys.forget()
                self._rollups.forget()
            if isinstance(exc, sqlite3.Error):
                raise from_sqlite(operation, exc) from exc
            raise
