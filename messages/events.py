"""What the monitor says happened: health transitions, alerts, agents coming and going."""

from __future__ import annotations

import msgspec

from messages.base import Message, coerce_enum, coerce_time
from messages.constraints import (
    AgentId,
    Metadata,
    Millis,
    Timestamp,
    check_id,
    check_metadata,
    check_millis,
)
from messages.enums import AlertSeverity, HealthState

__all__ = ["AgentRegistered", "AgentUnregistered", "Alert", "Event", "HealthChanged"]


class HealthChanged(Message, tag="health_changed", kw_only=True, frozen=True):
    """An agent moved from one health state to another at ``at`` (epoch s).

    ``heartbeat_age_ms`` is how long the agent had been silent at that moment.
    """

    agent_id: AgentId
    previous: HealthState
    current: HealthState
    at: Timestamp
    heartbeat_age_ms: Millis

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        coerce_enum(self, "previous", HealthState)
        coerce_enum(self, "current", HealthState)
        coerce_time(self, "at")
        check_millis("heartbeat_age_ms", self.heartbeat_age_ms)


class Alert(Message, tag="alert", kw_only=True, frozen=True):
    """Something a person should hear about (``agent_id`` is ``*`` for the swarm)."""

    agent_id: AgentId
    severity: AlertSeverity
    message: str
    at: Timestamp
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        coerce_enum(self, "severity", AlertSeverity)
        coerce_time(self, "at")
        check_metadata("metadata", self.metadata)


class AgentRegistered(Message, tag="agent_registered", kw_only=True, frozen=True):
    """An agent joined the swarm at ``at`` with its heartbeat settings."""

    agent_id: AgentId
    at: Timestamp
    interval_ms: int
    failure_threshold: int
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        # The coordinator builds these from a RegisterAgent it has checked; storage
        # checks the other fields before it writes. The time is checked here, as in
        # every message, so no stage after this one meets a time out of range.
        coerce_time(self, "at")


class AgentUnregistered(Message, tag="agent_unregistered", kw_only=True, frozen=True):
    """An agent left the swarm at ``at``."""

    agent_id: AgentId
    at: Timestamp

    def __post_init__(self) -> None:
        coerce_time(self, "at")


Event = HealthChanged | Alert | AgentRegistered | AgentUnregistered
"""Everything the monitor reports about the swarm."""
