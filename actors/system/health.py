"""The read views of health: one agent's, the swarm's snapshot, uptime, topology."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from actors.errors import AgentNotTracked, MonitoringDisabled, UnknownAgent
from actors.protocol import (
    Drain,
    GetAgentPerformances,
    GetHistory,
    ReadAgentsUptime,
    ReadAgentUptime,
    SwarmSnapshot,
)
from actors.system.plumbing import Plumbing, _time
from messages import HealthState, InvalidMessage, check_id
from storage import NeverTracked, UnknownAgentRecord

_ALERT_SEVERITY: Final = {
    HealthState.DEGRADED: "warning",
    HealthState.CRITICAL: "critical",
    HealthState.FAILED: "critical",
}


class HealthViews(Plumbing):
    """Health as the trackers and the stored transitions tell it."""

    def check_agent_health(self, agent_id: str) -> HealthState:
        """The agent's health now.

        Raises:
            UnknownAgent: (a KeyError) the system has never seen this agent.
            AgentNotTracked: (an UnknownAgent) the agent is known from stored
                data but not registered, so it has no health now.
            MonitoringDisabled: the system tracks no health.
        """
        try:
            status = self._status(agent_id)
        except UnknownAgent:
            raise self._not_tracked(agent_id) from None
        if status is None:
            raise MonitoringDisabled("health is not tracked: monitoring is disabled")
        return status.health_state

    def get_agent_health_status(self, agent_id: str) -> dict[str, Any] | None:
        """agent_id, health_state, last_heartbeat (epoch s), heartbeat_age_ms, ..., tracked.

        An agent known from stored data but not registered has ``tracked``
        False, ``health_state`` ``"unknown"`` and None for the live figures.
        None when monitoring is disabled.

        Raises:
            UnknownAgent: the system has never seen this agent.
        """
        try:
            status = self._status(agent_id)
        except UnknownAgent:
            error = self._not_tracked(agent_id)
            if not isinstance(error, AgentNotTracked):
                raise error from None
            return {
                "agent_id": agent_id,
                "health_state": "unknown",
                "last_heartbeat": None,
                "heartbeat_age_ms": None,
                "interval_ms": None,
                "failure_threshold": None,
                "heartbeats": 0,
                "tracked": False,
                "phi": None,
                "at_risk": False,
            }
        if status is None:
            return None
        return {
            "agent_id": status.agent_id,
            "health_state": status.health_state.value,
            "last_heartbeat": status.last_heartbeat,
            "heartbeat_age_ms": status.heartbeat_age_ms,
            "interval_ms": status.interval_ms,
            "failure_threshold": status.failure_threshold,
            "heartbeats": status.heartbeats,
            "tracked": True,
            "phi": status.phi,
            "at_risk": status.at_risk,
        }

    def snapshot(self) -> SwarmSnapshot:
        """Every agent's health and the coordinator's counters.

        Registered agents come first (``tracked=True``); then the agents the
        database held when the system started that have not registered or
        beaten since (``tracked=False``: their ``health_state`` is the last
        one stored, HEALTHY if none was, ``last_heartbeat`` the last time
        stored of them, and ``heartbeat_age_ms`` and ``heartbeats`` 0). The
        health counts, reports and topology count tracked agents only.
        """
        live = self._live_snapshot()
        with self._known_lock:
            untracked = [entry[0] for entry in self._untracked.values()]
        if not untracked:
            return live
        return msgspec.structs.replace(live, agents=[*live.agents, *untracked])

    def get_unhealthy_agents(self, min_state: HealthState | str = HealthState.DEGRADED) -> list[str]:
        """Ids of tracked agents at least as sick as ``min_state``."""
        try:
            floor = HealthState(min_state).severity
        except (ValueError, TypeError):
            allowed = ", ".join(state.value for state in HealthState)
            raise InvalidMessage("min_state", min_state, f"must be one of: {allowed}") from None
        agents = self._live_snapshot().agents
        return [a.agent_id for a in agents if a.health_state.severity >= floor]

    def get_heartbeat_history(
        self, agent_id: str, start_time: Any = None, end_time: Any = None
    ) -> list[dict[str, Any]]:
        """The agent's recent heartbeats in [start_time, end_time), oldest first.

        ``timestamp`` is when the beat was received (epoch s); at most
        ``history_size`` beats are kept. [] with monitoring off, and for an
        agent known from stored data but not registered (heartbeats are not stored).

        Raises:
            UnknownAgent: the system has never seen this agent.
        """
        check_id("agent_id", agent_id)
        start, end = _time(start_time, "start_time"), _time(end_time, "end_time")
        try:
            records = self._ask_tracker(GetHistory(agent_id=agent_id)) or []
        except UnknownAgent:
            error = self._not_tracked(agent_id)
            if isinstance(error, AgentNotTracked):
                return []
            raise error from None
        return [
            {"timestamp": r.received_at, "sent_at": r.sent_at, "metadata": dict(r.metadata)}
            for r in records
            if (start is None or r.received_at >= start) and (end is None or r.received_at < end)
        ]

    def agents_overview(self) -> list[dict[str, Any]]:
        """Every agent's health and task figures, from one snapshot and one read of each store.

        Each: ``agent_id``, ``health_state``, ``last_heartbeat`` (epoch s),
        ``heartbeat_age_ms``, ``uptime_pct``, ``tasks_completed``,
        ``success_rate``, ``p95_duration_ms``, ``total_tokens`` and ``duration_series``
        (mean task duration per slice of the agent's recent tasks, as the live view
        draws it); the same
        figures as the report, at a cost that does not grow by asks per agent.
        """
        snapshot = self.snapshot()
        self._ask_service("aggregator", Drain())
        performances: dict[str, dict[str, Any]] = self._ask_service(
            "aggregator", GetAgentPerformances()
        )
        self.flush()
        uptimes: dict[str, float] = self._read(ReadAgentsUptime(now=snapshot.at))
        none = {"tasks_completed": 0, "success_rate": 0.0, "p95_duration_ms": 0.0, "total_tokens": 0,
                "duration_series": []}
        return [
            {
                "agent_id": a.agent_id,
                "health_state": a.health_state.value,
                "last_heartbeat": a.last_heartbeat,
                "heartbeat_age_ms": a.heartbeat_age_ms,
                "uptime_pct": uptimes.get(a.agent_id, 100.0),
                **performances.get(a.agent_id, none),
            }
            for a in snapshot.agents
        ]

    def check_alerts(self) -> list[dict[str, Any]]:
        """One alert per unhealthy agent: agent_id, severity, message, state, timestamp."""
        snapshot = self._live_snapshot()
        return [
            {
                "agent_id": a.agent_id,
                "severity": _ALERT_SEVERITY[a.health_state],
                "message": f"agent {a.agent_id} is {a.health_state.value}: no heartbeat for "
                f"{a.heartbeat_age_ms / 1000:.1f} s",
                "state": a.health_state.value,
                "timestamp": snapshot.at,
            }
            for a in snapshot.agents
            if a.health_state is not HealthState.HEALTHY
        ]

    def get_agent_uptime(
        self, agent_id: str, start_time: Any = None, end_time: Any = None
    ) -> float:
        """Percent of the monitored time in the range that the agent was not FAILED.

        100.0 when the agent was tracked but nothing of it was monitored in range.

        Raises:
            UnknownAgent: the system has never seen this agent.
            AgentNotTracked: the agent was never registered (it is known only
                from its metrics), so it has no monitored time.
        """
        check_id("agent_id", agent_id)
        request = ReadAgentUptime(
            agent_id=agent_id, now=self._clock.time(), start_time=_time(start_time, "start_time"),
            end_time=_time(end_time, "end_time"),
        )
        self.flush()
        try:
            return float(self._read(request))
        except NeverTracked:
            raise AgentNotTracked(agent_id) from None
        except UnknownAgentRecord:
            raise UnknownAgent(agent_id) from None

    def get_topology_info(self) -> dict[str, Any]:
        """topology_type, agent_count, connection_count and health_metrics (tracked agents)."""
        snapshot = self._live_snapshot()
        n = len(snapshot.agents)
        kind = self._config.topology_type
        if kind in ("mesh", "adaptive"):
            connections = n * (n - 1) // 2
        elif kind == "ring":
            connections = n if n > 2 else max(0, n - 1)
        else:
            connections = max(0, n - 1)
        unhealthy = {
            a.agent_id: a.health_state.value
            for a in snapshot.agents
            if a.health_state is not HealthState.HEALTHY
        }
        return {
            "topology_type": kind,
            "agent_count": n,
            "connection_count": connections,
            "health_metrics": {
                "healthy_agents": n - len(unhealthy),
                "unhealthy_agents": len(unhealthy),
                "unhealthy_details": unhealthy,
            },
        }

    def _phi_values(self) -> dict[str, float]:
        """The phi of every agent with the phi detector (one ask each: phi is opt-in)."""
        values: dict[str, float] = {}
        with self._known_lock:
            agent_ids = sorted(self._phi_agents)
        for agent_id in agent_ids:
            try:
                status = self._status(agent_id)
            except UnknownAgent:
                continue
            if status is not None and status.phi is not None:
                values[agent_id] = status.phi
        return values
