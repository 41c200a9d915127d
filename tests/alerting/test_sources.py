"""Alert sources beyond health: the system's own conditions and the analyst's findings,
from where they arise to a real receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors import ManualClock, SwarmSystem
from actors.alerting import AlertEngine, load_config
from actors.testing import wait_for_given_up, wait_for_restarts
from tests.alerting.conftest import WAIT, Receiver, alert, delivered, settle, webhook_config


def test_a_service_given_up_reaches_the_receiver_as_service_failed(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """The analyst crashes four times within its restart intensity: ServiceFailed, swarm-wide,
    critical, is notified."""
    swarm = make_system(webhook_config(receiver.url, group_wait="0s"))
    for restart in range(1, 4):
        assert swarm.inject_fault("analyst", f"loop {restart}")
        assert wait_for_restarts(swarm, restart, timeout=WAIT)
    assert swarm.inject_fault("analyst", "loop 4")
    assert wait_for_given_up(swarm, "analyst", timeout=WAIT)
    body = delivered(swarm, receiver, 1)[0].body
    labels = body["alerts"][0]["labels"]
    assert (labels["alertname"], labels["scope"], labels["severity"]) == ("ServiceFailed", "swarm", "critical")
    assert "the analyst crashed more than 3 times" in body["alerts"][0]["annotations"]["summary"]


def test_a_stuck_task_found_by_the_analyst_reaches_the_receiver(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """A task running past stuck_limit_s: the analyst's TaskStuck goes through the reporter
    to the router and out, under its own alertname, for that agent."""
    swarm = make_system(webhook_config(receiver.url, group_wait="0s"), stuck_limit_s=60.0,
                        heartbeat_interval_ms=600_000)  # no health alert meanwhile
    swarm.register_agent("coder")
    swarm.task_started("coder", "t-1", "review")
    swarm.get_tasks_in_flight()  # the analyst has armed the task's timer
    clock.advance(61)
    body = delivered(swarm, receiver, 1)[0].body
    labels = body["alerts"][0]["labels"]
    assert (labels["alertname"], labels["agent_id"]) == ("TaskStuck", "coder")


def test_a_storage_outage_inhibits_the_per_agent_alerts_it_causes() -> None:
    """The engine alone: while StorageOutage fires, an agent's AgentFailed of the same swarm
    is left out of the notices; once it resolves, the agent's alert goes out."""
    engine = AlertEngine(load_config(webhook_config("http://127.0.0.1:9/hook", group_wait="0s")), "s")
    outage = alert("StorageOutage", "*", at=100.0, severity="critical", scope="swarm")
    engine.put(outage, 100.0)
    engine.put(alert("AgentFailed", "a1", at=100.0, severity="critical", scope="agent"), 100.0)
    engine.step(100.0)
    assert _sent(engine, 100.0) == ["StorageOutage"]
    engine.put(alert("StorageOutage", "*", at=100.0, ends=400.0, severity="critical", scope="swarm"), 400.0)
    engine.step(401.0)
    assert sorted(_sent(engine, 401.0)) == ["AgentFailed", "StorageOutage"]  # and its resolution


def _sent(engine: AlertEngine, now: float) -> list[str]:
    """Deliver every due notice (one per integration at a time); their groups' alertnames."""
    names = []
    while notices := engine.due_notices(now):
        for notice in notices:
            names.append(notice.group_labels["alertname"])
            engine.delivered(notice.id, now)
    return names


def test_rows_quarantined_by_the_storage_are_an_alert_of_their_own(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """A task stamped 9.3e18 s cannot be stored: it is quarantined, and StorageQuarantine
    (swarm-wide, an instant that resolves after 5 min) says so."""
    import msgspec

    from messages import MetricBatch, TaskMetric

    swarm = make_system(webhook_config(receiver.url, group_wait="0s"))
    hostile = TaskMetric(task_id="hostile", agent_id="w", duration_ms=1.0, result="success",
                         timestamp=clock.time())
    msgspec.structs.force_setattr(hostile, "timestamp", 9.3e18)  # past any validation
    swarm.aggregator.tell(MetricBatch(metrics=[hostile]))
    swarm.flush()
    clock.advance(1)  # the next tick sees the count grow
    body = delivered(swarm, receiver, 1)[0].body
    labels = body["alerts"][0]["labels"]
    assert (labels["alertname"], labels["scope"]) == ("StorageQuarantine", "swarm")
    assert "1 rows could not be stored" in body["alerts"][0]["annotations"]["summary"]
    clock.advance(600)
    assert delivered(swarm, receiver, 2)[1].body["status"] == "resolved"


def test_a_storage_backlog_past_half_of_max_pending_fires_and_resolves_once_written(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """max_pending 20, storage read-only, 15 metrics waiting: StorageBacklog fires; once the
    storage takes them, it resolves."""
    from tests.reliability.conftest import FAILED, LogWatch, read_only, writable, writer_connection

    config = webhook_config(receiver.url, group_wait="0s", group_interval="1m",
                            group_by=["alertname"], routes=[
                                {"matchers": ["alertname=StorageBacklog"], "receiver": "team"},
                                {"matchers": ["alertname!=StorageBacklog"], "receiver": "none"}])
    config["receivers"].append({"name": "none"})
    swarm = make_system(config, max_pending=20)
    swarm.flush()
    conn = writer_connection(swarm)
    with LogWatch("swarmpulse.writer") as log:
        read_only(conn)
        try:
            for i in range(15):
                swarm.record_task_execution(f"t{i}", "a1", 10.0, success=True)
            clock.advance(1)  # the tick drains them; the write fails
            log.wait_for(FAILED)
            clock.advance(1)  # the next tick sees the backlog
            first = receiver.wait_for(1)[0].body
        finally:
            writable(conn)
    swarm.flush()  # the writer's retry takes them
    clock.advance(61)  # the tick sees the backlog gone; the group's next interval
    second = delivered(swarm, receiver, 2)[1].body
    assert first["alerts"][0]["labels"]["alertname"] == "StorageBacklog"
    assert "15 metrics wait to be written" in first["alerts"][0]["annotations"]["summary"]
    assert (first["status"], second["status"]) == ("firing", "resolved")


_REVIEWERS = ("reviewer-1", "reviewer-2", "reviewer-3", "reviewer-4")


def _review_tasks(swarm: SwarmSystem, tag: str, per_agent: dict[str, tuple[int, float]]) -> None:
    """Each agent's (count, ms) tasks, flushed 100 at a time (each drain seen whole by the analyst)."""
    tasks = [(f"{agent}-{tag}-{k}", agent, ms * (1 + 0.01 * (k % 3)))
             for agent, (count, ms) in per_agent.items() for k in range(count)]
    for start in range(0, len(tasks), 100):
        for task_id, agent, ms in tasks[start:start + 100]:
            swarm.record_task_metric(task_id, agent, ms, "success")
        swarm.flush()


def _by_name(receiver: Receiver, name: str) -> list[dict[str, Any]]:
    """The bodies received so far whose alerts are all named ``name``."""
    return [b for b in receiver.bodies() if {a["labels"]["alertname"] for a in b["alerts"]} == {name}]


def test_a_bottleneck_found_by_the_analyst_reaches_the_receiver_and_resolves(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """One reviewer of four holds most task time, 3.5 x slower: Bottleneck (and OutlierAgent),
    raised at the analyst's minute and routed out once, counted once in /metrics, in the
    router's alerts and the report; when the others catch up and it is fast again, both
    resolve and resolved notices follow."""
    from prometheus_client.parser import text_string_to_metric_families

    from server.metrics import metrics_registry, render_metrics

    swarm = make_system(webhook_config(receiver.url, group_wait="0s", group_interval="1m",
                                       group_by=["alertname", "agent_id"]),
                        heartbeat_interval_ms=600_000)  # no health alert meanwhile
    for agent in _REVIEWERS:
        swarm.register_agent(agent, {"role": "reviewer"})
    _review_tasks(swarm, "a", {a: (30, 3500.0 if a == "reviewer-1" else 1000.0) for a in _REVIEWERS})
    clock.advance(60.0)
    swarm.get_findings()  # the analyst has evaluated the minute and told its alerts
    settle(swarm)  # the two alerts of the minute came as a burst: taken in, routed
    receiver.wait_for(2)
    (body,) = _by_name(receiver, "Bottleneck")
    (firing,) = body["alerts"]
    assert (firing["status"], firing["labels"]["agent_id"], firing["labels"]["severity"]) == (
        "firing", "reviewer-1", "warning")
    assert "its p95 is 3.5x its peers'" in firing["annotations"]["summary"]
    assert [b["alerts"][0]["labels"]["agent_id"] for b in _by_name(receiver, "OutlierAgent")] == ["reviewer-1"]
    clock.advance(60.0)
    swarm.get_findings()  # the analyst has evaluated the minute and told its alerts
    settle(swarm)
    assert len(receiver.bodies()) == 2  # found again at this minute: not raised again
    listed = [a for a in swarm.list_alerts() if a["labels"]["alertname"] == "Bottleneck"]
    assert [(a["labels"]["agent_id"], a["status"]) for a in listed] == [("reviewer-1", "firing")]
    assert "reviewer-1 spends 54% of the swarm's task time" in swarm.generate_report("markdown")
    _review_tasks(swarm, "b", {a: (200 if a == "reviewer-1" else 300, 1000.0) for a in _REVIEWERS})
    clock.advance(60.0)  # resolved at this minute's evaluation
    swarm.get_findings()  # the analyst has evaluated the minute and told its alerts
    settle(swarm)
    assert [a["status"] for a in swarm.list_alerts()
            if a["labels"]["alertname"] == "Bottleneck"] == ["resolved"]
    clock.advance(60.0)  # and notified at the group's next interval
    swarm.get_findings()
    settle(swarm)
    receiver.wait_for(4)
    settle(swarm)
    for name in ("Bottleneck", "OutlierAgent"):
        assert [b["status"] for b in _by_name(receiver, name)] == ["firing", "resolved"]
    assert len(receiver.bodies()) == 4
    text = render_metrics(metrics_registry(swarm)).decode()
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for family in text_string_to_metric_families(text) for s in family.samples}
    assert found[("swarmpulse_findings_total", (("alertname", "Bottleneck"),))] == 1  # raised once
    assert found[("swarmpulse_alerts_total", (("severity", "warning"),))] == 2
