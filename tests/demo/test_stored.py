"""Reports from a database alone: states, uptime, statistics and sparkline series."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors import ManualClock, start_system
from messages import render_markdown
from demo.errors import CommandError, UnknownAgentId
from demo.stored import check_agent, open_database, stored_report
from storage import MetricsStorage
from tests.demo.conftest import T0

END = T0 + 10.0


def _store(path: str, tasks: list[tuple[float, float]]) -> MetricsStorage:
    storage = MetricsStorage(path)
    storage.store_batch(tasks=[(f"t{i}", "a", d, "success", 0, 0, at, None)
                               for i, (at, d) in enumerate(tasks)])
    return storage


def test_series_are_mean_durations_and_counts_per_equal_slice(tmp_path: Path) -> None:
    """Four slices of [T0, T0+4]: means and counts per slice, the end in the last one."""
    with _store(str(tmp_path / "s.db"), [(T0 + 0.5, 100.0), (T0 + 0.7, 300.0),
                                         (T0 + 2.5, 50.0), (T0 + 4.0, 10.0)]) as storage:
        assert storage.task_series(T0, T0 + 4.0, agent_id="a", slices=4) == (
            [200.0, 0.0, 50.0, 10.0], [2, 0, 1, 1])


def test_series_of_a_long_range_come_from_the_rollups(tmp_path: Path) -> None:
    """A day in 24 slices: each hour's tasks counted in its slice, their mean duration."""
    day = T0 - T0 % 3600
    tasks = [(day + h * 3600 + m * 60.0, float(h)) for h in range(24) for m in range(0, 60, 10)]
    with _store(str(tmp_path / "s.db"), tasks) as storage:
        means, counts = storage.task_series(day, day + 86_400, agent_id="a", slices=24)
        assert counts == [6] * 24
        assert means == [float(h) for h in range(24)]
        assert storage.task_series(day, day + 86_400, slices=24) == (means, counts)  # swarm


def test_series_of_no_task_are_empty(tmp_path: Path) -> None:
    """No task, no sparkline; an unknown agent has none."""
    with _store(str(tmp_path / "s.db"), [(T0, 5.0)]) as storage:
        assert storage.task_series(T0 + 10, T0 + 20, agent_id="a") == ([], [])
        assert storage.task_series(T0, T0 + 20, agent_id="nobody") == ([], [])


def test_each_agent_shows_its_last_stored_state_and_uptime(known_db: str) -> None:
    """gamma FAILED (up 30% of its 10 s), beta recovered, alpha never left HEALTHY."""
    with open_database(known_db) as storage:
        report = stored_report(storage, start=None, end=None, agent_id=None, now=END + 100)
    agents = {a.agent_id: a for a in report.agents}
    assert {a: r.health_state for a, r in agents.items()} == {
        "alpha": "healthy", "beta": "healthy", "gamma": "failed"}
    assert agents["gamma"].uptime_pct == pytest.approx(30.0)
    assert agents["beta"].uptime_pct == pytest.approx(100.0)
    assert agents["gamma"].heartbeat_age_ms is None
    assert report.health_distribution == {"healthy": 2, "degraded": 0, "critical": 0, "failed": 1}
    assert (report.swarm_id, report.topology_type) == ("known-swarm", "ring")
    assert len(report.alerts) == 6


def test_task_statistics_and_series_come_from_the_stored_rows(known_db: str) -> None:
    """alpha: 4 tasks, 75% success, its series counts every task; the swarm: 6 tasks."""
    with open_database(known_db) as storage:
        report = stored_report(storage, start=None, end=None, agent_id=None, now=END)
    alpha = next(a for a in report.agents if a.agent_id == "alpha")
    assert (alpha.tasks_completed, alpha.success_rate, alpha.total_tokens) == (4, 75.0, 40)
    assert sum(alpha.throughput_series) == 4
    assert max(alpha.duration_series) == pytest.approx(400.0)
    assert report.task_stats["total_tasks"] == 6
    assert report.task_stats["results_breakdown"]["timeout"] == 1


def test_a_time_range_selects_tasks_and_the_state_at_its_end(known_db: str) -> None:
    """Up to T0+3.5, beta was DEGRADED, gamma FAILED, and alpha had done 3 tasks."""
    with open_database(known_db) as storage:
        report = stored_report(storage, start=T0, end=T0 + 3.5, agent_id=None, now=END)
    agents = {a.agent_id: a for a in report.agents}
    assert agents["beta"].health_state == "degraded"
    assert agents["gamma"].health_state == "failed"
    assert agents["alpha"].tasks_completed == 3
    assert report.timestamp == T0 + 3.5


def test_a_registration_starts_an_agent_afresh(known_copy: str) -> None:
    """gamma failed in the first run; registered again by a later run, it reads HEALTHY."""
    clock = ManualClock(start=END + 100)
    system = start_system(known_copy, heartbeat_interval_ms=1000, clock=clock)
    try:
        system.register_agent("gamma")
        clock.advance(0.5)
    finally:
        system.shutdown()
        clock.close()
    with open_database(known_copy) as storage:
        report = stored_report(storage, start=None, end=None, agent_id="gamma", now=END + 200)
    assert report.agents[0].health_state == "healthy"
    assert report.agents[0].uptime_pct == 100.0


def test_one_agent_only(known_db: str) -> None:
    """--agent keeps that agent, its tasks and its alerts."""
    with open_database(known_db) as storage:
        report = stored_report(storage, start=None, end=None, agent_id="beta", now=END)
    assert [a.agent_id for a in report.agents] == ["beta"]
    assert report.task_stats["total_tasks"] == 2
    assert {a.agent_id for a in report.alerts} == {"beta"}


def test_an_unknown_agent_is_refused_with_the_known_ones(known_db: str) -> None:
    """The error lists the agents the database does hold."""
    with open_database(known_db) as storage, pytest.raises(UnknownAgentId) as caught:
        check_agent(storage, "delta")
    assert "alpha, beta, gamma" in str(caught.value)


def test_a_missing_file_is_not_created() -> None:
    """Reading never creates a database."""
    with pytest.raises(CommandError, match="no such file"):
        open_database("/nonexistent/metrics.db")


def test_an_agent_never_registered_has_no_uptime_in_a_stored_report(tmp_path: Path) -> None:
    """Known only from its tasks: its uptime is None ("-" in Markdown), not 100%, no crash."""
    path = str(tmp_path / "ghost.db")
    with MetricsStorage(path) as storage:
        storage.store_batch(tasks=[("t1", "ghost", 12.0, "success", 0, 0, T0, None)])
        report = stored_report(storage, start=None, end=None, agent_id=None, now=END)
    (ghost,) = [a for a in report.agents if a.agent_id == "ghost"]
    assert ghost.uptime_pct is None
    assert "| ghost | healthy | - |" in render_markdown(report)
