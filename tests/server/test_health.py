"""GET /healthz: 200 while the actors and the writer keep up; 503 with the reason when not."""

from __future__ import annotations

import httpx
import pytest

from actors import ManualClock, SwarmSystem
from actors.testing import wait_for_given_up, wait_for_restarts
from server import Limits
from tests.reliability.conftest import read_only, writer_barrier, writer_connection

WAIT = 10.0


def _task(i: int) -> dict[str, object]:
    return {"type": "task_metric", "task_id": f"t{i}", "agent_id": "w", "duration_ms": 1.0,
            "result": "success"}


@pytest.mark.parametrize("limits", [Limits(max_write_backlog=5)], indirect=True)
def test_a_write_backlog_past_its_bound_is_503_until_written(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """5 metrics waiting: 200; 6: 503 naming the backlog; once stored: 200 again."""
    assert http.post("/v1/metrics", json=[_task(i) for i in range(5)]).json()["accepted"] == 5
    assert http.get("/healthz").status_code == 200  # the manual clock has not drained them
    http.post("/v1/metrics", json=_task(5))
    failing = http.get("/healthz")
    assert failing.status_code == 503
    assert failing.json()["status"] == "failing"
    assert "6 metrics wait to be written" in failing.json()["reason"]
    system.flush()
    assert http.get("/healthz").status_code == 200


def test_a_service_given_up_is_503_naming_it(http: httpx.Client, system: SwarmSystem) -> None:
    """A reporter crash-looping past its restart intensity makes /healthz 503, naming it."""
    for restart in range(1, 4):
        assert system.inject_fault("reporter", f"loop {restart}")
        assert wait_for_restarts(system, restart, timeout=WAIT)
    assert system.inject_fault("reporter", "loop 4")
    assert wait_for_given_up(system, "reporter", timeout=WAIT)
    reply = http.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["failed_services"] == ["reporter"]
    assert "the reporter failed" in reply.json()["reason"]


def test_a_stopped_system_is_503(http: httpx.Client, system: SwarmSystem) -> None:
    """After the system shut down, the server still answers: 503, the system is down."""
    system.shutdown()
    reply = http.get("/healthz")
    assert reply.status_code == 503 and reply.json()["status"] == "down"
    stopped = http.post("/v1/agents", json={"agent_id": "late"})
    assert stopped.status_code == 503 and "Traceback" not in stopped.text
    beat = http.post("/v1/heartbeats", json={"agent_id": "late"})
    assert beat.status_code == 503 and beat.json()["error"]


def _scraped(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def test_every_view_shows_the_same_pending_writes_during_a_storage_outage(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """Storage read-only, 300 rows in the writer's backlog, then the writer given up and 200 more
    sent to no one: /metrics, /healthz, get_write_status() and get_monitoring_stats() all say 500."""
    system.flush()
    read_only(writer_connection(system))  # the writer is idle: nothing recorded since the flush
    for i in range(300):
        system.record_task_metric(f"a{i}", "w", 1.0, "success")
    system.get_task_stats()  # a drain: one batch to the writer
    writer_barrier(system)  # taken, the commit failed, the retry waits on the manual clock
    for restart in range(1, 4):
        assert system.inject_fault("writer", f"loop {restart}")
        assert wait_for_restarts(system, restart, timeout=WAIT)
    assert system.inject_fault("writer", "loop 4")
    assert wait_for_given_up(system, "writer", timeout=WAIT)
    for i in range(200):
        system.record_task_metric(f"b{i}", "w", 1.0, "success")
    system.get_task_stats()  # a batch told to no writer: kept in the aggregator's outbox
    views = {
        "/metrics": _scraped(http.get("/metrics").text, "swarmpulse_pending_writes"),
        "/healthz": http.get("/healthz").json()["pending_writes"],
        "get_write_status": system.get_write_status()["pending_writes"],
        "get_monitoring_stats": system.get_monitoring_stats()["metrics_collector"]["pending_writes"],
    }
    assert views == dict.fromkeys(views, 500)
