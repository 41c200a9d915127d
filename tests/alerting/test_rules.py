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
