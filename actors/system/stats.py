"""The read views of statistics: tasks, gauges and analytics."""

from __future__ import annotations

from typing import Any

import msgspec

from actors.analytics.requests import GetCost, GetFindings, GetInFlight, GetProfiles
from actors.errors import UnknownAgent
from actors.protocol import (
    Drain,
    GetTaskStats,
    LiveStats,
    ReadAgentMetrics,
    ReadAlerts,
    ReadHealthEvents,
    ReadLatestAgentMetrics,
    ReadSwarmMetrics,
    ReadTaskMetrics,
    ReadTaskStats,
    ReadTaskTrend,
    Verified,
)
from actors.system.alerts import AlertsFacade
from actors.system.health import HealthViews
from actors.system.plumbing import _limit, _time
from messages import (
    AgentMetric,
    Alert,
    HealthChanged,
    SwarmMetric,
    TaskMetric,
    check_id,
)
from storage import UnknownAgentRecord


class StatsViews(HealthViews, AlertsFacade):
    """Task statistics, stored metrics, analytics and every part's counters."""

    def get_tasks_in_flight(self, agent_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Tasks started and not finished, per agent: task_id, kind, started, running_s, limit_s, stuck."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        result: dict[str, list[dict[str, Any]]] = self._ask_service(
            "analyst", GetInFlight(agent_id=agent_id))
        return result

    def get_findings(self) -> list[dict[str, Any]]:
        """Plain-language findings about the swarm (``text``) with the ``numbers`` behind each."""
        result: list[dict[str, Any]] = self._ask_service("analyst", GetFindings())
        return result

    def get_agent_profiles(self) -> dict[str, dict[str, Any]]:
        """Per agent: busy and idle shares, throughput, time in LLM calls/tools/waiting, cost."""
        result: dict[str, dict[str, Any]] = self._ask_service("analyst", GetProfiles())
        return result

    def get_cost(self) -> dict[str, Any]:
        """total, by_agent, currency, priced_tasks, unpriced_tasks (from the price table)."""
        result: dict[str, Any] = self._ask_service("analyst", GetCost())
        return result

    def get_agent_metrics(
        self,
        agent_id: str,
        metric_type: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
    ) -> list[AgentMetric]:
        """The agent's stored gauges in [start_time, end_time), oldest first.

        Everything recorded before the call is stored first.

        Args:
            agent_id: the agent.
            metric_type: only this gauge, or every one.
            start_time: inclusive start (epoch s or datetime), None for the beginning.
            end_time: exclusive end, None for no end.
        """
        check_id("agent_id", agent_id)
        if metric_type is not None:
            check_id("metric_type", metric_type)
        self.flush()
        result: list[AgentMetric] = self._read(ReadAgentMetrics(
            agent_id=agent_id, metric_type=metric_type,
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
        ))
        return result

    def get_latest_gauges(self, agent_id: str | None = None) -> list[AgentMetric]:
        """The latest stored value of each gauge of an agent (every agent for None).

        Everything recorded before the call is stored first.
        """
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[AgentMetric] = self._read(ReadLatestAgentMetrics(agent_id=agent_id))
        return result

    def get_swarm_metrics(
        self, metric_type: str | None = None, start_time: Any = None, end_time: Any = None
    ) -> list[SwarmMetric]:
        """The swarm's stored gauges in [start_time, end_time), oldest first.

        Everything recorded before the call is stored first.
        """
        if metric_type is not None:
            check_id("metric_type", metric_type)
        self.flush()
        result: list[SwarmMetric] = self._read(ReadSwarmMetrics(
            metric_type=metric_type,
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
        ))
        return result

    def get_task_stats(
        self, agent_id: str | None = None, start_time: Any = None, end_time: Any = None
    ) -> dict[str, Any]:
        """Task statistics, of one agent or of the swarm.

        Without a time range they come from memory (every task the file holds,
        and every task recorded since); with one, from SQLite after a flush.
        Both give the same numbers on the same tasks: percentiles are exact
        while the population holds at most ``storage.EXACT_SAMPLES`` tasks
        (``exact`` True), from the histogram within 1% beyond.

        Raises:
            UnknownAgent: the system has never seen ``agent_id``.
        """
        if agent_id is not None:
            check_id("agent_id", agent_id)
        if start_time is None and end_time is None:
            return self._live_stats(agent_id).stats
        request = ReadTaskStats(
            agent_id=agent_id, start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"),
        )
        self.flush()
        if agent_id is not None and not self._stored_agent(agent_id, flushed=True):
            raise UnknownAgent(agent_id)
        result: dict[str, Any] = dict(self._read(request))
        return result

    def _live_stats(
        self, agent_id: str | None, *, known: bool = False, flushed: bool = False
    ) -> LiveStats:
        """The statistics of all time: the aggregator's, or SQLite's when it cannot vouch for them.

        The aggregator holds an agent's tasks since its in-memory state
        began. Until the stored count is seen to match it (an agent seen for
        the first time in this run), the stored statistics answer, and a
        match is reported back so that later reads stay in memory.

        Args:
            agent_id: the agent, or None for the swarm.
            known: the caller knows the agent is registered (no need to ask storage).
            flushed: the caller has just flushed everything recorded before.

        Raises:
            UnknownAgent: the system has never seen ``agent_id``.
        """
        if not flushed:
            self._ask_service("aggregator", Drain())
        live: LiveStats | None = self._ask_service("aggregator", GetTaskStats(agent_id=agent_id))
        if live is not None and live.verified:
            return live
        assert agent_id is not None  # the swarm's statistics are always vouched for
        if live is not None or not flushed:
            # After reading the tally: the stored count then includes every task it
            # counted, so the two are equal only if the file holds no others.
            self.flush()
        if not known and not self._stored_agent(agent_id, flushed=True):
            raise UnknownAgent(agent_id)
        stored: dict[str, Any] = dict(self._read(ReadTaskStats(agent_id=agent_id)))
        if live is None:
            return LiveStats(stats=stored, verified=False)
        count = live.stats["total_tasks"]
        if stored["total_tasks"] == count:
            verified = Verified(agent_id=agent_id, count=count, serial=live.serial)
            self._ask_service("aggregator", verified)
        return msgspec.structs.replace(live, stats=stored)

    def get_agent_performance(self, agent_id: str) -> dict[str, Any]:
        """agent_id, tasks_completed, success_rate, error_rate, avg_duration_ms, total_tokens_used.

        Also ``p95_duration_ms``, and ``duration_series`` / ``throughput_series``
        (mean duration and task count per time slice, for sparklines, of the
        tasks recorded since the system started).

        Raises:
            UnknownAgent: the system has never seen this agent.
        """
        check_id("agent_id", agent_id)
        return _performance(agent_id, self._live_stats(agent_id))

    def query_task_metrics(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[TaskMetric]:
        """Stored task metrics in time order, after everything recorded before the call is stored."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        request = ReadTaskMetrics(
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
            agent_id=agent_id, limit=_limit(limit),
        )
        self.flush()
        result: list[TaskMetric] = self._read(request)
        return result

    def get_task_trend(
        self, agent_id: str | None = None, start_time: Any = None, end_time: Any = None,
        slices: int = 60,
    ) -> list[dict[str, Any]]:
        """The range cut into ``slices`` equal slices, each with its task figures, from the rollups.

        Each slice: ``start``, ``end`` (epoch s), ``tasks``, ``failures``,
        ``p50_ms`` and ``p95_ms`` (None with no task) and ``tokens``. The range
        defaults to the last hour; ``agent_id=None`` is the whole swarm.

        Raises:
            UnknownAgent: the system has never seen ``agent_id``.
            InvalidMessage: a bad time, or ``slices`` not in 1..1440.
        """
        if agent_id is not None:
            check_id("agent_id", agent_id)
        end = _time(end_time, "end_time")
        end = self._clock.time() if end is None else end
        start = _time(start_time, "start_time")
        start = end - 3600.0 if start is None else start
        self.flush()
        try:
            points = self._read(ReadTaskTrend(start_time=start, end_time=end, slices=slices,
                                              agent_id=agent_id))
        except UnknownAgentRecord:
            raise UnknownAgent(str(agent_id)) from None
        return [point._asdict() for point in points]

    def query_health_events(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        limit: int | None = None,
    ) -> list[HealthChanged]:
        """Stored health transitions in time order, after everything before the call is stored."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[HealthChanged] = self._read(ReadHealthEvents(
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
            agent_id=agent_id, limit=_limit(limit),
        ))
        return result

    def query_alerts(
        self, start_time: Any = None, end_time: Any = None, agent_id: str | None = None,
        severity: str | None = None, limit: int | None = None,
    ) -> list[Alert]:
        """Stored alerts in time order (agent ``*``: the swarm's), after a flush."""
        if agent_id is not None:
            check_id("agent_id", agent_id)
        self.flush()
        result: list[Alert] = self._read(ReadAlerts(
            start_time=_time(start_time, "start_time"), end_time=_time(end_time, "end_time"),
            agent_id=agent_id, severity=severity, limit=_limit(limit),
        ))
        return result


def _performance(agent_id: str, live: LiveStats) -> dict[str, Any]:
    """The ``get_agent_performance`` dict of an agent's statistics."""
    stats = live.stats
    return {
        "duration_series": list(live.duration_series),
        "throughput_series": list(live.throughput_series),
        "agent_id": agent_id,
        "tasks_completed": stats["total_tasks"],
        "success_rate": stats["success_rate"],
        "error_rate": stats["error_rate"],
        "avg_duration_ms": stats["avg_duration_ms"],
        "p95_duration_ms": stats["p95_duration_ms"],
        "total_tokens_used": stats["total_tokens"],
    }
