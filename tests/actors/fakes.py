"""Fakes of an actor's neighbours, for testing one actor alone."""

from __future__ import annotations

import queue
from typing import Any

import pykka

__all__ = ["Inbox"]

WAIT = 10.0


class Inbox(pykka.ThreadingActor):
    """An actor that only keeps what it is told, for the test to read in order."""

    def __init__(self) -> None:
        super().__init__()
        self.received: queue.Queue[Any] = queue.Queue()

    def on_receive(self, message: Any) -> None:
        self.received.put(message)

    @classmethod
    def open(cls) -> tuple[pykka.ActorRef[Any], queue.Queue[Any]]:
        """Start one; return its ref and the queue of what it receives."""
        ref = cls.start()
        inbox: queue.Queue[Any] = ref.proxy().received.get(timeout=WAIT)
        return ref, inbox


def next_of(inbox: queue.Queue[Any], kind: type[Any], timeout: float = WAIT) -> Any:
    """The next message of type ``kind`` received (others are skipped)."""
    while True:
        message = inbox.get(timeout=timeout)
        if isinstance(message, kind):
            return message
