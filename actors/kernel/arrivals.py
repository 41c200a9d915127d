"""An actor inbox that remembers when each message arrived.

A message can wait in a busy actor's inbox for a long time. An actor that
judges time by what it receives (a heartbeat monitor) must then know when a
message *arrived*, not when it got round to it: otherwise its own backlog
reads as the sender's silence. `ArrivalInbox` stamps each message as it is put,
on the sender's thread, and tells the actor, while it handles that message,
the stamp it was put with; and it tells anyone when the oldest message not yet
handled arrived, so that a judgment can wait until the actor has caught up.

Example:
    ```py
    class Judge(pykka.ThreadingActor):
        _create_actor_inbox = staticmethod(ArrivalInbox)

        def __init__(self, clock: Clock) -> None:
            super().__init__()
            self.actor_inbox.bind(clock.monotonic)

        def on_receive(self, message):
            arrived, mark = self.actor_inbox.arrival  # of this message
    ```
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["ArrivalInbox"]


def _nothing() -> float:
    return 0.0


def _none(item: Any) -> bool:
    return False


class ArrivalInbox(queue.Queue[Any]):
    """A `queue.Queue` for Pykka (``_create_actor_inbox``) whose items carry their arrival.

    Each item is stamped, as it is put, with ``now()`` and ``mark()`` (a second
    reading taken at the same moment, such as a running total of stalls). The
    actor's thread reads the pair of the item it took last in :attr:`arrival`;
    any thread may ask :meth:`oldest_pending` how far behind the actor is with
    the items ``watch`` picks out. Until :meth:`bind` sets them, the stamps are
    0.0 and no item is watched.
    """

    def __init__(self) -> None:
        super().__init__()
        self._now: Callable[[], float] = _nothing
        self._mark: Callable[[], float] = _nothing
        self._watch: Callable[[Any], bool] = _none
        self._watched: deque[float] = deque()  # arrivals of the watched items waiting
        self._handling: float | None = None
        self.arrival: tuple[float, float] = (0.0, 0.0)
        """When the item taken last was put, and the mark read then; for the taker only."""

    def bind(
        self,
        now: Callable[[], float],
        mark: Callable[[], float] = _nothing,
        watch: Callable[[Any], bool] = _none,
    ) -> None:
        """Stamp every later item with ``(now(), mark())``; call before anything is put."""
        self._now = now
        self._mark = mark
        self._watch = watch

    def oldest_pending(self) -> float | None:
        """When the oldest watched item not yet handled arrived, or None if there is none.

        The item being handled counts until its taker calls :meth:`done` (or asks for
        the next one), so a None, or a time after ``t``, means that every watched item
        put before ``t`` has been handled, and whatever handling it sent is on its way.
        """
        with self.mutex:
            if self._handling is not None:
                return self._handling
            return self._watched[0] if self._watched else None

    def done(self) -> None:
        """The taker has handled the item it took last."""
        self._handling = None

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take the next item; the taker has finished with the one it took before."""
        self._handling = None
        return super().get(block, timeout)

    # queue.Queue's storage hooks, called under its mutex

    def _init(self, maxsize: int) -> None:
        self.queue = deque()  # of (arrived, mark, watched, item)

    def _put(self, item: Any) -> None:
        arrived = self._now()
        watched = self._watch(item)
        if watched:
            self._watched.append(arrived)
        self.queue.append((arrived, self._mark(), watched, item))

    def _get(self) -> Any:
        arrived, mark, watched, item = self.queue.popleft()
        self.arrival = (arrived, mark)
        if watched:
            self._watched.popleft()
            self._handling = arrived
        return item
