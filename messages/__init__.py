"""The swarmpulse protocol: msgspec messages, their rules, and their encodings."""

from messages.codec import AnyMessage, Format, decode, encode
from messages.constraints import (
    MAX_COUNT,
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_METADATA_KEYS,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    check_count,
    check_finite,
    check_id,
    check_metadata,
    check_millis,
    check_timestamp,
    to_epoch,
)
from messages.control import Control, Crash, RegisterAgent, RegisterAgents, UnregisterAgent
from messages.enums import AlertSeverity, HealthState, TaskResult
from messages.errors import InvalidMessage, SwarmPulseError
from messages.events import AgentRegistered, AgentUnregistered, Alert, Event, HealthChanged
from messages.render import render_json, render_markdown, sparkline
from messages.report import AgentReport, Gauge, HealthReport
from messages.tasks import DEFAULT_KIND, TaskStarted
from messages.telemetry import (
    AgentMetric,
    Heartbeat,
    MetricBatch,
    SwarmMetric,
    TaskMetric,
    Telemetry,
)
from messages.text import escape_markdown, for_terminal, format_utc

__all__ = [
    "DEFAULT_KIND",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_METADATA_KEYS",
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
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
    "Gauge",
    "HealthChanged",
    "HealthReport",
    "HealthState",
    "Heartbeat",
    "InvalidMessage",
    "MetricBatch",
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
    "check_timestamp",
    "decode",
    "encode",
    "escape_markdown",
    "for_terminal",
    "format_utc",
    "render_json",
    "render_markdown",
    "sparkline",
    "to_epoch",
]
