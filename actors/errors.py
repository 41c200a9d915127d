"""Errors raised by the actor system's public API."""

from __future__ import annotations

from messages import SwarmPulseError

__all__ = ["AgentNotTracked", "MonitoringDisabled", "SystemStopped", "UnknownAgent"]


class UnknownAgent(SwarmPulseError, KeyError):
    """No agent is registered under this id.

    Attributes:
        agent_id: the id that was asked about.
    """

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__(agent_id)

    def __str__(self) -> str:
        return f"unknown agent: {self.agent_id!r}"


class AgentNotTracked(UnknownAgent):
    """The system knows this agent from stored data, but does not track its health now.

    Such an agent was never registered (its metrics were stored anyway), or
    it is known from the database the system started on and has not
    registered or sent a heartbeat since. A subclass of :class:`UnknownAgent`,
    so code that handles an unknown agent handles this one too.
    """

    def __str__(self) -> str:
        return f"agent {self.agent_id!r} is known from stored data but not tracked"


class MonitoringDisabled(SwarmPulseError, RuntimeError):
    """The system was started with ``enable_monitoring=False``: no health is tracked."""


class SystemStopped(SwarmPulseError, RuntimeError):
    """The system has been shut down; start a new one."""
