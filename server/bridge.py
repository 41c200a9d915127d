"""Asking the actors from the event loop without blocking it, and without a thread hop per ask.

Pykka's futures cannot wake an event loop, so an answer must be waited for on
some thread. One thread per request (a worker pool) costs two GIL handoffs per
ask, which halved the single-heartbeat rate. The bridge has one thread of its
own: requests arriving together are asked together (each ask is a ``tell``
with a future), their answers collected in order (the coordinator answers in
order), and handed back to the loop in one ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Final

import pykka

__all__ = ["AskBridge"]

ASK_TIMEOUT: Final = 30.0
_Job = tuple[list[Any], "asyncio.Future[list[Any]]"]


class AskBridge:
    """Ask one actor many messages from the loop; answers come back as one awaited list.

    Args:
        ref: the actor asked (the coordinator).
        loop: the event loop the answers are delivered on.
    """

    def __init__(self, ref: pykka.ActorRef[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._ref = ref
        self._loop = loop
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="swarmpulse-ask-bridge", daemon=True)
        self._thread.start()

    async def ask(self, messages: list[Any]) -> list[Any]:
        """The actor's answers to ``messages``, in order.

        Raises:
            pykka.ActorDeadError: the actor has stopped.
            pykka.Timeout: it did not answer within 30 s.
        """
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        self._jobs.put((messages, future))
        return await future

    def close(self, timeout: float = 10.0) -> None:
        """Answer what is queued, then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            stop = False
            while True:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            self._answer(jobs)
            if stop:
                return

    def _answer(self, jobs: list[_Job]) -> None:
        outcomes: list[tuple[asyncio.Future[list[Any]], list[Any] | BaseException]] = []
        asked = []
        for messages, future in jobs:
            try:
                asked.append((future, [self._ref.ask(m, block=False) for m in messages]))
            except Exception as exc:  # the actor is gone
                outcomes.append((future, exc))
        for future, pending in asked:
            try:
                outcomes.append((future, [_resolve(p.get(timeout=ASK_TIMEOUT)) for p in pending]))
            except Exception as exc:
                outcomes.append((future, exc))
        try:
            self._loop.call_soon_threadsafe(_deliver, outcomes)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass


def _resolve(result: Any) -> Any:
    while isinstance(result, pykka.Future):
        result = result.get(timeout=ASK_TIMEOUT)
    return result


def _deliver(outcomes: list[tuple[asyncio.Future[list[Any]], list[Any] | BaseException]]) -> None:
    for future, outcome in outcomes:
        if future.done():  # the request was cancelled (its client went away)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
