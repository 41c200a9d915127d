"""The simulated swarm: each agent actor with its pulse, started and stopped together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

from actors import SwarmSystem
from demo.agent import Halt, SimulatedAgent
from demo.pulse import Pulse
from demo.tasks import Tally, TaskSource

__all__ = ["Member", "Swarm"]

_STOP_TIMEOUT = 10.0


@dataclass(slots=True)
class Member:
    """One simulated agent: its id, role, actor and heartbeat."""

    agent_id: str
    role: str
    ref: pykka.ActorRef[Any]
    pulse: Pulse


class Swarm:
    """Registers, starts and stops the simulated agents of one run.

    Args:
        system: the running swarmpulse.
        roster: (agent_id, role) of each agent.
        source: the shared task queue.
        tally: counts what the agents record.
    """

    def __init__(
        self,
        system: SwarmSystem,
        roster: list[tuple[str, str]],
        source: TaskSource,
        tally: Tally,
    ) -> None:
        self.system = system
        self.members: dict[str, Member] = {}
        period = system.config.heartbeat_interval_ms / 2000.0
        try:
            for agent_id, role in roster:
                system.register_agent(agent_id, {"role": role})
                pulse = Pulse(agent_id, system.coordinator, system.clock, period)
                try:
                    ref = SimulatedAgent.start(
                        agent_id=agent_id, role=role, source=source,
                        system=system, clock=system.clock, tally=tally,
                    )
                except BaseException:
                    pulse.stop()
                    raise
                self.members[agent_id] = Member(agent_id, role, ref, pulse)
        except BaseException:
            self.stop()
            raise

    def silence(self, agent_id: str) -> None:
        """The agent dies: its heartbeats stop and its task in hand is never finished."""
        member = self.members[agent_id]
        member.pulse.stop()
        try:
            member.ref.tell(Halt())
        except pykka.ActorDeadError:
            pass

    def stop_work(self) -> None:
        """Stop every agent actor (tasks in hand are abandoned); heartbeats go on."""
        for member in self.members.values():
            member.ref.stop(block=False)
        for member in self.members.values():
            member.ref.stop(block=True, timeout=_STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop every agent and every heartbeat; idempotent."""
        self.stop_work()
        for member in self.members.values():
            member.pulse.stop()

    def heartbeats_sent(self, agent_id: str) -> int:
        """Heartbeats the agent's pulse has sent."""
        return self.members[agent_id].pulse.sent
