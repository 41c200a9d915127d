"""The simulated swarm: each agent actor with its pulse, started and stopped together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

from actors import SwarmSystem
from demo.agent import Halt, Hang, SimulatedAgent, SlowDown
from demo.pulse import Pulse
from demo.tasks import Tally, TaskSource

__all__ = ["Member", "Swarm"]

_STOP_TIMEOUT = 10.0
PEER_TYPE = "llm-agent"


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
        phi_agents: agents registered with ``detector="phi"`` (the others: the fixed thresholds).

    Every agent registers as ``{"type": "llm-agent", "specialty": role}``: they all take
    their work from one queue, so they are one another's peers (the analyst compares
    an agent with the others of its ``role``, else its ``type``).
    """

    def __init__(
        self,
        system: SwarmSystem,
        roster: list[tuple[str, str]],
        source: TaskSource,
        tally: Tally,
        phi_agents: frozenset[str] = frozenset(),
    ) -> None:
        self.system = system
        self.members: dict[str, Member] = {}
        period = system.config.heartbeat_interval_ms / 2000.0
        try:
            for agent_id, role in roster:
                system.register_agent(agent_id, {"type": PEER_TYPE, "specialty": role},
                                      detector="phi" if agent_id in phi_agents else None)
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

    def hang(self, agent_id: str, seconds: float) -> None:
        """The agent's task in hand runs ``seconds`` from its start; it keeps beating meanwhile."""
        self._tell(agent_id, Hang(seconds=seconds))

    def slow_down(self, agent_id: str, factor: float, bounds: tuple[float, float]) -> None:
        """The agent's tasks take ``factor`` times as long from its next one on."""
        self._tell(agent_id, SlowDown(factor=factor, bounds=bounds))

    def _tell(self, agent_id: str, message: object) -> None:
        try:
            self.members[agent_id].ref.tell(message)
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
