"""Tests for storage/reader.py: filters, ranges, limits and order of every query."""

from __future__ import annotations

import datetime as dt

import pytest

from messages import AlertSeverity, InvalidMessage, TaskResult
from storage import EXACT_SAMPLES, MetricsStorage, UnknownAgentRecord

from .builders import T0, agent_metric, alert, health, registered, row, swarm_metric


@pytest.fixture
def filled(storage: MetricsStorage) -> MetricsStorage:
    """Ten tasks a second apart from a1 and a2 alternating, results cycling, plus other data."""
    results = ["success", "failure", "timeout", "success", "partial"]
    storage.store_batch(
        tasks=[
            row(f"t{i}", f"a{i % 2 + 1}", result=results[i % 5], timestamp=T0 + i)
            for i in range(10)
        ],
        agent_metrics=[
            agent_metric(f"a{i % 2 + 1}", "cpu" if i % 3 else "mem", float(i), T0 + i)
            for i in range(6)
        ],
        swarm_metrics=[
            swarm_metric("s1", "load" if i % 2 else "size", i, T0 + i) for i in range(6)
        ],
        health_events=[health(f"a{i % 2 + 1}", at=T0 + i) for i in range(6)],
        alerts=[
            alert("*" if i % 3 == 0 else "a1", "info" if i % 2 else "critical", f"m{i}", T0 + i)
            for i in range(6)
        ],
    )
    return storage


def test_time_ranges_include_the_start_and_exclude_the_end(filled: MetricsStorage) -> None:
    """[T0+2, T0+5) holds the tasks at +2, +3 and +4, in time order."""
    found = filled.query_task_metrics(start_time=T0 + 2, end_time=T0 + 5)
    assert [m.timestamp - T0 for m in found] == [2.0, 3.0, 4.0]
    assert [m.at - T0 for m in filled.query_health_events(T0 + 2, T0 + 5)] == [2.0, 3.0, 4.0]
    assert [m.at - T0 for m in filled.query_alerts(T0 + 2, T0 + 5)] == [2.0, 3.0, 4.0]
    assert [m.timestamp - T0 for m in filled.query_agent_metrics(T0 + 2, T0 + 5)] == [2, 3, 4]
    assert [m.timestamp - T0 for m in filled.query_swarm_metrics(T0 + 2, T0 + 5)] == [2, 3, 4]


def test_open_ended_ranges(filled: MetricsStorage) -> None:
    """Only a start, or only an end, bounds one side."""
    assert len(filled.query_task_metrics(start_time=T0 + 8)) == 2
    assert len(filled.query_task_metrics(end_time=T0 + 8)) == 8


def test_times_may_be_datetimes(filled: MetricsStorage) -> None:
    """Aware and naive (UTC) datetimes select like epoch seconds."""
    start = dt.datetime.fromtimestamp(T0 + 2, tz=dt.UTC)
    end = dt.datetime.fromtimestamp(T0 + 5, tz=dt.UTC).replace(tzinfo=None)
    assert len(filled.query_task_metrics(start_time=start, end_time=end)) == 3


def test_agent_filters(filled: MetricsStorage) -> None:
    """agent_id keeps that agent's rows; '*' picks swarm alerts; unknown agents have none."""
    assert {m.agent_id for m in filled.query_task_metrics(agent_id="a2")} == {"a2"}
    assert len(filled.query_task_metrics(agent_id="a2")) == 5
    assert len(filled.query_agent_metrics(agent_id="a1")) == 3
    assert len(filled.query_health_events(agent_id="a1")) == 3
    assert [a.message for a in filled.query_alerts(agent_id="*")] == ["m0", "m3"]
    assert len(filled.query_alerts(agent_id="a1")) == 4
    assert filled.query_task_metrics(agent_id="nobody") == []


def test_agent_and_time_filters_combine(filled: MetricsStorage) -> None:
    """An agent's rows in a range."""
    found = filled.query_task_metrics(start_time=T0 + 3, end_time=T0 + 8, agent_id="a1")
    assert [m.task_id for m in found] == ["t4", "t6"]


def test_result_metric_type_and_severity_filters(filled: MetricsStorage) -> None:
    """result, metric_type and severity filters accept enum members or strings."""
    assert [m.task_id for m in filled.query_task_metrics(result=TaskResult.SUCCESS)] == [
        "t0",
        "t3",
        "t5",
        "t8",
    ]
    assert len(filled.query_task_metrics(result="timeout", agent_id="a1")) == 1
    assert len(filled.query_agent_metrics(metric_type="mem")) == 2
    assert len(filled.query_swarm_metrics(metric_type="load")) == 3
    assert len(filled.query_alerts(severity=AlertSeverity.CRITICAL)) == 3
    with pytest.raises(InvalidMessage):
        filled.query_task_metrics(result="glorious")


def test_limit_keeps_the_oldest(filled: MetricsStorage) -> None:
    """limit=n returns the first n in time order; 0 returns none."""
    assert [m.task_id for m in filled.query_task_metrics(limit=3)] == ["t0", "t1", "t2"]
    assert filled.query_task_metrics(limit=0) == []
    assert len(filled.query_swarm_metrics(limit=4)) == 4
    assert len(filled.query_alerts(limit=1)) == 1
    assert len(filled.query_health_events(limit=2)) == 2
    assert len(filled.query_agent_metrics(limit=5)) == 5


def test_results_come_in_time_order_whatever_the_insertion_order(storage: MetricsStorage) -> None:
    """Rows stored out of order come back sorted by time; equal times in insertion order."""
    storage.store_batch(tasks=[row("late", timestamp=T0 + 9), row("early", timestamp=T0 + 1)])
    storage.store_batch(tasks=[row("tie-1", timestamp=T0 + 5), row("tie-2", timestamp=T0 + 5)])
    assert [m.task_id for m in storage.query_task_metrics()] == ["early", "tie-1", "tie-2", "late"]


def test_bad_arguments_are_refused(storage: MetricsStorage) -> None:
    """Negative limits and non-times raise InvalidMessage."""
    with pytest.raises(InvalidMessage):
        storage.query_task_metrics(limit=-1)
    with pytest.raises(InvalidMessage):
        storage.query_alerts(start_time="today")


def test_agents_and_agent_ids_are_sorted(storage: MetricsStorage) -> None:
    """agents() and agent_ids() list every agent ever seen, by id."""
    storage.store_batch(tasks=[row(agent_id="zed")], agent_events=[registered("amy")])
    storage.store_health_event(health("max"))
    assert storage.agent_ids() == ["amy", "max", "zed"]
    assert [a.agent_id for a in storage.agents()] == ["amy", "max", "zed"]
    assert storage.agents()[0].registered_at == T0


def test_stats_of_an_unknown_agent_are_empty(filled: MetricsStorage) -> None:
    """task_stats for an agent never seen reports no tasks (it is not an error)."""
    stats = filled.task_stats(agent_id="nobody")
    assert stats["total_tasks"] == 0 and stats["exact"] is True


def test_uptime_of_an_unknown_agent_is_an_unknown_agent_record(filled: MetricsStorage) -> None:
    """agent_uptime raises UnknownAgentRecord (a KeyError) for an agent never seen."""
    with pytest.raises(UnknownAgentRecord) as info:
        filled.agent_uptime("nobody", now=T0)
    assert info.value.agent_id == "nobody"
    assert info.value.operation == "agent_uptime"


INJECTION = "x'; DROP TABLE task_metrics; --"


def test_hostile_strings_are_stored_and_read_back_as_data(storage: MetricsStorage) -> None:
    """Ids, types, messages and metadata with SQL in them are data, in and out."""
    storage.store_batch(
        tasks=[row(INJECTION, INJECTION, metadata={INJECTION: INJECTION})],
        agent_metrics=[agent_metric(INJECTION, INJECTION)],
        swarm_metrics=[swarm_metric(INJECTION, INJECTION)],
        health_events=[health(INJECTION)],
        alerts=[alert(INJECTION, message=INJECTION)],
        agent_events=[registered(INJECTION, note=INJECTION)],
    )
    (metric,) = storage.query_task_metrics(agent_id=INJECTION)
    assert (metric.task_id, metric.agent_id, metric.metadata) == (
        INJECTION,
        INJECTION,
        {INJECTION: INJECTION},
    )
    assert storage.query_agent_metrics(agent_id=INJECTION, metric_type=INJECTION)[0].value == 1.0
    assert storage.query_swarm_metrics(metric_type=INJECTION)[0].swarm_id == INJECTION
    assert storage.query_alerts(agent_id=INJECTION)[0].message == INJECTION
    assert storage.agent_ids() == [INJECTION]
    assert storage.task_stats(agent_id=INJECTION)["total_tasks"] == 1
    assert storage.agent_uptime(INJECTION, now=T0 + 10) == 0.0  # FAILED from T0 (registration) on
    assert len(storage.query_task_metrics()) == 1  # the table is still there


def test_hostile_filters_match_nothing_and_drop_nothing(filled: MetricsStorage) -> None:
    """Filters with SQL in them find no rows and leave every table in place."""
    assert filled.query_task_metrics(agent_id=INJECTION) == []
    assert filled.query_agent_metrics(metric_type=INJECTION) == []
    assert filled.query_swarm_metrics(metric_type="' OR '1'='1") == []
    assert filled.task_stats(agent_id="' OR 1=1 --")["total_tasks"] == 0
    assert len(filled.query_task_metrics()) == 10


def test_task_tally_keeps_every_duration_up_to_exact_samples(storage: MetricsStorage) -> None:
    """The tally of all stored tasks: exact (every duration) up to EXACT_SAMPLES, not past it;
    the same numbers as task_stats over all time; None for an agent never seen."""
    storage.store_batch(tasks=[row(f"t{i}", "a1", 100.0 + i, timestamp=T0 + i) for i in range(4)])
    storage.store_batch(
        tasks=[row(f"u{i}", "a2", float(i), timestamp=T0 + 7200 + i) for i in range(EXACT_SAMPLES)]
    )
    small = storage.task_tally("a1")
    assert small is not None and sorted(small.samples or []) == [100.0, 101.0, 102.0, 103.0]
    assert small.to_stats() == storage.task_stats(agent_id="a1")
    assert small.to_stats()["median_duration_ms"] == 101.5
    swarm = storage.task_tally()
    assert swarm is not None and swarm.count == EXACT_SAMPLES + 4 and swarm.samples is None
    assert swarm.to_stats() == storage.task_stats()
    assert swarm.to_stats()["exact"] is False
    assert storage.task_tally("nobody") is None


def test_one_agent_record_and_each_agents_last_stored_state(storage: MetricsStorage) -> None:
    """agent() is one record or None; last_states() the current of each agent's last event."""
    storage.store_batch(
        agent_events=[registered("a1", at=T0)],
        health_events=[
            health("a1", "healthy", "degraded", T0 + 1),
            health("a1", "degraded", "healthy", T0 + 2),
            health("a2", "healthy", "degraded", T0 + 3),
        ],
    )
    record = storage.agent("a1")
    assert record is not None and (record.agent_id, record.registered_at) == ("a1", T0)
    assert storage.agent("nobody") is None
    assert storage.last_states() == {"a1": "healthy", "a2": "degraded"}


@pytest.mark.parametrize("types", [1, 3, 12])
def test_latest_gauges_list_every_type_however_many(storage: MetricsStorage, types: int) -> None:
    """The latest gauge of each (agent, type), by agent and type, past the one-by-one type search."""
    names = [f"type-{i:02d}" for i in reversed(range(types))]
    metrics = [
        agent_metric(f"a{i % 3}", names[(i * 7) % types], float(i), T0 + i) for i in range(90)
    ]
    storage.store_batch(agent_metrics=metrics)
    for start, end in [(None, None), (T0 + 20, T0 + 70), (T0 + 100, None)]:
        expected: dict[tuple[str, str], float] = {}
        for m in metrics:
            if (start is None or m.timestamp >= start) and (end is None or m.timestamp < end):
                expected[(m.agent_id, m.metric_type)] = m.value
        latest = storage.latest_agent_metrics(start_time=start, end_time=end)
        assert [((m.agent_id, m.metric_type), m.value) for m in latest] == sorted(expected.items())
