"""What agents report: task metrics, agent and swarm gauges, heartbeats."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from messages.base import Message, coerce_time
from messages.constraints import (
    AgentId,
    Count,
    Metadata,
    Millis,
    Name,
    Result,
    Timestamp,
    check_finite,
    check_id,
    check_metadata,
    checker,
)
from messages.errors import InvalidMessage

__all__ = ["MAX_BATCH", "AgentMetric", "Heartbeat", "MetricBatch", "SwarmMetric", "TaskMetric", "Telemetry"]


class TaskMetric(Message, tag="task_metric", kw_only=True, frozen=True):
    """One finished task: how long it took, what it cost, how it ended.

    Each field's type names its :class:`~messages.constraints.Rule`, the one
    statement of what it takes: decoders check the rule's msgspec constraints,
    ``__post_init__`` runs its check, and the HTTP edge's bulk decoder of task
    rows (``server.taskrows``) is built from these same annotations.
    """

    task_id: AgentId
    agent_id: AgentId
    duration_ms: Millis
    result: Result
    tokens_used: Count = 0
    files_changed: Count = 0
    timestamp: Timestamp
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_task(self)


_check_task: Final = checker(TaskMetric)
"""Every field's rule on a TaskMetric, in field order (see :func:`messages.constraints.checker`)."""


class AgentMetric(Message, tag="agent_metric", kw_only=True, frozen=True):
    """A free-form gauge about one agent (queue depth, memory, ...)."""

    agent_id: AgentId
    metric_type: Name
    value: float
    timestamp: Timestamp
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        check_id("metric_type", self.metric_type)
        check_finite("value", self.value)
        _as_float(self, "value")
        coerce_time(self, "timestamp")
        check_metadata("metadata", self.metadata)


class SwarmMetric(Message, tag="swarm_metric", kw_only=True, frozen=True):
    """A free-form gauge about the whole swarm (topology_health, message_throughput, ...)."""

    swarm_id: AgentId
    metric_type: Name
    value: float
    timestamp: Timestamp
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("swarm_id", self.swarm_id)
        check_id("metric_type", self.metric_type)
        check_finite("value", self.value)
        _as_float(self, "value")
        coerce_time(self, "timestamp")
        check_metadata("metadata", self.metadata)


class Heartbeat(Message, tag="heartbeat", kw_only=True, frozen=True):
    """An agent saying it is alive; any heartbeat makes it HEALTHY again."""

    agent_id: AgentId
    timestamp: Timestamp
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("agent_id", self.agent_id)
        coerce_time(self, "timestamp")
        check_metadata("metadata", self.metadata)


Telemetry = TaskMetric | AgentMetric | SwarmMetric | Heartbeat
"""Everything an agent reports."""

MAX_BATCH: Final = 100_000
"""The most metrics one :class:`MetricBatch` carries."""


class MetricBatch(Message, tag="metric_batch", kw_only=True, frozen=True):
    """Several metrics in one message, for the aggregator: fewer messages, the same metrics."""

    metrics: Annotated[
        list[TaskMetric | AgentMetric | SwarmMetric], msgspec.Meta(max_length=MAX_BATCH)
    ]

    def __post_init__(self) -> None:
        if type(self.metrics) is not list or len(self.metrics) > MAX_BATCH:
            raise InvalidMessage("metrics", self.metrics, f"must be a list of at most {MAX_BATCH}")
        for metric in self.metrics:
            if type(metric) not in (TaskMetric, AgentMetric, SwarmMetric):
                raise InvalidMessage(
                    "metrics", metric, "must hold TaskMetric, AgentMetric or SwarmMetric messages"
                )


def _as_float(message: Message, field: str) -> None:
    """Store a (checked, finite) int given for a float field as a float, as decoding does."""
    value = getattr(message, field)
    if type(value) is not float:
        msgspec.structs.force_setattr(message, field, float(value))

