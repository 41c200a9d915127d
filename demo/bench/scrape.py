"""The ``scrape`` group: ``GET /metrics`` time and body size at 1,000 and 10,000 agents.

Each size is a real system on a SQLite file with every agent registered and
having recorded five tasks and one gauge, served by the real server on
loopback and scraped over HTTP (keep-alive) as Prometheus would. A full run
uses 1,000 and 10,000 agents; ``--quick`` and the smoke size use the large
swarm's smaller counts, named in the details.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from typing import Any

import httpx

from actors import start_system
from demo.bench.support import FLUSH_TIMEOUT, GroupResult, Sizes, percentile
from server import serve
from server.metrics import metrics_registry

__all__ = ["run_scrape"]

_TASKS_PER_AGENT = 5
_SCRAPES = {"full": 10, "quick": 5, "smoke": 2}


def _scrape_at(agents: int, repeats: int, workdir: str) -> dict[str, Any]:
    """Scrape a system of ``agents`` agents ``repeats`` times; times in ms, body in bytes."""
    path = os.path.join(workdir, f"scrape-{agents}.db")
    rng = random.Random(agents)
    with start_system(path, heartbeat_interval_ms=600_000) as system:
        ids = [f"agent-{i:05d}" for i in range(agents)]
        system.register_agents(ids)
        for n, agent_id in enumerate(ids):
            for k in range(_TASKS_PER_AGENT):
                system.record_task_metric(
                    f"t{n}-{k}", agent_id, rng.lognormvariate(7.0, 1.2),
                    "success" if rng.random() < 0.8 else "failure",
                    tokens_used=rng.randrange(2000), files_changed=rng.randrange(5),
                )
            system.record_agent_metric(agent_id, "queue_depth", float(rng.randrange(10)))
        system.flush(FLUSH_TIMEOUT)
        registry = metrics_registry(system)
        snapshot_ms = []
        for _ in range(repeats):
            started = time.perf_counter()
            system.metrics_snapshot()
            snapshot_ms.append((time.perf_counter() - started) * 1000.0)
        scrape_ms: list[float] = []
        cpu_ms: list[float] = []
        body = b""
        with serve(system) as handle, httpx.Client(base_url=handle.url, timeout=120.0) as http:
            http.get("/healthz")  # the connection is open before the first timed scrape
            for _ in range(repeats):
                cpu, started = time.process_time(), time.perf_counter()
                answer = http.get("/metrics")
                scrape_ms.append((time.perf_counter() - started) * 1000.0)
                cpu_ms.append((time.process_time() - cpu) * 1000.0)
                answer.raise_for_status()
                body = answer.content
        series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        del registry
    first_ms = scrape_ms[0]
    scrape_ms.sort()
    return {
        "agents": agents,
        "scrapes": repeats,
        "scrape_ms_p50": statistics.median(scrape_ms),
        "scrape_ms_max": scrape_ms[-1],
        "scrape_ms_p90": percentile(scrape_ms, 0.9),
        # the server's first scrape renders every family; later ones only those that
        # changed (here: the heartbeat ages), see server.metrics.MetricsRenderer
        "first_scrape_ms": first_ms,
        "snapshot_ms_p50": statistics.median(snapshot_ms),
        # CPU of this whole process (server, actors, client) per scrape: on a shared
        # machine the wall time above also counts other processes' turns on the cores
        "scrape_cpu_ms_p50": statistics.median(cpu_ms),
        "body_bytes": len(body),
        "series": series,
    }


def run_scrape(sizes: Sizes, workdir: str) -> GroupResult:
    """Measure ``/metrics`` at the small and the large swarm's sizes (1,000 and 10,000 in full)."""
    repeats = _SCRAPES.get(sizes.mode, 5)
    small = _scrape_at(sizes.small_agents, repeats, workdir)
    large = _scrape_at(sizes.swarm_agents, repeats, workdir)
    return GroupResult(
        figures={
            "scrape_ms_1k": small["scrape_ms_p50"],
            "scrape_bytes_1k": float(small["body_bytes"]),
            "scrape_ms_10k": large["scrape_ms_p50"],
            "scrape_bytes_10k": float(large["body_bytes"]),
        },
        details={"scrape_small": small, "scrape_large": large,
                 "how": "median of HTTP GET /metrics over keep-alive, each agent with "
                        f"{_TASKS_PER_AGENT} tasks and 1 gauge"},
    )
