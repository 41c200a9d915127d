"""Failure detectors as a tracker uses them: seconds of silence before each state.

A tracker asks its detector one question, :meth:`boundary`, the silence after which
the agent is in a state, and arms one timer for the next state's moment. The fixed
detector answers from the interval (DEGRADED at 1 x, CRITICAL at 2 x, FAILED at
``threshold`` x); the phi detector from the agent's own gaps (DEGRADED at phi 1,
CRITICAL at phi 3, FAILED at its threshold), through the closed-form inverse of phi.
Both see only silence with the monitor's own stalls taken out, so a pause of the
monitor is grace for every agent, whichever detector it has.
"""

from __future__ import annotations

from typing import Protocol

from actors.analytics.phi import DEFAULT_PHI, PhiAccrual, PhiSettings
from messages import HealthState

__all__ = ["Detector", "FixedDetector", "PhiDetector"]


class Detector(Protocol):
    """What a tracker needs of a failure detector."""

    def boundary(self, state: HealthState) -> float:
        """Seconds of silence after which the agent is in ``state``."""
        ...

    def add_gap(self, gap: float) -> None:
        """Record the silence, in seconds (stalls taken out), that a heartbeat ended."""
        ...

    def phi(self, silence: float) -> float | None:
        """The suspicion after ``silence`` seconds, for detectors that have one."""
        ...


class FixedDetector:
    """The default: fixed multiples of the agent's interval."""

    __slots__ = ("interval", "threshold")

    def __init__(self, interval: float, threshold: int) -> None:
        self.interval = interval
        self.threshold = threshold

    def boundary(self, state: HealthState) -> float:
        """Seconds of silence after which the agent is in ``state``."""
        if state is HealthState.DEGRADED:
            return self.interval
        if state is HealthState.CRITICAL:
            return 2 * self.interval
        if state is HealthState.FAILED:
            return self.threshold * self.interval
        return 0.0

    def add_gap(self, gap: float) -> None:
        """Fixed thresholds learn nothing from gaps."""

    def phi(self, silence: float) -> float | None:
        """No suspicion level: None."""
        return None


class PhiDetector:
    """Phi accrual: the state boundaries follow the agent's own heartbeat gaps."""

    __slots__ = ("accrual",)

    def __init__(self, interval: float, settings: PhiSettings = DEFAULT_PHI) -> None:
        self.accrual = PhiAccrual(interval, settings)

    def boundary(self, state: HealthState) -> float:
        """Seconds of silence at which phi reaches the level of ``state``."""
        s = self.accrual.settings
        if state is HealthState.DEGRADED:
            return self.accrual.silence_for(s.degraded_phi)
        if state is HealthState.CRITICAL:
            return self.accrual.silence_for(s.critical_phi)
        if state is HealthState.FAILED:
            return self.accrual.silence_for(s.threshold)
        return 0.0

    def add_gap(self, gap: float) -> None:
        """Add a gap to the window."""
        self.accrual.add_gap(gap)

    def phi(self, silence: float) -> float | None:
        """The agent's phi after ``silence`` seconds."""
        return self.accrual.phi(silence)
