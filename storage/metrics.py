"""MetricsStorage: the SQLite store of everything swarmpulse records."""

from __future__ import annotations

from messages import InvalidMessage
from storage.quarantine import Quarantined
from storage.alertstate import AlertStateStore
from storage.reader import Reader
from storage.writer import Writer

__all__ = ["MetricsStorage"]


class MetricsStorage(Writer, Reader, AlertStateStore):
    """Task metrics, gauges, health transitions, alerts and agents, in SQLite.

    Every write is one transaction: it is kept whole or not at all. Task
    metrics also update per-minute and per-hour rollups in the same
    transaction, so :meth:`task_stats` over a day of a million rows reads a
    few hundred summaries instead of the rows. See :mod:`storage.schema`.

    Not thread-safe, by design: one owner thread at a time (the writer actor,
    or a reader) uses an instance, and one writer owns a file (more writers
    are correct, only slower). The connection is opened with
    ``check_same_thread=False`` only so that a restarted owner actor may carry
    on from another thread. Any number of instances, in any processes, may
    read a file while one writes it (WAL mode).

    Times are epoch seconds (float) or ``datetime`` (naive means UTC); ranges
    include their start and exclude their end.

    Example:
        ```py
        with MetricsStorage(":memory:") as storage:
            storage.store_batch(tasks=[("t1", "a1", 12.5, "success", 300, 2, now, None)])
            stats = storage.task_stats(start_time=now - 3600, end_time=now + 1)
            assert stats["total_tasks"] == 1 and stats["exact"]
        ```

    Args:
        db_path: a file path, or ``":memory:"``.
        readonly: open with a read-only URI (``mode=ro``) and ``query_only``;
            never writes or migrates.
        create: create the file and schema if missing; if False, a missing
            file or one without the schema is refused.
        busy_timeout: seconds to wait for a lock held by another connection.
        max_bytes: refuse writes that would grow the file past this size
            (``PRAGMA max_page_count``); None for no limit.
        exact_max_rows: :meth:`task_stats` is exact up to this many rows.

    Raises:
        NotOurDatabase: the file is not SQLite, or has no swarmpulse schema and
            ``readonly`` or not ``create``.
        SchemaTooNew: the file was written by a newer swarmpulse (left untouched).
        StorageError: the file is missing (``create=False``), locked, unreadable, ...
    """

    def query_quarantine(self, limit: int | None = None) -> list[Quarantined]:
        """The items refused for their data, oldest first (see :mod:`storage.quarantine`)."""
        bound = -1 if limit is None else limit
        if type(bound) is not int or bound < -1:
            raise InvalidMessage("limit", limit, "must be None or an integer >= 0")
        with self._transaction("query_quarantine", write=False) as conn:
            rows = conn.execute(
                "SELECT at, kind, error, encoding, payload FROM quarantine ORDER BY id LIMIT ?",
                (bound,),
            ).fetchall()
        return [
            Quarantined(at=at, kind=kind, error=error, encoding=encoding, payload=bytes(payload))
            for at, kind, error, encoding, payload in rows
        ]

    def quarantined_count(self) -> int:
        """How many items the quarantine table holds."""
        with self._transaction("quarantined_count", write=False) as conn:
            return int(conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])
