"""The swarmpulse protocol: msgspec messages, their rules, and their encodings."""

from messages.codec import AnyMessage, Format, decode, encode
from messages.constraints import (
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    MAX_METADATA_KEYS,
    check_count,
    check_finite,
    check_id,
    check_metadata,
    check_millis,
    to_epoch,
)
from messages.control import Control, Crash, RegisterAgent, RegisterAgents, UnregisterAgent
from messages.enums import AlertSeverity, HealthState, TaskResult
from messages.errors import InvalidMessage, SwarmPulseError
from messages.events import AgentRegistered, AgentUnregistered, Alert, Event, HealthChanged
from messages.report import AgentReport, HealthReport
from messages.tasks import DEFAULT_KIND, TaskStarted
from messages.telemetry import AgentMetric, Heartbeat, SwarmMetric, TaskMetric, Telemetry

__all__ = [
    "DEFAULT_KIND",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_KEYS",
    "AgentMetric",
    "AgentReport",
    "AgentRegistered",
    "AgentUnregistered",
    "Alert",
    "AlertSeverity",
    "AnyMessage",
    "Control",
    "Crash",
    "Event",
    "Format",
    "HealthChanged",
    "HealthReport",
    "HealthState",
    "Heartbeat",
    "InvalidMessage",
    "RegisterAgent",
    "RegisterAgents",
    "SwarmMetric",
    "SwarmPulseError",
    "TaskMetric",
    "TaskResult",
    "TaskStarted",
    "Telemetry",
    "UnregisterAgent",
    "check_count",
    "check_finite",
    "check_id",
    "check_metadata",
    "check_millis",
    "decode",
    "encode",
    "to_epoch",
]
