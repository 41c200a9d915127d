"""Alert management's durable state: one keyed table per kind, written in one transaction.

The alert router keeps its state in memory and sends every change here; after
a restart (or a SIGKILL) it loads it back. Each table holds a text ``key``, a
JSON ``body`` (the router's own encoding of one record) and ``updated_at``:

* ``alert_active``: alerts not yet resolved and notified, by fingerprint;
* ``alert_silences``: silences, by id (expired ones are kept, as history);
* ``alert_acks``: acknowledgements, by fingerprint;
* ``alert_nflog``: the notification log, by ``integration|group key``;
* ``alert_outbox``: notices decided but not yet delivered, by notice id;
* ``alert_escalations``: escalation positions, by fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from storage.database import Database
from storage.schema import ALERT_TABLES

__all__ = ["ALERT_TABLES", "AlertStateChange", "AlertStateStore"]

class AlertStateChange(NamedTuple):
    """One record to upsert, or (``body`` None) to delete."""

    table: str
    key: str
    body: str | None
    updated_at: float


class AlertStateStore(Database):
    """The alert router's reads and writes (a part of :class:`~storage.MetricsStorage`)."""

    def store_alert_state(self, changes: Iterable[AlertStateChange]) -> int:
        """Apply every change in ONE transaction, in order; returns how many.

        Raises:
            StorageError: the database refused it; nothing was changed.
            ValueError: a change names a table that is not one of :data:`ALERT_TABLES`.
        """
        listed = list(changes)
        for change in listed:
            if change.table not in ALERT_TABLES:
                raise ValueError(f"not an alert state table: {change.table!r}")
        with self._transaction("store_alert_state", write=True) as conn:
            for table, key, body, at in listed:
                if body is None:
                    conn.execute(f"DELETE FROM {table} WHERE key = ?", (key,))
                else:
                    conn.execute(
                        f"INSERT INTO {table} (key, body, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET body = excluded.body, "
                        "updated_at = excluded.updated_at",
                        (key, body, at),
                    )
        return len(listed)

    def load_alert_state(self) -> dict[str, dict[str, str]]:
        """Every record, by table then key (in key order)."""
        with self._transaction("load_alert_state", write=False) as conn:
            return {
                table: dict(conn.execute(f"SELECT key, body FROM {table} ORDER BY key"))
                for table in ALERT_TABLES
            }
