"""The facade end to end: metrics, statistics, persistence, reports, shutdown."""

from __future__ import annotations

import gc
import json
import math

import pytest

from actors import ManualClock, MonitoringDisabled, SwarmSystem, start_system
from actors.protocol import GetGauges
from messages import HealthState, InvalidMessage, TaskResult
from storage import MetricsStorage
from tests.events import EventLog

DURATIONS = [100.0, 200.0, 300.0, 400.0, 1000.0]
RESULTS = ["success", "success", "failure", "timeout", "success"]


def _record_known(system: SwarmSystem) -> None:
    for i, (d, r) in enumerate(zip(DURATIONS, RESULTS, strict=True)):
        system.record_task_metric(f"t{i}", "worker", d, r, tokens_used=10 * i, files_changed=i)


def test_statistics_match_values_computed_by_hand(system: SwarmSystem) -> None:
    """Counts, rates, averages, extremes and (five tasks) percentiles are exact."""
    _record_known(system)
    stats = system.get_task_stats()
    assert stats["total_tasks"] == 5
    assert stats["success_rate"] == pytest.approx(60.0)
    assert stats["error_rate"] == pytest.approx(40.0)
    assert stats["avg_duration_ms"] == pytest.approx(400.0)
    assert stats["min_duration_ms"] == pytest.approx(100.0)
    assert stats["max_duration_ms"] == pytest.approx(1000.0)
    assert stats["median_duration_ms"] == 300.0
    assert stats["p95_duration_ms"] == pytest.approx(880.0)  # 400 + 0.8 * (1000 - 400)
    assert stats["exact"] is True
    assert stats["total_tokens"] == 100
    assert stats["total_files_changed"] == 10
    assert stats["results_breakdown"]["failure"] == 1
    assert stats["results_breakdown"]["timeout"] == 1
    assert stats["results_breakdown"]["cancelled"] == 0
    perf = system.get_agent_performance("worker")
    assert perf["tasks_completed"] == 5
    assert perf["total_tokens_used"] == 100


def test_time_filtered_statistics_come_from_sqlite(system: SwarmSystem, clock: ManualClock) -> None:
    """A time range selects only the tasks recorded inside it."""
    start = clock.time()
    system.record_task_metric("early", "a", 50.0, TaskResult.SUCCESS)
    clock.advance(100)
    middle = clock.time()
    system.record_task_metric("late", "a", 70.0, TaskResult.FAILURE)
    stats = system.get_task_stats(start_time=middle)
    assert stats["total_tasks"] == 1
    assert stats["success_rate"] == 0.0
    assert system.get_task_stats(start_time=start, end_time=middle)["total_tasks"] == 1
    assert system.get_task_stats(agent_id="a", start_time=start)["total_tasks"] == 2


def test_recorded_metrics_round_trip_through_sqlite(system: SwarmSystem) -> None:
    """query_task_metrics returns what was recorded, in time order, with metadata."""
    system.record_task_metric("t1", "a", 12.5, "partial", 7, 2, metadata={"model": "x"})
    system.record_task_execution("t2", "b", 3.0, success=False)
    stored = system.query_task_metrics()
    assert [(m.task_id, m.agent_id, m.duration_ms, m.result) for m in stored] == [
        ("t1", "a", 12.5, TaskResult.PARTIAL),
        ("t2", "b", 3.0, TaskResult.FAILURE),
    ]
    assert stored[0].metadata == {"model": "x"}
    assert stored[0].tokens_used == 7 and stored[0].files_changed == 2
    assert [m.task_id for m in system.query_task_metrics(agent_id="b")] == ["t2"]
    assert len(system.query_task_metrics(limit=1)) == 1


def test_metadata_is_copied_when_recorded(system: SwarmSystem) -> None:
    """Changing a dict after handing it over does not change what was stored."""
    metadata = {"k": "before"}
    system.record_task_metric("t", "a", 1.0, "success", metadata=metadata)
    metadata["k"] = "after"
    assert system.query_task_metrics()[0].metadata == {"k": "before"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"duration_ms": -1.0}, "duration_ms"),
        ({"duration_ms": math.nan}, "duration_ms"),
        ({"result": "exploded"}, "result"),
        ({"tokens_used": -5}, "tokens_used"),
        ({"files_changed": 1.5}, "files_changed"),
        ({"agent_id": ""}, "agent_id"),
        ({"task_id": "x" * 300}, "task_id"),
        ({"metadata": {"k": "v" * 9000}}, "metadata"),
    ],
)
def test_bad_metrics_are_refused_at_the_caller(
    system: SwarmSystem, kwargs: dict[str, object], field: str
) -> None:
    """The caller gets InvalidMessage naming the field; nothing is recorded."""
    args: dict[str, object] = {
        "task_id": "t", "agent_id": "a", "duration_ms": 1.0, "result": "success",
    }
    with pytest.raises(InvalidMessage) as caught:
        system.record_task_metric(**{**args, **kwargs})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert system.get_task_stats()["total_tasks"] == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"duration_ms": -1.0}, "duration_ms"),
        ({"duration_ms": math.inf}, "duration_ms"),
        ({"duration_ms": "1.0"}, "duration_ms"),
        ({"result": "exploded"}, "result"),
        ({"result": ["success"]}, "result"),
        ({"tokens_used": -5}, "tokens_used"),
        ({"tokens_used": True}, "tokens_used"),
        ({"files_changed": -1, "tokens_used": 5}, "files_changed"),
        ({"agent_id": ["a"]}, "agent_id"),
        ({"task_id": ""}, "task_id"),
        ({"task_id": "a\x00b"}, "task_id"),
        ({"task_id": "x" * 300}, "task_id"),
    ],
)
def test_bad_metrics_from_a_known_agent_are_refused_at_the_caller(
    system: SwarmSystem, kwargs: dict[str, object], field: str
) -> None:
    """Once an agent is known its metrics take the fast path, which refuses the same by name."""
    args: dict[str, object] = {
        "task_id": "t", "agent_id": "a", "duration_ms": 1.0, "result": "success",
    }
    system.record_task_metric(**args)  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage) as caught:
        system.record_task_metric(**{**args, **kwargs})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert system.get_task_stats()["total_tasks"] == 1


def test_metrics_the_fast_path_passes_on_are_stored_as_given(system: SwarmSystem) -> None:
    """An int duration, a TaskResult member and counts past 2**53 are stored, converted alike."""
    system.record_task_metric("t0", "a", 1.0, "success")
    system.record_task_metric("t1", "a", 7, TaskResult.FAILURE, 2**60, 3)
    system.flush()
    stored = {m.task_id: m for m in system.query_task_metrics()}
    assert stored["t1"].duration_ms == 7.0
    assert type(stored["t1"].duration_ms) is float
    assert stored["t1"].result is TaskResult.FAILURE
    assert (stored["t1"].tokens_used, stored["t1"].files_changed) == (2**60, 3)


def test_agent_and_swarm_gauges_keep_latest_and_history(system: SwarmSystem) -> None:
    """Gauges are stored and their latest value is known."""
    system.record_agent_metric("a", "queue_depth", 3)
    system.record_agent_metric("a", "queue_depth", 5)
    system.record_swarm_metric("topology_health", 0.9)
    system.flush()
    gauges = system.aggregator.ask(GetGauges())
    assert gauges["agents"]["a/queue_depth"]["latest"] == 5
    assert gauges["swarm"]["topology_health"]["latest"] == 0.9


def test_shutdown_flushes_every_accepted_metric(db_path: str, clock: ManualClock) -> None:
    """Metrics still buffered at shutdown are in the file afterwards; shutdown is idempotent."""
    system = start_system(db_path, clock=clock)
    for i in range(5000):
        system.record_task_metric(f"t{i}", f"a{i % 7}", float(i), "success")
    system.shutdown()
    system.shutdown()
    with MetricsStorage(db_path) as storage:
        assert storage.task_stats()["total_tasks"] == 5000


def test_register_agents_registers_each_once_in_one_message(
    system: SwarmSystem, db_path: str
) -> None:
    """Many agents register at once; each is watched and stored; a repeat is False."""
    ids = [f"bulk-{i}" for i in range(500)]
    assert system.register_agents(ids, {"team": "x"}, interval_ms=2000) == [True] * 500
    assert system.register_agents(["bulk-7", "bulk-new", "bulk-new"]) == [False, True, False]
    status = system.get_agent_health_status("bulk-499")
    assert status is not None and status["health_state"] == "healthy"
    system.flush()
    with MetricsStorage(db_path, readonly=True) as storage:
        records = {record.agent_id: record for record in storage.agents()}
    assert len(records) == 501
    assert records["bulk-3"].interval_ms == 2000
    assert records["bulk-3"].metadata == {"team": "x"}


def test_gc_freeze_freezes_what_register_agents_leaves_alive_until_shutdown(
    db_path: str, clock: ManualClock
) -> None:
    """gc_freeze=True: the agents' state is out of the full collections' way until
    shutdown; by default nothing is frozen."""
    gc.unfreeze()  # a clean count for this test
    with start_system(db_path, clock=clock) as plain:
        plain.register_agents([f"plain-{i}" for i in range(50)])
        assert gc.get_freeze_count() == 0
    system = start_system(db_path, clock=clock, gc_freeze=True)
    try:
        system.register_agents([f"frozen-{i}" for i in range(50)])
        assert gc.get_freeze_count() > 0
        tracker_states = [o for o in gc.get_objects() if type(o).__name__ == "TrackerState"]
        assert tracker_states == []  # the frozen are not in the collector's generations
        status = system.get_agent_health_status("frozen-49")
        assert status is not None and status["health_state"] == "healthy"
    finally:
        system.shutdown()
    assert gc.get_freeze_count() == 0


def test_gc_freeze_must_be_a_bool(db_path: str) -> None:
    """A gc_freeze that is not True or False is refused by name before anything starts."""
    with pytest.raises(InvalidMessage) as caught:
        start_system(db_path, gc_freeze=1)  # type: ignore[arg-type]
    assert caught.value.field == "gc_freeze"


@pytest.mark.parametrize(
    ("agent_ids", "field"),
    [
        (["ok-1", "", "ok-2"], "agent_id"),
        (["ok-1", "bad\nid"], "agent_id"),
        (["ok-1", 7], "agent_id"),
        ("ok-1", "agent_ids"),
        (42, "agent_ids"),
    ],
)
def test_register_agents_refuses_a_bad_id_and_registers_none(
    system: SwarmSystem, agent_ids: object, field: str
) -> None:
    """One invalid id refuses the whole call, by name; nobody was registered."""
    with pytest.raises(InvalidMessage) as caught:
        system.register_agents(agent_ids)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert system.get_monitoring_stats()["heartbeat_monitor"]["total_agents"] == 0


def test_monitoring_disabled_registers_but_tracks_nothing(db_path: str, clock: ManualClock) -> None:
    """With monitoring off, registration works and everything else is quiet."""
    with start_system(db_path, enable_monitoring=False, clock=clock) as system:
        assert system.register_agent("a")
        system.record_task_metric("t", "a", 1.0, "success")
        assert system.get_agent_health_status("a") is None
        with pytest.raises(MonitoringDisabled):
            system.check_agent_health("a")
        assert system.get_monitoring_stats() == {"monitoring_enabled": False}
        assert system.query_task_metrics() == []


def test_topology_info_counts_connections(db_path: str, clock: ManualClock) -> None:
    """Connections follow the topology: mesh n(n-1)/2, star n-1, ring n."""
    for topology, expected in [("mesh", 10), ("star", 4), ("ring", 5), ("hierarchical", 4)]:
        with start_system(db_path, topology_type=topology, clock=clock) as system:
            for i in range(5):
                system.register_agent(f"{topology}-{i}")
            info = system.get_topology_info()
            assert info["connection_count"] == expected
            assert info["agent_count"] == 5
    with pytest.raises(ValueError, match="topology_type"):
        start_system(db_path, topology_type="blob", clock=clock)


def test_alerts_and_callbacks(system: SwarmSystem, clock: ManualClock, events: EventLog) -> None:
    """check_alerts lists unhealthy agents; a raising callback is counted, not fatal."""
    def boom(event: object) -> None:
        raise RuntimeError("callback bug")

    system.configure_alerts(callbacks={HealthState.DEGRADED: boom, HealthState.FAILED: events})
    system.register_agent("ok")
    system.register_agent("quiet")
    clock.advance(1.5)
    system.update_agent_heartbeat("ok")
    alerts = system.check_alerts()
    assert [(a["agent_id"], a["severity"], a["state"]) for a in alerts] == [
        ("quiet", "warning", "degraded"),
    ]
    clock.advance(2)
    events.wait_for(1)
    assert events.events[0].current is HealthState.FAILED
    stats = system.get_monitoring_stats()
    assert stats["alerts"]["callback_errors"] >= 1
    assert {a["severity"] for a in system.check_alerts()} == {"critical"}


def test_uptime_is_exact_from_the_transition_log(system: SwarmSystem, clock: ManualClock) -> None:
    """An agent FAILED for 2 s of 10 s monitored has 80% uptime."""
    start = clock.time()
    system.register_agent("a")
    clock.advance(3)  # FAILED at 3 s
    clock.advance(2)
    system.update_agent_heartbeat("a")  # back at 5 s
    for _ in range(5):
        clock.advance(1)
        system.update_agent_heartbeat("a")
    assert system.get_agent_uptime("a", start, clock.time()) == pytest.approx(80.0)


def test_reports_in_both_formats_describe_a_known_swarm(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """Markdown and JSON reports show the failed agent, the bars and the task stats."""
    system.register_agent("good")
    system.register_agent("bad")
    _record_known(system)
    clock.advance(2.5)
    system.update_agent_heartbeat("good")
    clock.advance(0.6)
    markdown = system.generate_report()
    assert "test-swarm" in markdown
    assert "failed    |" + "█" * 10 + " " * 10 + "| 1" in markdown
    assert "| bad | failed | 3.1 s |" in markdown
    data = json.loads(system.generate_report("json"))
    assert data["swarm_id"] == "test-swarm"
    assert data["agent_count"] == 2
    assert data["health_distribution"] == {"healthy": 1, "degraded": 0, "critical": 0, "failed": 1}
    assert data["task_stats"]["total_tasks"] == 5
    assert {a["agent_id"]: a["health_state"] for a in data["agents"]} == {
        "good": "healthy", "bad": "failed",
    }
    with pytest.raises(ValueError, match="format"):
        system.generate_report("html")


def test_the_markdown_report_escapes_hostile_ids(system: SwarmSystem, clock: ManualClock) -> None:
    """An agent id cannot inject Markdown or HTML; the JSON report stays valid."""
    hostile = "<script>alert(1)</script>|**x**\u2028# h"
    system.register_agent(hostile)
    clock.advance(1.5)
    markdown = system.generate_report()
    assert "<script>" not in markdown
    assert "**x**" not in markdown
    assert "\u2028" not in markdown
    assert json.loads(system.generate_report("json"))["agents"][0]["agent_id"] == hostile


@pytest.mark.parametrize(
    ("agents", "per_agent"),
    [pytest.param(3, 400, id="few-agents-summarised"), pytest.param(900, 2, id="many-agents")],
)
def test_stored_rollups_equal_a_rebuild_from_the_rows(
    db_path: str, clock: ManualClock, agents: int, per_agent: int
) -> None:
    """Whether the aggregator summarises a drain (large groups) or leaves it to the storage
    (small groups), the rollups written equal those rebuilt from the stored rows."""
    system = start_system(db_path, clock=clock)
    try:
        for minute in range(3):
            for i in range(agents * per_agent):
                system.record_task_metric(
                    f"t{minute}-{i}", f"agent-{i % agents}", float(1 + (i * 37) % 5000),
                    "success" if i % 7 else "failure", i % 50, i % 3,
                )
            system.flush()
            clock.advance(61.0)
    finally:
        system.shutdown()

    def every_stat(storage: MetricsStorage) -> list[object]:
        ids = [None, "agent-0", f"agent-{agents - 1}"]
        return [storage.task_stats(agent_id=agent_id) for agent_id in ids]

    with MetricsStorage(db_path, exact_max_rows=0) as storage:
        written = every_stat(storage)
        storage.rebuild_rollups()
        rebuilt = every_stat(storage)
    assert written == rebuilt
    assert written[0]["total_tasks"] == 3 * agents * per_agent  # type: ignore[index]


@pytest.mark.parametrize("limit", ["\ud800", "10", 1.5, True, -1, 10**12])
@pytest.mark.parametrize("read", ["query_task_metrics", "query_health_events", "query_alerts"])
def test_a_query_limit_that_is_not_a_row_count_is_refused_by_name(
    system: SwarmSystem, read: str, limit: object
) -> None:
    """Found by Hypothesis: a string limit reached SQLite and raised UnicodeEncodeError."""
    with pytest.raises(InvalidMessage) as caught:
        getattr(system, read)(limit=limit)
    assert caught.value.field == "limit"
    assert getattr(system, read)(limit=0) == []
