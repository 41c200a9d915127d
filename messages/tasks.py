"""A task's start: with the finishing :class:`~messages.TaskMetric`, a task's lifecycle.

A task in flight is one that has started and not finished: the monitor knows its
agent, its kind and how long it has been running, and can say when it is stuck.
"""

from __future__ import annotations

import msgspec

from messages.base import Message, coerce_time
from messages.constraints import AgentId, Metadata, Name, Timestamp, check_id, check_metadata

__all__ = ["DEFAULT_KIND", "TaskStarted"]

DEFAULT_KIND = "task"
"""The kind of a task that names none."""


class TaskStarted(Message, tag="task_started", kw_only=True, frozen=True):
    """An agent began a task of some ``kind`` (``code``, ``review``, ``llm_call``...) at ``timestamp``.

    Its :class:`~messages.TaskMetric` (the same ``task_id`` and ``agent_id``) ends it;
    the finish's metadata may repeat the kind under ``"kind"``.
    """

    task_id: AgentId
    agent_id: AgentId
    timestamp: Timestamp
    kind: Name = DEFAULT_KIND
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id("task_id", self.task_id)
        check_id("agent_id", self.agent_id)
        check_id("kind", self.kind)
        coerce_time(self, "timestamp")
        check_metadata("metadata", self.metadata)
