"""The failure-rate rule over task metrics, through the real aggregator."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from tests.alerting.conftest import Receiver, delivered, settle, webhook_config


def test_a_high_failure_rate_fires_and_resolves_when_the_window_has_passed(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """8 failures in 12 tasks within 5 min fires HighFailureRate for that agent only;
    once those tasks are older than the window it resolves."""
    config = webhook_config(receiver.url, group_wait="30s", group_interval="1m",
                            group_by=["alertname", "agent_id"])
    config["rules"] = {"failure_rate": {"window": "5m", "threshold": 0.5, "min_tasks": 10}}
    swarm = make_system(config)
    for i in range(12):
        swarm.record_task_execution(f"t{i}", "coder", 100.0, success=i < 4)
        swarm.record_task_execution(f"u{i}", "tester", 100.0, success=i != 0)
    swarm.get_task_stats()  # drained by the aggregator, counted by the rule
    assert settle(swarm)["alerts_received"] == 1
    clock.advance(30)
    body = delivered(swarm, receiver, 1)[0].body
    assert body["groupLabels"] == {"alertname": "HighFailureRate", "agent_id": "coder"}
    assert "8 of 12 tasks failed" in body["alerts"][0]["annotations"]["summary"]
    clock.advance(420)
    second = delivered(swarm, receiver, 2)[1].body
    assert second["status"] == "resolved"


def test_a_p95_above_the_threshold_fires_per_agent_and_resolves_when_the_window_has_passed(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """25 tasks of which 3 took 20 s: p95 above 10 s fires HighTaskDuration for that agent
    only (the other's p95 is 1 s); once those tasks are older than the window it resolves."""
    config = webhook_config(receiver.url, group_wait="30s", group_interval="1m",
                            group_by=["alertname", "agent_id"])
    config["rules"] = {"duration_p95": {"window": "5m", "threshold": "10s", "min_tasks": 20}}
    swarm = make_system(config)
    for i in range(25):
        swarm.record_task_execution(f"t{i}", "coder", 20_000.0 if i < 3 else 500.0, success=True)
        swarm.record_task_execution(f"u{i}", "tester", 1_000.0, success=True)
    swarm.get_task_stats()  # drained by the aggregator, counted by the rule
    assert settle(swarm)["alerts_received"] == 1
    clock.advance(30)
    body = delivered(swarm, receiver, 1)[0].body
    assert body["groupLabels"] == {"alertname": "HighTaskDuration", "agent_id": "coder"}
    summary = body["alerts"][0]["annotations"]["summary"]
    assert "over 25 tasks" in summary and "threshold 10 s" in summary
    clock.advance(420)
    second = delivered(swarm, receiver, 2)[1].body
    assert second["status"] == "resolved"
    assert second["alerts"][0]["labels"]["agent_id"] == "coder"


def test_a_p95_rule_per_kind_fires_for_the_slow_kind_of_an_agent_only(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Per kind: an agent's reviews are slow and its code tasks fast; one alert, kind=review;
    below min_tasks nothing fires."""
    config = webhook_config(receiver.url, group_wait="0s", group_by=["alertname", "agent_id", "kind"])
    config["rules"] = {"duration_p95": {"threshold": "2s", "min_tasks": 5, "per_kind": True}}
    swarm = make_system(config)
    for i in range(6):
        swarm.record_task_metric(f"r{i}", "coder", 5_000.0, "success", metadata={"kind": "review"})
        swarm.record_task_metric(f"c{i}", "coder", 100.0, "success", metadata={"kind": "code"})
    for i in range(4):  # slow, but too few to judge
        swarm.record_task_metric(f"x{i}", "tester", 9_000.0, "success", metadata={"kind": "review"})
    swarm.get_task_stats()
    body = delivered(swarm, receiver, 1)[0].body
    assert body["groupLabels"] == {"alertname": "HighTaskDuration", "agent_id": "coder",
                                   "kind": "review"}
    assert "coder (review tasks)" in body["alerts"][0]["annotations"]["summary"]
    clock.advance(600)
    assert settle(swarm)["alerts_received"] == 2  # its resolution; nothing for the tester
