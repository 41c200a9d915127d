"""Writing messages as rows; every function runs inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from itertools import chain
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
from storage.rows import SWARM_AGENT_ID, TaskRow, dump_metadata, task_row

__all__ = [
    "INSERT_TASK_SQL",
    "apply_agent_events",
    "as_task_rows",
    "insert_agent_metrics",
    "insert_alerts",
    "insert_health_events",
    "insert_swarm_metrics",
    "insert_tasks",
]

INSERT_TASK_SQL: Final = (
    "INSERT INTO task_metrics (task_id, agent_key, duration_ms, result, tokens_used, "
    "files_changed, timestamp, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
"""The statement that inserts one task row (``agent_key`` in place of ``agent_id``)."""

ROWS_PER_STATEMENT: Final = 1000
_INSERT_MANY_SQL: Final = INSERT_TASK_SQL.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * ROWS_PER_STATEMENT)
)
_COLUMNS: Final = 8


def _insert_task_params(conn: sqlite3.Connection, params: Iterable[tuple[object, ...]]) -> None:
    """Insert task parameter rows, ROWS_PER_STATEMENT to a statement.

    sqlite3 releases the GIL around every statement step and must take it back
    for the next row; with another Python thread busy that hand-back dominates
    (measured: 154,000 rows/s alone, 8,000 beside one busy thread). A thousand
    rows to a step (8,000 parameters, under SQLite's 32,766) make it that much
    rarer; fifty gave 186,000 and 36,000, and a thousand another 20% end to end.
    """
    flat = list(chain.from_iterable(params))
    width = ROWS_PER_STATEMENT * _COLUMNS
    whole = len(flat) // width * width
    if whole:
        conn.executemany(_INSERT_MANY_SQL, (flat[i : i + width] for i in range(0, whole, width)))
    if whole < len(flat):
        rest = flat[whole:]
        conn.executemany(
            INSERT_TASK_SQL, (rest[i : i + _COLUMNS] for i in range(0, len(rest), _COLUMNS))
        )

_REGISTER: Final = (
    "INSERT INTO agents (agent_id, registered_at, unregistered_at, interval_ms, "
    "failure_threshold, metadata) VALUES (?, ?, NULL, ?, ?, ?) "
    "ON CONFLICT (agent_id) DO UPDATE SET registered_at = excluded.registered_at, "
    "unregistered_at = NULL, interval_ms = excluded.interval_ms, "
    "failure_threshold = excluded.failure_threshold, metadata = excluded.metadata"
)
_UNREGISTER: Final = (
    "INSERT INTO agents (agent_id, unregistered_at) VALUES (?, ?) "
    "ON CONFLICT (agent_id) DO UPDATE SET unregistered_at = excluded.unregistered_at"
)


def as_task_rows(tasks: Iterable[TaskMetric | TaskRow]) -> list[TaskRow]:
    """Return every task as a row; rows pass through unchanged."""
    return [
        item if type(item) is tuple else task_row(item)  # type: ignore[arg-type]
        for item in tasks
    ]


def insert_tasks(
    conn: sqlite3.Connection,
    keys: AgentKeys,
    rows: Sequence[TaskRow],
    rollups: Rollups | None,
    summaries: Mapping[tuple[str, int], TaskSummary] | None = None,
) -> None:
    """Insert task rows and merge them into ``rollups`` (None: leave the rollups alone).

    The rows are handled as columns, so that the per-row work (agent keys,
    parameters, bucket grouping) happens in C where it can. ``summaries``, when
    given, are the rows' summaries by ``(agent_id, minute_start)``: they are
    merged instead of summarising the rows again.
    """
    if not rows:
        return
    task_ids, agent_ids, durations, results, tokens, files, timestamps, metadata = zip(*rows)
    key_of = keys.resolve(conn, set(agent_ids))
    agent_keys = list(map(key_of.__getitem__, agent_ids))
    if metadata.count(None) != len(metadata):
        metadata = tuple(dump_metadata(m) for m in metadata)
    _insert_task_params(
        conn, zip(task_ids, agent_keys, durations, results, tokens, files, timestamps, metadata)
    )
    if rollups is None:
        return
    if summaries is not None:
        rollups.add_summaries(
            conn,
            {(start, key_of[agent_id]): summary for (agent_id, start), summary in summaries.items()},
        )
    else:
        rollups.add(conn, agent_keys, timestamps, durations, results, tokens, files)


def insert_agent_metrics(
    conn: sqlite3.Connection, keys: AgentKeys, metrics: Sequence[AgentMetric]
) -> None:
    """Insert agent metrics."""
    if not metrics:
        return
    key_of = keys.resolve(conn, {m.agent_id for m in metrics})
    conn.executemany(
        "INSERT INTO agent_metrics (agent_key, metric_type, value, timestamp, metadata) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (key_of[m.agent_id], m.metric_type, m.value, m.timestamp, dump_metadata(m.metadata))
            for m in metrics
        ],
    )


def insert_swarm_metrics(conn: sqlite3.Connection, metrics: Sequence[SwarmMetric]) -> None:
    """Insert swarm metrics."""
    conn.executemany(
        "INSERT INTO swarm_metrics (swarm_id, metric_type, value, timestamp, metadata) "
        "VALUES (?, ?, ?, ?, ?)",
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
    conn.executemany(
        "INSERT INTO health_events (agent_key, previous_state, current_state, at, "
        "heartbeat_age_ms) VALUES (?, ?, ?, ?, ?)",
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
    conn.executemany(
        "INSERT INTO alerts (agent_key, severity, message, at, metadata) VALUES (?, ?, ?, ?, ?)",
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
    for event in events:
        check_id("agent_id", event.agent_id)
        at = to_epoch("at", event.at)
        if isinstance(event, AgentRegistered):
            check_count("interval_ms", event.interval_ms)
            check_count("failure_threshold", event.failure_threshold)
            check_metadata("metadata", event.metadata)
            conn.execute(
                _REGISTER,
                (
                    event.agent_id,
                    at,
                    event.interval_ms,
                    event.failure_threshold,
                    dump_metadata(event.metadata),
                ),
            )
        elif isinstance(event, AgentUnregistered):
            conn.execute(_UNREGISTER, (event.agent_id, at))
        else:
            raise InvalidMessage(
                "agent_events", event, "must hold AgentRegistered or AgentUnregistered"
            )
