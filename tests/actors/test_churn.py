"""Agents that leave: their in-memory state goes, their stored history stays."""

from __future__ import annotations

from actors import ManualClock, SwarmSystem
from actors.protocol import GetGauges, GetTaskStats
from actors.testing import parts


def test_unregister_releases_the_agents_memory_and_keeps_its_stored_stats(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """After unregister: no tally, series or gauge in the aggregator, not a known id of the
    channel; its statistics (with and without a time range) and the swarm's still count it."""
    system.register_agents(["leaver", "stayer"])
    system.record_task_metric("t1", "leaver", 100.0, "success")
    system.record_task_metric("t2", "leaver", 300.0, "failure")
    system.record_task_metric("t3", "stayer", 50.0, "success")
    system.record_agent_metric("leaver", "queue_depth", 4)
    assert system.get_task_stats("leaver")["total_tasks"] == 2
    assert system.aggregator.ask(GetTaskStats(agent_id="leaver")) is not None
    assert system.unregister_agent("leaver") is True
    assert system.aggregator.ask(GetTaskStats(agent_id="leaver")) is None  # queued behind Release
    assert "leaver/queue_depth" not in system.aggregator.ask(GetGauges())["agents"]
    assert not parts(system).telemetry.is_known("leaver")
    assert system.aggregator.ask(GetTaskStats(agent_id="stayer")) is not None
    for stats in (
        system.get_task_stats("leaver"),
        system.get_task_stats("leaver", start_time=1e9, end_time=clock.time() + 1),
    ):
        assert (stats["total_tasks"], stats["median_duration_ms"]) == (2, 200.0)
    assert system.get_agent_performance("leaver")["tasks_completed"] == 2
    assert system.get_task_stats()["total_tasks"] == 3


def test_an_agent_that_comes_back_counts_its_earlier_tasks_too(system: SwarmSystem) -> None:
    """Registered, two tasks, gone, back with one more: its statistics say three, not one."""
    system.register_agent("returner")
    system.record_task_metric("t1", "returner", 10.0, "success")
    system.record_task_metric("t2", "returner", 20.0, "success")
    system.unregister_agent("returner")
    system.register_agent("returner")
    system.record_task_metric("t3", "returner", 30.0, "success")
    for _ in range(2):  # the first read checks memory against the file, the second too
        stats = system.get_task_stats("returner")
        assert (stats["total_tasks"], stats["median_duration_ms"]) == (3, 20.0)
    assert system.get_agent_performance("returner")["tasks_completed"] == 3
