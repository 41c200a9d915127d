"""The write half of MetricsStorage: every write is one transaction."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Final

from messages import (
    AgentMetric,
    AgentRegistered,
    AgentUnregistered,
    Alert,
    HealthChanged,
    SwarmMetric,
    TaskMetric,
    check_millis,
    to_epoch,
)
from storage import inserts
from storage.batch import Batch
from storage.database import Database
from storage.errors import StorageError
from storage.quarantine import Quarantined, insert_quarantined, is_data_error, quarantined
from storage.metadata import write_metadata
from storage.queries import TimeArg
from storage.retention import cutoff_for, delete_before
from storage.rollup import rebuild_rollups
from storage.rows import RowTuple, TaskColumns
from storage.summary import TaskSummary

__all__ = ["AgentEvent", "Writer"]

_MAX_QUARANTINE_SPLITS: Final = 64  # refused parts from which the rest of a batch goes too

AgentEvent = AgentRegistered | AgentUnregistered
"""A change to an agent's record."""


class Writer(Database):
    """Storing messages (see :class:`~storage.metrics.MetricsStorage`)."""

    def store_batch(
        self,
        *,
        tasks: Iterable[TaskMetric | RowTuple] | TaskColumns = (),
        agent_metrics: Iterable[AgentMetric] = (),
        swarm_metrics: Iterable[SwarmMetric] = (),
        health_events: Iterable[HealthChanged] = (),
        alerts: Iterable[Alert] = (),
        agent_events: Iterable[AgentEvent] = (),
        task_rollups: Mapping[tuple[str, int], TaskSummary] | None = None,
    ) -> None:
        """Store everything given in ONE transaction: all of it, or (on failure) none.

        ``tasks`` may hold TaskMetric messages or already-valid :data:`TaskRow`
        tuples (the fast path, see :func:`task_row`), or be those rows as
        :class:`TaskColumns` (the fastest). Agent events apply first,
        in order; agents named by any row are created if unknown.

        ``task_rollups``, when given, must summarise exactly the ``tasks`` by
        ``(agent_id, minute_start)`` (``minute_start = int(timestamp // 60) * 60``):
        the rollups then merge them instead of summarising every row again. The
        aggregator has these summaries anyway; other callers leave it None.

        Raises:
            StorageError: the database refused the batch (locked, read-only,
                full, corrupt, ...); nothing of it was stored.
            InvalidMessage: an agent event has an invalid field; nothing stored.
            ValueError, TypeError: a TaskRow is malformed (a negative duration,
                metadata that is not JSON data, ...); nothing stored.
        """
        self._store(
            "store_batch", tasks, agent_metrics, swarm_metrics, health_events, alerts, agent_events,
            task_rollups,
        )

    def _store(
        self,
        operation: str,
        tasks: Iterable[TaskMetric | RowTuple] | TaskColumns = (),
        agent_metrics: Iterable[AgentMetric] = (),
        swarm_metrics: Iterable[SwarmMetric] = (),
        health_events: Iterable[HealthChanged] = (),
        alerts: Iterable[Alert] = (),
        agent_events: Iterable[AgentEvent] = (),
        task_rollups: Mapping[tuple[str, int], TaskSummary] | None = None,
    ) -> None:
        batch = Batch(
            tasks=inserts.as_task_columns(tasks),
            task_rollups=task_rollups,
            agent_metrics=list(agent_metrics),
            swarm_metrics=list(swarm_metrics),
            health_events=list(health_events),
            alerts=list(alerts),
            agent_events=list(agent_events),
        )
        with self._transaction(operation, write=True) as conn:
            self._insert(conn, batch)

    def store(self, batch: Batch) -> None:
        """Store a :class:`~storage.batch.Batch` in ONE transaction (see :meth:`store_batch`)."""
        with self._transaction("store", write=True) as conn:
            self._insert(conn, batch)

    def store_isolating(self, batch: Batch, now: float) -> list[Quarantined]:
        """Store a batch in one transaction, keeping back the items whose data is refused.

        The whole batch is tried first. If it fails for a reason of its data
        (see :func:`storage.quarantine.is_data_error`), it is split, inside
        the same transaction, until the items at fault are found: each part
        is stored under a savepoint, and a part refused with one item left is
        that item. The items refused go to the ``quarantine`` table with
        their error, at ``now``; everything else is stored, once. So one
        hostile row costs about two stores of the batch, never the batch.

        Returns:
            The records of the items quarantined (empty when all were stored).

        Raises:
            StorageError: the database refused the transaction (locked,
                read-only, full, ...); nothing of the batch was stored, nor
                quarantined: retry it.
        """
        with self._transaction("store", write=True) as conn:
            try:
                self._attempt(conn, batch)
                return []
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                first_error = exc
            refused: list[Quarantined] = []
            self._isolate(conn, batch, first_error, now, refused)
            insert_quarantined(conn, refused)
            return refused

    def _attempt(self, conn: sqlite3.Connection, batch: Batch) -> None:
        """Insert under a savepoint: on failure nothing of ``batch`` is left, and it raises."""
        conn.execute("SAVEPOINT part")
        try:
            self._insert(conn, batch)
        except BaseException:
            self._keys.forget()  # the caches may hold what was just rolled back
            self._rollups.forget()
            if not conn.in_transaction:
                # SQLite rolled back the whole transaction (it does after some errors): no
                # part of the batch may be stored on its own, so it is retried whole
                error = sys.exc_info()[1]
                raise StorageError("store", f"the transaction was rolled back: {error}") from error
            try:
                conn.execute("ROLLBACK TO part")
                conn.execute("RELEASE part")
            except sqlite3.Error:
                pass  # the original error says more
            raise
        conn.execute("RELEASE part")

    def _isolate(
        self,
        conn: sqlite3.Connection,
        batch: Batch,
        error: Exception,
        now: float,
        refused: list[Quarantined],
    ) -> None:
        """Store what ``batch`` (refused with ``error``) holds, except the items at fault."""
        single = batch.single()
        if single is not None:
            refused.append(quarantined(single[0], single[1], error, now))
            return
        for part in batch.halves():
            try:
                self._attempt(conn, part)
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                if len(refused) >= _MAX_QUARANTINE_SPLITS:
                    # a batch of mostly bad items: quarantine the rest one by one, without splitting
                    self._each(conn, part, now, refused)
                else:
                    self._isolate(conn, part, exc, now, refused)

    def _each(self, conn: sqlite3.Connection, batch: Batch, now: float, refused: list[Quarantined]) -> None:
        """Store the items of ``batch`` one at a time, quarantining every one refused."""
        single = batch.single()
        if single is not None:
            try:
                self._attempt(conn, batch)
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                refused.append(quarantined(single[0], single[1], exc, now))
            return
        for part in batch.halves():
            self._each(conn, part, now, refused)

    def _insert(self, conn: sqlite3.Connection, batch: Batch) -> None:
        keys = self._keys
        inserts.apply_agent_events(conn, batch.agent_events)
        inserts.insert_tasks(conn, keys, batch.tasks, self._rollups, batch.task_rollups)
        inserts.insert_agent_metrics(conn, keys, batch.agent_metrics)
        inserts.insert_swarm_metrics(conn, batch.swarm_metrics)
        inserts.insert_health_events(conn, keys, batch.health_events)
        inserts.insert_alerts(conn, keys, batch.alerts)
        if batch.quarantined:
            insert_quarantined(conn, batch.quarantined)
        if batch.agent_events:  # agents that left need no cached key, nor kept buckets
            left = keys.discard(e.agent_id for e in batch.agent_events if type(e) is AgentUnregistered)
            self._rollups.discard(left)

    def store_quarantined(self, records: Iterable[Quarantined]) -> None:
        """Keep items refused before storage (by the aggregator, say) in the quarantine table."""
        listed = list(records)
        with self._transaction("store_quarantined", write=True) as conn:
            insert_quarantined(conn, listed)

    def store_task_metric(self, metric: TaskMetric) -> None:
        """Store one task metric (see :meth:`store_batch`)."""
        self._store("store_task_metric", tasks=(metric,))

    def store_task_metrics(self, metrics: Iterable[TaskMetric]) -> None:
        """Store task metrics in one transaction (see :meth:`store_batch`)."""
        self._store("store_task_metrics", tasks=metrics)

    def store_agent_metric(self, metric: AgentMetric) -> None:
        """Store one agent metric."""
        self._store("store_agent_metric", agent_metrics=(metric,))

    def store_agent_metrics(self, metrics: Iterable[AgentMetric]) -> None:
        """Store agent metrics in one transaction."""
        self._store("store_agent_metrics", agent_metrics=metrics)

    def store_swarm_metric(self, metric: SwarmMetric) -> None:
        """Store one swarm metric."""
        self._store("store_swarm_metric", swarm_metrics=(metric,))

    def store_swarm_metrics(self, metrics: Iterable[SwarmMetric]) -> None:
        """Store swarm metrics in one transaction."""
        self._store("store_swarm_metrics", swarm_metrics=metrics)

    def store_metadata(self, values: Mapping[str, str]) -> None:
        """Set the swarm's settings (``swarm_id``, ``topology_type``, ...) in one transaction."""
        with self._transaction("store_metadata", write=True) as conn:
            write_metadata(conn, values)

    def store_health_event(self, event: HealthChanged) -> None:
        """Store one health transition."""
        self._store("store_health_event", health_events=(event,))

    def store_health_events(self, events: Iterable[HealthChanged]) -> None:
        """Store health transitions in one transaction."""
        self._store("store_health_events", health_events=events)

    def store_alert(self, alert: Alert) -> None:
        """Store one alert (agent ``*`` is the whole swarm)."""
        self._store("store_alert", alerts=(alert,))

    def store_alerts(self, alerts: Iterable[Alert]) -> None:
        """Store alerts in one transaction."""
        self._store("store_alerts", alerts=alerts)

    def store_agent_event(self, event: AgentEvent) -> None:
        """Apply one registration or unregistration to the agent's record."""
        self._store("store_agent_event", agent_events=(event,))

    def store_agent_events(self, events: Iterable[AgentEvent]) -> None:
        """Apply registrations and unregistrations, in order, in one transaction.

        A registration sets registered_at, interval_ms, failure_threshold and
        metadata and clears unregistered_at; an unregistration sets
        unregistered_at.
        """
        self._store("store_agent_events", agent_events=events)

    def raw_insert_task_rows(self, rows: Iterable[RowTuple]) -> None:
        """Insert task rows only, with no rollups: a benchmark baseline and bulk loader.

        This is a plain ``executemany`` of the rows into ``task_metrics`` (agent
        ids resolved to keys, metadata as JSON), in one transaction, so it
        times what :meth:`store_batch` costs without rollup maintenance. It
        leaves the rollups stale: :meth:`task_stats` is wrong for these rows
        until :meth:`rebuild_rollups` runs.
        """
        columns = TaskColumns.from_rows(list(rows))
        with self._transaction("raw_insert_task_rows", write=True) as conn:
            inserts.insert_tasks(conn, self._keys, columns, None)

    def rebuild_rollups(self) -> int:
        """Recompute every rollup from the task rows, in one transaction.

        Returns:
            How many task rows were summarised.
        """
        self._rollups.forget()
        with self._transaction("rebuild_rollups", write=True) as conn:
            return rebuild_rollups(conn)

    def apply_retention(self, days: float = 30, *, now: TimeArg = None) -> dict[str, int]:
        """Delete what is older than ``days`` days before ``now``, in every table.

        The cutoff is rounded down to an hour boundary so that rollups stay
        equal to the rows they summarise. Agents go once they unregistered
        before the cutoff (or never registered) and no row names them.

        Args:
            days: how many days to keep (>= 0).
            now: the current time; the clock when None.

        Returns:
            Rows deleted per table, rollup tables and ``agents`` included.
        """
        check_millis("days", days)
        moment = time.time() if now is None else to_epoch("now", now)
        with self._transaction("apply_retention", write=True) as conn:
            counts = delete_before(conn, cutoff_for(days, moment))
        self._keys.forget()
        self._rollups.forget()
        return counts
