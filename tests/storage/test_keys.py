"""Tests for storage/keys.py: agent keys created on demand and cached."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from storage.keys import AgentKeys
from storage.schema import MIGRATIONS


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    """An in-memory connection with the base tables."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    for statement in MIGRATIONS[0].statements:
        connection.execute(statement)
    yield connection
    connection.close()


def test_resolve_creates_missing_agents_once(conn: sqlite3.Connection) -> None:
    """Unknown ids get rows and distinct integer keys; known ids keep theirs."""
    keys = AgentKeys()
    first = dict(keys.resolve(conn, {"a", "b"}))
    second = dict(keys.resolve(conn, {"b", "c"}))
    assert first["b"] == second["b"]
    assert len({first["a"], first["b"], second["c"]}) == 3
    assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 3


def test_keys_start_above_zero(conn: sqlite3.Connection) -> None:
    """No agent gets key 0, which the rollups use for the whole swarm."""
    assert min(AgentKeys().resolve(conn, {f"a{i}" for i in range(10)}).values()) >= 1


def test_resolve_handles_more_ids_than_one_lookup_takes(conn: sqlite3.Connection) -> None:
    """Thousands of new ids at once all get keys."""
    ids = {f"agent-{i}" for i in range(1_234)}
    resolved = AgentKeys().resolve(conn, ids)
    assert ids <= set(resolved)


def test_lookup_never_creates(conn: sqlite3.Connection) -> None:
    """lookup of an unknown id is None and adds no row."""
    assert AgentKeys().lookup(conn, "ghost") is None
    assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 0


def test_forget_drops_keys_of_rolled_back_rows(conn: sqlite3.Connection) -> None:
    """After a rollback and forget, a key created in the rolled-back transaction is gone."""
    keys = AgentKeys()
    conn.execute("BEGIN")
    keys.resolve(conn, {"temp"})
    conn.execute("ROLLBACK")
    keys.forget()
    assert keys.lookup(conn, "temp") is None
