"""The fault script: one agent dies, one stalls and recovers, one tracker crashes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal

from actors import SwarmSystem
from demo.swarm import Swarm

__all__ = ["FaultPlan", "FaultStep"]

STALL_INTERVALS: Final = 2.5
"""A stall lasts this many heartbeat intervals: past CRITICAL (2), short of FAILED (3)."""

FaultKind = Literal["silence", "stall", "crash"]


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One scripted fault.

    Attributes:
        at: seconds after the start of the run.
        kind: ``silence`` (the agent dies), ``stall`` (its heartbeats stop for
            :data:`STALL_INTERVALS` intervals) or ``crash`` (its heartbeat
            tracker raises, and the coordinator restarts it).
        agent_id: the agent it happens to.
    """

    at: float
    kind: FaultKind
    agent_id: str

    def describe(self, interval: float) -> str:
        """What happens, in words, for the log and the live view."""
        if self.kind == "silence":
            return f"{self.agent_id} dies: no heartbeat ever again"
        if self.kind == "stall":
            return f"{self.agent_id} stalls: silent {STALL_INTERVALS * interval:.2f} s, then beats"
        return f"{self.agent_id}: its heartbeat tracker crashes (inject_fault)"

    def apply(self, system: SwarmSystem, swarm: Swarm) -> None:
        """Make it happen (from the simulation's main loop)."""
        interval = system.config.heartbeat_interval_ms / 1000.0
        if self.kind == "silence":
            swarm.silence(self.agent_id)
        elif self.kind == "stall":
            swarm.members[self.agent_id].pulse.pause(STALL_INTERVALS * interval)
        else:
            system.inject_fault(self.agent_id, reason="scripted fault: the tracker crashes")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which agent suffers which fault, and when; chosen from the run's random generator.

    Attributes:
        steps: the faults, in time order.
        complete_by: seconds after the start by which every fault has fully shown
            (the silent agent has FAILED, the stalled one has recovered).
    """

    steps: tuple[FaultStep, ...]
    complete_by: float

    @classmethod
    def choose(
        cls,
        rng: random.Random,
        agent_ids: list[str],
        *,
        duration: float,
        interval: float,
        failure_threshold: int,
    ) -> FaultPlan:
        """Pick distinct agents for the faults (fewer faults when there are fewer than 3 agents).

        The silent agent goes at a quarter of the run, the stall starts at 45%
        and the crash comes at 65%, but never before a few intervals have passed.
        """
        chosen = rng.sample(agent_ids, k=min(3, len(agent_ids)))
        kinds: tuple[FaultKind, ...] = ("silence", "stall", "crash")
        fractions = (0.25, 0.45, 0.65)
        steps = tuple(
            FaultStep(at=round(max(fraction * duration, (2 + 2 * i) * interval), 3),
                      kind=kind, agent_id=agent_id)
            for i, (kind, fraction, agent_id) in enumerate(zip(kinds, fractions, chosen))
        )
        needs = {"silence": failure_threshold + 1.0, "stall": STALL_INTERVALS + 1.0, "crash": 1.0}
        complete_by = max((s.at + needs[s.kind] * interval for s in steps), default=0.0)
        return cls(steps=steps, complete_by=complete_by)

    def agent(self, kind: FaultKind) -> str | None:
        """The agent that suffers ``kind``, if any."""
        return next((s.agent_id for s in self.steps if s.kind == kind), None)
