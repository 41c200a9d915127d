"""Supervision that Pykka leaves to us: restart intensity, and no lost mail.

A child's ``on_failure`` only tells its supervisor (:class:`ChildFailed`);
the supervisor decides, within a restart intensity like OTP's
intensity/period. Messages a failed child never handled are handed back
(:class:`Redeliver`) so its next incarnation gets them.
"""

from __future__ import annotations

import collections
import logging
import sys
from types import TracebackType
from typing import Any, ClassVar, NoReturn

import pykka

from actors.errors import UnknownMessage
from messages.base import Message

__all__ = [
    "ChildFailed",
    "CountsUnknown",
    "Redeliver",
    "RestartIntensity",
    "SupervisedActor",
    "failed",
    "refused",
]

logger = logging.getLogger("swarmpulse.supervision")


class ChildFailed(Message, tag="child_failed", kw_only=True, frozen=True):
    """A supervised actor raised; ``kind`` is tracker, aggregator, writer or reporter."""

    kind: str
    name: str
    error: str


class Redeliver(Message, tag="redeliver", kw_only=True, frozen=True):
    """Messages a failed child had not handled, for its next incarnation."""

    kind: str
    name: str
    messages: list[Any]


def failed(error: BaseException) -> pykka.Future[Any]:
    """A reply that raises ``error`` in whoever waits for it.

    A request that cannot be answered returns this instead of raising: asked, the
    caller gets the error (the facade resolves replies that are futures); told,
    nobody waits and the actor carries on, where raising would have stopped it.
    """
    future: pykka.Future[Any] = pykka.ThreadingFuture()
    future.set_exception(exc_info=(type(error), error, error.__traceback__))
    return future


class RestartIntensity:
    """At most ``max_restarts`` restarts within ``period`` seconds.

    Args:
        max_restarts: restarts allowed inside one period.
        period: the sliding window, in seconds of the monitor's clock.
    """

    def __init__(self, max_restarts: int = 3, period: float = 5.0) -> None:
        self.max_restarts = max_restarts
        self.period = period
        self._times: collections.deque[float] = collections.deque()
        self.total = 0

    def allow(self, now: float) -> bool:
        """Record a restart at ``now``; False when it would exceed the intensity."""
        while self._times and now - self._times[0] > self.period:
            self._times.popleft()
        if len(self._times) >= self.max_restarts:
            return False
        self._times.append(now)
        self.total += 1
        return True


def refused(exception: BaseException | None) -> bool:
    """Whether an actor's "failure" is only a message it refused (see :class:`CountsUnknown`)."""
    return isinstance(exception, UnknownMessage)


class CountsUnknown:
    """An actor that answers a message it does not understand with an error, and counts it.

    A mixin, before the Pykka actor class among the bases. :meth:`unknown`
    logs, counts (:meth:`count_unknown`) and raises
    :class:`~actors.errors.UnknownMessage`: an asker's future raises it, and a
    message that was told is only logged and counted (Pykka would otherwise
    stop an actor whose ``on_receive`` raised on a tell). ``on_failure`` of the
    actor should ignore it too (see :func:`refused`).
    """

    kind: ClassVar[str] = "actor"
    unknown_messages: int = 0

    def unknown(self, message: Any) -> NoReturn:
        """Log and count a message this actor does not understand, and refuse it."""
        self.count_unknown()
        logger.warning("%s refused a message it does not understand: %.200r", self.kind, message)
        raise UnknownMessage(self.kind, message)

    def count_unknown(self) -> None:
        """Count one; a subclass may count in state that outlives it."""
        self.unknown_messages += 1

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exception_value, UnknownMessage):
            return  # told, not asked: logged and counted, and the actor carries on
        super()._handle_failure(  # type: ignore[misc]
            exception_type, exception_value, traceback
        )


class SupervisedActor(CountsUnknown, pykka.ThreadingActor):
    """A thread-backed actor that reports its failure and hands back its mail.

    Subclasses set ``kind`` and pass ``supervisor`` (the coordinator's ref).
    On an unhandled exception in a ``tell``, Pykka calls ``on_failure``: this
    tells the supervisor :class:`ChildFailed`, and then every ``tell`` still in
    the inbox goes back to the supervisor as one :class:`Redeliver`.
    """

    # A program that never shuts its system down must still be able to exit; the
    # system's exit hook stops the actors before the interpreter ends.
    use_daemon_thread = True

    def __init__(self, *, supervisor: pykka.ActorRef[Any] | None) -> None:
        super().__init__()
        self.supervisor = supervisor
        self._crashed = False

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Tell the supervisor; it decides whether to restart."""
        if refused(exception_value):
            return
        self._crashed = True
        if self.supervisor is not None:
            self.supervisor.tell(
                ChildFailed(kind=self.kind, name=self.kind, error=repr(exception_value))
            )

    def _actor_loop_setup(self) -> None:
        """Run ``on_start``; a child that cannot start is a failed child like any other.

        Pykka only logs an exception from ``on_start`` and stops the actor, so the
        supervisor would never hear of it and the service would be gone for good.
        """
        try:
            self.on_start()
        except Exception:
            self._handle_failure(*sys.exc_info())
            self.on_failure(*sys.exc_info())

    def _actor_loop_teardown(self) -> None:
        leftover: list[Any] = []
        if self._crashed:
            while not self.actor_inbox.empty():
                envelope = self.actor_inbox.get()
                if envelope.reply_to is None:
                    leftover.append(envelope.message)
                else:
                    envelope.reply_to.set_exception(
                        exc_info=(
                            pykka.ActorDeadError,
                            pykka.ActorDeadError(f"{self.actor_ref} failed before handling it"),
                            None,
                        )
                    )
        super()._actor_loop_teardown()
        if leftover and self.supervisor is not None:
            self.supervisor.tell(Redeliver(kind=self.kind, name=self.kind, messages=leftover))
