"""Receiver failures: counted, shown on /healthz, /metrics and the report, and an alert of
their own on the other receivers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import msgspec

from actors import ManualClock, start_system
from actors.alerting import AlertEngine, load_config
from actors.alerting.state import Loaded
from server import serve
from server.metrics import metrics_registry, render_metrics
from tests.alerting.conftest import Receiver, alert, delivered, settle, wait_stats

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TEAM = "team/webhook/0"


def _two_receivers(failing: str, working: str) -> dict[str, Any]:
    """Every alert goes to ``team``; ``chat`` is configured but no route names it."""
    return {
        "route": {"receiver": "team", "group_wait": "30s", "group_interval": "1m"},
        "receivers": [
            {"name": "team", "webhook_configs": [{"url": failing, "timeout": "1s"}]},
            {"name": "chat", "webhook_configs": [{"url": working}]},
        ],
        "notify": {"initial_backoff": "10s", "max_backoff": "1m", "failures_before_alert": 2},
    }


def _sample(swarm: Any, name: str, **labels: str) -> float | None:
    value: float | None = metrics_registry(swarm).get_sample_value(name, labels)
    return value


def test_a_failing_receiver_is_counted_shown_and_alerted_on_the_other_receiver_until_it_delivers(
    clock: ManualClock, receiver: Receiver, other_receiver: Receiver, tmp_path: Path
) -> None:
    """team answers 500, times out, answers 500, then 200: 3 failures (1 timeout) counted per
    integration; after 2 in a row ReceiverFailing reaches chat (never team), /healthz,
    /metrics and the report show it failing; its delivery resolves the alert on chat."""
    receiver.script = ["fail", "hang", "fail"]
    config = _two_receivers(receiver.url, other_receiver.url)
    with start_system(str(tmp_path / "swarm.db"), swarm_id="s", clock=clock, alerting=config) as swarm:
        handle = serve(swarm)
        try:
            swarm.send_alert(alert(agent="a1", at=clock.time()))
            clock.advance(30)
            wait_stats(swarm, "failures", 1)  # HTTP 500
            clock.advance(10)
            stats = wait_stats(swarm, "failures", 2)  # timed out after 1 s
            receiver.release.set()
            assert stats["receivers_failing"] == [TEAM] and stats["timeouts"] == 1
            health = httpx.get(f"{handle.url}/healthz", timeout=10)
            assert health.status_code == 200  # the monitor is up; its alert says the rest
            assert health.json()["receivers_failing"] == [TEAM]
            assert health.json()["notification_failures"] == 2
            reason = {"receiver": "team", "integration": TEAM}
            assert _sample(swarm, "swarmpulse_notifications_failed_total", **reason, reason="timeout") == 1
            assert _sample(swarm, "swarmpulse_notifications_failed_total", **reason, reason="error") == 1
            assert _sample(swarm, "swarmpulse_receiver_failing", **reason) == 1
            if Path(PROMTOOL).exists():
                checked = subprocess.run([PROMTOOL, "check", "metrics"], capture_output=True,
                                         input=render_metrics(metrics_registry(swarm)), timeout=30)
                assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
            clock.advance(30)  # team's third attempt fails; chat's group is due
            first = other_receiver.wait_for(1)[0].body
            wait_stats(swarm, "failures", 3)
            report = swarm.generate_report("markdown")
            assert "## Receivers" in report and f"| {TEAM} | FAILING | 3 | 0 | 3 | 1 | 0 |" in report
            [team, chat] = json.loads(swarm.generate_report("json"))["receivers"]
            assert (team["integration"], team["failing"], chat["failing"]) == (TEAM, True, False)
            clock.advance(40)  # the fourth attempt gets through
            second = delivered(swarm, other_receiver, 2)[1].body
            stats = settle(swarm)
            assert _sample(swarm, "swarmpulse_receiver_failing", **reason) == 0
            assert httpx.get(f"{handle.url}/healthz", timeout=10).json()["receivers_failing"] == []
        finally:
            handle.stop()
    assert first["alerts"][0]["labels"]["alertname"] == "ReceiverFailing"
    assert first["alerts"][0]["labels"]["integration"] == TEAM and first["status"] == "firing"
    assert second["status"] == "resolved" and second["groupKey"] == first["groupKey"]
    team_got = receiver.wait_for(4)
    assert {r.body["alerts"][0]["labels"]["alertname"] for r in team_got} == {"Test"}  # no loop
    assert len({r.headers["Idempotency-Key"] for r in team_got}) == 1
    counted = stats["receivers"]
    assert {k: counted[TEAM][k] for k in ("attempts", "delivered", "failures", "timeouts", "failing")} \
        == {"attempts": 4, "delivered": 1, "failures": 3, "timeouts": 1, "failing": False}
    assert (counted["chat/webhook/0"]["delivered"], counted["chat/webhook/0"]["failures"]) == (2, 0)
    assert stats["receivers_failing"] == []


def test_a_notice_for_an_integration_no_longer_configured_is_given_up_and_counted(
    clock: ManualClock, receiver: Receiver, other_receiver: Receiver, tmp_path: Path
) -> None:
    """A notice to team failed and was stored; restarted with team gone, it is dropped
    (given_up 1, no retry forever) and the alert reaches the receiver the new file names."""
    db = str(tmp_path / "swarm.db")
    receiver.script = ["fail"]
    config = _two_receivers(receiver.url, other_receiver.url)
    with start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
        swarm.send_alert(alert(agent="a1", at=clock.time()))
        clock.advance(30)
        wait_stats(swarm, "failures", 1)
    config = {"route": {"receiver": "chat"},
              "receivers": [{"name": "chat", "webhook_configs": [{"url": other_receiver.url}]}]}
    with start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
        clock.advance(10)  # the stored notice's retry is due
        body = delivered(swarm, other_receiver, 1)[0].body
        stats = settle(swarm)
    assert stats["given_up"] == 1 and stats["receivers"][TEAM]["given_up"] == 1
    assert stats["receivers"][TEAM]["receiver"] == "team"
    assert stats["notices_pending"] == 0 and len(receiver.requests) == 1
    assert body["alerts"][0]["labels"]["agent_id"] == "a1"


def test_a_receiver_failing_alert_restored_after_a_restart_resolves_on_its_next_delivery() -> None:
    """The engine alone: a ReceiverFailing alert loaded from storage (no failure counted in
    this run) resolves when that integration delivers."""
    settings = load_config(_two_receivers("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"))
    before = AlertEngine(settings, "s")
    failing = before._receiver_alert(TEAM, "HTTP 500", 100.0, resolved=False)
    engine = AlertEngine(settings, "s")
    engine.restore(Loaded(alerts={failing.fingerprint: failing}, silences={}, acks={}, nflog={},
                          outbox={}, escalations={}), 200.0)
    assert engine.failing(TEAM, 200.0)
    engine.put(alert(agent="a1", at=200.0), 200.0)
    engine.step(230.0)
    [notice] = [n for n in engine.due_notices(230.0) if n.integration == TEAM]
    engine.delivered(notice.id, 231.0)
    assert not engine.failing(TEAM, 231.0)
    restored = engine.alerts[failing.fingerprint]
    assert restored.ends_at == 231.0 and msgspec.structs.asdict(restored)["starts_at"] == 100.0
