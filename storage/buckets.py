"""Rollup buckets read for many agents at once: the statistics of every agent in one pass.

:func:`~storage.stats.task_stats` reads the rollup buckets of a range through a
:class:`BucketSource`. :class:`SqlBuckets` asks SQLite for each piece, which
suits one agent; :class:`LoadedBuckets` holds the buckets of many agents over
one range per level, read with one query per level, and answers every agent's
pieces from memory. A report of 100 agents then costs two queries of buckets
instead of 200, and the same numbers: each agent's buckets are merged in the
same (time) order either way.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Protocol

from storage.rollup import Level, add_buckets, bucket_rows, count_buckets
from storage.summary import TaskSummary

__all__ = ["BucketSource", "LoadedBuckets", "SqlBuckets"]



class BucketSource(Protocol):
    """Where :func:`~storage.stats.task_stats` finds the rollup buckets of a piece of range."""

    def count(self, level: Level, key: int, start: int, end: int) -> int:
        """How many tasks the ``level`` buckets of ``key`` that start in [start, end) hold."""
        ...

    def add(self, level: Level, key: int, start: int, end: int, into: TaskSummary) -> None:
        """Merge those buckets into ``into``, in time order."""
        ...


class SqlBuckets:
    """Every piece asked of SQLite as it comes (one agent's statistics)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def count(self, level: Level, key: int, start: int, end: int) -> int:
        """See :meth:`BucketSource.count`."""
        return count_buckets(self._conn, level, key, start, end)

    def add(self, level: Level, key: int, start: int, end: int, into: TaskSummary) -> None:
        """See :meth:`BucketSource.add`."""
        add_buckets(self._conn, level, key, start, end, into)


class _Run:
    """One agent's loaded buckets of one level: starts, counts and encoded summaries, by time."""

    __slots__ = ("blobs", "counts", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.counts: list[int] = []
        self.blobs: list[bytes] = []


class LoadedBuckets:
    """The buckets of some agents that start in one range per level, read once.

    A piece outside the loaded range of its level (or of a key not loaded) is
    asked of SQLite, so an answer never depends on what was loaded, only its
    cost does. Use it inside the read transaction it was loaded in.
    """

    __slots__ = ("_loaded", "_ranges", "_sql")

    def __init__(
        self,
        conn: sqlite3.Connection,
        keys: Sequence[int],
        ranges: Mapping[Level, tuple[int, int]],
    ) -> None:
        """Read the buckets of ``keys`` that start in ``ranges[level]`` ([start, end)) of each level."""
        self._sql = SqlBuckets(conn)
        self._ranges = dict(ranges)
        self._loaded: dict[Level, dict[int, _Run]] = {}
        wanted = sorted(set(keys))
        for level, (start, end) in self._ranges.items():
            runs: dict[int, _Run] = {key: _Run() for key in wanted}
            for key, bucket_start, task_count, blob in bucket_rows(conn, level, wanted, start, end):
                run = runs[key]
                run.starts.append(bucket_start)
                run.counts.append(task_count)
                run.blobs.append(blob)
            self._loaded[level] = runs

    def _run(self, level: Level, key: int, start: int, end: int) -> tuple[_Run, int, int] | None:
        """The loaded run holding the piece and the piece's positions in it; None if not loaded."""
        bounds = self._ranges.get(level)
        if bounds is None or start < bounds[0] or end > bounds[1]:
            return None
        run = self._loaded[level].get(key)
        if run is None:
            return None
        return run, bisect_left(run.starts, start), bisect_left(run.starts, end)

    def count(self, level: Level, key: int, start: int, end: int) -> int:
        """See :meth:`BucketSource.count`."""
        found = self._run(level, key, start, end)
        if found is None:
            return self._sql.count(level, key, start, end)
        run, first, last = found
        return sum(run.counts[first:last])

    def add(self, level: Level, key: int, start: int, end: int, into: TaskSummary) -> None:
        """See :meth:`BucketSource.add`."""
        found = self._run(level, key, start, end)
        if found is None:
            self._sql.add(level, key, start, end, into)
            return
        run, first, last = found
        into.merge_encoded(run.blobs[first:last])
