"""The write protocol: batches travel to the writer as messages and are acknowledged.

A sender wraps what it wants stored in a :class:`WriteBatch` and tells the
writer. The aggregator numbers its batches and keeps every one in its
:class:`Outbox` until the writer says :class:`Acked`: it has the batch in its
:class:`Backlog`, which the writer's next incarnation inherits, so from then on
a crash cannot lose it. The aggregator sends every batch not acknowledged again
to a writer that has just started, so a batch lost in a crashed writer's inbox,
or told to one between incarnations, is stored all the same. The writer
ignores a batch it has already taken (the redelivery is idempotent: stored
once), commits the backlog many batches to a transaction, and past
``max_rows`` drops the oldest, counted.

(Acknowledging on commit instead made the outbox hold, during a burst, every
batch committed but whose acknowledgement still queued behind the
aggregator's work: the peak memory doubled.)

Each of these belongs to one actor: the outbox to the aggregator, the backlog
to the writer. They outlive an incarnation (the supervisor hands them to the
next one), and nobody else changes them; the facade only reads their counters.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

import msgspec
import pykka

from storage import Batch

__all__ = [
    "Acked", "Backlog", "CountUnacked", "Outbox", "Retry", "ServiceStarted", "WriteBatch",
    "pending_writes",
]

logger = logging.getLogger("swarmpulse.pending")


class WriteBatch(msgspec.Struct, frozen=True, kw_only=True):
    """Writer: store ``batch``; then, if ``seq`` is set, tell ``reply_to`` :class:`Acked`.

    Attributes:
        sender: who sent it (``aggregator``, ``coordinator``, ``reporter``).
        seq: the sender's number for it, from 1, increasing; 0 for a batch
            nobody waits to hear about.
        batch: what to store.
        reply_to: where the acknowledgement goes.
    """

    sender: str
    batch: Batch
    seq: int = 0
    reply_to: Any = None  # pykka.ActorRef; typed Any so msgspec leaves it alone

    def __len__(self) -> int:
        return len(self.batch)


class Acked(msgspec.Struct, frozen=True, kw_only=True):
    """From the writer: it has taken every batch of this sender numbered up to ``through``."""

    through: int


class CountUnacked(msgspec.Struct, frozen=True, kw_only=True):
    """Aggregator: reply how many of its batches the writer has not acknowledged."""


class Retry(msgspec.Struct, frozen=True, kw_only=True):
    """Writer, from its own timer: the backoff after a failed write is over."""


class ServiceStarted(msgspec.Struct, frozen=True, kw_only=True):
    """From the supervisor: a new incarnation of the service ``kind`` runs at ``ref``."""

    kind: str
    ref: Any


class Outbox:
    """A sender's batches that the writer has not acknowledged, in order.

    Args:
        sender: the sender's name, in every batch it makes.
        max_rows: past this many rows unacknowledged (the writer is gone for
            good), the oldest are dropped and counted in :attr:`dropped`.
    """

    def __init__(self, sender: str, max_rows: int) -> None:
        self.sender = sender
        self.max_rows = max_rows
        self._unacked: collections.OrderedDict[int, WriteBatch] = collections.OrderedDict()
        self._ends: dict[int, int] = {}  # each unacknowledged seq: rows added up to and with it
        self._added = 0
        self._next = 1
        self.rows = 0
        self.dropped = 0

    def add(self, batch: Batch, reply_to: pykka.ActorRef[Any]) -> WriteBatch:
        """Number ``batch``, keep it until acknowledged, and return the message to send."""
        message = WriteBatch(sender=self.sender, seq=self._next, batch=batch, reply_to=reply_to)
        self._next += 1
        self._unacked[message.seq] = message
        self._added += len(batch)
        self._ends[message.seq] = self._added
        self.rows += len(batch)
        while self.rows > self.max_rows and len(self._unacked) > 1:
            seq, oldest = self._unacked.popitem(last=False)
            self._ends.pop(seq, None)
            self.rows -= len(oldest)
            self.dropped += len(oldest)
            logger.error("%d rows were never acknowledged by the writer: dropped", len(oldest))
        return message

    def ack(self, through: int) -> None:
        """Forget every batch numbered up to ``through``."""
        unacked = self._unacked
        while unacked:
            seq = next(iter(unacked))
            if seq > through:
                break
            self.rows -= len(unacked.pop(seq))
            self._ends.pop(seq, None)

    def rows_after(self, seq: int) -> int:
        """Rows of the unacknowledged batches numbered after ``seq``.

        With ``seq`` the last batch the writer has taken, the rows only the
        outbox holds: a batch taken and not yet acknowledged is in the writer's
        :class:`Backlog` too (or already committed). Reads counters only, so
        any thread may call it; while the owner changes them the answer is one
        of the values they pass through.
        """
        end = self._ends.get(seq)
        if end is None:  # acknowledged, dropped or none yet: every batch held comes after it
            return self.rows
        return max(0, min(self.rows, self._added - end))

    def unacked(self, reply_to: pykka.ActorRef[Any]) -> list[WriteBatch]:
        """Every unacknowledged batch, oldest first, readdressed to ``reply_to``."""
        return [msgspec.structs.replace(m, reply_to=reply_to) for m in self._unacked.values()]

    def __len__(self) -> int:
        return len(self._unacked)


class Backlog:
    """The writer's batches not yet committed, oldest first.

    Args:
        max_rows: past this many rows (a long storage outage), the oldest
            batches are dropped and counted in :attr:`dropped`.
    """

    def __init__(self, max_rows: int = 2_000_000) -> None:
        self.max_rows = max_rows
        self._items: collections.deque[tuple[int, WriteBatch]] = collections.deque()
        self._taken: dict[str, int] = {}  # per sender: every seq up to it taken (they come in order)
        self._arrived = 0
        self._waiters: list[tuple[int, pykka.Future[None]]] = []
        self._rows = 0
        self.committed = 0
        self.dropped = 0

    def add(self, message: WriteBatch) -> tuple[bool, list[WriteBatch]]:
        """Take a batch unless it is one already held or done with.

        Returns:
            Whether it was taken (False: a redelivery of one taken before), and
            the oldest batches dropped to make room.
        """
        if message.seq:
            if message.seq <= self._taken.get(message.sender, 0):
                return False, []
            self._taken[message.sender] = message.seq
        self._arrived += 1
        self._items.append((self._arrived, message))
        self._rows += len(message)
        dropped: list[WriteBatch] = []
        while self._rows > self.max_rows and self._items:
            _, oldest = self._items.popleft()
            self._finish(oldest)
            self.dropped += len(oldest)
            dropped.append(oldest)
        if dropped:
            logger.error(
                "pending writes over %d rows: dropped the %d oldest",
                self.max_rows, sum(map(len, dropped)),
            )
        return True, dropped

    def taken_through(self, sender: str) -> int:
        """The highest seq of ``sender`` taken (every one before it was taken too)."""
        return self._taken.get(sender, 0)

    def peek(self, limit: int) -> list[WriteBatch]:
        """The oldest batches, left in place: at least one, and about ``limit`` rows."""
        taken: list[WriteBatch] = []
        rows = 0
        for _, message in self._items:
            if taken and rows + len(message) > limit:
                break
            taken.append(message)
            rows += len(message)
        return taken

    def commit(self, count: int, quarantined: int = 0) -> None:
        """Remove the ``count`` oldest batches: they are committed.

        :attr:`committed` counts the rows stored in their tables: not the
        ``quarantined`` items the storage refused, nor quarantine records.
        Then call :meth:`resolve`.
        """
        for _ in range(count):
            _, message = self._items.popleft()
            self._finish(message)
            self.committed += len(message) - len(message.batch.quarantined)
        self.committed -= quarantined

    def _finish(self, message: WriteBatch) -> None:
        self._rows -= len(message)

    def wait_for_all(self) -> pykka.Future[None] | None:
        """A future set once every batch taken so far has left, or None if they all have."""
        if not self._items:
            return None
        future: pykka.Future[None] = pykka.ThreadingFuture()
        self._waiters.append((self._arrived, future))
        return future

    def resolve(self) -> None:
        """Set the futures of :meth:`wait_for_all` whose batches have all left."""
        head = self._items[0][0] if self._items else self._arrived + 1
        ready = [f for arrived, f in self._waiters if arrived < head]
        self._waiters = [(a, f) for a, f in self._waiters if a >= head]
        for future in ready:
            future.set(None)

    def __len__(self) -> int:
        """Rows waiting."""
        return self._rows


def pending_writes(buffered: int, outbox: Outbox, backlog: Backlog) -> int:
    """Metrics and rows accepted and not yet committed: the one definition of the figure.

    ``buffered`` (what the aggregator has not drained yet), the writer's
    ``backlog`` (taken, not committed), and the batches of ``outbox`` the writer
    has not taken. A batch the writer took stays in the outbox until its
    :class:`Acked` reaches the aggregator: counting both would count it twice
    (the backlog plus the whole outbox), and the larger of the two alone would
    miss the batches sent to a writer that is gone while it still holds others.
    """
    return buffered + len(backlog) + outbox.rows_after(backlog.taken_through(outbox.sender))
