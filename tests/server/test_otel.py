"""Tests for server/otel.py: our series through the OpenTelemetry metrics SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.metrics", reason="the otel extra is not installed")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402

from actors import ManualClock, SwarmSystem, start_system  # noqa: E402
from server.otel import instrument  # noqa: E402


@pytest.fixture
def system(tmp_path: Path) -> Iterator[SwarmSystem]:
    """A real system on SQLite, on a manual clock."""
    clock = ManualClock()
    with start_system(str(tmp_path / "o.db"), heartbeat_interval_ms=1000, clock=clock) as system:
        yield system
    clock.close()


def points(reader: InMemoryMetricReader) -> dict[str, dict[frozenset[tuple[str, Any]], float]]:
    """One collection: every instrument's data points by their attributes."""
    data = reader.get_metrics_data()
    found: dict[str, dict[frozenset[tuple[str, Any]], float]] = {}
    if data is None:  # no instrument observed anything
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = {
                    frozenset((p.attributes or {}).items()): p.value  # type: ignore[union-attr]
                    for p in metric.data.data_points
                }
    return found


def test_sdk_reader_collects_the_same_series_as_metrics(system: SwarmSystem) -> None:
    """The in-memory reader sees health, tasks, tokens, durations and the counters, with our labels."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    bridge = instrument(system, provider)
    try:
        system.register_agent("coder")
        system.check_agent_health("coder")  # its tracker has started and armed its timer
        system.record_task_metric("t1", "coder", 1500.0, "success", tokens_used=812, files_changed=2)
        system.record_task_metric("t2", "coder", 30.0, "failure")
        system.record_agent_metric("coder", "queue_depth", 3.0)
        system.clock.advance(1.5)  # type: ignore[attr-defined]
        got = points(reader)
        health = got["swarmpulse_agent_health"]
        assert health[frozenset({("agent_id", "coder"), ("state", "degraded")})] == 1
        assert health[frozenset({("agent_id", "coder"), ("state", "healthy")})] == 0
        assert got["swarmpulse_agent_up"][frozenset({("agent_id", "coder")})] == 1
        assert got["swarmpulse_agent_heartbeat_age_seconds"][frozenset({("agent_id", "coder")})] == 1.5
        tasks = got["swarmpulse_tasks"]
        assert tasks[frozenset({("agent_id", "coder"), ("result", "success")})] == 1
        assert tasks[frozenset({("agent_id", "coder"), ("result", "failure")})] == 1
        assert got["swarmpulse_tokens"][frozenset({("agent_id", "coder")})] == 812
        assert got["swarmpulse_files_changed"][frozenset({("agent_id", "coder")})] == 2
        assert got["swarmpulse_agent_metric"][
            frozenset({("agent_id", "coder"), ("metric_type", "queue_depth")})] == 3.0
        assert got["swarmpulse_health_transitions"][frozenset({("to", "degraded")})] == 1
        assert got["swarmpulse_alerts"][frozenset({("severity", "warning")})] == 1
        buckets = got["swarmpulse_task_duration_seconds_bucket"]
        assert buckets[frozenset({("le", "0.05")})] == 1
        assert buckets[frozenset({("le", "2.5")})] == 2
        assert buckets[frozenset({("le", "+Inf")})] == 2
        assert got["swarmpulse_task_duration_seconds_count"][frozenset()] == 2
        assert got["swarmpulse_task_duration_seconds_sum"][frozenset()] == pytest.approx(1.53)
        assert got["swarmpulse_dropped"][frozenset()] == 0
    finally:
        bridge.close()
        provider.shutdown()


def test_a_closed_bridge_observes_nothing(system: SwarmSystem) -> None:
    """After close() a collection reads nothing from the system (it may be shutting down)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    bridge = instrument(system, provider)
    system.register_agent("a")
    assert points(reader)["swarmpulse_agent_up"] == {frozenset({("agent_id", "a")}): 1}
    bridge.close()
    assert points(reader).get("swarmpulse_agent_up", {}) == {}
    provider.shutdown()
