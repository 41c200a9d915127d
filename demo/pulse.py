"""An agent's heartbeat, sent from the clock's thread so a busy agent never looks dead."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from actors import Clock, TimerHandle
from messages import Heartbeat

__all__ = ["Pulse"]


class Pulse:
    """Tells the coordinator an agent's :class:`messages.Heartbeat` every half interval.

    The beats come from a ``clock.call_every`` timer, not from the agent's own
    mailbox: an agent busy with a long task (or blocked inside one) still beats,
    which is what a liveness signal should mean. A worker monitor that beats from
    its task loop convicts every agent whose task outlasts the failure threshold.

    The fault script silences a pulse for good (:meth:`stop`) or for a while
    (:meth:`pause`). Safe to call from any thread.

    Args:
        agent_id: the agent it beats for.
        coordinator: the system's coordinator (``SwarmSystem.coordinator``).
        clock: the system's clock (``SwarmSystem.clock``).
        period: seconds between beats; half the heartbeat interval leaves room for jitter.
    """

    def __init__(
        self, agent_id: str, coordinator: pykka.ActorRef[Any], clock: Clock, period: float
    ) -> None:
        self.agent_id = agent_id
        self._coordinator = coordinator
        self._clock = clock
        self._lock = threading.Lock()
        self._sent = 0
        self._pause_request: float | None = None
        self._resume: TimerHandle | None = None
        self._stopped = False
        self._timer = clock.call_every(period, self._tick)

    @property
    def sent(self) -> int:
        """Heartbeats sent so far."""
        return self._sent

    def pause(self, seconds: float) -> None:
        """Beat once more at the next tick, then stay silent for exactly ``seconds``.

        The silence is measured from that last beat, so the agent is silent for
        ``seconds`` however the request falls between two ticks.
        """
        with self._lock:
            self._pause_request = seconds

    def stop(self) -> None:
        """Beat no more; idempotent."""
        with self._lock:
            self._stopped = True
            resume, self._resume = self._resume, None
        self._timer.cancel()
        if resume is not None:
            resume.cancel()

    def _tick(self) -> None:
        with self._lock:
            if self._stopped:
                return
            if self._resume is not None:
                return  # paused: only the wake-up timer ends the silence
            request, self._pause_request = self._pause_request, None
            if request is not None:
                self._resume = self._clock.call_later(request, self._wake)
            self._beat()

    def _wake(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._resume = None
            self._beat()

    def _beat(self) -> None:
        """Send one heartbeat; called under the lock, so none is sent after :meth:`stop`."""
        try:
            self._coordinator.tell(Heartbeat(agent_id=self.agent_id, timestamp=self._clock.time()))
        except pykka.ActorDeadError:
            return  # the system is shutting down
        self._sent += 1
