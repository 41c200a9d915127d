"""Alert sources beyond health: the system's own conditions and the analyst's findings,
from where they arise to a real receiver."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from actors.alerting import AlertEngine, load_config
from actors.testing import wait_for_given_up, wait_for_restarts
from tests.alerting.conftest import WAIT, Receiver, alert, delivered, webhook_config


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
