"""The report: what it shows, gathered from the actors and SQLite, and its rendering."""

from __future__ import annotations

from actors.protocol import (
    GetRecentAlerts,
    ReadAgentUptime,
    ReadLatestAgentMetrics,
    ReadLatestSwarmMetrics,
    ReadTaskSeries,
    ReadTaskSpan,
    ReadTaskStats,
    RenderReport,
)
from actors.system.stats import StatsViews
from messages import (
    REPORT_ALERTS,
    REPORT_SLICES,
    HealthReport,
    InvalidMessage,
    agent_report,
    gauges_by_agent,
    gauges_of,
)


class ReportViews(StatsViews):
    """The health report's data and text."""

    def report_data(self) -> HealthReport:
        """Everything a report shows, gathered from the actors and SQLite (tracked agents).

        Health comes from the trackers; every task figure, uptime, gauge and
        sparkline comes from what is stored, through the same storage reads as
        the command line's report of the file, so the two show the same numbers.
        """
        self.flush()
        snapshot = self._live_snapshot()
        gauges = gauges_by_agent(self._read(ReadLatestAgentMetrics()))
        span = self._read(ReadTaskSpan())
        low, high = span if span is not None else (snapshot.at, snapshot.at)
        phi = self._phi_values()
        agents = []
        for a in snapshot.agents:
            series = self._read(
                ReadTaskSeries(low=low, high=high, agent_id=a.agent_id, slices=REPORT_SLICES)
            )
            stats = self._read(ReadTaskStats(agent_id=a.agent_id))
            uptime = self._read(ReadAgentUptime(agent_id=a.agent_id, now=snapshot.at))
            agents.append(agent_report(
                a.agent_id, health_state=a.health_state.value, heartbeat_age_ms=a.heartbeat_age_ms,
                uptime_pct=float(uptime), stats=stats, series=series,
                gauges=gauges.get(a.agent_id, []), phi=phi.get(a.agent_id),
            ))
        alerts = self._ask_service("reporter", GetRecentAlerts(limit=REPORT_ALERTS))
        swarm_gauges = gauges_of(self._read(ReadLatestSwarmMetrics()))
        return HealthReport(
            swarm_id=self._config.swarm_id,
            timestamp=snapshot.at,
            topology_type=self._config.topology_type,
            agent_count=len(snapshot.agents),
            health_distribution=self._distribution(snapshot),
            agents=agents,
            task_stats=dict(self._read(ReadTaskStats())),
            alerts=alerts,
            swarm_gauges=swarm_gauges,
            findings=[finding["text"] for finding in self.get_findings()],
            cost=self.get_cost(),
            stuck_tasks=[{"agent_id": agent_id, **task}
                         for agent_id, tasks in self.get_tasks_in_flight().items()
                         for task in tasks if task["stuck"]],
            receivers=self._receiver_stats(),
        )

    def generate_report(self, format: str = "markdown") -> str:
        """The health report as Markdown or JSON text.

        Raises:
            ValueError: the format is neither ``markdown`` nor ``json``.
        """
        if format not in ("markdown", "json"):
            raise InvalidMessage("format", format, "must be 'markdown' or 'json'")
        result: str = self._ask_service("reporter", RenderReport(format=format, data=self.report_data()))
        return result
