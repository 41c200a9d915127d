"""A real Prometheus server scrapes our /metrics on loopback, with the bearer token."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actors import SwarmSystem, start_system
from server import ServerHandle, serve

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
TOKEN = "scrape-token"
DEADLINE = 60.0


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SwarmSystem, ServerHandle]]:
    """A real system on SQLite, served with a token (the real clock: Prometheus keeps real time)."""
    with start_system(str(tmp_path / "p.db"), heartbeat_interval_ms=60_000) as system:
        with serve(system, token=TOKEN) as handle:
            yield system, handle


@pytest.fixture
def prometheus(tmp_path: Path, served: tuple[SwarmSystem, ServerHandle]) -> Iterator[str]:
    """Prometheus scraping our server every 200 ms; yields its base URL."""
    if not Path(PROMETHEUS).exists():
        pytest.skip("the prometheus binary is not installed (Debian package `prometheus`)")
    _, handle = served
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 200ms\n"
        "  scrape_timeout: 200ms\n"
        "scrape_configs:\n"
        "  - job_name: swarmpulse\n"
        "    authorization:\n"
        f"      credentials: {TOKEN}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{handle.port}']\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def poll(prometheus: str, query: str) -> list[dict[str, Any]]:
    """Ask Prometheus's query API until the query has a result, or fail at the deadline.

    Polling an external peer with a bounded deadline: Prometheus has no way
    to tell us when a scrape has landed.
    """
    deadline = time.monotonic() + DEADLINE
    last: object = None
    with httpx.Client(base_url=prometheus, timeout=5.0) as http:
        while time.monotonic() < deadline:
            try:
                answer = http.get("/api/v1/query", params={"query": query}).json()
            except (httpx.HTTPError, ValueError) as exc:
                last = exc  # not listening yet, or not ready: a plain-text 503, not JSON
            else:
                last = answer
                result: list[dict[str, Any]] = answer.get("data", {}).get("result", [])
                if answer.get("status") == "success" and result:
                    return result
            time.sleep(0.1)
        targets = http.get("/api/v1/targets").json() if not isinstance(last, Exception) else last
    raise AssertionError(f"no result for {query!r} in {DEADLINE} s; last answer {last!r}; targets {targets!r}")


def test_real_prometheus_scrapes_our_series_with_the_token(
    served: tuple[SwarmSystem, ServerHandle], prometheus: str
) -> None:
    """Prometheus scrapes /metrics (bearer token), and its query API returns our series."""
    system, _ = served
    system.register_agent("coder-1")
    system.record_task_metric("t1", "coder-1", 1500.0, "success", tokens_used=812)
    system.record_task_metric("t2", "coder-1", 40.0, "failure")
    up = poll(prometheus, 'up{job="swarmpulse"} == 1')
    assert up[0]["metric"]["instance"].startswith("127.0.0.1:")
    health = poll(prometheus, 'swarmpulse_agent_health{agent_id="coder-1",state="healthy"}')
    assert health[0]["value"][1] == "1"
    tokens = poll(prometheus, 'swarmpulse_tokens_total{agent_id="coder-1"}')
    assert tokens[0]["value"][1] == "812"
    p99 = poll(prometheus, "histogram_quantile(0.99, swarmpulse_task_duration_seconds_bucket)")
    assert 1.0 <= float(p99[0]["value"][1]) <= 2.5  # the 1.5 s task, within its bucket
