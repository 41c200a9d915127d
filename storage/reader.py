"""The read half of MetricsStorage: queries, stats and uptime."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from messages import (
    AgentMetric,
    Alert,
    AlertSeverity,
    HealthChanged,
    InvalidMessage,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    to_epoch,
)
from storage import queries
from storage.database import Database
from storage.errors import NeverTracked, UnknownAgentRecord
from storage.metadata import read_metadata
from storage.queries import TimeArg
from storage.rollup import SWARM_KEY
from storage.rows import AgentRecord
from storage.series import task_series, task_series_of_keys, task_span
from storage.stats import TaskTally, tally, task_stats, task_stats_of_keys
from storage.summary import TaskStats
from storage.trend import MAX_SLICES, TrendPoint, task_trend
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

    def latest_agent_metrics(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_id: str | None = None,
    ) -> list[AgentMetric]:
        """Return the latest gauge of each (agent, metric type) in [start_time, end_time).

        One row per gauge however many were recorded (an index range per
        agent), by agent id and metric type. An agent never seen has none.
        """
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        with self._transaction("latest_agent_metrics", write=False) as conn:
            return queries.latest_agent_metrics(conn, self._keys, agent_id, start, end)

    def latest_swarm_metrics(
        self, start_time: TimeArg = None, end_time: TimeArg = None
    ) -> list[SwarmMetric]:
        """Return the latest swarm gauge of each metric type in [start_time, end_time)."""
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        with self._transaction("latest_swarm_metrics", write=False) as conn:
            return queries.latest_swarm_metrics(conn, start, end)

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

    def agent(self, agent_id: str) -> AgentRecord | None:
        """Return the agent's record, or None if the database has never seen it."""
        with self._transaction("agent", write=False) as conn:
            return queries.agent(conn, agent_id)

    def last_states(self) -> dict[str, str]:
        """Return each agent's last stored health state, by id (agents with transitions only)."""
        with self._transaction("last_states", write=False) as conn:
            return queries.last_states(conn)

    def metadata(self) -> dict[str, str]:
        """Return the swarm's stored settings (``swarm_id``, ``topology_type``), by key."""
        with self._transaction("metadata", write=False) as conn:
            return read_metadata(conn)

    def task_tally(self, agent_id: str | None = None) -> TaskTally | None:
        """Return the tally of every stored task of an agent (None: of the swarm).

        Counts come from the rollups; the durations too while there are at
        most :data:`storage.stats.EXACT_SAMPLES`, for exact percentiles. None
        for an agent the database has never seen.
        """
        with self._transaction("task_tally", write=False) as conn:
            key = SWARM_KEY if agent_id is None else self._keys.lookup(conn, agent_id)
            return None if key is None else tally(conn, key)

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

    def task_stats_by_agent(
        self,
        start_time: TimeArg = None,
        end_time: TimeArg = None,
        agent_ids: Iterable[str] | None = None,
    ) -> dict[str, TaskStats]:
        """Return :meth:`task_stats` of each agent in [start_time, end_time), by agent id.

        The same numbers as a ``task_stats(..., agent_id=a)`` per agent, read
        in one transaction with one query of rollup buckets per level for all
        of them: the figures of 100 agents over a day of a million tasks in
        tens of milliseconds. ``agent_ids`` default to every agent ever seen,
        sorted; an agent never seen has no tasks.
        """
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        with self._transaction("task_stats_by_agent", write=False) as conn:
            ids = queries.agent_ids(conn) if agent_ids is None else list(agent_ids)
            keys = {agent_id: self._keys.lookup(conn, agent_id) for agent_id in ids}
            known = [key for key in keys.values() if key is not None]
            found = task_stats_of_keys(conn, known, start, end, self.exact_max_rows)
            return {
                agent_id: found[key] if key is not None else task_stats(conn, None, None, None, 0)
                for agent_id, key in keys.items()
            }

    def task_span(self, agent_id: str | None = None) -> tuple[float, float] | None:
        """Return the first and last task times (epoch s) of one agent or all; None if none."""
        with self._transaction("task_span", write=False) as conn:
            key = SWARM_KEY if agent_id is None else self._keys.lookup(conn, agent_id)
            return None if key is None else task_span(conn, key)

    def task_series(
        self, low: float, high: float, agent_id: str | None = None, slices: int = 20
    ) -> tuple[list[float], list[int]]:
        """Return mean duration (ms) and task count per equal slice of [low, high].

        Drawn from the rollups (see :mod:`storage.series`): exact to one rollup
        bucket, and as cheap for a million rows as for a hundred.

        Raises:
            InvalidMessage: ``slices`` is not an integer from 1 to 1000, or a bound is bad.
        """
        start, end = _series_range(low, high, slices)
        with self._transaction("task_series", write=False) as conn:
            key = SWARM_KEY if agent_id is None else self._keys.lookup(conn, agent_id)
            if key is None:
                return [], []
            return task_series(conn, key, start, end, slices)

    def task_series_by_agent(
        self, low: float, high: float, agent_ids: Iterable[str], slices: int = 20
    ) -> dict[str, tuple[list[float], list[int]]]:
        """Return :meth:`task_series` of each agent over the same range, by agent id.

        The same series, read with one query of rollup buckets for all the
        agents; an agent never seen has empty lists.

        Raises:
            InvalidMessage: ``slices`` is not an integer from 1 to 1000, or a bound is bad.
        """
        start, end = _series_range(low, high, slices)
        with self._transaction("task_series_by_agent", write=False) as conn:
            keys = {agent_id: self._keys.lookup(conn, agent_id) for agent_id in agent_ids}
            known = [key for key in keys.values() if key is not None]
            found = task_series_of_keys(conn, known, start, end, slices)
            return {
                agent_id: found[key] if key is not None else ([], [])
                for agent_id, key in keys.items()
            }

    def task_trend(
        self, start_time: TimeArg, end_time: TimeArg, slices: int, agent_id: str | None = None
    ) -> list[TrendPoint]:
        """Return [start_time, end_time) cut into ``slices`` slices with their figures, from rollups.

        Raises:
            UnknownAgentRecord: the database has never seen ``agent_id``.
            InvalidMessage: a time is out of range, or ``slices`` not in 1..1440.
        """
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        if type(slices) is not int or not 1 <= slices <= MAX_SLICES:
            raise InvalidMessage("slices", slices, f"must be an integer from 1 to {MAX_SLICES}")
        if start is None or end is None:
            raise InvalidMessage("start_time", start_time, "a trend needs both ends of its range")
        with self._transaction("task_trend", write=False) as conn:
            key = SWARM_KEY if agent_id is None else self._keys.lookup(conn, agent_id)
            if key is None:
                raise UnknownAgentRecord("task_trend", str(agent_id))
            return task_trend(conn, key, start, end, slices)

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
            NeverTracked: (an UnknownAgentRecord) the database knows the agent
                only from its metrics: it was never registered, so it has no
                monitored time at all.
        """
        start = queries.time_bound("start_time", start_time)
        end = queries.time_bound("end_time", end_time)
        moment = to_epoch("now", now)
        with self._transaction("agent_uptime", write=False) as conn:
            key = self._keys.lookup(conn, agent_id)
            if key is None:
                raise UnknownAgentRecord("agent_uptime", agent_id)
            record = queries.agent(conn, agent_id)
            if record is not None and record.registered_at is None:
                raise NeverTracked("agent_uptime", agent_id)
            return agent_uptime(conn, key, start, end, moment)

    def agents_uptime(self, *, now: TimeArg) -> dict[str, float]:
        """Return every registered agent's uptime (as :meth:`agent_uptime` with no range), by id."""
        moment = to_epoch("now", now)
        with self._transaction("agents_uptime", write=False) as conn:
            return agents_uptime(conn, moment)


def _series_range(low: float, high: float, slices: int) -> tuple[float, float]:
    """The bounds of a series as epoch seconds, once ``slices`` and both bounds are checked.

    Raises:
        InvalidMessage: ``slices`` is not an integer from 1 to 1000, or a bound is bad.
    """
    if type(slices) is not int or not 1 <= slices <= 1000:
        raise InvalidMessage("slices", slices, "must be an integer from 1 to 1000")
    start = queries.time_bound("low", low)
    end = queries.time_bound("high", high)
    if start is None or end is None:
        raise InvalidMessage("low" if start is None else "high", None, "must be a time")
    return start, end
