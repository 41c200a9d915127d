"""The read half of MetricsStorage: queries, stats and uptime."""

from __future__ import annotations

from typing import Any

from messages import (
    AgentMetric,
    Alert,
    AlertSeverity,
    HealthChanged,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    to_epoch,
)
from storage import queries
from storage.database import Database
from storage.errors import UnknownAgentRecord
from storage.queries import TimeArg
from storage.rollup import SWARM_KEY
from storage.rows import AgentRecord
from storage.stats import task_stats
from storage.summary import TaskStats
from storage.uptime import agent_uptime, agents_uptime

__all__ = ["Reader"]


class Reader(Database):
    """Reading what was stored (see :class:`~storage.metrics.MetricsStorage`)."""

    def _select(self, operation: str, table: str, **kwargs: Any) -> list[Any]:
        with self._transaction(operation, write=False) as conn:
            return queries.select(conn, self._keys, table, **kwargs)

    def query_task_metrics(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_id: str | None = None,
        result: TaskResult | str | None = None,
        limit: int | None = None,
    ) -> list[TaskMetric]:
        """Return task metrics in [start_time, end_time), oldest first, at most ``limit``."""
        filters: tuple[queries.Filter, ...] = ()
        if result is not None:
            filters = (("t.result = ?", queries.enum_value("result", result, TaskResult)),)
        return self._select(
            "query_task_metrics",
            "task_metrics",
            start_time=start_time,
            end_time=end_time,
            agent_id=agent_id,
            filters=filters,
            limit=limit,
        )

    def query_agent_metrics(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_id: str | None = None,
        metric_type: str | None = None,
        limit: int | None = None,
    ) -> list[AgentMetric]:
        """Return agent metrics in [start_time, end_time), oldest first, at most ``limit``."""
        filters = () if metric_type is None else (("t.metric_type = ?", metric_type),)
        return self._select(
            "query_agent_metrics",
            "agent_metrics",
            start_time=start_time,
            end_time=end_time,
            agent_id=agent_id,
            filters=filters,
            limit=limit,
        )

    def query_swarm_metrics(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        metric_type: str | None = None,
        limit: int | None = None,
    ) -> list[SwarmMetric]:
        """Return swarm metrics in [start_time, end_time), oldest first, at most ``limit``."""
        filters = () if metric_type is None else (("t.metric_type = ?", metric_type),)
        return self._select(
            "query_swarm_metrics",
            "swarm_metrics",
            start_time=start_time,
            end_time=end_time,
            filters=filters,
            limit=limit,
        )

    def query_health_events(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[HealthChanged]:
        """Return health transitions in [start_time, end_time), oldest first."""
        return self._select(
            "query_health_events",
            "health_events",
            start_time=start_time,
            end_time=end_time,
            agent_id=agent_id,
            limit=limit,
        )

    def query_alerts(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_id: str | None = None,
        severity: AlertSeverity | str | None = None,
        limit: int | None = None,
    ) -> list[Alert]:
        """Return alerts in [start_time, end_time), oldest first (agent ``*``: swarm alerts)."""
        filters: tuple[queries.Filter, ...] = ()
        if severity is not None:
            filters = (("t.severity = ?", queries.enum_value("severity", severity, AlertSeverity)),)
        return self._select(
            "query_alerts",
            "alerts",
            start_time=start_time,
            end_time=end_time,
            agent_id=agent_id,
            filters=filters,
            limit=limit,
        )

    def agents(self) -> list[AgentRecord]:
        """Return every agent ever seen (registered or named by data), by id."""
        with self._transaction("agents", write=False) as conn:
            return queries.agents(conn)

    def agent_ids(self) -> list[str]:
        """Return the id of every agent ever seen, sorted."""
        with self._transaction("agent_ids", write=False) as conn:
            return queries.agent_ids(conn)

    def task_stats(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_id: str | None = None,
    ) -> TaskStats:
        """Return the stats of tasks in [start_time, end_time) (all time by default).

        Computed exactly from the rows when the range holds at most
        ``exact_max_rows`` tasks (``exact`` is True); otherwise from the
        rollups, with percentiles within 1% of the exact nearest-rank values
        and every count, sum, min and max exact. An agent never seen has no
        tasks. See :class:`~storage.summary.TaskStats` for the keys.
        """
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        with self._transaction("task_stats", write=False) as conn:
            key = SWARM_KEY if agent_id is None else self._keys.lookup(conn, agent_id)
            return task_stats(conn, key, start, end, self.exact_max_rows)

    def agent_uptime(
        self,
        agent_id: str,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        *,
        now: TimeArg,
    ) -> float:
        """Return the percent of monitored time in range the agent was not FAILED.

        Monitored time runs from the agent's (last) registration until its
        unregistration or ``now``. 100.0 when nothing was monitored in range.

        Raises:
            UnknownAgentRecord: the database has never seen the agent.
        """
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        moment = to_epoch("now", now)
        with self._transaction("agent_uptime", write=False) as conn:
            key = self._keys.lookup(conn, agent_id)
            if key is None:
                raise UnknownAgentRecord("agent_uptime", agent_id)
            return agent_uptime(conn, key, start, end, moment)

    def agents_uptime(self, *, now: TimeArg) -> dict[str, float]:
        """Return every registered agent's uptime (as :meth:`agent_uptime` with no range), by id."""
        moment = to_epoch("now", now)
        with self._transaction("agents_uptime", write=False) as conn:
            return agents_uptime(conn, moment)
