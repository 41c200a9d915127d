"""Tests for actors/kernel/clock.py: ManualClock semantics and the SystemClock scheduler thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pykka
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.kernel.clock import Clock, ManualClock, SystemClock, TimerHandle

WAIT = 10.0  # seconds to wait for something that should happen at once


@pytest.fixture
def manual() -> Iterator[ManualClock]:
    """A ManualClock, closed after the test."""
    clock = ManualClock()
    yield clock
    clock.close()


@pytest.fixture
def system() -> Iterator[SystemClock]:
    """A SystemClock, closed (its thread joined) after the test."""
    clock = SystemClock()
    yield clock
    clock.close()


def wait_until(deadline: float) -> None:
    """Block until time.monotonic() passes deadline, without sleep."""
    never = threading.Event()
    while time.monotonic() < deadline:
        never.wait(0.01)


# ManualClock


def test_both_clocks_satisfy_the_clock_protocol(manual: ManualClock, system: SystemClock) -> None:
    """ManualClock and SystemClock are both Clocks."""
    clocks: list[Clock] = [manual, system]
    assert all(isinstance(clock, Clock) for clock in clocks)


def test_manual_timers_fire_in_deadline_order_at_their_deadline(manual: ManualClock) -> None:
    """Timers fire by deadline, ties in scheduling order, with monotonic() at the deadline."""
    fired: list[tuple[str, float]] = []

    def record(name: str) -> Callable[[], None]:
        return lambda: fired.append((name, manual.monotonic()))

    for name, delay in [("c", 3.0), ("a", 1.0), ("b1", 2.0), ("b2", 2.0)]:
        manual.call_later(delay, record(name))
    manual.advance(5.0)
    assert fired == [("a", 1001.0), ("b1", 1002.0), ("b2", 1002.0), ("c", 1003.0)]
    assert manual.monotonic() == 1005.0


def test_manual_timer_at_the_end_of_the_window_fires(manual: ManualClock) -> None:
    """A timer due exactly at the end of the advanced window fires in that advance."""
    fired = threading.Event()
    manual.call_at(1002.0, fired.set)
    manual.advance(2.0)
    assert fired.is_set()


def test_manual_timer_past_the_window_waits_for_the_next_advance(manual: ManualClock) -> None:
    """A timer due after the window does not fire until an advance reaches it."""
    fired = threading.Event()
    manual.call_at(1002.5, fired.set)
    manual.advance(2.0)
    assert not fired.is_set()
    manual.advance(0.5)
    assert fired.is_set()


def test_manual_timers_scheduled_by_callbacks_fire_in_the_same_advance(
    manual: ManualClock,
) -> None:
    """A callback's new timer inside the window fires in the same advance, in order."""
    fired: list[tuple[str, float]] = []

    def first() -> None:
        fired.append(("first", manual.monotonic()))
        manual.call_later(2.0, lambda: fired.append(("chained", manual.monotonic())))

    manual.call_later(1.0, first)
    manual.call_later(2.0, lambda: fired.append(("second", manual.monotonic())))
    manual.advance(3.0)
    assert fired == [("first", 1001.0), ("second", 1002.0), ("chained", 1003.0)]


def test_manual_timer_scheduled_from_another_thread_during_advance_fires(
    manual: ManualClock,
) -> None:
    """A timer another thread adds inside the window while advance runs fires in it."""
    fired: list[float] = []
    scheduled: pykka.ThreadingFuture[None] = pykka.ThreadingFuture()

    def schedule_elsewhere() -> None:
        manual.call_at(1002.0, lambda: fired.append(manual.monotonic()))
        scheduled.set(None)

    helper = threading.Thread(target=schedule_elsewhere)

    def start_helper() -> pykka.ThreadingFuture[None]:
        helper.start()
        return scheduled

    manual.call_later(1.0, start_helper)
    manual.advance(3.0)
    helper.join(WAIT)
    assert fired == [1002.0]


def test_manual_call_every_fires_once_per_interval_until_cancelled(manual: ManualClock) -> None:
    """A periodic timer fires once per interval within one advance, and cancel stops it."""
    ticks: list[float] = []
    handle = manual.call_every(1.0, lambda: ticks.append(manual.monotonic()))
    manual.advance(3.5)
    assert ticks == [1001.0, 1002.0, 1003.0]
    assert handle.when == 1004.0
    handle.cancel()
    manual.advance(5.0)
    assert ticks == [1001.0, 1002.0, 1003.0]


def test_manual_cancelled_timer_never_fires_and_cancel_is_idempotent(
    manual: ManualClock,
) -> None:
    """A cancelled timer does not fire; cancelling twice is harmless."""
    fired = threading.Event()
    handle = manual.call_later(1.0, fired.set)
    handle.cancel()
    handle.cancel()
    manual.advance(2.0)
    assert handle.cancelled
    assert not fired.is_set()
    assert manual.pending == 0


def test_manual_callback_can_cancel_a_later_timer_in_the_same_window(
    manual: ManualClock,
) -> None:
    """A timer cancelled by an earlier callback in the same advance does not fire."""
    fired = threading.Event()
    later = manual.call_later(2.0, fired.set)
    manual.call_later(1.0, later.cancel)
    manual.advance(3.0)
    assert not fired.is_set()


def test_manual_jump_wall_moves_time_only_and_fires_nothing(manual: ManualClock) -> None:
    """jump_wall changes time() either way but not monotonic(), and fires no timer."""
    fired = threading.Event()
    manual.call_later(0.0, fired.set)
    wall = manual.time()
    manual.jump_wall(3600.0)
    manual.jump_wall(-7200.0)
    assert manual.time() == wall - 3600.0
    assert manual.monotonic() == 1000.0
    assert not fired.is_set()


def test_manual_time_follows_advance(manual: ManualClock) -> None:
    """time() starts at start and moves with advance."""
    assert manual.time() == 1_700_000_000.0
    manual.advance(2.5)
    assert manual.time() == 1_700_000_002.5


def test_manual_advance_by_a_negative_amount_raises(manual: ManualClock) -> None:
    """advance refuses to move time backwards."""
    with pytest.raises(ValueError):
        manual.advance(-1.0)


def test_manual_stall_tells_listeners_before_the_timers_due_in_the_window(
    manual: ManualClock,
) -> None:
    """stall calls the listeners with its length before firing the timers it delayed."""
    events: list[object] = []
    manual.add_stall_listener(lambda length: events.append(("stall", length)))
    manual.call_later(1.0, lambda: events.append("timer"))
    manual.stall(5.0)
    assert events == [("stall", 5.0), "timer"]
    assert manual.monotonic() == 1005.0
    assert (manual.stalls, manual.last_stall) == (1, 5.0)


def test_manual_removed_stall_listener_is_not_called(manual: ManualClock) -> None:
    """A listener removed with remove_stall_listener no longer hears of stalls."""
    lengths: list[float] = []
    manual.add_stall_listener(lengths.append)
    manual.remove_stall_listener(lengths.append)
    manual.stall(1.0)
    assert lengths == []


def test_manual_advance_waits_for_a_returned_future_before_the_next_timer(
    manual: ManualClock,
) -> None:
    """A future returned by a callback completes before the next timer fires."""
    order: list[str] = []
    future: pykka.ThreadingFuture[None] = pykka.ThreadingFuture()
    started, second_ran = threading.Event(), threading.Event()

    def complete_later() -> None:
        started.wait(WAIT)
        # If advance did not wait, the second timer would run now and end this wait.
        second_ran.wait(0.2)
        order.append("first future set")
        future.set(None)

    def first() -> pykka.ThreadingFuture[None]:
        started.set()
        return future

    def second() -> None:
        order.append("second")
        second_ran.set()

    helper = threading.Thread(target=complete_later)
    helper.start()
    manual.call_later(1.0, first)
    manual.call_later(1.0, second)
    manual.advance(1.0)
    helper.join(WAIT)
    assert order == ["first future set", "second"]


def test_manual_advance_waits_for_an_actor_reply(manual: ManualClock) -> None:
    """A timer that asks an actor without blocking sees its effect before advance returns."""

    class Recorder(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[float] = []

        def on_receive(self, message: object) -> object:
            assert isinstance(message, float)
            self.seen.append(message)
            return list(self.seen)

    ref = Recorder.start()
    try:
        manual.call_later(1.0, lambda: ref.ask(manual.monotonic(), block=False))
        last = manual.call_later(2.0, lambda: ref.ask(manual.monotonic(), block=False))
        manual.advance(2.0)
        assert last.when == 1002.0
        assert ref.proxy().seen.get(timeout=WAIT) == [1001.0, 1002.0]
    finally:
        ref.stop()


def test_manual_raising_callback_is_counted_and_later_timers_fire(manual: ManualClock) -> None:
    """An exception from a callback is counted, not raised, and the next timers still fire."""
    fired = threading.Event()
    failed: pykka.ThreadingFuture[None] = pykka.ThreadingFuture()
    failed.set_exception((ValueError, ValueError("boom"), None))

    def boom() -> None:
        raise RuntimeError("boom")

    manual.call_later(1.0, boom)
    manual.call_later(2.0, lambda: failed)
    manual.call_later(3.0, fired.set)
    manual.advance(3.0)
    assert fired.is_set()
    assert manual.callback_errors == 2


def test_manual_closed_clock_cancels_timers_and_refuses_new_ones() -> None:
    """close cancels pending timers, and scheduling afterwards raises RuntimeError."""
    clock = ManualClock()
    handle = clock.call_later(1.0, lambda: None)
    clock.close()
    clock.close()
    assert handle.cancelled
    with pytest.raises(RuntimeError):
        clock.call_later(1.0, lambda: None)


@given(
    delays=st.lists(st.floats(min_value=0.0, max_value=100.0), max_size=30),
    steps=st.lists(st.floats(min_value=0.0, max_value=40.0), min_size=1, max_size=6),
)
def test_manual_fires_exactly_the_due_timers_in_order_at_their_deadlines(
    delays: list[float], steps: list[float]
) -> None:
    """For any timers and advances, exactly the due ones fire, sorted, each at its deadline."""
    clock = ManualClock()
    fired: list[tuple[float, int, float]] = []
    handles: list[TimerHandle] = []

    def record(i: int) -> Callable[[], None]:
        return lambda: fired.append((handles[i].when, i, clock.monotonic()))

    for i, delay in enumerate(delays):
        handles.append(clock.call_later(delay, record(i)))
    for step in steps:
        clock.advance(step)
    clock.close()
    expected = sorted((h.when, i) for i, h in enumerate(handles) if h.when <= clock.monotonic())
    assert [(when, i) for when, i, _ in fired] == expected
    assert all(now == when for when, _, now in fired)


# SystemClock


def test_system_timer_fires_soon_after_its_deadline(system: SystemClock) -> None:
    """A timer fires, and not absurdly late (lateness printed, loosely checked)."""
    fired_at: list[float] = []
    fired = threading.Event()

    def record() -> None:
        fired_at.append(time.monotonic())
        fired.set()

    handle = system.call_later(0.05, record)
    assert fired.wait(WAIT)
    lateness = fired_at[0] - handle.when
    print(f"lateness {lateness * 1000:.3f} ms")
    assert 0.0 <= lateness < 1.0


def test_system_cancelled_timer_does_not_fire(system: SystemClock) -> None:
    """A cancelled timer stays silent while a later one fires."""
    cancelled_fired, later_fired = threading.Event(), threading.Event()
    system.call_later(0.02, cancelled_fired.set).cancel()
    system.call_later(0.05, later_fired.set)
    assert later_fired.wait(WAIT)
    assert not cancelled_fired.is_set()


def test_system_earlier_timer_wakes_a_thread_waiting_on_a_later_one() -> None:
    """Adding a timer earlier than the one being waited on fires it at its own deadline."""
    clock = SystemClock(watchdog_interval=600.0, stall_threshold=1200.0)
    try:
        ready, fired = threading.Event(), threading.Event()
        clock.call_later(300.0, lambda: None)
        clock.call_later(0.0, ready.set)
        assert ready.wait(WAIT)  # the thread now waits on the 300 s timer
        clock.call_later(0.01, fired.set)
        assert fired.wait(WAIT)
    finally:
        clock.close()


def test_system_raising_callback_does_not_stop_later_timers(system: SystemClock) -> None:
    """A callback's exception is counted and the scheduler keeps firing."""
    fired = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    system.call_later(0.0, boom)
    system.call_later(0.01, fired.set)
    assert fired.wait(WAIT)
    assert system.callback_errors == 1


def test_system_call_every_repeats_until_cancelled(system: SystemClock) -> None:
    """A periodic timer fires repeatedly and stops when cancelled from its own callback."""
    ticks: list[float] = []
    done = threading.Event()

    def tick() -> None:
        ticks.append(time.monotonic())
        if len(ticks) == 3:
            handle.cancel()
            system.call_later(0.05, done.set)

    handle = system.call_every(0.01, tick)
    assert done.wait(WAIT)
    assert len(ticks) == 3


def test_system_close_joins_the_thread_and_is_idempotent() -> None:
    """close stops and joins the scheduler thread, cancels timers, and can be repeated."""
    clock = SystemClock()
    handle = clock.call_later(60.0, lambda: None)
    threads = [t for t in threading.enumerate() if t.name == "swarmpulse-clock"]
    assert len(threads) == 1 and threads[0].daemon  # a daemon: it never holds up exit
    clock.close()
    assert not threads[0].is_alive()
    assert handle.cancelled
    clock.close()


def test_system_stall_tells_listeners_before_the_timers_it_delayed() -> None:
    """A scheduler held up past the threshold reports the stall before the delayed timer."""
    clock = SystemClock(stall_threshold=0.05, watchdog_interval=0.01)
    try:
        events: list[object] = []
        blocked, release, delayed_fired = threading.Event(), threading.Event(), threading.Event()
        clock.add_stall_listener(lambda length: events.append(length))

        def hold_up() -> None:
            blocked.set()
            release.wait(WAIT)

        def delayed() -> None:
            events.append("delayed")
            delayed_fired.set()

        clock.call_later(0.0, hold_up)
        assert blocked.wait(WAIT)
        clock.call_later(0.0, delayed)
        wait_until(time.monotonic() + 0.2)
        release.set()
        assert delayed_fired.wait(WAIT)
        stalls_before = events[: events.index("delayed")]
        assert any(isinstance(s, float) and s >= 0.2 for s in stalls_before), events
        assert clock.stalls >= 1
    finally:
        clock.close()


def test_system_stall_while_listeners_run_is_reported_too() -> None:
    """A second stop that falls while the first stall's listeners run is not swallowed."""
    clock = SystemClock(stall_threshold=0.05, watchdog_interval=0.01)
    try:
        lengths: list[float] = []
        second = threading.Event()
        blocked, release = threading.Event(), threading.Event()

        def listener(length: float) -> None:
            lengths.append(length)
            if len(lengths) == 1:
                wait_until(time.monotonic() + 0.3)  # the process stopped again meanwhile
            else:
                second.set()

        clock.add_stall_listener(listener)

        def hold_up() -> None:
            blocked.set()
            release.wait(WAIT)

        clock.call_later(0.0, hold_up)
        assert blocked.wait(WAIT)
        wait_until(time.monotonic() + 0.2)
        release.set()
        assert second.wait(WAIT), lengths
        assert lengths[0] >= 0.15 and lengths[1] >= 0.25, lengths
    finally:
        clock.close()


class _SteppedTime:
    """A monotonic source the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_system_clock_reads_the_time_sources_it_is_given() -> None:
    """monotonic() and time() come from the injected sources, and so do timer deadlines."""
    mono, wall = _SteppedTime(), _SteppedTime()
    wall.now = 1_700_000_000.0
    clock = SystemClock(monotonic=mono, wall=wall)
    try:
        assert (clock.monotonic(), clock.time()) == (100.0, 1_700_000_000.0)
        handle = clock.call_later(5.0, lambda: None)
        assert handle.when == 105.0
    finally:
        clock.close()


def test_default_stall_threshold_is_half_the_shortest_failure_deadline() -> None:
    """Derived from the deadline it is told (within 50 ms .. 2 s); a given threshold stays."""
    clock = SystemClock()
    assert clock.stall_threshold == 2.0
    clock.set_shortest_deadline(0.6)
    assert clock.stall_threshold == pytest.approx(0.3)
    clock.set_shortest_deadline(0.01)
    assert clock.stall_threshold == pytest.approx(0.05)
    clock.set_shortest_deadline(3600.0)
    assert clock.stall_threshold == 2.0
    fixed = SystemClock(stall_threshold=0.7)
    fixed.set_shortest_deadline(0.6)
    assert fixed.stall_threshold == 0.7


def test_system_stall_is_detected_without_real_time() -> None:
    """A jump of the injected source past the derived threshold is reported once, with its length."""
    mono = _SteppedTime()
    clock = SystemClock(monotonic=mono)  # the thread expects to run again within 0.25 s
    clock.set_shortest_deadline(0.6)
    stalls: list[float] = []
    clock.add_stall_listener(stalls.append)
    try:
        clock.call_later(600.0, lambda: None)  # starts the thread; it waits in real time
        clock.check_stall()
        assert stalls == []
        mono.now += 0.25  # under the threshold: not a stall
        clock.check_stall()
        assert stalls == []
        mono.now += 1.0
        clock.check_stall()
        clock.check_stall()
        # late by the pause past the thread's planned wake-up (at most 0.25 s after it looked)
        assert len(stalls) == 1 and 0.75 <= stalls[0] <= 1.25
        assert clock.stalls == 1
    finally:
        clock.close()
