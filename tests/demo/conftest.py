"""Fixtures for the demo's tests: a database with a known history, and an event log."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors import ManualClock, start_system

from tests.events import EventLog

T0 = 1_700_000_000.0
"""Wall time at which the known history starts (the manual clock's start)."""


def build_known_history(path: str) -> None:
    """Write 10 s of a 3-agent swarm whose every number is known (interval 1 s, threshold 3).

    * alpha beats every 0.5 s and does 4 tasks (100, 200, 300, 400 ms; the third fails).
    * beta is silent from T0+2.0 to T0+4.5: DEGRADED at 3.0, CRITICAL at 4.0, HEALTHY at 4.5;
      it does a 1000 ms task that times out at T0+5 and a 2000 ms success at T0+6.
    * gamma never beats: DEGRADED at T0+1, CRITICAL at T0+2, FAILED at T0+3 (uptime 30%).
    """
    clock = ManualClock(start=T0)
    system = start_system(path, swarm_id="known-swarm", topology_type="ring",
                          heartbeat_interval_ms=1000, clock=clock)
    try:
        for agent_id in ("alpha", "beta", "gamma"):
            system.register_agent(agent_id, {"role": "tester"})
        system.record_swarm_metric("topology_health", 1.0, {"topology": "ring"})
        alpha_tasks = {2: (100.0, "success"), 4: (200.0, "success"), 6: (300.0, "failure"),
                       8: (400.0, "success")}
        beta_tasks = {10: (1000.0, "timeout"), 12: (2000.0, "success")}
        for step in range(1, 21):
            clock.advance(0.5)
            system.update_agent_heartbeat("alpha")
            if not 5 <= step <= 8:
                system.update_agent_heartbeat("beta")
            if step in alpha_tasks:
                duration, result = alpha_tasks[step]
                system.record_task_metric(f"a{step}", "alpha", duration, result,
                                          tokens_used=10, files_changed=1)
            if step in beta_tasks:
                duration, result = beta_tasks[step]
                system.record_task_metric(f"b{step}", "beta", duration, result,
                                          tokens_used=50, files_changed=0)
            system.flush()
    finally:
        system.shutdown()
        clock.close()


@pytest.fixture(scope="module")
def known_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the known history (built once per test module; never modify it)."""
    path = tmp_path_factory.mktemp("known") / "known.db"
    build_known_history(str(path))
    return str(path)


@pytest.fixture
def known_copy(known_db: str, tmp_path: Path) -> str:
    """A copy of the known database that a test may change."""
    copy = tmp_path / "copy.db"
    copy.write_bytes(Path(known_db).read_bytes())
    return str(copy)
