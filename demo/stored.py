"""Reports, task queries and statistics from a database alone, with no swarm running."""

from __future__ import annotations

import os

from demo.errors import CommandError, UnknownAgentId
from messages import (
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    REPORT_ALERTS,
    REPORT_SLICES,
    AgentReport,
    HealthReport,
    HealthState,
    agent_report,
    gauges_by_agent,
    gauges_of,
)
from storage import AgentRecord, MetricsStorage, NeverTracked

__all__ = ["check_agent", "open_database", "stored_metrics", "stored_report"]


def open_database(path: str) -> MetricsStorage:
    """Open a metrics database read-only, never creating or migrating anything.

    Raises:
        CommandError: there is no such file, or it is a directory.
        NotOurDatabase: the file is not a swarmpulse database.
        SchemaTooNew: a newer swarmpulse wrote it.
        StorageError: it cannot be read.
    """
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file (run `python -m demo` to make a database)")
    if os.path.isdir(path):
        raise CommandError(f"{path} is a directory, not a metrics database")
    return MetricsStorage(path, readonly=True, create=False)


def check_agent(storage: MetricsStorage, agent_id: str) -> None:
    """Refuse an agent the database has never seen.

    Raises:
        UnknownAgentId: it has never seen it.
    """
    known = storage.agent_ids()
    if agent_id not in known:
        raise UnknownAgentId(agent_id, storage.path, known)


def _active(record: AgentRecord, start: float | None, end: float | None, has_tasks: bool) -> bool:
    """Whether an agent was monitored in [start, end), or did work in it."""
    if has_tasks:
        return True
    if record.registered_at is None:
        return False
    if end is not None and record.registered_at >= end:
        return False
    return start is None or record.unregistered_at is None or record.unregistered_at >= start


def _swarm_identity(storage: MetricsStorage, path: str) -> tuple[str, str]:
    """The swarm id and topology the file keeps, else its swarm gauges', else made from its name."""
    settings = storage.metadata()
    if "swarm_id" in settings:
        return settings["swarm_id"], settings.get("topology_type", "unknown")
    gauges = storage.query_swarm_metrics(limit=1)
    if not gauges:
        return os.path.splitext(os.path.basename(path))[0] or "swarm", "unknown"
    topology = gauges[0].metadata.get("topology")
    return gauges[0].swarm_id, topology if isinstance(topology, str) else "unknown"


def stored_metrics(storage: MetricsStorage, since: float | None = None) -> int:
    """The metrics stored since ``since`` (all time for None): tasks, agent and swarm gauges.

    The one definition of "metrics stored" that the live view and the run's
    summary both show.
    """
    tasks = storage.task_stats(start_time=since, end_time=None)["total_tasks"]
    return (tasks + len(storage.query_agent_metrics(start_time=since))
            + len(storage.query_swarm_metrics(start_time=since)))


def _uptime(
    storage: MetricsStorage, agent_id: str, start: float | None, end: float | None, now: float
) -> float | None:
    """The agent's uptime in range; None for one that was never registered (never tracked)."""
    try:
        return storage.agent_uptime(agent_id, start, end, now=now)
    except NeverTracked:
        return None


def stored_report(
    storage: MetricsStorage,
    *,
    start: float | None,
    end: float | None,
    agent_id: str | None,
    now: float,
) -> HealthReport:
    """Build the health report of [start, end) from what the database holds.

    Each agent's state is the last health transition stored since its last
    registration, up to the end of the range (HEALTHY when there is none); an
    agent registered again (a later run on the same file) shows that run's
    state, and is left out of ranges that end before it. Its heartbeat age is
    unknown (None), as heartbeats are not stored. Task statistics, uptime and
    gauges come from the same storage reads as the in-process report; the
    sparkline series from the rollups, so a day of a million tasks costs no
    more than a day of a hundred.

    Args:
        storage: an open database.
        start: inclusive start (epoch s), None for the beginning.
        end: exclusive end (epoch s), None for now.
        agent_id: only this agent (check it with :func:`check_agent` first), or all.
        now: the current time: the end of the monitored time of agents still registered.
    """
    span = storage.task_span(agent_id)
    low = start if start is not None else (span[0] if span else now)
    high = end if end is not None else (span[1] if span else now)
    # a file may hold times no calendar check passes today (a millisecond time an
    # older version stored): the sparklines span only the times that are valid
    low = min(max(low, MIN_TIMESTAMP), MAX_TIMESTAMP)
    high = min(max(high, low), MAX_TIMESTAMP)
    gauges = gauges_by_agent(
        storage.latest_agent_metrics(start_time=start, end_time=end, agent_id=agent_id))
    agents: list[AgentReport] = []
    records = [r for r in storage.agents() if agent_id is None or r.agent_id == agent_id]
    ids = [r.agent_id for r in records]
    every_stats = storage.task_stats_by_agent(start_time=start, end_time=end, agent_ids=ids)
    every_series = storage.task_series_by_agent(low, high, ids, slices=REPORT_SLICES)
    for record in records:
        stats = every_stats[record.agent_id]
        if not _active(record, start, end, stats["total_tasks"] > 0):
            continue
        # An agent starts HEALTHY at each registration: older transitions (of an
        # earlier run appended to the same file) say nothing of its state now.
        events = storage.query_health_events(start_time=record.registered_at, end_time=end,
                                             agent_id=record.agent_id)
        state = events[-1].current if events else HealthState.HEALTHY
        series = every_series[record.agent_id]
        agents.append(agent_report(
            record.agent_id, health_state=state.value, heartbeat_age_ms=None,
            uptime_pct=_uptime(storage, record.agent_id, start, end, now), stats=stats,
            series=series, gauges=gauges.get(record.agent_id, []),
        ))
    distribution = {state.value: 0 for state in HealthState}
    for agent in agents:
        distribution[agent.health_state] += 1
    swarm_id, topology = _swarm_identity(storage, storage.path)
    alerts = storage.query_alerts(start_time=start, end_time=end, agent_id=agent_id)
    swarm_gauges = [] if agent_id is not None else gauges_of(
        storage.latest_swarm_metrics(start_time=start, end_time=end))
    return HealthReport(
        swarm_id=swarm_id,
        timestamp=end if end is not None else now,
        topology_type=topology,
        agent_count=len(agents),
        health_distribution=distribution,
        agents=agents,
        task_stats=dict(storage.task_stats(start_time=start, end_time=end, agent_id=agent_id)),
        alerts=alerts[-REPORT_ALERTS:],
        swarm_gauges=swarm_gauges,
    )
