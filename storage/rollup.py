"""Task rollups: a TaskSummary per (minute, agent) and (hour, agent), and for the swarm.

This module is the one summariser of task rows: :func:`group_by_minute`,
:func:`summarise` and the threshold :func:`summaries_pay`, used by the
aggregator for its statistics (its summaries then come with the rows, see
:meth:`Rollups.add_summaries`) and here. Summaries are keyed by
``(agent, minute_start)`` everywhere.

The writer hands :meth:`Rollups.add` the columns of the task rows it inserts.
Rows are grouped by (agent, minute) and each group is summarised; the
groups are combined into the batch's summaries of each agent's hours and the
swarm's minutes (merged, or re-added from the rows when the groups are
small), and the swarm's minutes into its hours. Each batch summary is then
merged into its stored bucket, read-modify-write, inside the writer's
transaction. Bucket rows are keyed by (``agent_key``, ``bucket_start``), so
the buckets of one agent (or of the swarm, key 0) over a range are one
primary-key range to read.

A live writer touches the same few hundred buckets batch after batch, so the
buckets it wrote last are kept decoded in memory and reused when the stored
``task_count`` shows nobody changed them since; otherwise they are read back.
Readers add up the buckets of a time range.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from itertools import chain, groupby, repeat
from operator import floordiv
from typing import Any, Final, Literal, TypeVar

from storage.summary import TaskSummary

__all__ = [
    "HOUR",
    "MINUTE",
    "SUMMARY_PAYS_AT",
    "SWARM_KEY",
    "Columns",
    "Level",
    "Rollups",
    "add_buckets",
    "bucket_rows",
    "count_buckets",
    "group_by_minute",
    "rebuild_rollups",
    "summaries_pay",
    "summarise",
]

SWARM_KEY: Final = 0
"""The ``agent_key`` of the whole-swarm rollups (no agent has key 0)."""
MINUTE: Final = 60
HOUR: Final = 3600

Level = Literal["minute", "hour"]
Bucket = tuple[int, int]
"""``(bucket_start, agent_key)``: which bucket a rollup row is."""

_TABLES: Final[dict[str, str]] = {"minute": "task_rollup_minute", "hour": "task_rollup_hour"}
_MINUTES: Final = _TABLES["minute"]
_HOURS: Final = _TABLES["hour"]
_UPSERT_ROWS: Final = 1000  # buckets per statement: 4,000 parameters
_UPSERT: Final = (
    "INSERT INTO {table} (task_count, summary, bucket_start, agent_key) VALUES {values} "
    "ON CONFLICT (agent_key, bucket_start) DO UPDATE "
    "SET task_count = excluded.task_count, summary = excluded.summary"
)
_IN_CHUNK: Final = 400  # values per IN (...) list, well under SQLite's variable limit
_REBUILD_CHUNK: Final = 50_000


_Group = tuple[TaskSummary, list[int]]
"""A group of rows: its summary and its positions in the batch's columns."""
_A = TypeVar("_A", bound=Hashable)

SUMMARY_PAYS_AT: Final = 16
"""Rows per group, on average, from which summarising each group and merging the
summaries beats adding the rows again (to a total, or to the next level up)."""

Columns = tuple[Sequence[float], Sequence[str], Sequence[int], Sequence[int]]
"""``(durations, results, tokens, files)`` of a batch's task rows."""


def group_by_minute(
    agents: Sequence[_A], timestamps: Sequence[float]
) -> dict[tuple[_A, int], list[int]]:
    """Return the positions of the rows of each ``(agent, minute_start)``, in row order.

    The one grouping of task rows by agent and minute, for the aggregator's
    summaries and the rollups alike; ``agents`` are ids or keys. A batch almost
    always falls within one minute; its rows are then grouped by agent with a
    sort and ``groupby`` (C loops) instead of a Python loop per row: 9 ms
    instead of 16 for 20,000 rows of 100 agents.

    Raises:
        TypeError: the agents cannot be ordered (ids of different types).
        ValueError, OverflowError: a timestamp is not a finite number.
    """
    if not agents:
        return {}
    first, last = int(min(timestamps) // MINUTE), int(max(timestamps) // MINUTE)
    if first == last:
        key: Callable[[int], Any] = agents.__getitem__
        order = sorted(range(len(agents)), key=key)
        start = first * MINUTE
        return {(agent, start): list(positions) for agent, positions in groupby(order, key)}
    groups: dict[tuple[_A, int], list[int]] = {}
    get = groups.get
    minutes = map(int, map(floordiv, timestamps, repeat(float(MINUTE))))
    for position, (agent, minute) in enumerate(zip(agents, minutes)):
        bucket = (agent, minute * MINUTE)
        group = get(bucket)
        if group is None:
            groups[bucket] = [position]
        else:
            group.append(position)
    return groups


def summaries_pay(rows: int, groups: int) -> bool:
    """Whether ``rows`` in ``groups`` are worth a summary per group (see :data:`SUMMARY_PAYS_AT`)."""
    return groups == 1 or rows >= SUMMARY_PAYS_AT * groups


def summarise(
    groups: Mapping[tuple[_A, int], list[int]], columns: Columns
) -> dict[tuple[_A, int], TaskSummary]:
    """Return a summary of each group's rows, keyed like ``groups``.

    Raises:
        ValueError: a duration is negative or NaN.
    """
    summaries: dict[tuple[_A, int], TaskSummary] = {}
    for bucket, positions in groups.items():
        summary = TaskSummary()
        summary.add_columns(*columns, positions)
        summaries[bucket] = summary
    return summaries


def _combine(groups: list[_Group], columns: Columns) -> TaskSummary:
    """Return a new summary of several groups' rows: merged, or re-added when groups are small."""
    combined = TaskSummary()
    rows = sum(len(positions) for _, positions in groups)
    if summaries_pay(rows, len(groups)):
        for summary, _ in groups:
            combined.merge(summary)
    else:
        combined.add_columns(*columns, list(chain.from_iterable(p for _, p in groups)))
    return combined


class Rollups:
    """Keeps the rollup tables equal to the task rows, one batch at a time.

    Holds the buckets of the last batch (see the module docstring); call
    :meth:`forget` after a rollback or anything that rewrites rollups.
    """

    __slots__ = ("_recent",)

    def __init__(self) -> None:
        self._recent: dict[tuple[str, Bucket], TaskSummary] = {}

    def forget(self) -> None:
        """Drop the buckets kept from the last batch."""
        self._recent = {}

    def discard(self, keys: Collection[int]) -> None:
        """Drop the kept buckets of these agents (agents that left: nothing to reuse)."""
        if keys and self._recent:
            self._recent = {
                entry: summary for entry, summary in self._recent.items()
                if entry[1][1] not in keys
            }

    def add(
        self,
        conn: sqlite3.Connection,
        agent_keys: Sequence[int],
        timestamps: Sequence[float],
        durations: Sequence[float],
        results: Sequence[str],
        tokens: Sequence[int],
        files: Sequence[int],
    ) -> None:
        """Merge task rows, given as columns, into every rollup they belong to.

        Must run inside the write transaction that inserts the rows.

        Raises:
            ValueError: a duration is negative or NaN.
        """
        columns = (durations, results, tokens, files)
        by_minute = group_by_minute(agent_keys, timestamps)
        minutes: dict[Bucket, TaskSummary] = {}
        swarm_groups: dict[int, list[_Group]] = {}
        hour_groups: dict[Bucket, list[_Group]] = {}
        for (key, start), summary in summarise(by_minute, columns).items():
            positions = by_minute[(key, start)]
            minutes[(start, key)] = summary
            swarm_groups.setdefault(start, []).append((summary, positions))
            hour_groups.setdefault((start // HOUR * HOUR, key), []).append((summary, positions))
        hours = {bucket: _combine(groups, columns) for bucket, groups in hour_groups.items()}
        for start, groups in swarm_groups.items():
            swarm_minute = minutes[(start, SWARM_KEY)] = _combine(groups, columns)
            swarm_hour = hours.get((start // HOUR * HOUR, SWARM_KEY))
            if swarm_hour is None:
                swarm_hour = hours[(start // HOUR * HOUR, SWARM_KEY)] = TaskSummary()
            swarm_hour.merge(swarm_minute)
        self._write(conn, minutes, hours)

    def add_summaries(
        self, conn: sqlite3.Connection, summaries: Mapping[tuple[int, int], TaskSummary]
    ) -> None:
        """Merge per-agent minute summaries of a batch's rows into every rollup.

        The fast path for a caller that summarised the rows already (the
        aggregator does, for its own statistics, with :func:`summarise`):
        ``summaries`` maps ``(agent_key, minute_start)`` to the summary of
        exactly the batch's rows of that agent and minute. Hours and the swarm
        (key 0) are merged from them; the caller's summaries are never changed.

        A summary that is a bucket's whole change (an agent's minute, an hour
        of one minute) is merged into the stored bucket as it is, not copied
        first: about 300 merges a batch of 100 agents instead of 600.
        """
        minutes: dict[Bucket, TaskSummary] = {}
        hour_parts: dict[Bucket, list[TaskSummary]] = {}
        swarm_parts: dict[int, list[TaskSummary]] = {}
        for (key, start), summary in summaries.items():
            minutes[(start, key)] = summary  # read by _write, never changed
            hour_parts.setdefault((start // HOUR * HOUR, key), []).append(summary)
            swarm_parts.setdefault(start, []).append(summary)
        for start, parts in swarm_parts.items():
            swarm_minute = minutes[(start, SWARM_KEY)] = _merged(parts)
            hour_parts.setdefault((start // HOUR * HOUR, SWARM_KEY), []).append(swarm_minute)
        hours = {
            bucket: parts[0] if len(parts) == 1 else _merged(parts)
            for bucket, parts in hour_parts.items()
        }
        self._write(conn, minutes, hours)

    def _write(
        self,
        conn: sqlite3.Connection,
        minutes: dict[Bucket, TaskSummary],
        hours: dict[Bucket, TaskSummary],
    ) -> None:
        """Merge new minute and hour summaries into the stored buckets.

        The summaries given are only read: a new bucket starts as a copy.
        """
        recent: dict[tuple[str, Bucket], TaskSummary] = {}
        for table, batch in ((_MINUTES, minutes), (_HOURS, hours)):
            stored = self._load(conn, table, batch)
            params: list[object] = []
            for bucket, summary in batch.items():
                base = stored.get(bucket)
                if base is None:
                    base = TaskSummary()
                base.merge(summary)
                params += (base.count, base.to_bytes(), *bucket)
                recent[(table, bucket)] = base
            _upsert(conn, table, params)
        self._recent = recent

    def _load(
        self, conn: sqlite3.Connection, table: str, wanted: dict[Bucket, TaskSummary]
    ) -> dict[Bucket, TaskSummary]:
        """Return the stored summaries of the wanted buckets that exist.

        One query lists the buckets that exist with their task counts, as a
        single text value: sqlite3 hands the GIL back around every row it
        steps, and under load each hand-back waits for another thread's turn
        (a few hundred buckets a batch, row by row, cost the writer more than
        its inserts). Only buckets not kept from the last batch, or changed
        since, are then read whole.
        """
        keys = sorted({bucket[1] for bucket in wanted})
        starts = sorted({bucket[0] for bucket in wanted})
        found: dict[Bucket, TaskSummary] = {}
        recent = self._recent
        to_read: list[Bucket] = []
        for i in range(0, len(keys), _IN_CHUNK):
            some_keys = keys[i : i + _IN_CHUNK]
            for j in range(0, len(starts), _IN_CHUNK):
                some_starts = starts[j : j + _IN_CHUNK]
                (listing,) = conn.execute(
                    f"SELECT group_concat(bucket_start || ' ' || agent_key || ' ' || task_count, ' ') "
                    f"FROM {table} WHERE agent_key IN ({','.join('?' * len(some_keys))}) "
                    f"AND bucket_start IN ({','.join('?' * len(some_starts))})",
                    (*some_keys, *some_starts),
                ).fetchone()
                numbers = list(map(int, listing.split())) if listing else []
                for k in range(0, len(numbers), 3):
                    bucket = (numbers[k], numbers[k + 1])
                    if bucket not in wanted:
                        continue
                    kept = recent.get((table, bucket))
                    if kept is None or kept.count != numbers[k + 2]:
                        to_read.append(bucket)
                    else:
                        found[bucket] = kept
        for start, key in to_read:
            row = conn.execute(
                f"SELECT summary FROM {table} WHERE agent_key = ? AND bucket_start = ?",
                (key, start),
            ).fetchone()
            found[(start, key)] = TaskSummary.from_bytes(row[0])
        return found


def _merged(parts: list[TaskSummary]) -> TaskSummary:
    """A new summary of several."""
    combined = TaskSummary()
    for part in parts:
        combined.merge(part)
    return combined


def _upsert(conn: sqlite3.Connection, table: str, params: list[object]) -> None:
    """Write bucket rows (4 parameters each), up to a thousand to a statement.

    One statement rather than one per bucket: each statement hands the GIL
    back and must wait to take it again when another thread is busy.
    """
    width = _UPSERT_ROWS * 4
    for i in range(0, len(params), width):
        chunk = params[i : i + width]
        values = ", ".join(["(?, ?, ?, ?)"] * (len(chunk) // 4))
        conn.execute(_UPSERT.format(table=table, values=values), chunk)


def rebuild_rollups(conn: sqlite3.Connection) -> int:
    """Recompute every rollup from the task rows; return how many rows were read.

    Must run inside a write transaction. Migration 2 uses it to backfill.
    """
    for table in _TABLES.values():
        conn.execute(f"DELETE FROM {table}")
    cursor = conn.execute(
        "SELECT agent_key, timestamp, duration_ms, result, tokens_used, files_changed "
        "FROM task_metrics ORDER BY id"
    )
    rollups = Rollups()
    total = 0
    while rows := cursor.fetchmany(_REBUILD_CHUNK):
        total += len(rows)
        rollups.add(conn, *zip(*rows))
    return total


def bucket_rows(
    conn: sqlite3.Connection, level: Level, keys: Sequence[int], start: float, end: float,
    *, through: bool = False,
) -> Iterator[tuple[int, int, int, bytes]]:
    """``(agent_key, bucket_start, task_count, summary)`` of the ``level`` buckets of ``keys``.

    The buckets that start in [start, end) ([start, end] with ``through``), by key
    then start: one query per :data:`_IN_CHUNK` keys, not a query per key.
    """
    wanted = sorted(set(keys))
    upper = "<=" if through else "<"
    for i in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[i : i + _IN_CHUNK]
        yield from conn.execute(
            f"SELECT agent_key, bucket_start, task_count, summary FROM {_TABLES[level]} "
            f"WHERE agent_key IN ({','.join('?' * len(chunk))}) "
            f"AND bucket_start >= ? AND bucket_start {upper} ? ORDER BY agent_key, bucket_start",
            (*chunk, start, end),
        )


def count_buckets(conn: sqlite3.Connection, level: Level, key: int, start: int, end: int) -> int:
    """Return how many tasks the ``level`` buckets of ``key`` in [start, end) hold."""
    row = conn.execute(
        f"SELECT COALESCE(SUM(task_count), 0) FROM {_TABLES[level]} "
        "WHERE agent_key = ? AND bucket_start >= ? AND bucket_start < ?",
        (key, start, end),
    ).fetchone()
    return int(row[0])


def add_buckets(
    conn: sqlite3.Connection, level: Level, key: int, start: int, end: int, into: TaskSummary
) -> None:
    """Merge the ``level`` buckets of ``key`` that start in [start, end) into ``into``.

    In ``bucket_start`` order (the primary key's), so that sums add up the same
    way on every path.
    """
    rows = conn.execute(
        f"SELECT summary FROM {_TABLES[level]} "
        "WHERE agent_key = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start",
        (key, start, end),
    )
    into.merge_encoded([blob for (blob,) in rows])
