"""Injected clocks: wall time, monotonic time, timers and stall detection.

All time in swarmpulse goes through a `Clock`. `SystemClock` is real time, with one
scheduler thread serving every timer; `ManualClock` moves only when a test calls
`ManualClock.advance`, which fires the timers falling due, in deadline order, before it
returns.

Example:
    >>> clock = ManualClock()
    >>> fired = []
    >>> handle = clock.call_later(5.0, lambda: fired.append(clock.monotonic()))
    >>> clock.advance(10.0)
    >>> fired
    [1005.0]
    >>> clock.close()
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, Protocol, runtime_checkable

__all__ = [
    "MAX_STALL_THRESHOLD",
    "MIN_STALL_THRESHOLD",
    "STALL_FRACTION",
    "Clock",
    "ManualClock",
    "SystemClock",
    "TimerHandle",
    "stall_threshold_for",
]

logger = logging.getLogger("swarmpulse.clock")

_Callback = Callable[[], object]
_StallListener = Callable[[float], object]
_FUTURE_TIMEOUT = 10.0


class TimerHandle:
    """A scheduled callback, as returned by the `call_*` methods of a clock.

    Attributes:
        when: Monotonic deadline of the next firing; a periodic timer moves it forward
            by its interval just before each call.
    """

    __slots__ = ("when", "_callback", "_interval", "_cancelled", "_queued", "_clock")

    def __init__(
        self, when: float, callback: _Callback, interval: float | None, clock: _ClockBase
    ) -> None:
        self.when = when
        self._callback = callback
        self._interval = interval
        self._cancelled = False
        self._queued = False
        self._clock = clock

    @property
    def cancelled(self) -> bool:
        """Whether `cancel` has been called (or the clock closed)."""
        return self._cancelled

    def cancel(self) -> None:
        """Stop the timer so that it never fires again; idempotent, safe from any thread.

        A `SystemClock` callback already taken for firing by the scheduler thread when
        another thread cancels may still run once, so receivers must tolerate a stale
        deadline message (as they must anyway for one already in a mailbox).
        """
        self._clock._cancel(self)

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else "pending" if self._queued else "done"
        return f"<TimerHandle when={self.when:.6f} {state}>"


@runtime_checkable
class Clock(Protocol):
    """The source of all time in swarmpulse.

    `time` is for timestamps only; deadlines use `monotonic`, which never goes back.
    Callbacks run on the clock's thread (or the thread calling `ManualClock.advance`)
    and must be quick: typically they `tell` an actor.
    """

    def time(self) -> float:
        """Return the wall clock, in UTC epoch seconds; may jump either way."""
        ...

    def monotonic(self) -> float:
        """Return monotonic seconds: never goes back; the scale of every deadline."""
        ...

    def call_at(self, when: float, callback: _Callback) -> TimerHandle:
        """Call `callback` once at monotonic time `when` (soon, if already past)."""
        ...

    def call_later(self, delay: float, callback: _Callback) -> TimerHandle:
        """Call `callback` once, `delay` seconds from now."""
        ...

    def call_every(self, interval: float, callback: _Callback) -> TimerHandle:
        """Call `callback` every `interval` seconds, first one interval from now."""
        ...

    def add_stall_listener(self, fn: _StallListener) -> None:
        """Call `fn(length)` on each stall of the monitor, before the timers it delayed."""
        ...

    def remove_stall_listener(self, fn: _StallListener) -> None:
        """Stop calling `fn` on stalls; nothing happens if it is not registered."""
        ...

    def check_stall(self) -> None:
        """Report a stall now if one has happened that the clock has not yet reported.

        Whoever is about to act on elapsed time (a tracker about to convict an agent)
        calls this first, so that after a pause of the whole process the grace is
        granted even when another thread runs before the clock's own.
        """
        ...

    def set_shortest_deadline(self, seconds: float) -> None:
        """Be told the shortest failure deadline in force, so a pause that long is a stall."""
        ...

    def close(self) -> None:
        """Cancel every timer and stop the clock's thread; idempotent."""
        ...


class _ClockBase:
    """Timer heap, stall listeners and counters shared by both clocks."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._stale = 0  # cancelled entries still in the heap
        self._closed = False
        self._listeners: list[_StallListener] = []
        self._errors = 0
        self._stalls = 0
        self._last_stall: float | None = None

    def monotonic(self) -> float:
        """Return monotonic seconds."""
        raise NotImplementedError

    def call_at(self, when: float, callback: _Callback) -> TimerHandle:
        """Call `callback` once at monotonic time `when` (soon, if already past).

        Raises:
            ValueError: `when` is NaN.
            RuntimeError: The clock is closed.
        """
        return self._schedule(when, callback, None)

    def call_later(self, delay: float, callback: _Callback) -> TimerHandle:
        """Call `callback` once, `delay` seconds from now."""
        return self._schedule(self.monotonic() + delay, callback, None)

    def call_every(self, interval: float, callback: _Callback) -> TimerHandle:
        """Call `callback` every `interval` seconds until cancelled.

        Raises:
            ValueError: `interval` is not positive.
        """
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        return self._schedule(self.monotonic() + interval, callback, interval)

    def add_stall_listener(self, fn: _StallListener) -> None:
        """Call `fn(length)` on each stall, before the timers that fell due during it."""
        with self._cond:
            self._listeners.append(fn)

    def remove_stall_listener(self, fn: _StallListener) -> None:
        """Stop calling `fn` on stalls; nothing happens if it is not registered."""
        with self._cond:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def check_stall(self) -> None:
        """Report a stall not yet reported; a stall is only ever simulated here, so nothing."""

    def set_shortest_deadline(self, seconds: float) -> None:
        """Be told the shortest failure deadline in force; only a real clock needs it."""

    def close(self) -> None:
        """Cancel every pending timer; later `call_*` raise RuntimeError. Idempotent."""
        with self._cond:
            self._closed = True
            for _, _, handle in self._heap:
                handle._cancelled = True
                handle._queued = False
            self._heap.clear()
            self._stale = 0
            self._cond.notify_all()

    @property
    def callback_errors(self) -> int:
        """Number of exceptions raised by callbacks, listeners and awaited futures."""
        return self._errors

    @property
    def stalls(self) -> int:
        """Number of stalls detected (or simulated) so far."""
        return self._stalls

    @property
    def last_stall(self) -> float | None:
        """Length in seconds of the last stall, or None if there has been none."""
        return self._last_stall

    @property
    def pending(self) -> int:
        """Number of timers still due to fire."""
        with self._cond:
            return len(self._heap) - self._stale

    def _schedule(self, when: float, callback: _Callback, interval: float | None) -> TimerHandle:
        if math.isnan(when):
            raise ValueError("timer deadline is NaN")
        handle = TimerHandle(when, callback, interval, self)
        with self._cond:
            if self._closed:
                raise RuntimeError("clock is closed")
            self._push(handle)
            self._scheduled(earliest=self._heap[0][2] is handle)
        return handle

    def _scheduled(self, earliest: bool) -> None:
        """Hook run under the lock after a timer is added."""

    def _push(self, handle: TimerHandle) -> None:
        handle._queued = True
        heapq.heappush(self._heap, (handle.when, next(self._seq), handle))

    def _cancel(self, handle: TimerHandle) -> None:
        with self._cond:
            if handle._cancelled:
                return
            handle._cancelled = True
            if handle._queued:
                self._stale += 1
                if self._stale > len(self._heap) // 2:
                    self._heap = [entry for entry in self._heap if not entry[2]._cancelled]
                    heapq.heapify(self._heap)
                    self._stale = 0

    def _earliest(self) -> float | None:
        """Return the earliest live deadline, dropping cancelled entries on top."""
        while self._heap and self._heap[0][2]._cancelled:
            heapq.heappop(self._heap)[2]._queued = False
            self._stale -= 1
        return self._heap[0][0] if self._heap else None

    def _pop_due(self, limit: float) -> TimerHandle | None:
        """Remove and return the earliest live timer due at `limit`, if any."""
        earliest = self._earliest()
        if earliest is None or earliest > limit:
            return None
        handle = heapq.heappop(self._heap)[2]
        handle._queued = False
        return handle

    def _repeat(self, handle: TimerHandle, now: float) -> None:
        """Requeue a periodic timer one interval on, skipping ticks missed by `now`."""
        interval = handle._interval
        if interval is None:
            return
        when = handle.when + interval
        if when <= now:
            when += (math.floor((now - when) / interval) + 1) * interval
        handle.when = when
        self._push(handle)

    def _call(self, fn: Callable[..., object], *args: object) -> object:
        """Call `fn`, logging and counting an exception instead of raising it."""
        try:
            return fn(*args)
        except Exception:
            logger.exception("clock callback %r raised", fn)
            with self._cond:
                self._errors += 1
            return None

    def _report_stall(self, length: float) -> None:
        """Count a stall and tell every listener, before any timer it delayed fires."""
        with self._cond:
            self._stalls += 1
            self._last_stall = length
            listeners = list(self._listeners)
        logger.warning("monitor stalled for %.3f s; granting grace to listeners", length)
        for fn in listeners:
            self._call(fn, length)


_MAX_STALL_REPORTS = 3  # stalls reported back to back, at most (listeners that are always slow)

MAX_STALL_THRESHOLD: Final = 2.0
"""The longest lateness of the default `SystemClock` that is not a stall, in seconds."""
MIN_STALL_THRESHOLD: Final = 0.05
"""The shortest: below it, ordinary scheduling jitter of a busy process would count."""
STALL_FRACTION: Final = 0.5
"""The default threshold's share of the shortest failure deadline in force."""


def stall_threshold_for(deadline: float) -> float:
    """The default stall threshold that protects a failure deadline of `deadline` seconds.

    Half the deadline, within [`MIN_STALL_THRESHOLD`, `MAX_STALL_THRESHOLD`]: a pause
    of the monitor long enough to convict an agent is then always seen as a stall.

    Example:
        >>> stall_threshold_for(0.6), stall_threshold_for(15.0)
        (0.3, 2.0)
    """
    return min(MAX_STALL_THRESHOLD, max(MIN_STALL_THRESHOLD, deadline * STALL_FRACTION))


class SystemClock(_ClockBase):
    """Real time, with one scheduler thread for every timer.

    The thread, named "swarmpulse-clock" (a daemon thread, so a program that never
    closes its clock can still exit), starts on the first timer and is joined by
    `close`, which every owner must call. It waits on a condition until
    the earliest deadline (woken early by an earlier timer) and at least every
    `watchdog_interval`. Waking later than expected by more than the stall threshold
    (the process was stopped, or the GIL or a slow callback held it up) is a stall:
    the listeners get its length before the timers that fell due during it fire.
    Callback errors are logged on "swarmpulse.clock" and counted; return values ignored.

    The default threshold follows the deadlines it protects: it is
    `stall_threshold_for` the shortest failure deadline in force (half of it,
    between 50 ms and 2 s), which the system tells it through
    `set_shortest_deadline` as agents register. Against 200 ms beats and a failure
    threshold of 3 (a 0.6 s deadline) a pause of more than 0.3 s is a stall.

    Args:
        watchdog_interval: Longest wait of the scheduler thread, in seconds.
        stall_threshold: Lateness, in seconds, beyond which a wake-up is a stall;
            None (the default) derives it from the shortest failure deadline
            (2 s until one is set).
        monotonic: The monotonic time source (`time.monotonic`); a test passes
            its own to test stall detection without real time.
        wall: The wall time source (`time.time`).
    """

    def __init__(
        self,
        *,
        watchdog_interval: float = 0.25,
        stall_threshold: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not watchdog_interval > 0 or not (stall_threshold is None or stall_threshold > 0):
            raise ValueError("watchdog_interval and stall_threshold must be positive")
        super().__init__()
        self._watchdog = watchdog_interval
        self._fixed_threshold = stall_threshold
        self._threshold = MAX_STALL_THRESHOLD if stall_threshold is None else stall_threshold
        self._mono = monotonic
        self._wall = wall
        self._thread: threading.Thread | None = None
        self._expected = monotonic()  # when the thread expects to be running again
        # held while a stall is detected and reported, so that whoever asks next
        # finds the listeners told (taken before _cond, never after)
        self._stall_lock = threading.RLock()
        # The sources themselves: every recorded metric reads the time, and a
        # method wrapping time.time costs 80 ns more than the builtin.
        self.time = wall  # type: ignore[method-assign]
        self.monotonic = monotonic  # type: ignore[method-assign]

    def time(self) -> float:
        """Return the wall time source's time (`time.time()` by default)."""
        return self._wall()

    def monotonic(self) -> float:
        """Return the monotonic time source's time (`time.monotonic()` by default)."""
        return self._mono()

    @property
    def stall_threshold(self) -> float:
        """The lateness, in seconds, beyond which a wake-up of the scheduler is a stall."""
        return self._threshold

    def set_shortest_deadline(self, seconds: float) -> None:
        """Derive the default stall threshold from the shortest failure deadline in force.

        A threshold given to the constructor stays as given.
        """
        if self._fixed_threshold is None and seconds > 0:
            self._threshold = stall_threshold_for(seconds)

    def check_stall(self) -> None:
        """Report a stall if the scheduler thread is overdue by more than the threshold.

        The same test the scheduler thread makes when it wakes, made by any thread:
        after SIGCONT another thread may run first, and must not see the pause as
        silence. A stall is reported once, by whoever sees it first.
        """
        mono = self._mono
        with self._stall_lock:
            with self._cond:
                if self._thread is None or self._closed:
                    return
                now = mono()
                late = now - self._expected
                if late <= self._threshold:
                    return
                self._expected = now
            for _ in range(_MAX_STALL_REPORTS):
                started = mono()
                self._report_stall(late)
                with self._cond:  # the listeners' own time is not silence ...
                    after = mono()
                    self._expected = max(self._expected, after)
                # ... but a stop while they ran (a second SIGSTOP right after the
                # first) is a stall of its own: report it too
                late = after - started
                if late <= self._threshold:
                    break

    def close(self) -> None:
        """Cancel every timer and join the scheduler thread (unless called on it)."""
        super().close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _scheduled(self, earliest: bool) -> None:
        if self._thread is None:
            # expected to run from now on: a pause while it starts is a stall too
            self._expected = self._mono()
            self._thread = threading.Thread(target=self._run, name="swarmpulse-clock", daemon=True)
            self._thread.start()
        elif earliest:
            self._cond.notify()

    def _run(self) -> None:
        mono = self._mono
        while True:
            self.check_stall()  # told before any timer that fell due during the stall fires
            with self._cond:
                if self._closed:
                    return
                now = mono()
                if now - self._expected > self._threshold:
                    continue  # paused since check_stall looked: report that first
                handle = self._pop_due(now)
                if handle is None:
                    earliest = self._earliest()
                    timeout = self._watchdog
                    if earliest is not None:
                        timeout = min(timeout, max(earliest - now, 0.0))
                    self._expected = now + timeout
                    self._cond.wait(timeout)
                    continue
                self._repeat(handle, now)
                # a callback that holds the thread past the threshold is a stall too
                self._expected = now
            if not handle._cancelled:
                self._call(handle._callback)


class ManualClock(_ClockBase):
    """A clock for tests: time moves only when `advance` or `stall` moves it.

    `advance(s)` fires, before returning, every timer whose deadline falls within the
    next `s` seconds, in deadline order (ties in scheduling order), with `monotonic()`
    set to each timer's deadline while its callback runs. That includes timers that
    callbacks schedule within the window and the repeats of `call_every`. When a
    callback returns a future (anything but a mapping with a `get(timeout=...)`
    method, such as the one `ActorRef.ask(..., block=False)` returns), `advance` waits
    up to 10 s for it before the next timer, so each deadline's effect on an actor is
    complete, in order, when `advance` returns. Errors from callbacks and futures are
    logged and counted in `callback_errors`, never raised.

    Call `advance` from the test thread, never from an actor that a callback waits on
    (it would wait out the 10 s). Other threads may schedule and cancel timers at any
    time; a callback that schedules at zero delay forever makes `advance` loop forever.

    Args:
        start: What `time()` returns before any advance or wall jump.
        monotonic_start: What `monotonic()` returns before any advance; not zero, so
            that code mistaking zero for "never" shows up in tests.

    Example:
        >>> clock = ManualClock()
        >>> ticks = []
        >>> handle = clock.call_every(1.0, lambda: ticks.append(clock.monotonic()))
        >>> clock.advance(3.0)
        >>> ticks
        [1001.0, 1002.0, 1003.0]
        >>> clock.jump_wall(-3600.0)  # wall time moves back; no timer fires
        >>> clock.time() - 1_700_000_000.0, clock.monotonic()
        (-3597.0, 1003.0)
        >>> clock.close()
    """

    def __init__(self, start: float = 1_700_000_000.0, *, monotonic_start: float = 1000.0) -> None:
        super().__init__()
        self._start = start
        self._origin = monotonic_start
        self._now = monotonic_start
        self._skew = 0.0

    def time(self) -> float:
        """Return start + seconds advanced + wall jumps."""
        with self._cond:
            return self._start + (self._now - self._origin) + self._skew

    def monotonic(self) -> float:
        """Return monotonic_start + seconds advanced."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing every timer due in that window.

        Raises:
            ValueError: `seconds` is negative or NaN.
        """
        if not seconds >= 0:
            raise ValueError(f"cannot advance by {seconds!r} seconds")
        with self._cond:
            end = self._now + seconds
        while True:
            with self._cond:
                handle = self._pop_due(end)
                if handle is None:
                    self._now = max(self._now, end)
                    return
                self._now = max(self._now, handle.when)
                self._repeat(handle, self._now)
            if handle._cancelled:
                continue
            result = self._call(handle._callback)
            get = getattr(result, "get", None)
            if callable(get) and not isinstance(result, Mapping):
                self._call(lambda: get(timeout=_FUTURE_TIMEOUT))

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock, `time()`, by `seconds` either way; fire nothing."""
        with self._cond:
            self._skew += seconds

    def stall(self, seconds: float) -> None:
        """Simulate a pause of the monitor: tell the stall listeners, then advance.

        Raises:
            ValueError: `seconds` is negative or NaN.
        """
        if not seconds >= 0:
            raise ValueError(f"cannot stall for {seconds!r} seconds")
        self._report_stall(seconds)
        self.advance(seconds)
