"""The metrics aggregator: drains senders' buffers, keeps statistics, queues writes."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors.channel import TelemetryChannel
from actors.pending import PendingWrites
from actors.series import TaskSeries
from actors.supervision import SupervisedActor
from messages import AgentMetric, Crash, SwarmMetric, TaskMetric
from messages.requests import Drain, Query, Wake
from storage import TaskSummary, task_row

__all__ = ["AggregateState", "MetricsAggregator"]

logger = logging.getLogger("swarmpulse.aggregator")

_DRAIN_LIMIT = 20_000
_ROUNDS = 8


@dataclass(slots=True)
class AggregateState:
    """Statistics that outlive any one aggregator, so a restart keeps them."""

    history_size: int = 100
    per_agent: dict[str, TaskSummary] = field(default_factory=dict)
    agent_gauges: dict[tuple[str, str], collections.deque[tuple[float, float]]] = field(
        default_factory=dict
    )
    swarm_gauges: dict[str, collections.deque[tuple[float, float]]] = field(default_factory=dict)
    series: dict[str, TaskSeries] = field(default_factory=dict)
    drained: int = 0


class MetricsAggregator(SupervisedActor):
    """Turns buffered telemetry into statistics and pending writes.

    Accepts :class:`Drain` (reply: how many items it took), :class:`Query`
    (``task_stats``, ``agent_performance``, ``gauges``), and :class:`Crash`.
    Queues every metric in the pending writes before it counts it, then sends
    :class:`Wake` to the writer.
    """

    kind = "aggregator"

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any] | None,
        channel: TelemetryChannel,
        pending: PendingWrites,
        state: AggregateState,
        writer: Any,
    ) -> None:
        super().__init__(supervisor=supervisor)
        self.channel = channel
        self.pending = pending
        self.state = state
        self.writer = writer

    def on_start(self) -> None:
        """Take whatever was buffered while no aggregator ran."""
        self._drain()

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Drain():
                return self._drain()
            case Query(method="task_stats", kwargs=kwargs):
                return self.task_stats(kwargs.get("agent_id"))
            case Query(method="agent_performance", kwargs=kwargs):
                return self.agent_performance(kwargs["agent_id"])
            case Query(method="gauges"):
                return self.gauges()
            case Crash(reason=reason):
                raise RuntimeError(f"aggregator: {reason}")
            case _:
                self.unknown(message)
        return None

    def _drain(self) -> int:
        total = 0
        for _ in range(_ROUNDS):
            items = self.channel.take(_DRAIN_LIMIT)
            if not items:
                break
            total += len(items)
            self._absorb(items)
        else:
            if len(self.channel):
                self.actor_ref.tell(Drain())
        if total:
            self._wake_writer()
        return total

    def _absorb(self, items: list[Any]) -> None:
        rows: list[Any] = []
        agent_metrics: list[AgentMetric] = []
        swarm_metrics: list[SwarmMetric] = []
        for item in items:
            if type(item) is tuple:
                rows.append(item)
            elif type(item) is TaskMetric:
                rows.append(task_row(item))
            elif type(item) is AgentMetric:
                agent_metrics.append(item)
            elif type(item) is SwarmMetric:
                swarm_metrics.append(item)
        # Queue for storage first: a crash below must not lose an accepted metric.
        if rows:
            self.pending.extend("tasks", rows)
        if agent_metrics:
            self.pending.extend("agent_metrics", agent_metrics)
        if swarm_metrics:
            self.pending.extend("swarm_metrics", swarm_metrics)
        state = self.state
        if rows:
            # Columns by transposition (C speed), then one batch add per agent.
            _ids, agents, durations, results, tokens, files, stamps, _meta = zip(*rows)
            positions: dict[str, list[int]] = {}
            for index, agent_id in enumerate(agents):
                found = positions.get(agent_id)
                if found is None:
                    positions[agent_id] = [index]
                else:
                    found.append(index)
            for agent_id, indexes in positions.items():
                summary = state.per_agent.get(agent_id)
                if summary is None:
                    summary = state.per_agent[agent_id] = TaskSummary()
                    state.series[agent_id] = TaskSeries()
                summary.add_columns(durations, results, tokens, files, indexes)
                state.series[agent_id].add_many(stamps, durations, indexes)
        for metric in agent_metrics:
            self._gauge(state.agent_gauges, (metric.agent_id, metric.metric_type), metric)
        for swarm_metric in swarm_metrics:
            self._gauge(state.swarm_gauges, swarm_metric.metric_type, swarm_metric)
        state.drained += len(items)

    def _gauge(self, table: dict[Any, Any], key: Any, metric: AgentMetric | SwarmMetric) -> None:
        series = table.get(key)
        if series is None:
            series = table[key] = collections.deque(maxlen=self.state.history_size)
        series.append((metric.timestamp, metric.value))

    def _wake_writer(self) -> None:
        try:
            self.writer().tell(Wake())
        except (pykka.ActorDeadError, KeyError):
            pass  # a restarted writer writes what is pending as it starts

    def task_stats(self, agent_id: str | None = None) -> dict[str, Any]:
        """Statistics of every task drained so far, for one agent or all."""
        if agent_id is None:
            summary = TaskSummary()
            for one in self.state.per_agent.values():
                summary.merge(one)
        else:
            summary = self.state.per_agent.get(agent_id) or TaskSummary()
        return dict(summary.to_stats())

    def agent_performance(self, agent_id: str) -> dict[str, Any]:
        """One agent's task counts, rates, durations, tokens, and its series for sparklines."""
        stats = self.task_stats(agent_id)
        series = self.state.series.get(agent_id)
        durations, counts = series.slices() if series is not None else ([], [])
        return {
            "duration_series": durations,
            "throughput_series": counts,
            "agent_id": agent_id,
            "tasks_completed": stats["total_tasks"],
            "success_rate": stats["success_rate"],
            "error_rate": stats["error_rate"],
            "avg_duration_ms": stats["avg_duration_ms"],
            "p95_duration_ms": stats["p95_duration_ms"],
            "total_tokens_used": stats["total_tokens"],
        }

    def gauges(self) -> dict[str, Any]:
        """Latest value and history of every agent and swarm gauge."""
        return {
            "agents": {
                f"{agent}/{name}": {"latest": series[-1][1], "history": list(series)}
                for (agent, name), series in self.state.agent_gauges.items()
            },
            "swarm": {
                name: {"latest": series[-1][1], "history": list(series)}
                for name, series in self.state.swarm_gauges.items()
            },
        }
