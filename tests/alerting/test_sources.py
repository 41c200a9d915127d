"""Alert sources beyond health: the system's own conditions and the analyst's findings,
from where they arise to a real receiver."""

from __future__ import annotations

from collections.abc import Callable

from actors import ManualClock, SwarmSystem
from actors.alerting import AlertEngine, load_config
from tests.alerting.conftest import WAIT, Receiver, alert, delivered, webhook_config


def test_a_service_given_up_reaches_the_receiver_as_service_failed(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """The analyst crashes four times within its restart intensity: ServiceFailed, swarm-wide,
    critical, is notified."""
    swarm = make_system(webhook_config(receiver.url, group_wait="0s"))
    for restart in range(1, 4):
        assert swarm.inject_fault("analyst", f"loop {restart}")
        assert swarm.services.wait_for_restarts(restart, timeout=WAIT)
    assert swarm.inject_fault("analyst", "loop 4")
    with swarm.services.changed:
        assert swarm.services.changed.wait_for(lambda: "analyst" in swarm.services.failed, timeout=WAIT)
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
