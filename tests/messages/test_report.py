"""The report's one builder (messages/report.py), used by the in-process and the stored report."""

from __future__ import annotations

from messages import AgentMetric, Gauge, SwarmMetric, agent_report, gauges_by_agent, gauges_of

T0 = 1_700_000_000.0
STATS = {"total_tasks": 4, "success_rate": 75.0, "avg_duration_ms": 250.0,
         "p95_duration_ms": 480.0, "total_tokens": 900, "error_rate": 25.0}


def test_an_agent_line_takes_each_figure_from_its_statistics_and_series() -> None:
    """tasks, rates, durations and tokens come from the stats dict, the sparklines from the series."""
    gauge = Gauge(metric_type="queue", value=3.0, timestamp=T0)
    line = agent_report("coder", health_state="degraded", heartbeat_age_ms=None, uptime_pct=87.5,
                        stats=STATS, series=([100.0, 400.0], [1, 3]), gauges=[gauge])
    assert (line.agent_id, line.health_state, line.heartbeat_age_ms, line.uptime_pct) == (
        "coder", "degraded", None, 87.5)
    assert (line.tasks_completed, line.success_rate, line.avg_duration_ms, line.p95_duration_ms,
            line.total_tokens) == (4, 75.0, 250.0, 480.0, 900)
    assert (line.duration_series, line.throughput_series, line.gauges) == ([100.0, 400.0], [1, 3], [gauge])


def test_gauges_are_grouped_by_agent_in_the_order_given() -> None:
    """Each agent's latest gauges, in order; the swarm's as one list."""
    metrics = [
        AgentMetric(agent_id="b", metric_type="queue", value=1.0, timestamp=T0),
        AgentMetric(agent_id="a", metric_type="load", value=2.0, timestamp=T0 + 1),
        AgentMetric(agent_id="b", metric_type="tokens", value=3.0, timestamp=T0 + 2),
    ]
    grouped = gauges_by_agent(metrics)
    assert list(grouped) == ["b", "a"]
    assert [(g.metric_type, g.value) for g in grouped["b"]] == [("queue", 1.0), ("tokens", 3.0)]
    swarm = gauges_of([SwarmMetric(swarm_id="s", metric_type="health", value=0.9, timestamp=T0)])
    assert swarm == [Gauge(metric_type="health", value=0.9, timestamp=T0)]
