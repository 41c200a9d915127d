"""Everything accepted but not yet committed to SQLite, outliving any writer.

The writer reads from the head, commits a batch in one transaction, and only
then removes it; so a writer that crashes mid-batch loses nothing and stores
nothing twice. Past ``max_items`` (a long storage outage), the oldest are
dropped and counted, never silently. Sizes count rows: a :class:`TaskBatch`
weighs as many rows as it holds.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pykka

from storage import TaskColumns, TaskSummary

__all__ = ["KINDS", "PendingWrites", "TaskBatch"]

logger = logging.getLogger("swarmpulse.pending")

KINDS = ("tasks", "agent_metrics", "swarm_metrics", "health_events", "alerts", "agent_events")


@dataclass(frozen=True, slots=True)
class TaskBatch:
    """Task rows drained together, as columns, with their summaries by (agent_id, minute_start).

    ``rollups`` is None when the aggregator could not summarise them; the
    storage then summarises the rows itself. Nobody changes either after queuing.
    """

    columns: TaskColumns
    rollups: dict[tuple[str, int], TaskSummary] | None


class PendingWrites:
    """A thread-safe queue of (sequence, kind, item, weight) awaiting commit.

    Args:
        max_items: the bound, in rows, past which the oldest items are dropped.
    """

    def __init__(self, max_items: int = 2_000_000) -> None:
        self.max_items = max_items
        self._lock = threading.Lock()
        self._items: collections.deque[tuple[int, str, Any, int]] = collections.deque()
        self._weight = 0
        self._next_seq = 1
        self._waiters: list[tuple[int, pykka.Future[None]]] = []
        self.dropped = 0
        self.committed = 0

    def extend(self, kind: str, items: Iterable[Any]) -> None:
        """Append items of one kind (a key of ``MetricsStorage.store_batch``), one row each."""
        with self._lock:
            seq = self._next_seq
            queue = self._items
            for item in items:
                queue.append((seq, kind, item, 1))
                seq += 1
                self._weight += 1
            self._next_seq = seq
        self._trim()

    def add(self, kind: str, item: Any) -> None:
        """Append one item of one row."""
        self.extend(kind, (item,))

    def add_tasks(self, batch: TaskBatch) -> None:
        """Append a batch of task rows as one item."""
        with self._lock:
            rows = len(batch.columns)
            self._items.append((self._next_seq, "tasks", batch, rows))
            self._next_seq += 1
            self._weight += rows
        self._trim()

    def _trim(self) -> None:
        dropped = 0
        with self._lock:
            while self._weight > self.max_items and self._items:
                weight = self._items.popleft()[3]
                self._weight -= weight
                dropped += weight
            self.dropped += dropped
        if dropped:
            logger.error("pending writes over %d rows: dropped the %d oldest", self.max_items, dropped)
            self._resolve()

    def peek(self, limit: int) -> list[tuple[int, str, Any, int]]:
        """The oldest items, left in place: at least one, and about ``limit`` rows."""
        taken: list[tuple[int, str, Any, int]] = []
        weight = 0
        with self._lock:
            for item in self._items:
                if taken and weight + item[3] > limit:
                    break
                taken.append(item)
                weight += item[3]
        return taken

    def commit_through(self, seq: int) -> None:
        """Remove every item up to and including sequence ``seq``."""
        with self._lock:
            queue = self._items
            while queue and queue[0][0] <= seq:
                weight = queue.popleft()[3]
                self._weight -= weight
                self.committed += weight
        self._resolve()

    def wait_for_all(self) -> pykka.Future[None] | None:
        """A future set once everything added so far has left the queue, or None if it has."""
        with self._lock:
            target = self._next_seq - 1
            if not self._items or self._items[0][0] > target:
                return None
            future: pykka.Future[None] = pykka.ThreadingFuture()
            self._waiters.append((target, future))
            return future

    def _resolve(self) -> None:
        with self._lock:
            head = self._items[0][0] if self._items else self._next_seq
            ready = [f for t, f in self._waiters if t < head]
            self._waiters = [(t, f) for t, f in self._waiters if t >= head]
        for future in ready:
            future.set(None)

    def __len__(self) -> int:
        return self._weight
