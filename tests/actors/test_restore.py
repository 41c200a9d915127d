"""A system started on an existing file knows what the file holds."""

from __future__ import annotations

import pytest

from actors import AgentNotTracked, ManualClock, start_system
from messages import HealthState
from storage import MetricsStorage


def _fill(db_path: str, clock: ManualClock, tasks: dict[str, list[float]]) -> dict[str, object]:
    """Run a first system that records ``tasks`` per agent; return its final swarm stats."""
    with start_system(db_path, clock=clock, swarm_id="first") as first:
        first.register_agents(sorted(tasks))
        for agent_id, durations in tasks.items():
            for i, duration in enumerate(durations):
                first.record_task_metric(f"{agent_id}-{i}", agent_id, duration, "success")
            clock.advance(1.0)
        first.unregister_agent(sorted(tasks)[0])
        return first.get_task_stats()


def test_statistics_are_restored_from_the_file_at_start_up(
    db_path: str, clock: ManualClock
) -> None:
    """20,001 stored tasks: the next system says 20,001 (not 0) before recording any,
    with the same figures, and counts new tasks on top of them."""
    tasks = {
        "a": [float(100 + i % 997) for i in range(15_000)],
        "b": [float(2000 + i % 13) for i in range(5_001)],
    }
    before = _fill(db_path, clock, tasks)
    with start_system(db_path, clock=clock) as second:
        restored = second.get_task_stats()
        assert restored["total_tasks"] == 20_001
        assert restored == before
        assert restored["exact"] is False
        assert second.get_task_stats("b")["total_tasks"] == 5_001
        second.register_agent("b")
        second.record_task_metric("new", "b", 2000.0, "success")
        assert second.get_task_stats()["total_tasks"] == 20_002
        assert second.get_task_stats("b")["total_tasks"] == 5_002


def test_a_small_file_restores_exact_percentiles(db_path: str, clock: ManualClock) -> None:
    """A few stored tasks: the median is exact after a restart too."""
    _fill(db_path, clock, {"a": [1000.0, 2000.0]})
    with start_system(db_path, clock=clock) as second:
        stats = second.get_task_stats()
        assert (stats["median_duration_ms"], stats["exact"]) == (1500.0, True)


def test_the_files_agents_are_listed_as_not_tracked_until_they_come_back(
    db_path: str, clock: ManualClock
) -> None:
    """snapshot() lists them with tracked=False; registering or beating tracks them again;
    health counts and reports count tracked agents only."""
    _fill(db_path, clock, {"a": [1.0], "b": [2.0], "c": [3.0]})
    with start_system(db_path, clock=clock) as second:
        listed = {a.agent_id: a.tracked for a in second.snapshot().agents}
        assert listed == {"a": False, "b": False, "c": False}
        assert second.get_monitoring_stats()["swarm_health"]["total_agents"] == 0
        with pytest.raises(AgentNotTracked):
            second.check_agent_health("a")
        assert second.register_agent("a") is True
        assert second.update_agent_heartbeat("b") is True  # a known agent beating again
        assert second.update_agent_heartbeat("nobody") is False
        listed = {a.agent_id: a.tracked for a in second.snapshot().agents}
        assert listed == {"a": True, "b": True, "c": False}
        assert second.check_agent_health("b") is HealthState.HEALTHY
        assert second.generate_report("json").count('"agent_id":"c"') == 0


def test_the_swarm_id_and_topology_are_kept_in_the_file(db_path: str, clock: ManualClock) -> None:
    """The settings are stored even when no swarm gauge was ever recorded."""
    with start_system(db_path, clock=clock, swarm_id="acc-swarm", topology_type="star"):
        pass
    with MetricsStorage(db_path, readonly=True) as stored:
        assert stored.metadata() == {"swarm_id": "acc-swarm", "topology_type": "star"}
