"""The read API: the same figures as the facade and the report, and clear refusals."""

from __future__ import annotations

import httpx
import pytest

from actors import ManualClock, SwarmSystem

RECORD = {"agent_id", "health_state", "last_heartbeat", "heartbeat_age_ms", "uptime_pct",
          "tasks_completed", "success_rate", "p95_duration_ms", "total_tokens", "duration_series"}


@pytest.fixture
def history(http: httpx.Client, system: SwarmSystem, clock: ManualClock) -> None:
    """Two agents: 'busy' beats and does 4 tasks (one fails); 'mute' goes FAILED after 3 s."""
    for agent_id in ("busy", "mute"):
        http.post("/v1/agents", json={"agent_id": agent_id, "metadata": {"role": "x"}})
    for step in range(8):
        clock.advance(0.5)
        http.post("/v1/heartbeats", json={"agent_id": "busy"})
        # the 202 does not wait for the coordinator: a question behind the beat makes
        # sure it is taken before the manual clock moves on (a real clock needs none)
        system.check_agent_health("busy")
        if step % 2 == 0:
            http.post("/v1/metrics", json={
                "type": "task_metric", "task_id": f"t{step}", "agent_id": "busy",
                "duration_ms": 100.0 * (step + 1), "result": "failure" if step == 2 else "success",
                "tokens_used": 10})


@pytest.mark.usefixtures("history")
def test_agents_lists_every_agent_with_the_facades_figures(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """Each record has the documented keys, and equals what the facade says of that agent."""
    agents = {a["agent_id"]: a for a in http.get("/v1/agents").json()["agents"]}
    assert set(agents) == {"busy", "mute"}
    assert all(set(a) == RECORD for a in agents.values())
    busy, mute = agents["busy"], agents["mute"]
    assert (busy["health_state"], mute["health_state"]) == ("healthy", "failed")
    performance = system.get_agent_performance("busy")
    assert busy["tasks_completed"] == performance["tasks_completed"] == 4
    assert busy["success_rate"] == performance["success_rate"] == 75.0
    assert busy["p95_duration_ms"] == performance["p95_duration_ms"]
    assert busy["total_tokens"] == 40
    assert mute["uptime_pct"] == pytest.approx(system.get_agent_uptime("mute"))
    assert mute["uptime_pct"] < 100.0
    assert http.get("/v1/agents?state=failed").json()["agents"] == [mute]


@pytest.mark.usefixtures("history")
def test_one_agent_has_its_history_transitions_and_performance(http: httpx.Client) -> None:
    """GET /v1/agents/{id}: the record plus heartbeats, stored transitions and performance."""
    mute = http.get("/v1/agents/mute").json()
    assert RECORD <= set(mute)
    assert [t["current"] for t in mute["transitions"]] == ["degraded", "critical", "failed"]
    busy = http.get("/v1/agents/busy").json()
    assert len(busy["heartbeats"]) == 8
    assert busy["performance"]["tasks_completed"] == 4
    missing = http.get("/v1/agents/nobody")
    assert missing.status_code == 404 and missing.json()["field"] == "agent_id"


@pytest.mark.usefixtures("history")
def test_stats_are_get_task_stats(http: httpx.Client, system: SwarmSystem, clock: ManualClock) -> None:
    """The same dict as get_task_stats, overall, per agent and over a time range."""
    assert http.get("/v1/stats").json() == system.get_task_stats()
    assert http.get("/v1/stats?agent_id=busy").json() == system.get_task_stats("busy")
    ranged = http.get("/v1/stats", params={"since": "15m"}).json()
    assert ranged == system.get_task_stats(start_time=clock.time() - 900)
    assert ranged["total_tasks"] == 4
    start = clock.time() - 2.0
    window = http.get("/v1/stats", params={"start": str(start), "end": str(clock.time())}).json()
    assert window["total_tasks"] == system.get_task_stats(start_time=start, end_time=clock.time())["total_tasks"]


@pytest.mark.usefixtures("history")
def test_alerts_and_health_events_are_the_stored_ones(http: httpx.Client) -> None:
    """The silent agent's three alerts and transitions, filterable by agent and severity."""
    alerts = http.get("/v1/alerts?agent_id=mute").json()["alerts"]
    assert [a["severity"] for a in alerts] == ["warning", "critical", "critical"]
    assert len(http.get("/v1/alerts?severity=warning").json()["alerts"]) == 1
    assert len(http.get("/v1/alerts?limit=1").json()["alerts"]) == 1
    events = http.get("/v1/health-events", params={"agent_id": "mute", "since": "1h"}).json()
    assert [e["current"] for e in events["health_events"]] == ["degraded", "critical", "failed"]
    assert http.get("/v1/health-events?agent_id=busy").json()["health_events"] == []


@pytest.mark.usefixtures("history")
def test_the_report_in_both_formats(http: httpx.Client) -> None:
    """Markdown by default (text/markdown), JSON as the report's schema."""
    markdown = http.get("/v1/report")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Swarm health report: edge")
    report = http.get("/v1/report?format=json").json()
    assert report["type"] == "health_report" and report["agent_count"] == 2


def test_a_hostile_id_is_data_in_json_and_escaped_in_the_report(http: httpx.Client) -> None:
    """An id with markup comes back verbatim in JSON and escaped in Markdown."""
    hostile = "<img src=x onerror=alert(1)>|*"
    assert http.post("/v1/agents", json={"agent_id": hostile}).status_code == 201
    assert http.get("/v1/agents").json()["agents"][0]["agent_id"] == hostile
    assert http.get(f"/v1/agents/{hostile}").json()["agent_id"] == hostile
    report = http.get("/v1/report").text
    assert "&lt;img src=x onerror=alert(1)>\\|\\*" in report and "<img" not in report


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/stats?since=yesterday", "since"),
    ("/v1/stats?since=15m&start=1h", "since"),
    ("/v1/stats?start=2h&end=3h", "end"),
    ("/v1/stats?start=0s", "start"),
    ("/v1/stats?agent_id=%00", "agent_id"),
    ("/v1/alerts?severity=loud", "severity"),
    ("/v1/alerts?limit=0", "limit"),
    ("/v1/health-events?limit=x", "limit"),
    ("/v1/agents?state=sleepy", "state"),
    ("/v1/report?format=pdf", "format"),
])
def test_bad_parameters_are_400_naming_them(http: httpx.Client, path: str, field: str) -> None:
    """Each bad query parameter: 400 with the parameter's name."""
    reply = http.get(path)
    assert reply.status_code == 400
    assert reply.json()["field"] == field


def test_unknown_paths_and_methods_are_404_and_405(http: httpx.Client) -> None:
    """Routing errors are JSON like every other error."""
    assert http.get("/v2/nothing").json() == {"error": "Not Found"}
    assert http.put("/v1/metrics").status_code == 405
