"""Gauges read back: agent and swarm gauges by type and time range, and the latest in reports."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from actors import ManualClock, SwarmSystem
from demo.cli import main
from messages import AgentMetric, InvalidMessage, SwarmMetric

T = 1_700_000_000.0


def test_agent_gauges_read_back_by_type_and_range(system: SwarmSystem) -> None:
    """What was recorded comes back oldest first, filtered by type and [start, end)."""
    system.register_agent("a")
    system.register_agent("b")
    for i in range(4):
        system.record_agent_metric("a", "queue", float(i), timestamp=T + i)
        system.record_agent_metric("a", "memory", 100.0 + i, timestamp=T + i)
    system.record_agent_metric("b", "queue", 9.0, timestamp=T + 1)

    queue = system.get_agent_metrics("a", "queue")
    assert queue == [AgentMetric(agent_id="a", metric_type="queue", value=float(i), timestamp=T + i)
                     for i in range(4)]
    assert [m.value for m in system.get_agent_metrics("a", start_time=T + 1, end_time=T + 2)] == [
        1.0, 101.0]
    assert len(system.get_agent_metrics("a")) == 8
    assert [m.value for m in system.get_agent_metrics("b")] == [9.0]
    with pytest.raises(InvalidMessage):
        system.get_agent_metrics("a", start_time=-1)


def test_swarm_gauges_take_a_timestamp_and_read_back(system: SwarmSystem, clock: ManualClock) -> None:
    """record_swarm_metric(timestamp=...) stores that time; None means the clock's now."""
    earlier = clock.time() - 60
    system.record_swarm_metric("topology_health", 0.5, {"topology": "mesh"}, timestamp=earlier)
    system.record_swarm_metric("topology_health", 0.75)
    system.record_swarm_metric("throughput", 12.0, timestamp=earlier + 1)
    health = system.get_swarm_metrics("topology_health")
    assert [(m.value, m.timestamp) for m in health] == [(0.5, earlier), (0.75, clock.time())]
    assert health[0] == SwarmMetric(swarm_id="test-swarm", metric_type="topology_health",
                                    value=0.5, timestamp=earlier, metadata={"topology": "mesh"})
    assert [m.metric_type for m in system.get_swarm_metrics(end_time=earlier + 1)] == [
        "topology_health"]


def test_heartbeat_history_takes_a_range(system: SwarmSystem, clock: ManualClock) -> None:
    """get_heartbeat_history(start_time, end_time) keeps the beats received in the range."""
    system.register_agent("a")
    start = clock.time()
    for _ in range(5):
        clock.advance(0.5)
        system.update_agent_heartbeat("a")
    beats = system.get_heartbeat_history("a")
    assert len(beats) == 5
    middle = system.get_heartbeat_history("a", start_time=start + 1.0, end_time=start + 2.0)
    assert [b["timestamp"] for b in middle] == [start + 1.0, start + 1.5]


def test_both_reports_show_the_latest_gauges(system: SwarmSystem, db_path: str) -> None:
    """The in-process report and the CLI's report of the file show the same latest values."""
    system.register_agent("a")
    system.record_agent_metric("a", "queue", 3.0, timestamp=T)
    system.record_agent_metric("a", "queue", 4.0, timestamp=T + 1)
    system.record_swarm_metric("topology_health", 0.9, timestamp=T + 1)
    system.record_swarm_metric("topology_health", 0.8, timestamp=T + 2)
    in_process = json.loads(system.generate_report("json"))
    markdown = system.generate_report("markdown")
    system.flush()
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["report", "--db", db_path, "--format", "json"]) == 0
    stored = json.loads(out.getvalue())
    for report in (in_process, stored):
        assert [(g["metric_type"], g["value"], g["timestamp"]) for g in report["swarm_gauges"]] == [
            ("topology_health", 0.8, T + 2)]
        (agent,) = report["agents"]
        assert [(g["metric_type"], g["value"]) for g in agent["gauges"]] == [("queue", 4.0)]
    assert "| swarm | topology_health | 0.8 | 2023-11-14 22:13:22 |" in markdown
    assert "| a | queue | 4 | 2023-11-14 22:13:21 |" in markdown
