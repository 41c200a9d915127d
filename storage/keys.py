"""The integer keys that stand for agent ids in every table."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from typing import Final

__all__ = ["AgentKeys"]

_CHUNK: Final = 500  # ids per IN (...) lookup, well under SQLite's variable limit


class AgentKeys:
    """A writer's cache of ``agent_id -> agent_key``, creating agents rows on demand.

    A key never changes while its agent exists, so the cache only has to be
    dropped (:meth:`forget`) when a transaction that may have created keys is
    rolled back, and when retention deletes agents. (If another connection's
    retention deletes a cached agent, the next insert fails its foreign key,
    the batch rolls back, the cache is dropped, and the retry succeeds.)
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def lookup(self, conn: sqlite3.Connection, agent_id: str) -> int | None:
        """Return the agent's key, or None if the database has never seen it.

        Always asks the database (one index lookup), so a reader never acts on
        a key that another connection's retention has since deleted.
        """
        sql = "SELECT agent_key FROM agents WHERE agent_id = ?"
        row = conn.execute(sql, (agent_id,)).fetchone()
        return None if row is None else int(row[0])

    def resolve(self, conn: sqlite3.Connection, agent_ids: Collection[str]) -> dict[str, int]:
        """Return a mapping holding the key of every id, creating missing agents.

        Must run inside the write transaction that uses the keys.
        """
        cache = self._cache
        missing = [agent_id for agent_id in agent_ids if agent_id not in cache]
        # A statement per chunk, never a statement per id: sqlite3 hands the GIL back
        # around every step and, beside busy threads, waits up to 5 ms to take it
        # again (an executemany of 100 ids took 1.0 s beside 4 recording threads).
        for i in range(0, len(missing), _CHUNK):
            chunk = missing[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            conn.execute(
                f"INSERT OR IGNORE INTO agents (agent_id) VALUES {','.join(['(?)'] * len(chunk))}",
                chunk,
            )
            cache.update(
                conn.execute(
                    f"SELECT agent_id, agent_key FROM agents WHERE agent_id IN ({marks})", chunk
                )
            )
        return cache

    def discard(self, agent_ids: Iterable[str]) -> set[int]:
        """Drop the cached keys of agents that left (their rows keep their keys).

        A writer that sees agents come and go would otherwise cache every id
        it ever wrote; an agent that comes back is looked up again.

        Returns:
            The keys that were cached.
        """
        cache = self._cache
        dropped = (cache.pop(agent_id, None) for agent_id in agent_ids)
        return {key for key in dropped if key is not None}

    def forget(self) -> None:
        """Drop every cached key (after a rollback or a deletion of agents)."""
        self._cache.clear()
