"""Tests for storage/errors.py: what each error says and carries."""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from messages import SwarmPulseError
from storage import NotOurDatabase, SchemaTooNew, StorageError, UnknownAgentRecord
from storage.errors import from_sqlite


def test_storage_error_names_the_operation_and_the_reason() -> None:
    """The message says which operation failed and why; both are attributes."""
    error = StorageError("store_batch", "database is locked")
    assert isinstance(error, SwarmPulseError)
    assert (error.operation, error.reason) == ("store_batch", "database is locked")
    assert str(error) == "store_batch failed: database is locked"


def test_schema_too_new_carries_the_versions_and_the_path() -> None:
    """SchemaTooNew is an open failure with .found, .supported and .path."""
    error = SchemaTooNew("/x/metrics.db", 7, 2)
    assert isinstance(error, StorageError)
    assert (error.path, error.found, error.supported, error.operation) == (
        "/x/metrics.db",
        7,
        2,
        "open",
    )
    assert "/x/metrics.db" in str(error) and "7" in str(error) and "2" in str(error)


def test_not_our_database_names_the_file() -> None:
    """NotOurDatabase is an open failure naming the path and what was found."""
    error = NotOurDatabase("/x/notes.txt", "the file is not a SQLite database")
    assert isinstance(error, StorageError)
    assert error.path == "/x/notes.txt"
    assert "/x/notes.txt" in str(error) and "not a SQLite database" in str(error)


def test_unknown_agent_record_is_a_key_error_with_a_readable_message() -> None:
    """UnknownAgentRecord is both a StorageError and a KeyError, and prints unquoted."""
    error = UnknownAgentRecord("agent_uptime", "ghost")
    assert isinstance(error, KeyError) and isinstance(error, StorageError)
    assert error.agent_id == "ghost"
    assert str(error) == "agent_uptime failed: no agent 'ghost' was ever recorded"
    with pytest.raises(KeyError):
        raise error


@pytest.mark.parametrize(
    "error",
    [
        StorageError("open", "why"),
        SchemaTooNew("p", 3, 2),
        NotOurDatabase("p", "what"),
        UnknownAgentRecord("agent_uptime", "a"),
    ],
)
def test_errors_survive_pickling(error: StorageError) -> None:
    """Every storage error pickles and unpickles to the same type and message."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)


def test_sqlite_failures_become_storage_errors_with_the_sqlite_error_name() -> None:
    """from_sqlite keeps SQLite's message and adds its error name when known."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT * FROM missing_table")
    except sqlite3.Error as exc:
        error = from_sqlite("query_alerts", exc)
    conn.close()
    assert error.operation == "query_alerts"
    assert "no such table: missing_table" in error.reason
    assert "SQLITE_ERROR" in error.reason
