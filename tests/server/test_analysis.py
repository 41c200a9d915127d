"""The analyst over HTTP and in the exports: phi, tasks in flight, findings, cost, /metrics, report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors import ManualClock, SwarmSystem, start_system
from server import serve
from server.metrics import metrics_registry, render_metrics


@pytest.fixture
def swarm(clock: ManualClock, tmp_path: Path) -> Iterator[SwarmSystem]:
    """A system with prices, a stuck limit, and agents judged by phi."""
    system = start_system(
        str(tmp_path / "edge.db"), heartbeat_interval_ms=1000, clock=clock, detector="phi",
        stuck_limit_s=60.0, prices={"gpt": {"input": 2.0, "output": 10.0}},
    )
    yield system
    system.shutdown()


@pytest.fixture
def client(swarm: SwarmSystem) -> Iterator[httpx.Client]:
    """An HTTP client of the system served on loopback."""
    handle = serve(swarm)
    try:
        with httpx.Client(base_url=handle.url, timeout=10.0) as http:
            yield http
    finally:
        handle.stop()


def test_task_started_over_http_shows_in_flight_and_phi_in_the_agent(
    swarm: SwarmSystem, clock: ManualClock, client: httpx.Client
) -> None:
    """POST task_started, then GET /v1/agents/{id}: the task in flight, and a phi."""
    assert client.post("/v1/agents", json={"agent_id": "a"}).status_code == 201
    answer = client.post("/v1/metrics", json=[
        {"type": "task_started", "task_id": "t-1", "agent_id": "a", "kind": "code"},
        {"type": "task_started", "task_id": "t-2", "agent_id": "a", "kind": ""},
    ])
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 1
    assert [r["field"] for r in body["refused"]] == ["kind"]
    clock.advance(0.5)
    agent = client.get("/v1/agents/a").json()
    assert [(t["task_id"], t["kind"]) for t in agent["in_flight"]] == [("t-1", "code")]
    assert agent["in_flight"][0]["running_s"] == pytest.approx(0.5)
    assert isinstance(agent["phi"], float) and agent["phi"] >= 0.0


def test_findings_and_cost_endpoints(
    swarm: SwarmSystem, client: httpx.Client
) -> None:
    """GET /v1/cost prices the tasks; GET /v1/findings names the agent holding the task time."""
    swarm.register_agents(["a", "b"], {"role": "coder"})
    swarm.record_task_metric("t1", "a", 9000.0, "success",
                             metadata={"model": "gpt", "tokens_in": 500_000, "tokens_out": 0})
    swarm.record_task_metric("t2", "b", 1000.0, "success")
    swarm.flush()
    cost = client.get("/v1/cost").json()
    assert cost["total"] == pytest.approx(1.0) and cost["by_agent"] == {"a": pytest.approx(1.0)}
    found = client.get("/v1/findings").json()
    texts = [f["text"] for f in found["findings"]]
    assert any(t.startswith("a spends 90% of the swarm's task time") for t in texts), texts
    assert set(found["profiles"]) == {"a", "b"}
    bare = client.get("/v1/findings", params={"profiles": "0"}).json()
    assert bare == {"findings": found["findings"]}


def test_metrics_export_phi_and_cost_and_the_report_has_findings(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """/metrics: swarmpulse_agent_phi per phi agent, swarmpulse_cost_total per priced agent."""
    swarm.register_agents(["a", "b"])
    swarm.record_task_metric("t1", "a", 9000.0, "success",
                             metadata={"model": "gpt", "tokens_in": 0, "tokens_out": 100_000})
    swarm.record_task_metric("t2", "b", 1000.0, "success")
    swarm.flush()
    clock.advance(1.2)
    text = render_metrics(metrics_registry(swarm)).decode()
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }
    assert found[("swarmpulse_cost_total", (("agent_id", "a"),))] == pytest.approx(1.0)
    assert ("swarmpulse_cost_total", (("agent_id", "b"),)) not in found
    assert found[("swarmpulse_agent_phi", (("agent_id", "a"),))] > 0.0
    report = swarm.generate_report("markdown")
    assert "## Findings" in report
    assert "- a spends 90% of the swarm's task time" in report


def test_tasks_in_flight_endpoint_counts_and_lists_them_with_the_token(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """GET /v1/tasks/in-flight: counts, each agent's tasks, stuck=1 for the stuck ones; token needed."""
    swarm.register_agents(["a", "b", "idle"])
    swarm.task_started("a", "t-1", kind="code")
    clock.advance(30.0)
    swarm.task_started("a", "t-2", kind="review")
    swarm.task_started("b", "<t-3>", kind="test")
    clock.advance(31.0)  # t-1 has run 61 s, past the 60 s limit; the others 31 s
    swarm.flush()
    handle = serve(swarm, token="tok")
    try:
        with httpx.Client(base_url=handle.url, timeout=10.0) as http:
            assert http.get("/v1/tasks/in-flight").status_code == 401
            auth = {"Authorization": "Bearer tok"}
            body = http.get("/v1/tasks/in-flight", headers=auth).json()
            assert (body["tasks"], body["stuck"]) == (3, 1)
            assert set(body["in_flight"]) == {"a", "b"}  # no empty list for an idle agent
            assert [(t["task_id"], t["kind"], t["stuck"]) for t in body["in_flight"]["a"]] == [
                ("t-1", "code", True), ("t-2", "review", False)]
            assert body["in_flight"]["a"][0]["running_s"] == pytest.approx(61.0)
            stuck = http.get("/v1/tasks/in-flight", params={"stuck": "1"}, headers=auth).json()
            assert (stuck["tasks"], stuck["stuck"]) == (3, 1)
            assert {a: [t["task_id"] for t in ts] for a, ts in stuck["in_flight"].items()} == {
                "a": ["t-1"]}
            one = http.get("/v1/tasks/in-flight", params={"agent_id": "b"}, headers=auth).json()
            assert one["tasks"] == 1 and one["in_flight"]["b"][0]["task_id"] == "<t-3>"
            bad = http.get("/v1/tasks/in-flight", params={"stuck": "yes"}, headers=auth)
            assert bad.status_code == 400 and bad.json()["field"] == "stuck"
    finally:
        handle.stop()


def test_stuck_tasks_at_risk_agents_and_cost_show_in_the_api_the_reports_and_metrics(
    clock: ManualClock, tmp_path: Path
) -> None:
    """What the detectors find is in the API, both reports and /metrics, and each was an alert."""
    system = start_system(str(tmp_path / "all.db"), heartbeat_interval_ms=1000, clock=clock,
                          stuck_limit_s=60.0, prices={"gpt": {"input": 2.0, "output": 10.0}})
    try:
        system.register_agent("a")
        system.register_agent("b", interval_ms=600_000)
        system.record_task_metric("t-0", "b", 500.0, "success",
                                  metadata={"model": "gpt", "tokens_in": 500_000, "tokens_out": 0})
        system.task_started("b", "t-1", kind="code")
        for gap in [0.5] * 40 + [0.5 + 0.02 * i for i in range(1, 20)]:  # gaps drift up to 0.88 s
            clock.advance(gap)
            system.update_agent_heartbeat("a")
        clock.advance(61.0 - clock.time() + system.get_tasks_in_flight("b")["b"][0]["started"])
        system.update_agent_heartbeat("a")
        system.flush()
        names = [a.metadata.get("alertname") for a in system.query_alerts()]
        assert "AgentAtRisk" in names and "TaskStuck" in names
        status = system.get_agent_health_status("a")
        assert status is not None and status["at_risk"] is True
        handle = serve(system)
        try:
            with httpx.Client(base_url=handle.url, timeout=10.0) as http:
                assert http.get("/v1/agents/a").json()["at_risk"] is True
                assert http.get("/v1/agents/b").json()["at_risk"] is False
                assert http.get("/v1/tasks/in-flight").json()["stuck"] == 1
                assert http.get("/v1/cost").json()["total"] == pytest.approx(1.0)
        finally:
            handle.stop()
        text = render_metrics(metrics_registry(system)).decode()
        found = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
        }
        assert found[("swarmpulse_tasks_in_flight", (("agent_id", "b"),))] == 1
        assert found[("swarmpulse_tasks_stuck", (("agent_id", "b"),))] == 1
        assert ("swarmpulse_tasks_stuck", (("agent_id", "a"),)) not in found
        assert found[("swarmpulse_findings_total", (("alertname", "TaskStuck"),))] == 1
        assert found[("swarmpulse_findings_total", (("alertname", "AgentAtRisk"),))] == 1
        markdown = system.generate_report("markdown")
        assert "- Cost: 1.0000 USD (1 priced tasks, 0 without a price)" in markdown
        stuck = markdown.split("## Stuck tasks", 1)[1]
        assert "| b | t-1 | code | 61.0 s | 60.0 s |" in stuck
        assert "is at risk of failing" in markdown and "past its limit of 60.0 s" in markdown
        report = msgspec.json.decode(system.generate_report("json"))
        assert [(t["agent_id"], t["task_id"]) for t in report["stuck_tasks"]] == [("b", "t-1")]
        assert report["cost"]["total"] == pytest.approx(1.0)
    finally:
        system.shutdown()
