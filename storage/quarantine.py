"""Items the storage could not store, kept verbatim with the error, instead of lost.

A batch that fails for a reason of its data (a value SQLite cannot hold, a row
of the wrong shape, metadata that does not encode) is split until the items
at fault are found; those go to the ``quarantine`` table and the rest is
stored. A failure of the database itself (locked, read-only, full) is never
data: the whole batch is kept for a retry.

The payload is the item as msgpack (msgspec's encoding: a message keeps its
tag, a row is an array of its fields, floats are kept exactly), or, for an
object msgpack cannot encode, its ``repr`` as UTF-8 text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import msgspec

__all__ = [
    "QUARANTINE_TABLE",
    "Quarantined",
    "decode_payload",
    "insert_quarantined",
    "is_data_error",
    "quarantined",
]

QUARANTINE_TABLE: Final = (
    """CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        error TEXT NOT NULL,
        encoding TEXT NOT NULL,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX quarantine_by_time ON quarantine (at)",
)
"""Migration 3's DDL: one row per item refused, with when, what kind, why, and the item."""

_MAX_ERROR: Final = 2000  # characters of the error text kept
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode

# SQLite failures that say nothing about the data: the database, the disk or a lock.
_DATA_ERRORS: Final = (
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
)


class Quarantined(msgspec.Struct, frozen=True, kw_only=True):
    """One refused item.

    Attributes:
        at: when it was refused (epoch s).
        kind: the batch field it came in (``tasks``, ``agent_metrics``, ...),
            or where it was refused before storage (``telemetry``).
        error: the exception, as ``TypeName: text``.
        encoding: ``msgpack`` or ``repr``.
        payload: the item, encoded as ``encoding`` says.
    """

    at: float
    kind: str
    error: str
    encoding: str
    payload: bytes


def quarantined(kind: str, item: object, error: BaseException | str, at: float) -> Quarantined:
    """Return the quarantine record of ``item``, refused with ``error`` at ``at``."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    try:
        payload, encoding = _encode(item), "msgpack"
    except Exception:  # an object msgpack cannot encode: keep what it says it is
        payload, encoding = _safe_repr(item).encode("utf-8", "backslashreplace"), "repr"
    return Quarantined(at=at, kind=kind, error=text[:_MAX_ERROR], encoding=encoding, payload=payload)


def _safe_repr(item: object) -> str:
    try:
        return repr(item)
    except Exception as exc:  # a hostile __repr__
        return f"<{type(item).__name__} whose repr raised {type(exc).__name__}>"


def decode_payload(record: Quarantined) -> Any:
    """The item as msgpack decodes it (messages come back as their fields), or its repr text."""
    if record.encoding == "msgpack":
        return _decode(record.payload)
    return record.payload.decode("utf-8", "backslashreplace")


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` from storing a batch is trouble with its data, not with the database."""
    if isinstance(exc, sqlite3.Error):
        return isinstance(exc, _DATA_ERRORS)
    return isinstance(exc, Exception)


def insert_quarantined(conn: sqlite3.Connection, records: Sequence[Quarantined]) -> None:
    """Insert quarantine records (inside the caller's transaction)."""
    conn.executemany(
        "INSERT INTO quarantine (at, kind, error, encoding, payload) VALUES (?, ?, ?, ?, ?)",
        [(r.at, r.kind, r.error, r.encoding, r.payload) for r in records],
    )
