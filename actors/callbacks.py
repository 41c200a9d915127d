"""User code, kept at arm's length: alert callbacks and event subscribers.

A callback is code we did not write. It may raise anything, ``SystemExit`` and
``KeyboardInterrupt`` included, and it may block for ever. None of that may reach
an actor: raised inside a Pykka actor, a ``BaseException`` stops every actor in
the process, and a blocking call holds up the actor's whole inbox. So no actor
calls user code. The reporter hands each event to a :class:`CallbackRunner`,
whose own daemon threads call the callbacks one at a time, in the order the
events were raised, each within a time budget:

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
from collections.abc import Callable, Sequence
from typing import Any, Final

__all__ = ["DEFAULT_CALLBACK_TIMEOUT", "CallbackRunner", "Listener"]

logger = logging.getLogger("swarmpulse.callbacks")

Listener = Callable[[Any], object]
"""A callable that is given one event; what it returns is ignored."""

DEFAULT_CALLBACK_TIMEOUT: Final = 5.0
"""Seconds one callback may run before it is reported and the next one starts."""


class _Worker:
    """A daemon thread that calls what it is handed, one call at a time."""

    def __init__(self, runner: CallbackRunner, name: str) -> None:
        self._runner = runner
        self._calls: queue.SimpleQueue[tuple[Listener, Any, threading.Event] | None] = (
            queue.SimpleQueue()
        )
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)
        self.thread.start()

    def call(self, fn: Listener, event: Any) -> threading.Event:
        """Start ``fn(event)``; the returned event is set when it has returned."""
        done = threading.Event()
        self._calls.put((fn, event, done))
        return done

    def retire(self) -> None:
        """End the thread once its current call (if any) has returned."""
        self._calls.put(None)

    def _work(self) -> None:
        while (job := self._calls.get()) is not None:
            fn, event, done = job
            try:
                fn(event)
            except BaseException:  # noqa: BLE001 - user code may raise SystemExit too
                self._runner._failed(fn, event)  # noqa: SLF001
            finally:
                done.set()


class CallbackRunner:
    """Calls listeners with events on its own threads, each call within a budget.

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
        self._jobs: queue.SimpleQueue[tuple[Sequence[Listener], Any] | None] = queue.SimpleQueue()
        self._subscribers: dict[int, Listener] = {}
        self._tokens = itertools.count()
        self._workers = itertools.count()
        self._worker: _Worker | None = None
        self._abandoned: list[_Worker] = []
        self._closed = False
        self.calls = 0
        self.errors = 0
        self.timeouts = 0
        self._thread = threading.Thread(target=self._dispatch, name=name, daemon=True)
        self._thread.start()

    # Queueing (any thread)

    def run(self, listeners: Sequence[Listener], event: Any) -> None:
        """Queue a call of each of ``listeners`` with ``event``, in order."""
        if listeners and not self._closed:
            self._jobs.put((tuple(listeners), event))

    def publish(self, event: Any) -> None:
        """Queue a call of every subscriber with ``event``."""
        with self._lock:
            listeners = tuple(self._subscribers.values())
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

    def close(self, timeout: float | None = None) -> bool:
        """Run the calls already queued, then stop; idempotent.

        Args:
            timeout: seconds to wait for the queued calls; None waits for them all
                (each is bounded by the runner's budget anyway).

        Returns:
            True once the runner's thread has ended; False if queued calls were
            still running after ``timeout`` (call again to wait more).
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # The dispatching thread

    def _dispatch(self) -> None:
        while (job := self._jobs.get()) is not None:
            listeners, event = job
            for fn in listeners:
                self._call(fn, event)
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.retire()

    def _call(self, fn: Listener, event: Any) -> None:
        worker = self._worker
        if worker is None:
            worker = self._worker = _Worker(self, f"{self._name}-{next(self._workers)}")
        with self._lock:
            self.calls += 1
        if worker.call(fn, event).wait(self.timeout):
            return
        # Over budget: leave it to finish on its own thread; the next call gets a new one.
        worker.retire()
        self._worker = None
        with self._lock:
            self.timeouts += 1
            self._abandoned = [w for w in self._abandoned if w.thread.is_alive()]
            self._abandoned.append(worker)
            running = len(self._abandoned)
        logger.error(
            "callback %r is still running %.1f s after it was called with %r; the "
            "callbacks after it go on without it (%d over budget still running)",
            fn, self.timeout, event, running,
        )

    def _failed(self, fn: Listener, event: Any) -> None:
        with self._lock:
            self.errors += 1
        logger.error("callback %r raised on %r", fn, event, exc_info=True)
