"""The arrival-stamped inbox, alone and as a Pykka actor's inbox."""

from __future__ import annotations

from typing import Any

import pykka

from actors import ManualClock
from actors.kernel.arrivals import ArrivalInbox


def _odd(item: Any) -> bool:
    return isinstance(item, int) and item % 2 == 1


def test_each_item_carries_the_time_and_mark_it_was_put_with() -> None:
    """The taker reads, for the item it took last, the clock and the mark of its put."""
    clock = ManualClock()
    marks = iter([10.0, 20.0])
    inbox = ArrivalInbox()
    inbox.bind(clock.monotonic, lambda: next(marks))
    inbox.put("first")
    clock.advance(2.5)
    inbox.put("second")
    clock.advance(60)  # waiting does not change an arrival
    assert (inbox.get(), inbox.arrival) == ("first", (1000.0, 10.0))
    assert (inbox.get(), inbox.arrival) == ("second", (1002.5, 20.0))
    assert inbox.qsize() == 0
    clock.close()


def test_oldest_pending_counts_watched_items_until_they_are_handled() -> None:
    """Only watched items count; one taken counts until done(), or until the next get."""
    clock = ManualClock()
    inbox = ArrivalInbox()
    inbox.bind(clock.monotonic, watch=_odd)
    assert inbox.oldest_pending() is None
    inbox.put(2)  # not watched
    clock.advance(1)
    inbox.put(3)
    clock.advance(1)
    inbox.put(5)
    assert inbox.oldest_pending() == 1001.0
    assert inbox.get() == 2
    assert inbox.oldest_pending() == 1001.0
    assert inbox.get() == 3  # being handled: still pending
    assert inbox.oldest_pending() == 1001.0
    inbox.done()
    assert inbox.oldest_pending() == 1002.0
    assert inbox.get() == 5
    assert inbox.oldest_pending() == 1002.0
    inbox.done()
    assert inbox.oldest_pending() is None
    clock.close()


class _Stamped(pykka.ThreadingActor):
    """Answers each message with the arrival it was put with."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.actor_inbox.bind(clock.monotonic)  # type: ignore[attr-defined]

    @staticmethod
    def _create_actor_inbox() -> ArrivalInbox:
        return ArrivalInbox()

    def on_receive(self, message: Any) -> Any:
        return self.actor_inbox.arrival[0]  # type: ignore[attr-defined]


def test_a_pykka_actor_reads_when_each_message_reached_its_inbox() -> None:
    """Asked after the clock moved on, the actor still says when the ask arrived."""
    clock = ManualClock()
    ref = _Stamped.start(clock)
    try:
        future = ref.ask("when", block=False)
        clock.advance(5)
        assert future.get(timeout=10) == 1000.0
        assert ref.ask("when", timeout=10) == 1005.0
    finally:
        ref.stop()
        clock.close()
