"""Shutdown: its steps, each retried until done, and the hook at interpreter exit."""

from __future__ import annotations

import atexit
import gc
import logging
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from actors.errors import ShutdownIncomplete
from actors.protocol import StopTrackers
from actors.system.plumbing import ASK_TIMEOUT, _resolve
from actors.system.wiring import Wiring

logger = logging.getLogger("swarmpulse.system")

EXIT_TIMEOUT: Final = 30.0
"""Seconds each step of the shutdown at interpreter exit may take."""


class Lifecycle(Wiring):
    """shutdown() and the context manager."""

    def shutdown(self, timeout: float = ASK_TIMEOUT) -> None:
        """Store every accepted metric, then stop every actor and thread of the system.

        From the moment it begins, every other method raises :class:`SystemStopped`.
        Each step (stop the trackers, flush, stop each service, the callbacks, the
        clock, close the file) is tried even when one before it failed; calling
        ``shutdown`` again retries only the steps not done. Calls from several
        threads at once wait for the first and return once it has finished:
        everything is stored by then. Idempotent.

        Args:
            timeout: seconds each step may wait.

        Raises:
            ShutdownIncomplete: (a TimeoutError) some step failed or timed out;
                ``.steps`` names them. The others were done.
        """
        with self._lock:  # a second caller waits for the first (each step is bounded)
            self._shutdown(timeout)

    def _shutdown(self, timeout: float) -> None:
        """One pass over the shutdown steps not done yet; the caller holds the lock."""
        self._closed = True
        self._telemetry.close()
        _running.discard(self)
        failed: list[str] = []
        for name, step in self._shutdown_steps():
            if name in self._done:
                continue
            try:
                done = step(timeout)
            except Exception:
                logger.exception("shutdown step %r failed", name)
                done = False
            if done is False:
                failed.append(name)
            else:
                self._done.add(name)
        if failed:
            raise ShutdownIncomplete(failed)

    def _shutdown_steps(self) -> list[tuple[str, Callable[[float], bool | None]]]:
        """The steps of a shutdown in order; one that returns False is not done."""

        def stop(kind: str) -> Callable[[float], None]:
            def step(timeout: float) -> None:
                # False (it was dead already: given up) is done too; a Timeout is not
                ref = self._coordinator if kind == "coordinator" else self._services.get(kind)
                ref.stop(timeout=timeout)

            return step

        return [
            ("tick", lambda _t: self._tick.cancel()),
            ("trackers", self._stop_trackers),
            ("flush", self._final_flush),
            ("alert_router", self._stop_alert_router),
            ("analyst", stop("analyst")),
            ("reporter", stop("reporter")),
            ("callbacks", self._callbacks.close),
            ("aggregator", stop("aggregator")),
            ("writer", stop("writer")),
            ("coordinator", stop("coordinator")),
            ("dispatcher", lambda t: self._dispatcher.shutdown(timeout=t)),
            ("clock", self._release_clock),
            ("storage", self._close_storage),
            ("gc", self._unfreeze),
        ]

    def _stop_trackers(self, timeout: float) -> None:
        if "coordinator" not in self._done:
            _resolve(self._coordinator.ask(StopTrackers(), timeout=timeout), timeout)
        self._dispatcher.shutdown(timeout=timeout)

    def _final_flush(self, timeout: float) -> None:
        """Everything accepted, into SQLite; a record that raced the close is taken too."""
        if {"aggregator", "writer"} & (self._done | self._services.failed):
            # given up (failed_services says so), or a retry after they were stopped
            # anyway: nothing can store them now
            logger.error("shutdown: %d metrics were not stored", len(self._telemetry) + len(self._pending))
            return
        try:
            for _ in range(3):
                self._flush(timeout, closing=True)
                if not len(self._telemetry):
                    return
        except Exception:
            logger.error(
                "shutdown could not flush: %d metrics were not stored",
                len(self._telemetry) + len(self._pending),
            )
            raise

    def _stop_alert_router(self, timeout: float) -> None:
        """Stop the alert router (its last state batch goes to the writer before it stops)."""
        if self._alert_router is not None:
            self._alert_router.stop(timeout=timeout)

    def _unfreeze(self, timeout: float) -> None:
        if self._froze:
            self._froze = False
            gc.unfreeze()

    def _release_clock(self, timeout: float) -> None:
        self._clock.remove_stall_listener(self._on_stall)
        if self._own_clock:
            self._clock.close()

    def _close_storage(self, timeout: float) -> bool:
        """Close the file, once the writer that uses its connection has stopped."""
        if "writer" not in self._done:
            return False
        self._storage.close()
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


_running: weakref.WeakSet[Lifecycle] = weakref.WeakSet()
"""Systems started and not yet shut down; weak, so that the hook keeps none alive."""


def _shutdown_at_exit() -> None:
    """Shut down every system still running as the interpreter exits.

    Every thread of a system is a daemon thread, so the interpreter reaches its
    exit hooks (a program that never called ``shutdown``, or one ended by
    Ctrl-C); the threads still run then, and this stores what was accepted.
    """
    for system in list(_running):
        try:
            system.shutdown(timeout=EXIT_TIMEOUT)
        except Exception:
            logger.exception("shutting down a system at exit failed")


atexit.register(_shutdown_at_exit)
