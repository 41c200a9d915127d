"""One policy for agents the system does not track: writes say False, reads raise UnknownAgent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from actors import AgentNotTracked, ManualClock, SwarmSystem, UnknownAgent, start_system
from messages import InvalidMessage

READS: dict[str, Callable[[SwarmSystem, str], Any]] = {
    "check_agent_health": lambda s, a: s.check_agent_health(a),
    "get_agent_health_status": lambda s, a: s.get_agent_health_status(a),
    "get_agent_performance": lambda s, a: s.get_agent_performance(a),
    "get_task_stats": lambda s, a: s.get_task_stats(agent_id=a),
    "get_task_stats in a range": lambda s, a: s.get_task_stats(a, 1e9, 4e9),
    "get_agent_uptime": lambda s, a: s.get_agent_uptime(a),
    "get_heartbeat_history": lambda s, a: s.get_heartbeat_history(a),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_every_read_about_an_id_never_seen_raises_unknown_agent(
    system: SwarmSystem, read: str
) -> None:
    """A typo is not an agent with zero tasks, 100% uptime or no health: it is unknown."""
    system.register_agent("backend")
    system.record_task_metric("t1", "backend", 10.0, "success")
    with pytest.raises(UnknownAgent) as caught:
        READS[read](system, "backnd")
    assert type(caught.value) is UnknownAgent
    assert caught.value.agent_id == "backnd"
    assert isinstance(caught.value, KeyError)


def test_writes_about_an_unregistered_agent_return_false(system: SwarmSystem) -> None:
    """A heartbeat or an unregistration of an agent that is not registered changes nothing."""
    assert system.update_agent_heartbeat("ghost") is False
    assert system.unregister_agent("ghost") is False
    assert system.get_monitoring_stats()["heartbeat_monitor"]["unknown_heartbeats"] == 1


def test_metrics_of_an_unregistered_agent_are_stored_and_counted_by_default(
    system: SwarmSystem,
) -> None:
    """The default policy ("store"): the task and the gauge are kept, and counted as such."""
    system.register_agent("backend")
    system.record_task_metric("t1", "backend", 10.0, "success")
    system.record_task_metric("t2", "ghost", 20.0, "failure")
    system.record_agent_metric("ghost", "queue_depth", 3)
    assert [m.task_id for m in system.query_task_metrics(agent_id="ghost")] == ["t2"]
    collector = system.get_monitoring_stats()["metrics_collector"]
    assert collector["unregistered_agent_metrics"] == 2
    assert collector["total_tasks"] == 2
    assert system.unregistered_agent_metrics() == 2
    assert system.get_write_status()["unregistered_agent_metrics"] == 2


def test_an_agent_known_only_from_its_metrics_has_statistics_but_no_health(
    system: SwarmSystem,
) -> None:
    """Never registered: its stats are there; its health and uptime are not (not 100%)."""
    system.record_task_metric("t1", "ghost", 20.0, "success")
    assert system.get_task_stats(agent_id="ghost")["total_tasks"] == 1
    assert system.get_agent_performance("ghost")["tasks_completed"] == 1
    with pytest.raises(AgentNotTracked):
        system.check_agent_health("ghost")
    with pytest.raises(AgentNotTracked):
        system.get_agent_uptime("ghost")
    status = system.get_agent_health_status("ghost")
    assert status is not None
    assert (status["tracked"], status["health_state"]) == (False, "unknown")
    assert system.get_heartbeat_history("ghost") == []


def test_the_strict_policy_refuses_metrics_of_unregistered_agents(
    db_path: str, clock: ManualClock
) -> None:
    """unknown_agents="refuse": UnknownAgent at record time, before and after registration."""
    with start_system(db_path, clock=clock, unknown_agents="refuse") as system:
        with pytest.raises(UnknownAgent):
            system.record_task_metric("t1", "ghost", 10.0, "success")
        with pytest.raises(UnknownAgent):
            system.record_task_execution("t1", "ghost", 10.0, True)
        with pytest.raises(UnknownAgent):
            system.record_agent_metric("ghost", "queue_depth", 3)
        system.register_agent("ghost")
        system.record_task_metric("t2", "ghost", 10.0, "success")
        system.record_agent_metric("ghost", "queue_depth", 3)
        assert system.unregister_agent("ghost") is True
        with pytest.raises(UnknownAgent):
            system.record_task_metric("t3", "ghost", 10.0, "success")
        assert [m.task_id for m in system.query_task_metrics()] == ["t2"]
        assert system.get_monitoring_stats()["metrics_collector"]["unregistered_agent_metrics"] == 0


def test_an_unknown_policy_is_refused_by_name(db_path: str) -> None:
    """start_system names the setting it cannot use."""
    with pytest.raises(InvalidMessage) as caught:
        start_system(db_path, unknown_agents="ignore")  # type: ignore[arg-type]
    assert caught.value.field == "unknown_agents"
