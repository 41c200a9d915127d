"""Everything accepted but not yet committed to SQLite, outliving any writer.

The writer reads from the head, commits a batch in one transaction, and only
then removes it; so a writer that crashes mid-batch loses nothing and stores
nothing twice. Past ``max_items`` (a long storage outage), the oldest are
dropped and counted, never silently.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable
from typing import Any

import pykka

__all__ = ["PendingWrites"]

logger = logging.getLogger("swarmpulse.pending")

KINDS = ("tasks", "agent_metrics", "swarm_metrics", "health_events", "alerts", "agent_events")


class PendingWrites:
    """A thread-safe queue of (sequence, kind, item) awaiting commit.

    Args:
        max_items: the bound past which the oldest items are dropped.
    """

    def __init__(self, max_items: int = 2_000_000) -> None:
        self.max_items = max_items
        self._lock = threading.Lock()
        self._items: collections.deque[tuple[int, str, Any]] = collections.deque()
        self._next_seq = 1
        self._waiters: list[tuple[int, pykka.Future[None]]] = []
        self.dropped = 0
        self.committed = 0

    def extend(self, kind: str, items: Iterable[Any]) -> None:
        """Append items of one kind (a key of ``MetricsStorage.store_batch``)."""
        with self._lock:
            seq = self._next_seq
            queue = self._items
            for item in items:
                queue.append((seq, kind, item))
                seq += 1
            self._next_seq = seq
            overflow = len(queue) - self.max_items
            if overflow > 0:
                for _ in range(overflow):
                    queue.popleft()
                self.dropped += overflow
        if overflow > 0:
            logger.error("pending writes over %d: dropped the %d oldest", self.max_items, overflow)
            self._resolve()

    def add(self, kind: str, item: Any) -> None:
        """Append one item."""
        self.extend(kind, (item,))

    def peek(self, limit: int) -> list[tuple[int, str, Any]]:
        """The oldest ``limit`` items, left in place."""
        with self._lock:
            n = min(limit, len(self._items))
            return [self._items[i] for i in range(n)]

    def commit_through(self, seq: int) -> None:
        """Remove every item up to and including sequence ``seq``."""
        with self._lock:
            queue = self._items
            while queue and queue[0][0] <= seq:
                queue.popleft()
                self.committed += 1
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
        return len(self._items)
