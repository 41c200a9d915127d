"""A pooled runtime for Pykka actors: many actors share a few worker threads.

A plain `pykka.ThreadingActor` owns one OS thread. A `PooledActor` owns only a
mailbox; putting a message in an idle mailbox schedules the actor on its
`Dispatcher`, whose workers run each scheduled actor for at most `throughput`
messages before moving on (the Akka dispatcher design). Pykka's semantics are
kept: per-actor FIFO order, one message at a time per actor, `on_start` before
the first message, the same failure hooks, and the same stop results.

Two things differ from `ThreadingActor`, on purpose:

* Messages that can no longer be handled are never lost silently. Asks get
  `pykka.ActorDeadError` (also when they arrive after the actor died, where
  Pykka would leave the caller waiting forever) and tells go to the
  dispatcher's dead-letter callback.
* A `BaseException` in a handler stops all actors without blocking
  (`ActorRegistry.stop_all(block=False)`), since a blocked worker could be the
  one that has to run the actors being stopped.

Example:
    ```py
    dispatcher = Dispatcher(workers=2)
    ref = Echo.start(dispatcher=dispatcher)  # Echo subclasses PooledActor
    assert ref.ask("hi") == "hi"
    dispatcher.shutdown()
    ```
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import pykka
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

if TYPE_CHECKING:
    from pykka._actor import ActorInbox

__all__ = ["Dispatcher", "PooledActor"]

logger = logging.getLogger(__name__)

DeadLetterHandler = Callable[[pykka.ActorRef[Any], Any], None]
"""Called with the ref and the message of a tell that no actor will handle."""


class _Mailbox:
    """An actor's inbox that schedules its actor on a dispatcher when it fills.

    `scheduled` is True while the mailbox is in the run queue or being run by
    a worker, so at most one worker runs the actor at a time. It starts True
    so that nothing is scheduled before `bind` hands the actor to the
    dispatcher; messages put before that simply wait.
    """

    __slots__ = (
        "_actor",
        "_dead",
        "_dispatcher",
        "_lock",
        "_messages",
        "_ref",
        "_scheduled",
        "_started",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: deque[Envelope[Any]] = deque()
        self._scheduled = True
        self._dead = False
        self._started = False
        self._actor: PooledActor | None = None
        self._ref: pykka.ActorRef[Any] | None = None
        self._dispatcher: Dispatcher | None = None

    def put(self, envelope: Envelope[Any], /) -> None:
        """Add an envelope; schedule the actor if it was idle."""
        with self._lock:
            if self._dead:
                rejected = True
            else:
                self._messages.append(envelope)
                if self._scheduled:
                    return
                self._scheduled = True
                rejected = False
        if rejected:
            self._reject(envelope)
        else:
            assert self._dispatcher is not None
            self._dispatcher._run_queue.put(self)  # noqa: SLF001

    def get(self) -> Envelope[Any]:
        """Remove and return the oldest envelope (part of Pykka's inbox protocol).

        Raises:
            queue.Empty: if the mailbox is empty.
        """
        with self._lock:
            if not self._messages:
                raise queue.Empty
            return self._messages.popleft()

    def empty(self) -> bool:
        """Return whether no envelope is waiting."""
        return not self._messages

    def bind(self, actor: PooledActor, dispatcher: Dispatcher) -> None:
        """Attach the started actor and schedule it so that `on_start` runs."""
        self._actor = actor
        self._ref = actor.actor_ref
        self._dispatcher = dispatcher
        dispatcher._run_queue.put(self)  # noqa: SLF001

    def abandon(self, actor: PooledActor, dispatcher: Dispatcher) -> None:
        """Fail whatever was put in the mailbox of an actor that never started."""
        self._ref = actor.actor_ref
        self._dispatcher = dispatcher
        self._drain()

    def run(self, throughput: int) -> None:
        """Run the actor for up to `throughput` messages, then yield the worker."""
        actor = self._actor
        assert actor is not None
        if not self._started:
            self._started = True
            actor._actor_loop_setup()  # noqa: SLF001
        stopped = actor.actor_stopped
        messages = self._messages
        lock = self._lock
        for _ in range(throughput):
            if stopped.is_set():
                break
            with lock:
                if not messages:
                    self._scheduled = False
                    return
                envelope = messages.popleft()
            _handle(actor, envelope)
        if not stopped.is_set():
            with lock:
                if not messages:
                    self._scheduled = False
                    return
            assert self._dispatcher is not None
            self._dispatcher._run_queue.put(self)  # noqa: SLF001
            return
        self._drain()

    def fail(self) -> None:
        """Stop the actor after a `BaseException` escaped Pykka's own handlers."""
        actor = self._actor
        logger.error("Stopping %s after an escaped exception", actor, exc_info=True)
        if actor is None:  # it had already stopped
            return
        pykka.ActorRegistry.unregister(actor.actor_ref)
        actor.actor_stopped.set()
        self._drain()
        pykka.ActorRegistry.stop_all(block=False)

    def _drain(self) -> None:
        """Mark the mailbox dead and answer every envelope still in it."""
        with self._lock:
            self._dead = True
            leftovers = list(self._messages)
            self._messages.clear()
        for envelope in leftovers:
            self._reject(envelope, stopping=True)
        self._actor = None
        assert self._dispatcher is not None
        self._dispatcher._forget(self)  # noqa: SLF001

    def _reject(self, envelope: Envelope[Any], *, stopping: bool = False) -> None:
        """Answer an envelope the actor will never handle."""
        ref = self._ref
        is_stop = isinstance(envelope.message, _ActorStop)
        if envelope.reply_to is not None:
            if stopping and is_stop:
                envelope.reply_to.set(None)
            else:
                error = pykka.ActorDeadError(f"{ref} stopped before handling the message")
                envelope.reply_to.set_exception(exc_info=(pykka.ActorDeadError, error, None))
        elif is_stop:
            logger.debug("Stop request for %s arrived after it stopped", ref)
        else:
            assert ref is not None and self._dispatcher is not None
            self._dispatcher._dead_letter(ref, envelope.message)  # noqa: SLF001


def _handle(actor: PooledActor, envelope: Envelope[Any]) -> None:
    """Handle one envelope like Pykka's `Actor._actor_loop_running`.

    Two differences, both after a `BaseException`: an ask being handled gets
    `pykka.ActorDeadError` instead of never being answered, and all actors are
    stopped without blocking this worker.
    """
    try:
        response = actor._handle_receive(envelope.message)  # noqa: SLF001
        if envelope.reply_to is not None:
            envelope.reply_to.set(response)
    except Exception:
        if envelope.reply_to is not None:
            logger.info("Exception returned from %s to caller:", actor, exc_info=True)
            envelope.reply_to.set_exception()
        else:
            actor._handle_failure(*sys.exc_info())  # noqa: SLF001
            try:
                actor.on_failure(*sys.exc_info())
            except Exception:  # noqa: BLE001
                actor._handle_failure(*sys.exc_info())  # noqa: SLF001
    except BaseException as error:  # noqa: BLE001
        logger.debug("%r in %s. Stopping all actors.", error, actor)
        if envelope.reply_to is not None:
            dead = pykka.ActorDeadError(f"{actor} stopped by {error!r}")
            envelope.reply_to.set_exception(exc_info=(pykka.ActorDeadError, dead, None))
        actor._stop()  # noqa: SLF001
        pykka.ActorRegistry.stop_all(block=False)


class Dispatcher:
    """A fixed pool of worker threads that run `PooledActor`s.

    Args:
        workers: number of worker threads, started at once. They are daemon
            threads, so that a program that never shuts its system down can still
            exit (the system's exit hook stops the actors first).
        name: prefix of the worker thread names, `f"{name}-worker-{i}"`.
        throughput: messages an actor may handle before yielding its worker.
        dead_letters: called with `(ref, message)` for every tell that no actor
            will handle; by default such messages are logged at debug level.
            They are counted in `dead_letter_count` either way. It runs on the
            worker that stops the actor, or on the sender's thread for a tell
            that arrives after the stop, so it must be quick and thread-safe.
            Leftover stop requests (`actor.stop()`) are not dead letters.

    Raises:
        ValueError: if `workers` or `throughput` is less than 1.
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        name: str = "swarmpulse",
        throughput: int = 64,
        dead_letters: DeadLetterHandler | None = None,
    ) -> None:
        if workers < 1 or throughput < 1:
            msg = f"workers and throughput must be >= 1, got {workers}, {throughput}"
            raise ValueError(msg)
        self._throughput: Final = throughput
        self._dead_letters = dead_letters
        self._dead_letter_count = 0
        self._run_queue: queue.SimpleQueue[_Mailbox | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all_stopped = threading.Condition(self._lock)
        self._live: dict[_Mailbox, None] = {}  # insertion order is start order
        self._closed = False
        self._workers_stopped = False
        self._threads = tuple(
            threading.Thread(target=self._work, name=f"{name}-worker-{i}", daemon=True)
            for i in range(workers)
        )
        for thread in self._threads:
            thread.start()

    @property
    def worker_threads(self) -> tuple[threading.Thread, ...]:
        """The worker threads, alive until `shutdown` completes."""
        return self._threads

    @property
    def dead_letter_count(self) -> int:
        """How many tells were undeliverable since the dispatcher started."""
        return self._dead_letter_count

    def live_actors(self) -> int:
        """Return how many actors started on this dispatcher have not finished."""
        return len(self._live)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every live actor, in start order, then stop the workers.

        Stop requests are sent to all actors without waiting, then the call
        waits for all of them. Calling it again is harmless; after it, starting
        an actor on this dispatcher raises `RuntimeError`.

        Args:
            timeout: seconds to wait for the actors and then the workers.

        Raises:
            RuntimeError: if called from one of this dispatcher's workers.
            TimeoutError: if actors or workers are still running after
                `timeout`; the workers are kept so that a later call can
                finish the job.
        """
        if threading.current_thread() in self._threads:
            msg = "a dispatcher cannot be shut down from one of its own workers"
            raise RuntimeError(msg)
        deadline = time.monotonic() + timeout
        with self._lock:
            first = not self._closed
            self._closed = True
            mailboxes = list(self._live) if first else []
        for mailbox in mailboxes:
            mailbox.put(Envelope(_ActorStop()))
        with self._all_stopped:
            while self._live:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    msg = f"{len(self._live)} actors still running after {timeout} s"
                    raise TimeoutError(msg)
                self._all_stopped.wait(remaining)
            stop_workers = not self._workers_stopped
            self._workers_stopped = True
        if stop_workers:
            for _ in self._threads:
                self._run_queue.put(None)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            msg = f"dispatcher workers still running after {timeout} s"
            raise TimeoutError(msg)

    def _adopt(self, mailbox: _Mailbox) -> None:
        """Count a starting actor as live, unless the dispatcher is shut down."""
        with self._lock:
            if self._closed:
                msg = "the dispatcher is shut down"
                raise RuntimeError(msg)
            self._live[mailbox] = None

    def _check_open(self) -> None:
        """Refuse new actors once `shutdown` has begun."""
        if self._closed:
            msg = "the dispatcher is shut down"
            raise RuntimeError(msg)

    def _forget(self, mailbox: _Mailbox) -> None:
        """Drop a finished actor from the live set."""
        with self._lock:
            self._live.pop(mailbox, None)
            if not self._live:
                self._all_stopped.notify_all()

    def _dead_letter(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Count and report a tell that no actor will handle."""
        with self._lock:
            self._dead_letter_count += 1
        if self._dead_letters is None:
            logger.debug("Dead letter for %s: %r", ref, message)
            return
        try:
            self._dead_letters(ref, message)
        except Exception:
            logger.exception("Dead-letter handler failed for %s", ref)

    def _work(self) -> None:
        """Worker loop: run scheduled actors until a `None` arrives."""
        run_queue = self._run_queue
        throughput = self._throughput
        while (mailbox := run_queue.get()) is not None:
            try:
                mailbox.run(throughput)
            except BaseException:  # noqa: BLE001
                try:
                    mailbox.fail()
                except BaseException:  # noqa: BLE001
                    logger.exception("Failed to stop an actor; the worker goes on")


class PooledActor(pykka.Actor):
    """A Pykka actor that runs on a `Dispatcher`'s shared worker threads.

    Start it like any Pykka actor, passing the dispatcher by keyword:
    `MyActor.start(dispatcher=dispatcher, ...)`. Subclasses that override
    `__init__` must pass `dispatcher=` on to `super().__init__()`.

    Args:
        *args: ignored, as by `pykka.Actor`.
        dispatcher: the dispatcher whose workers run this actor.
        **kwargs: ignored, as by `pykka.Actor`.

    Raises:
        RuntimeError: if the dispatcher is shut down.
    """

    def __init__(self, *args: Any, dispatcher: Dispatcher, **kwargs: Any) -> None:
        dispatcher._check_open()  # noqa: SLF001
        self._dispatcher = dispatcher
        super().__init__(*args, **kwargs)

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        return _Mailbox()

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return pykka.ThreadingFuture()

    def _start_actor_loop(self) -> None:
        mailbox = self.actor_inbox
        assert isinstance(mailbox, _Mailbox)
        try:
            self._dispatcher._adopt(mailbox)  # noqa: SLF001
        except RuntimeError:
            pykka.ActorRegistry.unregister(self.actor_ref)
            self.actor_stopped.set()
            mailbox.abandon(self, self._dispatcher)
            raise
        mailbox.bind(self, self._dispatcher)
