"""Heartbeats from the loop to the coordinator, most of them without waiting for an answer.

A heartbeat of a registered agent needs no answer: the coordinator takes it
(:meth:`actors.SwarmSystem.update_agent_heartbeat` says the same), so the
edge *tells* it, after checking the agent against the registered ids the
system keeps for its telemetry (a set read without a lock or an actor). A
batch naming any other agent is *asked*, through the :class:`AskBridge`, so
the coordinator's own answer names each unknown one, as before.

Telling alone would let a fast client fill the coordinator's mailbox without
bound. So every ``sync_every`` tells, one request is asked instead: its
answer comes after the coordinator has taken every beat told before it (a
mailbox is first in, first out), which confirms them. Past
``max_unconfirmed`` tells not yet confirmed, every request is asked, and
waits: the clients are slowed to the coordinator's pace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import pykka

from messages import Heartbeat
from server.bridge import AskBridge

__all__ = ["HeartbeatSender"]

SYNC_EVERY: Final = 256
"""Tells between two confirming asks."""
MAX_UNCONFIRMED: Final = 8_192
"""Tells not yet confirmed past which every request waits for the coordinator."""


class HeartbeatSender:
    """Send heartbeats to the coordinator from the event loop (used on the loop's thread only).

    Args:
        coordinator: the system's coordinator.
        bridge: asks it without blocking the loop.
        is_known: whether an agent id is registered (read without blocking).
        sync_every: tells between two confirming asks.
        max_unconfirmed: past this many unconfirmed tells, every request is asked.
    """

    def __init__(self, coordinator: pykka.ActorRef[Any], bridge: AskBridge,
                 is_known: Callable[[str], bool], sync_every: int = SYNC_EVERY,
                 max_unconfirmed: int = MAX_UNCONFIRMED) -> None:
        if not 1 <= sync_every <= max_unconfirmed:
            raise ValueError("need 1 <= sync_every <= max_unconfirmed")
        self._tell = coordinator.tell
        self._bridge = bridge
        self._is_known = is_known
        self.sync_every = sync_every
        self.max_unconfirmed = max_unconfirmed
        self.told = 0
        """Heartbeats told so far."""
        self.confirmed = 0
        """Of those, how many the coordinator is known to have taken."""
        self.asked = 0
        """Requests asked (unknown agents, confirmations, waits)."""
        self._asking = 0

    @property
    def unconfirmed(self) -> int:
        """Heartbeats told and not yet known to be taken."""
        return self.told - self.confirmed

    async def send(self, beats: list[Heartbeat]) -> list[bool]:
        """The coordinator's answer for each beat: False for an agent it does not know.

        Raises:
            pykka.ActorDeadError: the coordinator has stopped.
            pykka.Timeout: an ask was not answered in time.
        """
        unconfirmed = self.told - self.confirmed
        if unconfirmed < self.max_unconfirmed and (unconfirmed < self.sync_every or self._asking):
            is_known = self._is_known
            if all(is_known(beat.agent_id) for beat in beats):
                tell = self._tell
                for beat in beats:
                    tell(beat)
                self.told += len(beats)
                return [True] * len(beats)
        mark = self.told
        self._asking += 1
        self.asked += 1
        try:
            answers = await self._bridge.ask(beats)
        finally:
            self._asking -= 1
        if mark > self.confirmed:
            self.confirmed = mark
        return answers
