"""The swarm's settings kept in the file: swarm id, topology, and the like."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

__all__ = ["read_metadata", "write_metadata"]


def read_metadata(conn: sqlite3.Connection) -> dict[str, str]:
    """Return every stored setting, by key.

    Empty for a file no system has opened, and for one opened read-only at an
    older schema version (it has no metadata table yet).
    """
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'swarm_metadata'"
    ).fetchone()
    if found is None:
        return {}
    return dict(conn.execute("SELECT key, value FROM swarm_metadata ORDER BY key"))


def write_metadata(conn: sqlite3.Connection, values: Mapping[str, str]) -> None:
    """Set each key to its value, replacing what was stored; inside a write transaction."""
    conn.executemany(
        "INSERT INTO swarm_metadata (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [(str(key), str(value)) for key, value in values.items()],
    )
