"""Errors raised by the actor system's public API."""

from __future__ import annotations

from messages import SwarmPulseError

__all__ = [
    "AgentNotTracked",
    "MonitoringDisabled",
    "ShutdownIncomplete",
    "SystemStopped",
    "UnknownAgent",
    "UnknownMessage",
]


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


class UnknownMessage(SwarmPulseError, TypeError):
    """An actor was sent a message it does not understand (the asker gets this error).

    Attributes:
        actor: the kind of actor (``aggregator``, ``writer``, ...).
        message_type: the name of the message's type.
    """

    def __init__(self, actor: str, message: object) -> None:
        self.actor = actor
        self.message_type = type(message).__name__
        super().__init__(actor, self.message_type)

    def __str__(self) -> str:
        return f"the {self.actor} does not understand a {self.message_type} message"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_unknown_message, (self.actor, self.message_type))


def _rebuild_unknown_message(actor: str, message_type: str) -> UnknownMessage:
    error = UnknownMessage(actor, None)
    error.message_type = message_type
    return error


class ShutdownIncomplete(SwarmPulseError, TimeoutError):
    """Some steps of a shutdown failed or timed out; the others were done.

    Call ``shutdown()`` again to retry the steps not done.

    Attributes:
        steps: the names of the steps not done.
    """

    def __init__(self, steps: list[str]) -> None:
        self.steps = list(steps)
        super().__init__(steps)

    def __str__(self) -> str:
        return f"shutdown incomplete, not done: {', '.join(self.steps)}; call shutdown() again"
