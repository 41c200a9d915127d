"""A batch of writes: everything one transaction stores, and how it splits.

:class:`Batch` is what :meth:`~storage.metrics.MetricsStorage.store` takes and
what the writer actor receives in a message: task rows as
:class:`~storage.rows.TaskColumns`, the summaries of those rows when the
sender made them, and the other messages to store, each kind in order.
Nobody changes a batch or what it holds after building it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from messages import AgentMetric, AgentRegistered, AgentUnregistered, Alert, HealthChanged, SwarmMetric
from storage.quarantine import Quarantined
from storage.rows import EMPTY_COLUMNS, TaskColumns
from storage.summary import TaskSummary

__all__ = ["KINDS", "Batch", "MinuteSummaries"]

MinuteSummaries = Mapping[tuple[str, int], TaskSummary]
"""Summaries of task rows by ``(agent_id, minute_start)``, as :func:`storage.summarise` makes."""

KINDS: Final = (
    "agent_events", "tasks", "agent_metrics", "swarm_metrics", "health_events", "alerts",
    "quarantined",
)
"""The kinds of item a batch holds, in the order they are stored (agent events first)."""


@dataclass(frozen=True, slots=True)
class Batch:
    """What one transaction stores.

    Attributes:
        tasks: task rows as columns.
        task_rollups: the summaries of exactly ``tasks`` by ``(agent_id, minute_start)``,
            or None: the storage then summarises the rows itself.
        agent_metrics, swarm_metrics, health_events, alerts: messages, in order.
        agent_events: registrations and unregistrations, applied first, in order.
        quarantined: items refused before they reached storage, for its quarantine table.
    """

    tasks: TaskColumns = EMPTY_COLUMNS
    task_rollups: MinuteSummaries | None = None
    agent_metrics: Sequence[AgentMetric] = ()
    swarm_metrics: Sequence[SwarmMetric] = ()
    health_events: Sequence[HealthChanged] = ()
    alerts: Sequence[Alert] = ()
    agent_events: Sequence[AgentRegistered | AgentUnregistered] = field(default=())
    quarantined: Sequence[Quarantined] = ()

    def __len__(self) -> int:
        """How many rows it stores (a task row or a message is one)."""
        return (
            len(self.tasks) + len(self.agent_metrics) + len(self.swarm_metrics)
            + len(self.health_events) + len(self.alerts) + len(self.agent_events)
            + len(self.quarantined)
        )

    @classmethod
    def concat(cls, parts: Sequence[Batch]) -> Batch:
        """Join batches, in order; their task summaries are merged (None if any part has none)."""
        if len(parts) == 1:
            return parts[0]
        rollups: dict[tuple[str, int], TaskSummary] | None = {}
        for part in parts:
            if not len(part.tasks):
                continue
            if part.task_rollups is None or rollups is None:
                rollups = None
            else:
                merge_summaries(rollups, part.task_rollups)
        return cls(
            tasks=TaskColumns.concat(part.tasks for part in parts),
            task_rollups=rollups or None,
            agent_metrics=_joined(part.agent_metrics for part in parts),
            swarm_metrics=_joined(part.swarm_metrics for part in parts),
            health_events=_joined(part.health_events for part in parts),
            alerts=_joined(part.alerts for part in parts),
            agent_events=_joined(part.agent_events for part in parts),
            quarantined=_joined(part.quarantined for part in parts),
        )

    def halves(self) -> list[Batch]:
        """Split into smaller batches, to find the item a store refuses.

        A batch of several kinds splits into one batch per kind (agent events
        first, so that a registration still comes before what names the agent);
        a batch of one kind into its two halves. Parts carry no task summaries.
        """
        kinds = [kind for kind in KINDS if len(self._items(kind))]
        if len(kinds) > 1:
            return [self._only(kind, self._items(kind)) for kind in kinds]
        if not kinds:
            return []
        kind = kinds[0]
        items = self._items(kind)
        middle = len(items) // 2
        if kind == "tasks":
            positions = range(len(items))
            return [
                Batch(tasks=self.tasks.take(positions[:middle])),
                Batch(tasks=self.tasks.take(positions[middle:])),
            ]
        return [self._only(kind, items[:middle]), self._only(kind, items[middle:])]

    def single(self) -> tuple[str, Any] | None:
        """``(kind, item)`` when the batch holds exactly one item, else None."""
        if len(self) != 1:
            return None
        for kind in KINDS:
            items = self._items(kind)
            if len(items):
                return kind, (self.tasks.row(0) if kind == "tasks" else items[0])
        return None  # pragma: no cover - len is 1

    def _items(self, kind: str) -> Sequence[Any]:
        value: Sequence[Any] = getattr(self, kind)
        return value

    @staticmethod
    def _only(kind: str, items: Sequence[Any]) -> Batch:
        if kind == "tasks":
            assert isinstance(items, TaskColumns)
            return Batch(tasks=items)
        return Batch(**{kind: tuple(items)})  # type: ignore[arg-type]


def _joined(parts: Iterator[Sequence[Any]]) -> tuple[Any, ...]:
    joined: list[Any] = []
    for part in parts:
        joined += part
    return tuple(joined)


def merge_summaries(
    total: dict[tuple[str, int], TaskSummary], more: MinuteSummaries
) -> None:
    """Add ``more`` into ``total`` without changing any summary either holds."""
    for key, summary in more.items():
        found = total.get(key)
        if found is None:
            total[key] = summary
        else:
            combined = TaskSummary()
            combined.merge(found)
            combined.merge(summary)
            total[key] = combined
