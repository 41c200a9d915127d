"""The fault script: agents die (one judged by phi accrual), stall, hang on a task, slow down;
a tracker crashes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal

from actors import SwarmSystem
from demo.swarm import Swarm

__all__ = ["FaultPlan", "FaultStep", "SLOW_SECONDS", "STUCK_LIMIT_S"]

STALL_INTERVALS: Final = 2.5
"""A stall lasts this many heartbeat intervals: past CRITICAL (2), short of FAILED (3)."""
STUCK_LIMIT_S: Final = 10.0
"""The demo's stuck-task limit (``start_system(stuck_limit_s=...)``): well past the
longest task the queue hands out (a timeout, 4 s) and the slowest of the slow agent's."""
HANG_FACTOR: Final = 1.5
"""The hung task finishes this many stuck limits after it started: stuck, then finished."""
SLOW_SECONDS: Final = (7.5, 9.0)
"""The slow agent's tasks take 8 x as long, held within these bounds (short of the stuck
limit): at least twice the longest of its peers' tasks, so one of them is enough to make
its p95 more than twice theirs."""
SLOW_FACTOR: Final = 8.0

FaultKind = Literal["silence", "stall", "crash", "phi", "stuck", "slow"]

KINDS: Final[tuple[FaultKind, ...]] = ("silence", "stall", "crash", "phi", "stuck", "slow")
"""The faults in the order agents are drawn for them (a small swarm gets the first ones)."""
_FRACTION: Final = {"silence": 0.25, "stall": 0.45, "crash": 0.65, "phi": 0.35, "stuck": 0.10,
                    "slow": 0.05}
_MIN_INTERVALS: Final = {"silence": 2.0, "stall": 4.0, "crash": 6.0, "phi": 4.0, "stuck": 2.0,
                         "slow": 2.0}


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One scripted fault.

    Attributes:
        at: seconds after the start of the run.
        kind: ``silence`` (the agent dies), ``stall`` (its heartbeats stop for
            :data:`STALL_INTERVALS` intervals), ``crash`` (its heartbeat tracker
            raises, and the coordinator restarts it), ``phi`` (an agent registered
            with ``detector="phi"`` dies: phi accrual convicts it), ``stuck`` (its task
            in hand hangs past the stuck limit, then finishes) or ``slow`` (its tasks
            take :data:`SLOW_FACTOR` times as long from then on).
        agent_id: the agent it happens to.
    """

    at: float
    kind: FaultKind
    agent_id: str

    def describe(self, interval: float) -> str:
        """What happens, in words, for the log and the live view."""
        if self.kind == "silence":
            return f"{self.agent_id} dies: no heartbeat ever again"
        if self.kind == "phi":
            return f"{self.agent_id} (phi accrual detector) dies: no heartbeat ever again"
        if self.kind == "stall":
            return f"{self.agent_id} stalls: silent {STALL_INTERVALS * interval:.2f} s, then beats"
        if self.kind == "stuck":
            return (f"{self.agent_id} hangs on its task: it runs {HANG_FACTOR * STUCK_LIMIT_S:g} s, "
                    f"past the {STUCK_LIMIT_S:g} s stuck limit (and keeps beating)")
        if self.kind == "slow":
            return (f"{self.agent_id} slows down: its tasks take {SLOW_FACTOR:g}x as long "
                    f"({SLOW_SECONDS[0]:g} to {SLOW_SECONDS[1]:g} s)")
        return f"{self.agent_id}: its heartbeat tracker crashes (inject_fault)"

    def apply(self, system: SwarmSystem, swarm: Swarm) -> None:
        """Make it happen (from the simulation's main loop)."""
        interval = system.config.heartbeat_interval_ms / 1000.0
        if self.kind in ("silence", "phi"):
            swarm.silence(self.agent_id)
        elif self.kind == "stall":
            swarm.members[self.agent_id].pulse.pause(STALL_INTERVALS * interval)
        elif self.kind == "stuck":
            swarm.hang(self.agent_id, HANG_FACTOR * STUCK_LIMIT_S)
        elif self.kind == "slow":
            swarm.slow_down(self.agent_id, SLOW_FACTOR, SLOW_SECONDS)
        else:
            system.inject_fault(self.agent_id, reason="scripted fault: the tracker crashes")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which agent suffers which fault, and when; chosen from the run's random generator.

    Attributes:
        steps: the faults, in time order.
        complete_by: seconds after the start by which every fault has fully shown
            (the silent agents have FAILED, the stalled one has recovered, the hung
            task is stuck; the slow agent's first slow task may take longer).
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
        """Pick distinct agents for the faults (fewer faults when there are fewer than 6 agents).

        The slow agent slows down at 5% of the run, the hang begins at 10%, the
        silent agent goes at a quarter, the phi agent dies at 35%, the stall starts
        at 45% and the crash comes at 65%, but never before a few intervals have passed.
        """
        chosen = rng.sample(agent_ids, k=min(len(KINDS), len(agent_ids)))
        steps = sorted(
            (FaultStep(at=round(max(_FRACTION[kind] * duration, _MIN_INTERVALS[kind] * interval), 3),
                       kind=kind, agent_id=agent_id)
             for kind, agent_id in zip(KINDS, chosen)),
            key=lambda s: s.at,
        )
        needs = {"silence": (failure_threshold + 1.0) * interval, "phi": (failure_threshold + 1.0) * interval,
                 "stall": (STALL_INTERVALS + 1.0) * interval, "crash": interval,
                 "stuck": STUCK_LIMIT_S + 1.0, "slow": 0.0}
        complete_by = max((s.at + needs[s.kind] for s in steps), default=0.0)
        return cls(steps=tuple(steps), complete_by=complete_by)

    def agent(self, kind: FaultKind) -> str | None:
        """The agent that suffers ``kind``, if any."""
        return next((s.agent_id for s in self.steps if s.kind == kind), None)
