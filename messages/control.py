"""Requests to the system: agents joining and leaving, and fault injection."""

from __future__ import annotations

import msgspec

from messages.base import Message
from messages.constraints import AgentId, Metadata, check_id, check_metadata
from messages.errors import InvalidMessage

__all__ = ["Control", "Crash", "RegisterAgent", "RegisterAgents", "UnregisterAgent"]

MAX_INTERVAL_MS = 86_400_000


class RegisterAgent(Message, tag="register_agent", kw_only=True, frozen=True):
    """Start watching an agent; registration counts as its first heartbeat.

    ``interval_ms`` and ``failure_threshold`` override the system defaults
    for this agent: HEALTHY while silent less than one interval, DEGRADED
    under two, CRITICAL under ``failure_threshold`` intervals, FAILED after.
    """

    agent_id: AgentId
    metadata: Metadata = msgspec.field(default_factory=dict)
    interval_ms: int | None = None
    failure_threshold: int | None = None
    detector: str | None = None

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        check_metadata("metadata", self.metadata)
        check_interval("interval_ms", self.interval_ms)
        check_threshold("failure_threshold", self.failure_threshold)
        check_detector("detector", self.detector)


class RegisterAgents(Message, tag="register_agents", kw_only=True, frozen=True):
    """Register many agents in one message, in order (the reply: one bool each).

    The same as a :class:`RegisterAgent` per agent, without a round trip per
    agent: 10,000 agents register in one message instead of 10,000 asks.
    """

    agents: tuple[RegisterAgent, ...]

    def __post_init__(self) -> None:
        if type(self.agents) is not tuple or any(
            type(agent) is not RegisterAgent for agent in self.agents
        ):
            raise InvalidMessage("agents", self.agents, "must be a tuple of RegisterAgent")


class UnregisterAgent(Message, tag="unregister_agent", kw_only=True, frozen=True):
    """Stop watching an agent."""

    agent_id: AgentId

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)


class Crash(Message, tag="crash", kw_only=True, frozen=True):
    """Fault injection: the receiving actor raises, to exercise supervision.

    Sent to the coordinator, it is forwarded to ``target``: an agent id (its
    tracker) or ``writer``, ``aggregator`` or ``reporter``.
    """

    reason: str = "injected fault"
    target: str = ""


Control = RegisterAgent | RegisterAgents | UnregisterAgent | Crash
"""Requests that change what the system watches."""


def check_interval(field: str, value: object) -> None:
    """Refuse an interval that is not a whole number of ms in (0, one day]."""
    if value is None:
        return
    if type(value) is not int:
        raise InvalidMessage(field, value, "must be an integer number of milliseconds")
    if not 0 < value <= MAX_INTERVAL_MS:
        raise InvalidMessage(field, value, f"must be between 1 and {MAX_INTERVAL_MS}")


DETECTORS = ("fixed", "phi")
"""The failure detectors an agent can have."""


def check_detector(field: str, value: object) -> None:
    """Refuse a detector name that is not one of :data:`DETECTORS` (None is the default)."""
    if value is not None and value not in DETECTORS:
        raise InvalidMessage(field, value, f"must be one of: {', '.join(DETECTORS)}")


def check_threshold(field: str, value: object) -> None:
    """Refuse a failure threshold that is not a whole number from 2 to 1000."""
    if value is None:
        return
    if type(value) is not int:
        raise InvalidMessage(field, value, "must be an integer")
    if not 2 <= value <= 1000:
        raise InvalidMessage(field, value, "must be between 2 and 1000")
