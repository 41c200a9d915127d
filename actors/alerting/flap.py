"""Flap detection, as Nagios does it.

The last ``history`` (21) states are kept. Each change between two
consecutive states counts with a weight rising linearly from 0.75 (the oldest
change) to 1.25 (the newest); the weighted sum over the ``history - 1``
possible changes, as a percentage, is the state change. Flapping starts when
it goes above ``high`` (30%) and stops when it falls below ``low`` (20%).
States are observed at every transition and at a regular sample interval, as
Nagios records one at every check: a stream of transitions alone would be all
changes.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

__all__ = ["FlapDetector", "FlapSettings", "percent_change"]


@dataclass(frozen=True)
class FlapSettings:
    """Nagios' thresholds, configurable under ``[flapping]``."""

    enabled: bool = True
    history: int = 21
    high: float = 30.0
    low: float = 20.0


def percent_change(states: list[str]) -> float:
    """Nagios' weighted percent state change over ``states`` (oldest first)."""
    slots = len(states) - 1
    if slots < 1:
        return 0.0
    total = 0.0
    for x in range(1, len(states)):
        if states[x] != states[x - 1]:
            weight = 0.75 + (x - 1) * 0.5 / (slots - 1) if slots > 1 else 1.25
            total += weight
    return total * 100.0 / slots


@dataclass
class FlapDetector:
    """One stream of states (an agent's health), with its flapping flag."""

    settings: FlapSettings = field(default_factory=FlapSettings)
    states: collections.deque[str] = field(default_factory=collections.deque)
    flapping: bool = False

    def observe(self, state: str) -> bool | None:
        """Add a state; True when flapping starts, False when it stops, else None."""
        self.states.append(state)
        while len(self.states) > self.settings.history:
            self.states.popleft()
        pct = self.percent
        if not self.flapping and pct > self.settings.high:
            self.flapping = True
            return True
        if self.flapping and pct < self.settings.low:
            self.flapping = False
            return False
        return None

    @property
    def percent(self) -> float:
        """The weighted percent state change; a short history is padded with its first state.

        Nagios fills a new history with the current state; padding does the same.
        """
        states = list(self.states)
        if states and len(states) < self.settings.history:
            states = [states[0]] * (self.settings.history - len(states)) + states
        return percent_change(states)

    @property
    def steady(self) -> bool:
        """Not flapping and every state in the window the same (nothing left to track)."""
        return not self.flapping and len(set(self.states)) <= 1
