"""The failure-rate rule over task metrics, through the real aggregator."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from actors.alerting.rules import CostBudget
from tests.alerting.conftest import WAIT, Receiver, delivered, settle, webhook_config


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


def test_a_cost_budget_fires_once_over_it_and_resolves_when_the_spend_leaves_the_window() -> None:
    """The rule alone, on clock values: 1.2 spent within the hour against 1 per hour fires
    once for the swarm; found again, nothing new; once those minutes are past the window
    it resolves, keeping its start."""
    budget = CostBudget(per_hour=1.0, window=3600.0, swarm_id="s")
    t0 = 1_700_000_040.0
    budget.add("a", t0, 0.6)
    assert budget.evaluate(t0 + 1) == []  # 0.6 is within budget
    budget.add("b", t0 + 30, 0.6)
    (fired,) = budget.evaluate(t0 + 31)
    assert fired.labels == {"alertname": "CostBudgetExceeded", "agent_id": "*", "swarm_id": "s",
                            "severity": "warning", "scope": "swarm"}
    assert fired.ends_at is None and fired.annotations["spent"] == "1.200000"
    assert "the swarm spent 1.2000 in the last 3600 s, budget 1.0000" in fired.annotations["summary"]
    assert budget.evaluate(t0 + 3000) == []
    assert budget.evaluate(t0 + 3600) == []  # its minute still overlaps the window
    (resolved,) = budget.evaluate(t0 + 3660)
    assert resolved.ends_at == t0 + 3660 and resolved.starts_at == t0 + 31


def test_a_cost_budget_per_agent_judges_each_agent_alone() -> None:
    """Per agent, 0.6 each against 1 per hour: nothing; one agent at 1.5: that agent only."""
    budget = CostBudget(per_hour=2.0, window=1800.0, per_agent=True, severity="critical")
    t0 = 1_700_000_000.0
    budget.add("a", t0, 0.6)
    budget.add("b", t0, 0.6)
    assert budget.evaluate(t0) == []
    budget.add("b", t0 + 60, 0.9)
    (fired,) = budget.evaluate(t0 + 61)
    assert (fired.labels["agent_id"], fired.labels["scope"], fired.labels["severity"]) == (
        "b", "agent", "critical")


def test_a_cost_budget_exceeded_reaches_the_receiver_and_resolves(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """[rules.cost_budget] of 1 per hour, two tasks priced 0.6 each: CostBudgetExceeded for
    the swarm at the analyst's minute, routed out, stored (what /v1/alerts lists), counted
    in /metrics and in the report; an hour later it resolves and a resolved notice follows."""
    from prometheus_client.parser import text_string_to_metric_families

    from server.metrics import metrics_registry, render_metrics

    config = webhook_config(receiver.url, group_wait="0s", group_interval="1m",
                            group_by=["alertname"])
    config["rules"] = {"cost_budget": {"per_hour": 1.0, "window": "1h"}}
    swarm = make_system(config, heartbeat_interval_ms=600_000,  # no health alert for 10 min
                        prices={"gpt": {"input": 10.0, "output": 0.0}})
    swarm.register_agent("coder")
    swarm.register_agent("tester")
    for agent in ("coder", "tester"):
        swarm.record_task_metric(f"{agent}-1", agent, 1000.0, "success",
                                 metadata={"model": "gpt", "tokens_in": 60_000, "tokens_out": 0})
    swarm.flush()
    assert swarm.get_cost()["total"] == 1.2
    clock.advance(60.0)
    swarm.get_findings()  # the analyst has evaluated its minute and told its alerts
    settle(swarm)
    body = delivered(swarm, receiver, 1)[0].body
    (firing,) = body["alerts"]
    assert (firing["status"], firing["labels"]["alertname"], firing["labels"]["agent_id"],
            firing["labels"]["scope"]) == ("firing", "CostBudgetExceeded", "*", "swarm")
    assert "spent 1.2000 in the last 3600 s, budget 1.0000" in firing["annotations"]["summary"]
    stored = [a for a in swarm.query_alerts() if a.metadata.get("alertname") == "CostBudgetExceeded"]
    assert len(stored) == 1 and stored[0].metadata["spent"] == 1.2
    assert "budget 1.0000 (1 per hour)" in swarm.generate_report("markdown")
    clock.advance(3600.0)  # the tasks' minute leaves the window: resolved at the next minute
    swarm.get_findings()  # the analyst has evaluated its minute and told its alerts
    settle(swarm)  # (the agents, silent for an hour, have failed meanwhile: their own groups)
    clock.advance(60.0)  # and notified at the group's next interval
    swarm.get_findings()  # the analyst has evaluated its minute and told its alerts
    settle(swarm)

    def budget_notices() -> list[str]:
        return [r.body["status"] for r in receiver.handled
                if r.body["groupLabels"] == {"alertname": "CostBudgetExceeded"}]

    with receiver.changed:  # answered and heard back: the request is in by now, or soon
        receiver.changed.wait_for(lambda: len(budget_notices()) >= 2, timeout=WAIT)
        assert budget_notices() == ["firing", "resolved"]
    text = render_metrics(metrics_registry(swarm)).decode()
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for family in text_string_to_metric_families(text) for s in family.samples}
    assert found[("swarmpulse_findings_total", (("alertname", "CostBudgetExceeded"),))] == 1
