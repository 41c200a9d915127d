"""The analyst's private protocol: what the system and its own timers send it."""

from __future__ import annotations

from typing import Any

import msgspec

from messages import TaskMetric
from storage.rows import TaskColumns

__all__ = [
    "AgentJoined",
    "AgentLeft",
    "CheckStuck",
    "Evaluate",
    "GetCost",
    "GetFindings",
    "GetInFlight",
    "GetInFlightCounts",
    "GetProfiles",
    "Observed",
]


class Observed(msgspec.Struct, frozen=True):
    """Finished tasks, as the aggregator drained them (one message per drain).

    ``tasks``: :class:`TaskMetric` messages, or the drained rows as
    :class:`storage.TaskColumns` (what the aggregator sends: no object per task).
    """

    tasks: tuple[TaskMetric, ...] | TaskColumns
    counted: dict[str, tuple[int, float]] | None = None
    """Per agent, the batch's task count and total ms (None: the analyst counts the rows)."""


class AgentJoined(msgspec.Struct, frozen=True):
    """An agent registered; ``role`` from its metadata (``role`` or ``type``), if any."""

    agent_id: str
    at: float
    role: str | None = None


class AgentLeft(msgspec.Struct, frozen=True):
    """An agent unregistered: its in-memory analysis is released."""

    agent_id: str


class CheckStuck(msgspec.Struct, frozen=True):
    """The analyst's own timer: is this task still running past its limit?"""

    agent_id: str
    task_id: str
    generation: int


class Evaluate(msgspec.Struct, frozen=True):
    """The analyst's own minute timer: close minutes, test for shifts and outliers."""


class GetFindings(msgspec.Struct, frozen=True):
    """Reply: the swarm's findings, plain sentences with the numbers behind them."""


class GetProfiles(msgspec.Struct, frozen=True):
    """Reply: each agent's profile (busy and idle shares, throughput, time in LLM/tools/waiting)."""


class GetInFlight(msgspec.Struct, frozen=True):
    """Reply: the tasks in flight, per agent (``agent_id=None``: every agent)."""

    agent_id: str | None = None


class GetInFlightCounts(msgspec.Struct, frozen=True):
    """Reply: per agent with a task in flight, (tasks in flight, of which stuck); for exporters."""


class GetCost(msgspec.Struct, frozen=True):
    """Reply: the cost per agent and in total, from the price table."""


def role_of(metadata: dict[str, Any]) -> str | None:
    """The agent's role from registration metadata: ``role``, else ``type``, if a string."""
    for key in ("role", "type"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None
