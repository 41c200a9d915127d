"""GET /healthz: 200 while the actors and the writer keep up; 503 with the reason when not."""

from __future__ import annotations

import httpx
import pytest

from actors import ManualClock, SwarmSystem
from actors.testing import wait_for_given_up, wait_for_restarts
from server import Limits

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
