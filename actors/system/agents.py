"""The facade's agent calls: register, unregister, heartbeat."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from typing import Any

import pykka

from actors.analytics.requests import AgentJoined, AgentLeft, role_of
from actors.errors import UnknownAgent
from actors.protocol import Release
from actors.system.plumbing import ASK_TIMEOUT, Plumbing, _copy
from messages import (
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    RegisterAgents,
    UnregisterAgent,
)


class AgentsFacade(Plumbing):
    """Agents join, beat and leave: each call one message to the coordinator."""

    def register_agent(
        self,
        agent_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        interval_ms: int | None = None,
        failure_threshold: int | None = None,
        detector: str | None = None,
    ) -> bool:
        """Start watching an agent; False if it is already registered.

        ``detector`` (``"fixed"`` or ``"phi"``) overrides the system's for this agent.
        """
        message = RegisterAgent(
            agent_id=agent_id, metadata=_copy(metadata), interval_ms=interval_ms,
            failure_threshold=failure_threshold, detector=detector,
        )
        done = bool(self._ask_coordinator(message))
        self._tracked((agent_id,))
        if done:
            self._joined((message,))
        return done

    def _joined(self, agents: Iterable[RegisterAgent]) -> None:
        at = self._clock.time()
        for agent in agents:
            if (agent.detector or self._config.detector) == "phi":
                with self._known_lock:
                    self._phi_agents.add(agent.agent_id)
            self._to_analyst(AgentJoined(agent_id=agent.agent_id, at=at, role=role_of(agent.metadata)))

    def register_agents(
        self,
        agent_ids: Iterable[str],
        metadata: Mapping[str, Any] | None = None,
        *,
        interval_ms: int | None = None,
        failure_threshold: int | None = None,
        detector: str | None = None,
    ) -> list[bool]:
        """Start watching many agents at once, in order; for each, False if already registered.

        Every agent is checked before any registers (an invalid id registers
        none); then they register in one message to the coordinator instead
        of a round trip each. ``metadata`` and the settings apply to all.

        With ``start_system(gc_freeze=True)``, what is alive afterwards is frozen
        (``gc.freeze()``: see :func:`start_system`).

        Raises:
            InvalidMessage: an agent id or a setting is invalid (the error names it).
        """
        if isinstance(agent_ids, (str, bytes)) or not isinstance(agent_ids, Iterable):
            raise InvalidMessage("agent_ids", agent_ids, "must be a collection of agent ids")
        shared = _copy(metadata)
        message = RegisterAgents(
            agents=tuple(
                RegisterAgent(
                    agent_id=agent_id, metadata=shared, interval_ms=interval_ms,
                    failure_threshold=failure_threshold, detector=detector,
                )
                for agent_id in agent_ids
            )
        )
        # about 0.1 ms per agent; a generous allowance on top of the usual one
        timeout = ASK_TIMEOUT + len(message.agents) / 1000.0
        done = [bool(done) for done in self._ask_coordinator(message, timeout)]
        self._tracked([agent.agent_id for agent in message.agents])
        self._joined([agent for agent, new in zip(message.agents, done, strict=True) if new])
        if self._gc_freeze:
            # The young generations' garbage is not frozen with the rest; a full
            # collection first would cost the ~150 ms the freeze saves from now on.
            gc.collect(1)
            gc.freeze()
            self._froze = True
        return done

    def unregister_agent(self, agent_id: str) -> bool:
        """Stop watching an agent and release what is kept of it in memory.

        Its stored history stays: reads about it answer from SQLite.

        Returns:
            False if it was not registered (nothing changes then).
        """
        if not self._ask_coordinator(UnregisterAgent(agent_id=agent_id)):
            return False
        self._telemetry.forget(agent_id)
        with self._known_lock:
            self._phi_agents.discard(agent_id)
        self._to_analyst(AgentLeft(agent_id=agent_id))
        try:  # drains first: what it recorded before leaving is counted, then released
            self._services.get("aggregator").tell(Release(agent_id=agent_id))
        except (pykka.ActorDeadError, KeyError):
            pass  # between aggregator incarnations: the state stays in memory, still right
        return True

    def is_registered(self, agent_id: str) -> bool:
        """Whether ``agent_id`` is registered now: a set lookup, asking no actor.

        The same test the telemetry path applies to the ``unknown_agents`` policy.
        """
        return self._telemetry.is_known(agent_id)

    def update_agent_heartbeat(self, agent_id: str, metadata: Mapping[str, Any] | None = None) -> bool:
        """Record a heartbeat.

        An agent known from the database the system started on, and listed as
        not tracked, registers again with its stored settings on its first beat.

        Returns:
            False for an agent that is not registered (nothing changes then).
        """
        beat = Heartbeat(agent_id=agent_id, timestamp=self._clock.time(), metadata=_copy(metadata))
        if not self._ask_coordinator(beat):
            with self._known_lock:
                record = self._untracked.get(agent_id, (None, None))[1]
            if record is None:
                return False
            self.register_agent(
                agent_id, record.metadata, interval_ms=record.interval_ms,
                failure_threshold=record.failure_threshold,
            )
            if not self._ask_coordinator(beat):
                return False
        if self._config.enable_monitoring:
            # The beat went on to the tracker by tell; a status ask queues behind
            # it, so on return every later query sees the agent's health after it.
            try:
                self._status(agent_id)
            except UnknownAgent:
                pass
        return True
