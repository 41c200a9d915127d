"""Errors raised by the storage layer: which operation failed, and why."""

from __future__ import annotations

import sqlite3
from typing import Any

from messages import SwarmPulseError

__all__ = [
    "NeverTracked",
    "NotOurDatabase",
    "SchemaTooNew",
    "StorageError",
    "UnknownAgentRecord",
    "from_sqlite",
]


class StorageError(SwarmPulseError):
    """A storage operation failed; nothing it was writing was kept.

    Attributes:
        operation: the public method that failed (``"open"``, ``"store_batch"``,
            ``"query_task_metrics"``, ...).
        reason: why, in words (for SQLite failures, its message and error name,
            such as ``database is locked (SQLITE_BUSY)``).
    """

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(operation, reason)

    def __str__(self) -> str:
        return f"{self.operation} failed: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (StorageError, (self.operation, self.reason))


class SchemaTooNew(StorageError):
    """The database was written by a newer swarmpulse; it was left untouched.

    Attributes:
        path: the database file.
        found: the schema version in the file.
        supported: the newest schema version this code knows.
    """

    def __init__(self, path: str, found: int, supported: int) -> None:
        self.path = path
        self.found = found
        self.supported = supported
        super().__init__(
            "open",
            f"{path} has schema version {found}, newer than version {supported} that this "
            "swarmpulse supports; upgrade swarmpulse to read it",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (SchemaTooNew, (self.path, self.found, self.supported))


class NotOurDatabase(StorageError):
    """The file is not SQLite, or is a SQLite database without swarmpulse's schema.

    Attributes:
        path: the file.
        detail: what was found instead.
    """

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__("open", f"{path} is not a swarmpulse metrics database: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (NotOurDatabase, (self.path, self.detail))


class UnknownAgentRecord(StorageError, KeyError):
    """The database has never seen this agent.

    Attributes:
        agent_id: the agent asked for.
    """

    def __init__(self, operation: str, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__(operation, f"no agent {agent_id!r} was ever recorded")

    def __reduce__(self) -> tuple[Any, ...]:
        return (UnknownAgentRecord, (self.operation, self.agent_id))


class NeverTracked(UnknownAgentRecord):
    """The database knows this agent only from its data: it was never registered.

    Attributes:
        agent_id: the agent asked for.
    """

    def __init__(self, operation: str, agent_id: str) -> None:
        super().__init__(operation, agent_id)
        self.reason = f"agent {agent_id!r} was never registered, so it was never tracked"

    def __reduce__(self) -> tuple[Any, ...]:
        return (NeverTracked, (self.operation, self.agent_id))


def from_sqlite(operation: str, exc: sqlite3.Error) -> StorageError:
    """Return the :class:`StorageError` for a SQLite failure during ``operation``."""
    name = getattr(exc, "sqlite_errorname", None)
    reason = str(exc) or type(exc).__name__
    return StorageError(operation, f"{reason} ({name})" if name else reason)
