"""Holding a burst of transitions back until it is over: pure, the times passed in.

Transitions come in bursts: a thousand agents gone silent together reach each
deadline together, and while the burst lasts the trackers, the coordinator and the
alert callbacks are turning each one into an event on time. The alert router's work
on them (routing, grouping, the state batch, and a group's flush falling due
meanwhile) would take the interpreter from them: measured, it made the storm's
lateness 2.6 to 4.5 times what it is without alert management. So the router holds
the burst back, each item with the time it arrived, and routes it as of those times
once the burst is over.

A burst starts with an item that happened (its own ``at``) within ``recent`` of its
arrival while more messages wait behind it (the router checks its inbox; a lone
item is routed at once), and takes every item after it. It is over once nothing has arrived for
``quiet`` and its newest item is ``quiet`` old, or once its first was held ``max_hold``
ago (a burst that never ends is taken in that often). An item that arrives long after
it happened (a manual clock's test moving time ahead of the messages) is not held.

Example:
    >>> hold = BurstHold[str]()
    >>> hold.wants(at=100.0, now=100.2), hold.wants(at=90.0, now=100.2)
    (True, False)
    >>> hold.add("a", at=100.0, now=100.01, mono=5.0)
    >>> hold.over(now=100.02, mono=5.01), hold.over(now=100.06, mono=5.06)
    (False, True)
    >>> hold.take(), len(hold)
    ([('a', 100.01)], 0)
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

__all__ = ["MAX_HOLD", "QUIET", "RECENT", "BurstHold"]

QUIET: Final = 0.05
"""Seconds without an arrival, and since the newest item happened, that end a burst."""
RECENT: Final = 1.0
"""Seconds between an item's own time and its arrival within which it may start a burst."""
MAX_HOLD: Final = 0.5
"""Seconds an item is held at most, however long its burst goes on."""

T = TypeVar("T")


class BurstHold(Generic[T]):
    """Items held back while their burst lasts, each with the time it arrived.

    Args:
        quiet: see :data:`QUIET`.
        recent: see :data:`RECENT`.
        max_hold: see :data:`MAX_HOLD`.
    """

    def __init__(self, quiet: float = QUIET, recent: float = RECENT, max_hold: float = MAX_HOLD) -> None:
        self.quiet = quiet
        self.recent = recent
        self.max_hold = max_hold
        self._items: list[tuple[T, float]] = []
        self._since = 0.0  # monotonic: when the first was held
        self._last = 0.0  # monotonic: when the last arrived
        self._newest = 0.0  # wall: when the newest held one happened

    def __len__(self) -> int:
        return len(self._items)

    def wants(self, at: float, now: float) -> bool:
        """Whether an item that happened at wall time ``at`` is held (else: routed now).

        It is when something is held already (order is kept), or when it is recent:
        ``at`` within ``recent`` of ``now`` either way (a wall clock jump makes it old).
        """
        return bool(self._items) or abs(now - at) < self.recent

    def add(self, item: T, *, at: float, now: float, mono: float) -> None:
        """Hold ``item``, which happened at ``at`` and arrived at wall ``now``, monotonic ``mono``."""
        if not self._items:
            self._since = mono
        self._items.append((item, now))
        self._last = mono
        self._newest = max(self._newest, at) if len(self._items) > 1 else at

    def over(self, now: float, mono: float) -> bool:
        """Whether the burst held is over: quiet since the last arrival and the newest
        item (wall: a jump ends it too), or held ``max_hold``."""
        if mono - self._since >= self.max_hold:
            return True
        return mono - self._last >= self.quiet and abs(now - self._newest) >= self.quiet

    def take(self) -> list[tuple[T, float]]:
        """Every item held, in arrival order, with its arrival time; nothing is held after."""
        items, self._items = self._items, []
        return items
