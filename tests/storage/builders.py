"""Message and row builders shared by the storage tests (defaults for every field)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from messages import (
    AgentMetric,
    AgentRegistered,
    AgentUnregistered,
    Alert,
    HealthChanged,
    SwarmMetric,
    TaskMetric,
)
from storage import TaskRow

T0 = 1_699_999_200.0
"""An epoch time on an hour boundary (November 2023)."""


def task(
    task_id: str = "t1",
    agent_id: str = "a1",
    duration_ms: float = 10.0,
    result: str = "success",
    tokens_used: int = 0,
    files_changed: int = 0,
    timestamp: float = T0,
    metadata: dict[str, Any] | None = None,
) -> TaskMetric:
    """A TaskMetric with defaults."""
    return TaskMetric(
        task_id=task_id,
        agent_id=agent_id,
        duration_ms=duration_ms,
        result=result,  # type: ignore[arg-type]
        tokens_used=tokens_used,
        files_changed=files_changed,
        timestamp=timestamp,
        metadata=metadata or {},
    )


def row(
    task_id: str = "t1",
    agent_id: str = "a1",
    duration_ms: float = 10.0,
    result: str = "success",
    tokens_used: int = 0,
    files_changed: int = 0,
    timestamp: float = T0,
    metadata: dict[str, Any] | None = None,
) -> TaskRow:
    """A TaskRow with defaults."""
    return TaskRow(task_id, agent_id, duration_ms, result, tokens_used, files_changed, timestamp, metadata)


def agent_metric(
    agent_id: str = "a1",
    metric_type: str = "queue_depth",
    value: float = 1.0,
    timestamp: float = T0,
) -> AgentMetric:
    """An AgentMetric with defaults."""
    return AgentMetric(agent_id=agent_id, metric_type=metric_type, value=value, timestamp=timestamp)


def swarm_metric(
    swarm_id: str = "s1", metric_type: str = "throughput", value: float = 1.0, timestamp: float = T0
) -> SwarmMetric:
    """A SwarmMetric with defaults."""
    return SwarmMetric(swarm_id=swarm_id, metric_type=metric_type, value=value, timestamp=timestamp)


def health(
    agent_id: str = "a1", previous: str = "healthy", current: str = "failed", at: float = T0
) -> HealthChanged:
    """A HealthChanged with defaults."""
    return HealthChanged(
        agent_id=agent_id,
        previous=previous,  # type: ignore[arg-type]
        current=current,  # type: ignore[arg-type]
        at=at,
        heartbeat_age_ms=0.0,
    )


def alert(
    agent_id: str = "a1", severity: str = "warning", message: str = "slow", at: float = T0
) -> Alert:
    """An Alert with defaults."""
    return Alert(
        agent_id=agent_id,
        severity=severity,  # type: ignore[arg-type]
        message=message,
        at=at,
    )


def registered(agent_id: str = "a1", at: float = T0, **metadata: Any) -> AgentRegistered:
    """An AgentRegistered with a 1 s interval and a threshold of 3."""
    return AgentRegistered(
        agent_id=agent_id, at=at, interval_ms=1000, failure_threshold=3, metadata=metadata
    )


def unregistered(agent_id: str = "a1", at: float = T0) -> AgentUnregistered:
    """An AgentUnregistered."""
    return AgentUnregistered(agent_id=agent_id, at=at)


def linear(values: Iterable[float], q: float) -> float:
    """The reference quantile, numpy's default (method "linear"), written out.

    Position ``h = (n - 1) * q`` (0-based); the value is the one at ``floor(h)``
    plus the fraction of ``h`` of the way to the next one.
    """
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def expected_stats(rows: Sequence[TaskRow]) -> dict[str, Any]:
    """Stats of rows computed the obvious way, as the oracle for task_stats."""
    if not rows:
        return {"total_tasks": 0}
    durations = [r[2] for r in rows]
    results = [r[3] for r in rows]
    success = results.count("success")
    return {
        "total_tasks": len(rows),
        "success_rate": 100.0 * success / len(rows),
        "error_rate": 100.0 * (len(rows) - success) / len(rows),
        "avg_duration_ms": math.fsum(durations) / len(rows),
        "min_duration_ms": min(durations),
        "max_duration_ms": max(durations),
        "median_duration_ms": linear(durations, 0.5),
        "p90_duration_ms": linear(durations, 0.9),
        "p95_duration_ms": linear(durations, 0.95),
        "p99_duration_ms": linear(durations, 0.99),
        "total_tokens": sum(r[4] for r in rows),
        "total_files_changed": sum(r[5] for r in rows),
        "results_breakdown": {
            value: results.count(value)
            for value in ("success", "failure", "partial", "timeout", "cancelled")
        },
    }


PERCENTILE_KEYS = ("median_duration_ms", "p90_duration_ms", "p95_duration_ms", "p99_duration_ms")


def assert_stats_match(actual: dict[str, Any], expected: dict[str, Any], *, exact: bool) -> None:
    """Counts, sums, min and max equal (sums to float rounding); percentiles exact or within 1%.

    Percentiles are compared with :func:`linear`, numpy's default definition.
    """
    assert actual["total_tasks"] == expected["total_tasks"]
    if expected["total_tasks"] == 0:
        return
    for key in ("total_tokens", "total_files_changed", "results_breakdown"):
        assert actual[key] == expected[key], key
    for key in ("min_duration_ms", "max_duration_ms", "success_rate", "error_rate"):
        assert actual[key] == expected[key], key
    assert math.isclose(actual["avg_duration_ms"], expected["avg_duration_ms"], rel_tol=1e-9)
    assert actual["exact"] is exact
    for key in PERCENTILE_KEYS:
        if exact:  # to float rounding: the interpolation's arithmetic may differ in its order
            assert math.isclose(actual[key], expected[key], rel_tol=1e-12, abs_tol=1e-12), key
        else:
            assert math.isclose(actual[key], expected[key], rel_tol=0.01), (key, actual, expected)
