"""User code, kept at arm's length: alert callbacks and event subscribers.

A callback is code we did not write. It may raise anything, ``SystemExit`` and
``KeyboardInterrupt`` included, and it may block for ever. None of that may reach
an actor: raised inside a Pykka actor, a ``BaseException`` stops every actor in
the process, and a blocking call holds up the actor's whole inbox. So no actor
calls user code. The coordinator hands each transition to a :class:`CallbackRunner`
as it takes it (:meth:`CallbackRunner.transition`: the alert callbacks of the new
state, then the subscribers), the reporter each alert; the runner's own daemon
threads call them one at a time, in the order the events were raised, each
within a time budget:

* an exception of any kind is logged on ``swarmpulse.callbacks`` and counted in
  :attr:`CallbackRunner.errors`;
* a callback still running after its budget is logged and counted in
  :attr:`CallbackRunner.timeouts`, and left to finish on a thread of its own
  while the next callbacks run on a fresh one. Those threads are daemons, so a
  callback that never returns does not keep the process from exiting.

Example:
    ```py
    runner = CallbackRunner(timeout=1.0)
    seen = []
    unsubscribe = runner.subscribe(seen.append)
    runner.publish("an event")
    runner.close(timeout=5.0)
    assert seen == ["an event"] and runner.calls == 1
    unsubscribe()
    ```
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

__all__ = ["DEFAULT_CALLBACK_TIMEOUT", "CallbackRunner", "Listener"]

logger = logging.getLogger("swarmpulse.callbacks")

Listener = Callable[[Any], object]
"""A callable that is given one event; what it returns is ignored."""

DEFAULT_CALLBACK_TIMEOUT: Final = 5.0
"""Seconds one callback may run before it is reported and the next one starts."""


class _Barrier(threading.Event):
    """A marker in the queue of calls: set when the worker reaches it (see ``wait_idle``)."""

    def __call__(self, event: object) -> None:
        self.set()


class CallbackRunner:
    """Calls listeners with events on its own threads, each call within a budget.

    One worker thread takes the queued calls in order and makes them; a
    watchdog thread wakes when the running call's budget ends. A call still
    running then is reported, and its worker is left to finish it alone: a new
    worker takes the calls after it. Queueing costs a queue put, and a call no
    more than a clock read around it.

    Thread-safe: :meth:`run` and :meth:`publish` only queue, and return at once.

    Args:
        timeout: seconds one call may take before it is reported as over budget
            and the following calls go on without it.
        name: prefix of the threads' names.

    Raises:
        ValueError: ``timeout`` is not a positive number of seconds.
    """

    def __init__(self, timeout: float = DEFAULT_CALLBACK_TIMEOUT, *, name: str = "swarmpulse-callbacks") -> None:
        if not (isinstance(timeout, int | float) and 0 < timeout < math.inf):
            raise ValueError(f"the callback timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = float(timeout)
        self._name = name
        self._lock = threading.Lock()
        self._watch = threading.Condition(self._lock)
        self._calls: queue.SimpleQueue[tuple[Listener, Any] | None] = queue.SimpleQueue()
        self._subscribers: dict[int, Listener] = {}
        self._alert_callbacks: dict[Any, tuple[Listener, ...]] = {}
        self._tokens = itertools.count()
        self._names = itertools.count()
        # the running call: (worker generation, call number, start, fn), set by the worker;
        # cleared by it, or by the watchdog as it hands over, under the lock
        self._generation = 0
        self._running: tuple[int, int, float, Listener] | None = None
        self._closed = False
        self._finished = threading.Event()
        self.calls = 0
        self.errors = 0
        self.timeouts = 0
        self._worker = self._start_worker()
        self._watchdog = threading.Thread(target=self._watch_calls, name=f"{name}-watchdog", daemon=True)
        self._watchdog.start()

    # Queueing (any thread)

    def run(self, listeners: Sequence[Listener], event: Any) -> None:
        """Queue a call of each of ``listeners`` with ``event``, in order."""
        if self._closed:
            return
        put = self._calls.put
        for fn in listeners:
            put((fn, event))

    def set_alert_callbacks(self, enabled: bool, table: Mapping[Any, Sequence[Listener]]) -> None:
        """Set the alert callbacks :meth:`transition` calls: per health state, a sequence."""
        frozen = {state: tuple(fns) for state, fns in table.items()}
        with self._lock:
            self._alert_callbacks = frozen if enabled else {}

    def transition(self, event: Any) -> None:
        """Queue the alert callbacks of ``event.current``, then every subscriber, with ``event``."""
        callbacks = self._alert_callbacks.get(event.current)
        if callbacks:
            self.run(callbacks, event)
        self.publish(event)

    def publish(self, event: Any) -> None:
        """Queue a call of every subscriber with ``event``."""
        listeners = tuple(self._subscribers.values())  # a copy: unsubscribing may run meanwhile
        if listeners:
            self.run(listeners, event)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every published event; returns the function that stops it.

        Raises:
            TypeError: ``listener`` is not callable.
        """
        if not callable(listener):
            raise TypeError(f"a listener must be callable, not {listener!r}")
        with self._lock:
            token = next(self._tokens)
            self._subscribers[token] = listener

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    @property
    def subscribers(self) -> int:
        """How many listeners are subscribed."""
        return len(self._subscribers)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Return once every call queued before this one has been made or given up as over budget.

        Returns:
            False if that took longer than ``timeout`` seconds (None: no limit).
        """
        if self._closed:
            return True
        barrier = _Barrier()
        self._calls.put((barrier, None))
        return barrier.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Make the calls already queued, then stop; idempotent.

        Args:
            timeout: seconds to wait for the queued calls; None waits for them all
                (each is bounded by the runner's budget anyway).

        Returns:
            True once every queued call has been made or given up as over budget;
            False if some were still queued after ``timeout`` (call again to wait more).
        """
        with self._watch:
            if not self._closed:
                self._closed = True
                self._calls.put(None)
        if not self._finished.wait(timeout):
            return False
        with self._watch:
            self._watch.notify_all()
        self._watchdog.join(timeout)
        return not self._watchdog.is_alive()

    # The threads

    def _start_worker(self) -> threading.Thread:
        self._generation += 1
        worker = threading.Thread(
            target=self._work, args=(self._generation,), name=f"{self._name}-{next(self._names)}",
            daemon=True,
        )
        worker.start()
        return worker

    def _work(self, generation: int) -> None:
        calls = self._calls
        clock = time.monotonic
        number = 0
        while (call := calls.get()) is not None:
            fn, event = call
            if type(fn) is _Barrier:
                fn.set()  # every call queued before it has been made (or handed on)
                continue
            number += 1
            self._running = (generation, number, clock(), fn)
            if self._running[1] == 1:
                with self._watch:
                    self._watch.notify_all()  # a new worker: the watchdog watches it
            self.calls += 1
            try:
                fn(event)
            except BaseException:  # noqa: BLE001 - user code may raise SystemExit too
                self._failed(fn, event)
            with self._lock:  # against the watchdog: either it hands over, or this goes on
                if self._generation != generation:
                    return  # over budget: another worker has taken over
                self._running = None
        self._finished.set()

    def _watch_calls(self) -> None:
        """Wake when the running call's budget ends; hand the queue on if it is still running."""
        with self._watch:
            while not (self._closed and self._finished.is_set()):
                running = self._running
                if running is None or running[0] != self._generation:
                    self._watch.wait(self.timeout)
                    continue
                left = running[2] + self.timeout - time.monotonic()
                if left > 0:
                    self._watch.wait(left)
                    continue
                if self._running != running:
                    continue
                # over budget: its worker finishes it alone, a new one takes the rest
                self.timeouts += 1
                self._running = None
                self._worker = self._start_worker()
                logger.error(
                    "callback %r is still running %.1f s after it was called; the calls "
                    "after it go on without it (%d over budget so far)",
                    running[3], self.timeout, self.timeouts,
                )

    def _failed(self, fn: Listener, event: Any) -> None:
        with self._lock:
            self.errors += 1
        logger.error("callback %r raised on %r", fn, event, exc_info=True)
