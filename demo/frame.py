"""A frame: what the live view and the status lines show at one moment of a run."""

from __future__ import annotations

from dataclasses import dataclass, field

from actors import SwarmSystem
from demo.stored import stored_metrics
from messages import HealthState
from storage import MetricsStorage

__all__ = ["AgentRow", "Frame", "capture"]


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent as the system sees it now."""

    agent_id: str
    state: HealthState
    heartbeat_age_ms: float
    tasks: int
    success_rate: float
    p95_ms: float
    duration_series: list[float] = field(default_factory=list)
    throughput_series: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Frame:
    """The swarm as the system sees it ``elapsed`` seconds into a run of ``duration``."""

    elapsed: float
    duration: float
    agents: list[AgentRow]
    tasks: int
    success_rate: float
    p95_ms: float
    tokens: int
    stored: int
    heartbeats: int
    tracker_restarts: int
    distribution: dict[str, int]


def capture(
    system: SwarmSystem, elapsed: float, duration: float, stored: MetricsStorage,
    since: float | None = None,
) -> Frame:
    """Ask the running system for health, and its database for every figure a frame shows.

    Task figures and the count of metrics stored come from the same storage
    reads as the reports and the command line (of what is committed so far,
    at most one flush interval behind), so a number reads the same in every
    view; health, heartbeats and the sparkline series come from the actors.

    Args:
        system: the running system.
        elapsed: seconds into the run.
        duration: the run's length.
        stored: the system's database, opened read-only beside it.
        since: when the run started (epoch s): the metrics stored count from
            then; None counts the whole file.
    """
    snapshot = system.snapshot()
    snapshot.agents[:] = [a for a in snapshot.agents if a.tracked]  # the running swarm only
    stats = stored.task_stats()
    rows = []
    for agent in snapshot.agents:
        perf = system.get_agent_performance(agent.agent_id)
        mine = stored.task_stats(agent_id=agent.agent_id)
        rows.append(
            AgentRow(
                agent_id=agent.agent_id,
                state=agent.health_state,
                heartbeat_age_ms=agent.heartbeat_age_ms,
                tasks=mine["total_tasks"],
                success_rate=mine["success_rate"],
                p95_ms=mine["p95_duration_ms"],
                duration_series=list(perf["duration_series"]),
                throughput_series=list(perf["throughput_series"]),
            )
        )
    distribution = {state.value: 0 for state in HealthState}
    for agent in snapshot.agents:
        distribution[agent.health_state.value] += 1
    return Frame(
        elapsed=elapsed,
        duration=duration,
        agents=rows,
        tasks=stats["total_tasks"],
        success_rate=stats["success_rate"],
        p95_ms=stats["p95_duration_ms"],
        tokens=stats["total_tokens"],
        stored=stored_metrics(stored, since),
        heartbeats=snapshot.total_heartbeats,
        tracker_restarts=snapshot.tracker_restarts,
        distribution=distribution,
    )
