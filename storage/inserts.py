"""Writing messages as rows; every function runs inside the caller's transaction."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from messages import (
    AgentMetric,
    AgentRegistered,
    AgentUnregistered,
    Alert,
    HealthChanged,
    InvalidMessage,
    SwarmMetric,
    TaskMetric,
    check_count,
    check_id,
    check_metadata,
    to_epoch,
)
from storage.keys import AgentKeys
from storage.rollup import Rollups
from storage.summary import TaskSummary
from storage.rows import (
    SWARM_AGENT_ID,
    RowTuple,
    TaskColumns,
    dump_metadata,
    task_row,
)

__all__ = [
    "INSERT_TASK_SQL",
    "apply_agent_events",
    "as_task_columns",
    "insert_agent_metrics",
    "insert_alerts",
    "insert_health_events",
    "insert_swarm_metrics",
    "insert_tasks",
    "insert_values",
]

INSERT_TASK_SQL: Final = (
    "INSERT INTO task_metrics (task_id, agent_key, duration_ms, result, tokens_used, "
    "files_changed, timestamp, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
"""The statement that inserts one task row (``agent_key`` in place of ``agent_id``)."""

ROWS_PER_STATEMENT: Final = 4000
"""Task rows per INSERT statement, at most (32,000 parameters, under SQLite's 32,766)."""
_ALL_COLUMNS: Final = 8
_NO_METADATA: Final = INSERT_TASK_SQL.replace(", metadata)", ")").replace(", ?)", ")")
"""The task INSERT for rows none of which has metadata (it stays NULL): a parameter less."""


@functools.lru_cache(maxsize=32)
def _insert_many_sql(rows: int, columns: int) -> str:
    """The task INSERT with ``rows`` rows of ``columns`` (8, or 7: no metadata) parameters."""
    single = INSERT_TASK_SQL if columns == _ALL_COLUMNS else _NO_METADATA
    marks = "(" + ", ".join("?" * columns) + ")"
    return single.replace(marks, ", ".join([marks] * rows))


def _rows_per_statement(conn: sqlite3.Connection, columns: int) -> int:
    """As many rows as the connection's parameter limit allows, up to ROWS_PER_STATEMENT."""
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(ROWS_PER_STATEMENT, limit // columns))


def _insert_task_params(conn: sqlite3.Connection, flat: list[object], columns: int) -> None:
    """Insert task rows given as one flat parameter list, thousands to a statement.

    sqlite3 releases the GIL around every statement step and must take it back
    for the next one; with another Python thread busy each hand-back waits up
    to the switch interval (5 ms), so one row per step is ruinous (measured:
    124,000 rows/s alone, 8,000 beside one busy thread). Rows per step make the
    hand-back that much rarer: 1,000 gave 134,000 alone and 69,000 beside a
    busy thread, 4,000 gave 149,000 and 114,000 (1,000,000 rows, batches of
    20,000, scratch script over this schema).
    """
    rows = _rows_per_statement(conn, columns)
    width = rows * columns
    whole = len(flat) // width * width
    if whole:
        conn.executemany(
            _insert_many_sql(rows, columns), (flat[i : i + width] for i in range(0, whole, width))
        )
    # The rest in statements of 2048, 1024, ... rows: few steps, and few distinct
    # statements for sqlite3's statement cache.
    start, rest = whole, (len(flat) - whole) // columns
    size = 2048
    while rest:
        if rest >= size:
            conn.execute(_insert_many_sql(size, columns), flat[start : start + size * columns])
            start += size * columns
            rest -= size
        else:
            size //= 2



def insert_values(
    conn: sqlite3.Connection, head: str, marks: str, rows: Sequence[Sequence[object]], tail: str = ""
) -> None:
    """Run ``head VALUES marks, marks, ... tail`` for ``rows``, as few statements as fit.

    ``marks`` is one row's placeholders, ``(?, ?, NULL, ?)`` say. One
    statement per row (an executemany) hands the GIL back around every step;
    beside busy threads each hand-back waits up to the switch interval, and
    100 registrations took 1.0 s beside 4 recording threads. The rows go in
    order, so a later row's upsert sees an earlier one's.
    """
    if not rows:
        return
    width = len(rows[0])
    per_statement = _rows_per_statement(conn, width)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        flat = [value for row in chunk for value in row]
        conn.execute(f"{head} VALUES {', '.join([marks] * len(chunk))}{tail}", flat)


_REGISTER: Final = (
    "INSERT INTO agents (agent_id, registered_at, unregistered_at, interval_ms, "
    "failure_threshold, metadata)",
    "(?, ?, NULL, ?, ?, ?)",
    " ON CONFLICT (agent_id) DO UPDATE SET registered_at = excluded.registered_at, "
    "unregistered_at = NULL, interval_ms = excluded.interval_ms, "
    "failure_threshold = excluded.failure_threshold, metadata = excluded.metadata",
)
_UNREGISTER: Final = (
    "INSERT INTO agents (agent_id, unregistered_at)",
    "(?, ?)",
    " ON CONFLICT (agent_id) DO UPDATE SET unregistered_at = excluded.unregistered_at",
)


def as_task_columns(tasks: Iterable[TaskMetric | RowTuple] | TaskColumns) -> TaskColumns:
    """Return tasks as columns; columns pass through unchanged, rows are split."""
    if isinstance(tasks, TaskColumns):
        return tasks
    return TaskColumns.from_rows(
        [
            item if isinstance(item, tuple) else task_row(item)
            for item in tasks
        ]
    )


def insert_tasks(
    conn: sqlite3.Connection,
    keys: AgentKeys,
    tasks: TaskColumns,
    rollups: Rollups | None,
    summaries: Mapping[tuple[str, int], TaskSummary] | None = None,
) -> None:
    """Insert task rows and merge them into ``rollups`` (None: leave the rollups alone).

    The rows come as columns, so that the per-row work (agent keys, statement
    parameters) happens in C: each column is sliced into its place in one flat
    parameter list. ``summaries``, when given, are the rows' summaries by
    ``(agent_id, minute_start)``: they are merged instead of summarising the
    rows again.
    """
    n = len(tasks)
    if not n:
        return
    key_of = keys.resolve(conn, set(tasks.agent_ids))
    agent_keys = list(map(key_of.__getitem__, tasks.agent_ids))
    values: list[Sequence[object]] = [
        tasks.task_ids, agent_keys, tasks.durations, tasks.results, tasks.tokens, tasks.files,
        tasks.timestamps,
    ]
    if tasks.metadata.count(None) != n:
        values.append([dump_metadata(m) for m in tasks.metadata])
    columns = len(values)
    flat: list[object] = [None] * (n * columns)
    for offset, column in enumerate(values):
        flat[offset::columns] = column
    _insert_task_params(conn, flat, columns)
    if rollups is None:
        return
    if summaries is not None:
        rollups.add_summaries(
            conn,
            {(key_of[agent_id], start): summary for (agent_id, start), summary in summaries.items()},
        )
    else:
        rollups.add(
            conn, agent_keys, tasks.timestamps, tasks.durations, tasks.results, tasks.tokens,
            tasks.files,
        )


def insert_agent_metrics(
    conn: sqlite3.Connection, keys: AgentKeys, metrics: Sequence[AgentMetric]
) -> None:
    """Insert agent metrics."""
    if not metrics:
        return
    key_of = keys.resolve(conn, {m.agent_id for m in metrics})
    insert_values(
        conn,
        "INSERT INTO agent_metrics (agent_key, metric_type, value, timestamp, metadata)",
        "(?, ?, ?, ?, ?)",
        [
            (key_of[m.agent_id], m.metric_type, m.value, m.timestamp, dump_metadata(m.metadata))
            for m in metrics
        ],
    )


def insert_swarm_metrics(conn: sqlite3.Connection, metrics: Sequence[SwarmMetric]) -> None:
    """Insert swarm metrics."""
    insert_values(
        conn,
        "INSERT INTO swarm_metrics (swarm_id, metric_type, value, timestamp, metadata)",
        "(?, ?, ?, ?, ?)",
        [
            (m.swarm_id, m.metric_type, m.value, m.timestamp, dump_metadata(m.metadata))
            for m in metrics
        ],
    )


def insert_health_events(
    conn: sqlite3.Connection, keys: AgentKeys, events: Sequence[HealthChanged]
) -> None:
    """Insert health transitions."""
    if not events:
        return
    key_of = keys.resolve(conn, {e.agent_id for e in events})
    insert_values(
        conn,
        "INSERT INTO health_events (agent_key, previous_state, current_state, at, "
        "heartbeat_age_ms)",
        "(?, ?, ?, ?, ?)",
        [
            (key_of[e.agent_id], e.previous.value, e.current.value, e.at, e.heartbeat_age_ms)
            for e in events
        ],
    )


def insert_alerts(conn: sqlite3.Connection, keys: AgentKeys, alerts: Sequence[Alert]) -> None:
    """Insert alerts; an alert about agent ``*`` (the swarm) gets no agent key."""
    if not alerts:
        return
    key_of = keys.resolve(conn, {a.agent_id for a in alerts if a.agent_id != SWARM_AGENT_ID})
    insert_values(
        conn,
        "INSERT INTO alerts (agent_key, severity, message, at, metadata)",
        "(?, ?, ?, ?, ?)",
        [
            (
                None if a.agent_id == SWARM_AGENT_ID else key_of[a.agent_id],
                a.severity.value,
                a.message,
                a.at,
                dump_metadata(a.metadata),
            )
            for a in alerts
        ],
    )


def apply_agent_events(
    conn: sqlite3.Connection, events: Sequence[AgentRegistered | AgentUnregistered]
) -> None:
    """Apply registrations and unregistrations to ``agents``, in order.

    A registration sets registered_at, interval, threshold and metadata and
    clears unregistered_at; an unregistration sets unregistered_at. Either
    creates the agent if needed. These messages do not check themselves when
    built in code, so their fields are checked here.

    Raises:
        InvalidMessage: an event has an invalid field.
    """
    run: list[tuple[object, ...]] = []
    statement = _REGISTER
    for event in events:
        check_id("agent_id", event.agent_id)
        at = to_epoch("at", event.at)
        if isinstance(event, AgentRegistered):
            check_count("interval_ms", event.interval_ms)
            check_count("failure_threshold", event.failure_threshold)
            check_metadata("metadata", event.metadata)
            kind = _REGISTER
            row: tuple[object, ...] = (
                event.agent_id, at, event.interval_ms, event.failure_threshold,
                dump_metadata(event.metadata),
            )
        elif isinstance(event, AgentUnregistered):
            kind, row = _UNREGISTER, (event.agent_id, at)
        else:
            raise InvalidMessage(
                "agent_events", event, "must hold AgentRegistered or AgentUnregistered"
            )
        if kind is not statement and run:  # a run of one kind is one statement, in order
            insert_values(conn, *statement[:2], run, statement[2])
            run = []
        statement = kind
        run.append(row)
    if run:
        insert_values(conn, *statement[:2], run, statement[2])
