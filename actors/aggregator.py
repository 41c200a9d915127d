"""The metrics aggregator: takes telemetry, keeps statistics, sends batches to the writer."""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pykka

from actors.analytics.requests import Observed
from actors.channel import TelemetryChannel
from actors.kernel.supervision import SupervisedActor
from actors.pending import Acked, CountUnacked, Outbox, ServiceStarted
from actors.protocol import (
    AgentTotals,
    Drain,
    GetAgentPerformances,
    GetGauges,
    GetTaskStats,
    GetTotals,
    LiveStats,
    Release,
    TaskTotals,
    Verified,
)
from actors.series import TaskSeries
from messages import AgentMetric, Crash, MetricBatch, SwarmMetric, TaskMetric
from storage import (
    Batch,
    LogHistogram,
    Quarantined,
    TaskColumns,
    TaskRow,
    TaskSummary,
    TaskTally,
    quarantined,
    task_row,
)
from storage.rollup import group_by_minute, summaries_pay, summarise

__all__ = ["AgentAggregate", "AggregateState", "MetricsAggregator"]

logger = logging.getLogger("swarmpulse.aggregator")

_DRAIN_LIMIT = 50_000
"""Items a drain takes, at most. Each drain summarises its rows per agent and minute
and merges the summaries into the statistics: fewer, bigger drains merge less."""
_GaugeHistory = collections.deque[tuple[float, float]]
_STR_ONLY = {str}
_Groups = dict[tuple[str, int], list[int]]
_Prepared = tuple[Batch, dict[tuple[str, int], TaskSummary], _Groups]
"""A batch to store, its task rows' summaries and positions by (agent_id, minute_start)."""


@dataclass(slots=True)
class AgentAggregate:
    """Everything the aggregator keeps about one agent: release it by deleting it.

    ``tally`` counts the agent's tasks since this state began (exact durations
    while there are few); ``serial`` tells this state from an earlier one of the
    same id (see :class:`~actors.protocol.Verified`).
    """

    serial: int = 0
    tally: TaskTally = field(default_factory=TaskTally)
    series: TaskSeries = field(default_factory=TaskSeries)
    gauges: dict[str, _GaugeHistory] = field(default_factory=dict)


@dataclass(slots=True)
class AggregateState:
    """What outlives any one aggregator, so a restart keeps it; only the aggregator changes it.

    Attributes:
        agents: per agent, its statistics, series and gauges (released when it leaves).
        swarm: every task since the file began (restored from the rollups at start-up).
        verified: agents whose stored tasks are known to be exactly those counted.
        swarm_gauges: the swarm's gauges by metric type.
        outbox: batches sent to the writer and not yet acknowledged.
        drained: telemetry items taken.
        quarantined: items refused (they could not be made into rows), kept
            in the storage's quarantine table instead.
        stats_errors: batches stored whose statistics could not be counted.
    """

    history_size: int = 100
    max_unacked: int = 4_000_000
    agents: dict[str, AgentAggregate] = field(default_factory=dict)
    swarm: TaskTally = field(default_factory=TaskTally)
    verified: set[str] = field(default_factory=set)
    next_serial: int = 1
    swarm_gauges: dict[str, _GaugeHistory] = field(default_factory=dict)
    outbox: Outbox = field(init=False)
    drained: int = 0
    quarantined: int = 0
    stats_errors: int = 0
    unknown_messages: int = 0
    # alerting (issue 13): told each batch's task columns and positions by (agent_id, minute_start)
    outcomes: Callable[[TaskColumns, _Groups], object] | None = None

    def __post_init__(self) -> None:
        self.outbox = Outbox("aggregator", self.max_unacked)

    def agent(self, agent_id: str) -> AgentAggregate:
        """The agent's state, made (with a new serial) when there is none."""
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = AgentAggregate(serial=self.next_serial)
            self.next_serial += 1
        return agent

    def release(self, agent_id: str) -> None:
        """Drop everything kept in memory about one agent."""
        self.agents.pop(agent_id, None)
        self.verified.discard(agent_id)


class _DrainMore(msgspec.Struct, frozen=True):
    """To itself: the channel held more than one batch."""


class MetricsAggregator(SupervisedActor):
    """Turns telemetry into statistics and batches for the writer.

    Accepts :class:`Drain` (take the channel's buffer; reply how many items it
    took), :class:`TaskMetric`, :class:`AgentMetric`, :class:`SwarmMetric` and
    :class:`MetricBatch` from any actor (by tell or ask),
    :class:`GetTaskStats` (reply a :class:`LiveStats`, or None for an agent it
    holds nothing of), :class:`GetGauges`, :class:`GetTotals` (reply :class:`TaskTotals`), :class:`Verified`, :class:`Release`
    (drains first, then drops the agent's state),
    :class:`~actors.pending.CountUnacked` (reply an int),
    :class:`~actors.pending.Acked` from the writer,
    :class:`~actors.pending.ServiceStarted` from the supervisor, and
    :class:`Crash`. Sends each batch to the writer as a
    :class:`~actors.pending.WriteBatch` before it counts it, and sends it again
    until the writer acknowledges it. An item that cannot be made into a row is
    quarantined and counted; the rest of its batch goes on.
    """

    kind = "aggregator"

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any] | None,
        channel: TelemetryChannel,
        state: AggregateState,
        writer: pykka.ActorRef[Any],
        time: Callable[[], float],
        analyst: Callable[[], pykka.ActorRef[Any] | None] | None = None,
    ) -> None:
        super().__init__(supervisor=supervisor)
        self.channel = channel
        self.state = state
        self.writer = writer
        self.time = time
        self.analyst = analyst
        """The analyst's current ref (or None), told each drained batch of finished tasks."""
        self._more_told = False

    def on_start(self) -> None:
        """Send again what the writer has not acknowledged, then take what was buffered."""
        self._resend()
        self._drain()

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Drain():
                return self._drain_present()
            case _DrainMore():
                self._more_told = False
                self._drain()
            case TaskMetric() | AgentMetric() | SwarmMetric():
                self._absorb([message])
                return 1
            case MetricBatch(metrics=list() as metrics):
                self._absorb(list(metrics))
                return len(metrics)
            case Acked(through=int() as through):
                self.state.outbox.ack(through)
            case ServiceStarted(kind="writer", ref=pykka.ActorRef() as ref):
                self.writer = ref
                self._resend()
            case ServiceStarted():
                pass  # another service: nothing to do
            case GetTaskStats(agent_id=str() | None as agent_id):
                return self.live_stats(agent_id)
            case GetAgentPerformances():
                return self.agent_performances()
            case GetGauges():
                return self.gauges()
            case Verified(agent_id=str() as agent_id, count=int() as count, serial=int()):
                self._verified(agent_id, count, message.serial)
            case Release(agent_id=str() as agent_id):
                self._drain_present()  # all it sent before it left, not one batch of it
                self.state.release(agent_id)
            case CountUnacked():
                return len(self.state.outbox)
            case GetTotals():
                return self.totals()
            case Crash(reason=reason):
                raise RuntimeError(f"aggregator: {reason}")
            case _:
                return self.unknown(message)
        return None

    def count_unknown(self) -> None:
        """Count a message not understood, also where the facade reads it."""
        super().count_unknown()
        self.state.unknown_messages += 1

    def _drain(self) -> int:
        """Take one batch from the channel; if more is waiting, tell itself to take the next.

        One batch a message, and at most one :class:`_DrainMore` of its own in
        the inbox: the writer's acknowledgements, which queue behind, are then
        handled between batches (until they are, the outbox keeps batches the
        writer has committed: with a Drain told again for every batch taken, the
        inbox grew during a burst and the memory at its peak doubled).
        """
        items = self.channel.take(_DRAIN_LIMIT)
        chunks = self.channel.take_rows(_DRAIN_LIMIT)
        if items or chunks:
            self._absorb(items, chunks)
        if len(self.channel) and not self._more_told:
            self._more_told = True
            self.actor_ref.tell(_DrainMore())
        return len(items) + sum(map(len, chunks))

    def _drain_present(self) -> int:
        """Take everything the channel held when asked, a batch at a time; reply how much.

        A flush asks this, then waits for the writer: what is left in the
        channel after the reply would be committed after the flush returned.
        (Taking one batch, as a tick does, let flush return while a burst of
        rows was still buffered: 13 of 28 batches were committed at the time.)
        """
        present = len(self.channel)
        taken = self._drain()
        while taken < present:
            more = self._drain()
            if not more:
                break
            taken += more
        return taken

    # Taking telemetry in

    def _absorb(self, items: list[Any], chunks: Sequence[TaskColumns] = ()) -> None:
        """Send the items (and rows) to the writer, then count them; one bad item costs only itself."""
        try:
            parts = [_prepare(items, chunks)]
            refused: list[Quarantined] = []
        except Exception:
            items = [*items, *(row for chunk in chunks for row in chunk.rows())]
            parts, refused = self._prepare_each(items)
        for batch, _, _ in parts:
            self._send(batch, refused)
            refused = []
        if refused:
            self._send(Batch(), refused)
        if self.analyst is not None:
            self._observed(parts)
        for prepared in parts:
            try:
                self._count(prepared)
            except Exception:  # stored all the same; only the in-memory statistics miss them
                self.state.stats_errors += 1
                logger.exception(
                    "could not count a batch of %d rows in the statistics", len(prepared[0])
                )
        self.state.drained += len(items) + sum(map(len, chunks))

    def _observed(self, parts: list[_Prepared]) -> None:
        """Tell the analyst the finished tasks and queue depths: one message a batch, no copies."""
        assert self.analyst is not None
        analyst = self.analyst()
        if analyst is None:
            return
        for batch, summaries, _ in parts:
            try:
                if len(batch.tasks):
                    counted: dict[str, tuple[int, float]] = {}
                    for (agent_id, _minute), summary in summaries.items():
                        count, total = counted.get(agent_id, (0, 0.0))
                        counted[agent_id] = (count + summary.count, total + summary.total_ms)
                    analyst.tell(Observed(tasks=batch.tasks, counted=counted))
                for metric in batch.agent_metrics:
                    if metric.metric_type == "queue_depth":
                        analyst.tell(metric)
            except pykka.ActorDeadError:
                return  # the analyst is restarting: its statistics miss this batch, storage does not

    def _prepare_each(self, items: list[Any]) -> tuple[list[_Prepared], list[Quarantined]]:
        """:func:`_prepare` of halves, recursively, until the items that fail alone are found.

        Those are quarantined; the rest comes as a few batches (about two per
        item refused), at the cost of preparing the items about twice.
        """
        parts: list[_Prepared] = []
        refused: list[Quarantined] = []
        now = self.time()
        pending = [items[len(items) // 2 :], items[: len(items) // 2]]
        while pending:
            some = pending.pop()
            if not some:
                continue
            try:
                parts.append(_prepare(some))
            except Exception as exc:
                if len(some) == 1:
                    refused.append(quarantined("telemetry", some[0], exc, now))
                else:
                    middle = len(some) // 2
                    pending += [some[middle:], some[:middle]]  # first half next: order kept
        if refused:
            logger.error(
                "%d of %d telemetry items could not be made into rows; quarantined them (%s)",
                len(refused), len(items), refused[0].error,
            )
        return parts, refused

    def _send(self, batch: Batch, refused: list[Quarantined]) -> None:
        state = self.state
        if refused:
            state.quarantined += len(refused)
            batch = dataclasses.replace(batch, quarantined=tuple(refused))
        if not len(batch):
            return
        message = state.outbox.add(batch, self.actor_ref)
        try:
            self.writer.tell(message)
        except pykka.ActorDeadError:
            pass  # kept in the outbox: sent again when the next writer starts

    def _resend(self) -> None:
        try:
            for message in self.state.outbox.unacked(self.actor_ref):
                self.writer.tell(message)
        except pykka.ActorDeadError:
            pass

    def _count(self, prepared: _Prepared) -> None:
        state = self.state
        batch, summaries, groups = prepared
        columns = batch.tasks
        values = (columns.durations, columns.results, columns.tokens, columns.files)
        swarm = state.swarm
        for key, summary in summaries.items():
            agent = state.agent(key[0])
            positions = groups[key]
            agent.tally.add_columns(*values, positions, summary)
            swarm.add_columns(*values, positions, summary)
            agent.series.add_many(columns.timestamps, columns.durations, positions)
        if state.outcomes is not None and groups:  # alerting's rules over task metrics
            state.outcomes(columns, groups)
        for metric in batch.agent_metrics:
            self._gauge(state.agent(metric.agent_id).gauges, metric.metric_type, metric)
        for swarm_metric in batch.swarm_metrics:
            self._gauge(state.swarm_gauges, swarm_metric.metric_type, swarm_metric)

    def _gauge(
        self, table: dict[str, _GaugeHistory], key: str, metric: AgentMetric | SwarmMetric
    ) -> None:
        series = table.get(key)
        if series is None:
            series = table[key] = collections.deque(maxlen=self.state.history_size)
        series.append((metric.timestamp, metric.value))

    # Reads

    def _verified(self, agent_id: str, count: int, serial: int) -> None:
        """Vouch for an agent's tally if it is the same state and count the facade checked."""
        state = self.state
        agent = state.agents.get(agent_id)
        if (
            agent is not None and type(count) is int and agent.tally.count == count
            and agent.serial == serial
        ):
            state.verified.add(agent_id)

    def live_stats(self, agent_id: str | None = None) -> LiveStats | None:
        """The statistics of every task taken so far, for one agent or the swarm.

        None for an agent of whom nothing is held in memory.
        """
        state = self.state
        if agent_id is None:
            return LiveStats(stats=dict(state.swarm.to_stats()), verified=True)
        agent = state.agents.get(agent_id)
        if agent is None:
            return None
        durations, counts = agent.series.slices()
        return LiveStats(
            stats=dict(agent.tally.to_stats()),
            verified=agent_id in state.verified,
            serial=agent.serial,
            duration_series=durations,
            throughput_series=counts,
        )

    def agent_performances(self) -> dict[str, dict[str, Any]]:
        """Every agent's task count, success rate, p95 and tokens, by id, in one reply.

        The same figures as :meth:`live_stats` gives one agent at a time.
        """
        result = {}
        for agent_id, agent in self.state.agents.items():
            stats = agent.tally.to_stats()
            result[agent_id] = {
                "tasks_completed": stats["total_tasks"],
                "success_rate": stats["success_rate"],
                "p95_duration_ms": stats["p95_duration_ms"],
                "total_tokens": stats["total_tokens"],
                "duration_series": agent.series.slices()[0],  # the live view's sparkline
            }
        return result

    def gauges(self) -> dict[str, Any]:
        """Latest value and history of every agent and swarm gauge."""
        return {
            "agents": {
                f"{agent_id}/{name}": {"latest": series[-1][1], "history": list(series)}
                for agent_id, agent in self.state.agents.items()
                for name, series in agent.gauges.items()
            },
            "swarm": {
                name: {"latest": series[-1][1], "history": list(series)}
                for name, series in self.state.swarm_gauges.items()
            },
        }

    def totals(self) -> TaskTotals:
        """Every agent's task counters and all durations merged, for an exporter's scrape.

        One pass over the agents (their histograms merge into one), so a scrape
        of 10,000 agents is one ask instead of 10,000.
        """
        durations = LogHistogram()
        agents = []
        count, total_ms = 0, 0.0
        for agent_id, agent in self.state.agents.items():
            summary = agent.tally.summary
            agents.append(
                AgentTotals(
                    agent_id=agent_id, results=dict(summary.results), tokens=summary.tokens,
                    files=summary.files,
                )
            )
            durations.merge(summary.histogram)
            count += summary.count
            total_ms += summary.total_ms
        return TaskTotals(
            agents=agents,
            duration_bins=durations.bins,
            duration_zero=durations.zero_count,
            duration_count=count,
            duration_sum_ms=total_ms,
            gauges=[
                (agent_id, name, series[-1][1])
                for agent_id, agent in self.state.agents.items()
                for name, series in agent.gauges.items()
            ],
        )



def _prepare(items: Sequence[Any], chunks: Sequence[TaskColumns] = ()) -> _Prepared:
    """The batch to store for ``items`` and ``chunks``, the summaries of its task rows, and their positions.

    ``chunks`` are task rows already as columns (see
    :meth:`~actors.channel.TelemetryChannel.send_rows`); they follow the rows of ``items``.

    Task rows are summarised by (agent, minute) with the storage's one
    summariser; the statistics take these summaries, and so do the storage's
    rollups when the groups are big enough to pay (see
    :func:`storage.rollup.summaries_pay`): so each row is summarised once.
    Otherwise the storage summarises each transaction's rows at once.

    Raises:
        Exception: an item is not telemetry, or not a valid row (any error).
    """
    rows: list[Any] = []
    agent_metrics: list[AgentMetric] = []
    swarm_metrics: list[SwarmMetric] = []
    for item in items:
        kind = type(item)
        if kind is tuple or kind is TaskRow:
            rows.append(item)
        elif kind is TaskMetric:
            rows.append(task_row(item))
        elif kind is AgentMetric or kind is SwarmMetric:
            if type(item.metric_type) is not str or type(item.value) is not float:
                raise TypeError("a gauge's metric_type must be a str and its value a float")
            (agent_metrics if kind is AgentMetric else swarm_metrics).append(item)
        else:
            raise TypeError(f"not telemetry: a {kind.__name__}")
    if not rows and not chunks:
        batch = Batch(agent_metrics=agent_metrics, swarm_metrics=swarm_metrics)
        return batch, {}, {}
    columns = TaskColumns.concat([TaskColumns.from_rows(rows), *chunks])
    if set(map(type, columns.agent_ids)) != _STR_ONLY:  # (in C: 2 ms for 20,000 rows)
        raise TypeError("an agent id is not a str")
    groups = group_by_minute(columns.agent_ids, columns.timestamps)
    summaries = summarise(
        groups, (columns.durations, columns.results, columns.tokens, columns.files)
    )
    batch = Batch(
        tasks=columns.packed(),
        task_rollups=summaries if summaries_pay(len(columns), len(groups)) else None,
        agent_metrics=agent_metrics,
        swarm_metrics=swarm_metrics,
    )
    return batch, summaries, groups
