"""The analyst alone, with a fake reporter and a ManualClock: each detector end to end."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors import ManualClock
from actors.analyst import Analyst
from actors.analytics.cost import Price
from actors.analytics.requests import (
    AgentJoined,
    AgentLeft,
    GetCost,
    GetFindings,
    GetInFlight,
    GetProfiles,
    Observed,
)
from actors.analytics.state import AnalystSettings, AnalystState
from actors.analytics.stuck import StuckSettings
from messages import Alert, TaskMetric, TaskStarted


class FakeReporter(pykka.ThreadingActor):
    """Collects the alerts it is told; a test waits for them."""

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Alert] = []
        self.arrived = threading.Condition()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Alert):
            with self.arrived:
                self.alerts.append(message)
                self.arrived.notify_all()
        return None


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock()
    yield manual
    manual.close()


@pytest.fixture
def reporter() -> Iterator[Any]:
    ref = FakeReporter.start()
    yield ref
    ref.stop()


def _analyst(clock: ManualClock, reporter: Any, **settings: Any) -> Any:
    state = AnalystState(settings=AnalystSettings(**settings))
    return Analyst.start(supervisor=None, state=state, clock=clock, alerts=reporter), state


def _alerts(reporter: Any, analyst: Any, name: str | None = None) -> list[Alert]:
    analyst.ask(GetProfiles())  # everything told before has been handled
    got: list[Alert] = reporter.proxy().alerts.get()
    return [a for a in got if name is None or a.metadata.get("alertname") == name]


def _task(clock: ManualClock, agent: str, task_id: str, ms: float, result: str = "success",
          **metadata: Any) -> TaskMetric:
    return TaskMetric(task_id=task_id, agent_id=agent, duration_ms=ms, result=result,
                      timestamp=clock.time(), metadata=metadata)


def test_a_task_past_its_fixed_limit_is_stuck_then_finished(clock: ManualClock, reporter: Any) -> None:
    """Stuck at its limit (one warning), still stuck at twice it, then an alert it finished."""
    analyst, state = _analyst(clock, reporter, stuck=StuckSettings(limit_s=30.0))
    try:
        analyst.tell(TaskStarted(task_id="t1", agent_id="coder", kind="code", timestamp=clock.time()))
        assert analyst.ask(GetInFlight(agent_id="coder"))["coder"][0]["stuck"] is False
        clock.advance(29.0)
        assert _alerts(reporter, analyst, "TaskStuck") == []
        clock.advance(1.0)
        stuck = _alerts(reporter, analyst, "TaskStuck")
        assert len(stuck) == 1 and stuck[0].metadata["task_id"] == "t1"
        assert analyst.ask(GetInFlight())["coder"][0]["stuck"] is True
        clock.advance(30.0)
        assert len(_alerts(reporter, analyst, "TaskStillStuck")) == 1
        analyst.tell(_task(clock, "coder", "t1", 61_000.0))
        done = _alerts(reporter, analyst, "TaskStuckFinished")
        assert len(done) == 1 and "finished after 61.0 s" in done[0].message
        assert analyst.ask(GetInFlight(agent_id="coder")) == {"coder": []}
        assert state.stuck_tasks == 1
    finally:
        analyst.stop()


def test_stuck_limit_follows_k_times_the_kinds_p99(clock: ManualClock, reporter: Any) -> None:
    """After 20 reviews of ~1 s, a review running past 3 x p99 is stuck; a quick one never."""
    analyst, _ = _analyst(clock, reporter)
    try:
        for i in range(20):
            analyst.tell(TaskStarted(task_id=f"r{i}", agent_id="rev", kind="review", timestamp=clock.time()))
            analyst.tell(_task(clock, "rev", f"r{i}", 1000.0 + i))
        analyst.tell(TaskStarted(task_id="long", agent_id="rev", kind="review", timestamp=clock.time()))
        limit = analyst.ask(GetInFlight(agent_id="rev"))["rev"][0]["limit_s"]
        assert limit == pytest.approx(3 * 1.019, rel=0.01)
        clock.advance(limit + 0.01)
        assert len(_alerts(reporter, analyst, "TaskStuck")) == 1
    finally:
        analyst.stop()


def test_a_burst_of_slow_tasks_is_one_alert_and_one_all_clear(clock: ManualClock, reporter: Any) -> None:
    """Ten tasks 6 x slower after 120 normal ones: one SlowTasks, then SlowTasksEnded."""
    analyst, _ = _analyst(clock, reporter)
    rng = random.Random(1)
    try:
        batch = [_task(clock, "a", f"n{i}", 1000 * rng.lognormvariate(0, 0.2)) for i in range(120)]
        batch += [_task(clock, "a", f"s{i}", 6000.0) for i in range(10)]
        batch += [_task(clock, "a", f"m{i}", 1000.0) for i in range(5)]
        analyst.tell(Observed(tasks=tuple(batch)))
        assert len(_alerts(reporter, analyst, "SlowTasks")) == 1
        assert len(_alerts(reporter, analyst, "SlowTasksEnded")) == 1
    finally:
        analyst.stop()


def test_a_step_in_duration_is_a_regression_from_minute_p95s(clock: ManualClock, reporter: Any) -> None:
    """60 minutes at ~1 s then 15 at 1.6 s: one DurationRegression; noise alone none."""
    analyst, _ = _analyst(clock, reporter)
    rng = random.Random(2)
    try:
        for minute in range(75):
            factor = 1.6 if minute >= 60 else 1.0
            tasks = tuple(_task(clock, "a", f"t{minute}-{k}", 1000 * factor * rng.lognormvariate(0, 0.2))
                          for k in range(10))
            analyst.tell(Observed(tasks=tasks))
            if minute == 59:
                assert _alerts(reporter, analyst, "DurationRegression") == []
            clock.advance(60.0)
        assert len(_alerts(reporter, analyst, "DurationRegression")) == 1
    finally:
        analyst.stop()


def test_an_outlier_among_role_peers_is_found_once(clock: ManualClock, reporter: Any) -> None:
    """One coder 2.5 x slower than three others: one OutlierAgent, and a finding that says so."""
    analyst, _ = _analyst(clock, reporter)
    rng = random.Random(3)
    try:
        for name in ("c1", "c2", "c3", "slow"):
            analyst.tell(AgentJoined(agent_id=name, at=clock.time(), role="coder"))
        tasks = [_task(clock, name, f"{name}-{k}",
                       (2500 if name == "slow" else 1000) * rng.lognormvariate(0, 0.1))
                 for name in ("c1", "c2", "c3", "slow") for k in range(30)]
        analyst.tell(Observed(tasks=tuple(tasks)))
        clock.advance(60.0)
        clock.advance(60.0)
        outliers = _alerts(reporter, analyst, "OutlierAgent")
        assert [a.agent_id for a in outliers] == ["slow"]
        assert "coder peers" in outliers[0].message
        texts = [f["text"] for f in analyst.ask(GetFindings())]
        assert any(t.startswith("slow is the slowest of its coder peers: its p95 is 2.") for t in texts), texts
    finally:
        analyst.stop()


def test_cost_and_profile_from_metadata(clock: ManualClock, reporter: Any) -> None:
    """Cost per agent from the price table; busy share and time in LLM calls from metadata."""
    analyst, _ = _analyst(clock, reporter, prices={"gpt-x": Price(2.0, 8.0)})
    try:
        analyst.tell(AgentJoined(agent_id="a", at=clock.time(), role="coder"))
        clock.advance(100.0)
        analyst.tell(_task(clock, "a", "t1", 20_000.0, model="gpt-x", tokens_in=1_000_000,
                           tokens_out=500_000, llm_ms=15_000))
        analyst.tell(_task(clock, "a", "t2", 5_000.0))
        cost = analyst.ask(GetCost())
        assert cost["by_agent"] == {"a": pytest.approx(6.0)} and cost["unpriced_tasks"] == 1
        profile = analyst.ask(GetProfiles())["a"]
        assert profile["busy_share"] == pytest.approx(0.25)
        assert profile["llm_share"] == pytest.approx(0.6)
        texts = [f["text"] for f in analyst.ask(GetFindings())]
        assert "a spends 60% of its task time in LLM calls" in texts
    finally:
        analyst.stop()


def test_an_agent_that_leaves_is_forgotten_and_its_timers_cancelled(clock: ManualClock, reporter: Any) -> None:
    """After AgentLeft no stuck alert comes for its task, and its state is gone."""
    analyst, state = _analyst(clock, reporter, stuck=StuckSettings(limit_s=5.0))
    try:
        analyst.tell(TaskStarted(task_id="t", agent_id="gone", timestamp=clock.time()))
        analyst.tell(AgentLeft(agent_id="gone"))
        clock.advance(10.0)
        assert _alerts(reporter, analyst) == []
        assert "gone" not in state.agents
    finally:
        analyst.stop()


def test_an_unknown_request_is_counted_not_fatal(clock: ManualClock, reporter: Any) -> None:
    """A message it does not understand is counted and it carries on."""
    analyst, _ = _analyst(clock, reporter)
    try:
        analyst.tell("nonsense")
        assert analyst.ask(GetCost())["total"] == 0
        assert analyst.proxy().unknown_messages.get() == 1
    finally:
        analyst.stop()


def _reviewers(clock: ManualClock, analyst: Any, slow_ms: float, others_ms: float, count: int,
               tag: str) -> None:
    """``count`` tasks each for four reviewers: reviewer-1's of ``slow_ms``, the others'
    of ``others_ms`` (1% apart, so that the peers' p95s are not all equal)."""
    tasks = [_task(clock, name, f"{name}-{tag}-{k}", (slow_ms if name == "reviewer-1" else others_ms)
                   * (1 + 0.01 * (k % 3)))
             for name in ("reviewer-1", "reviewer-2", "reviewer-3", "reviewer-4") for k in range(count)]
    analyst.tell(Observed(tasks=tuple(tasks)))


def test_a_bottleneck_finding_is_one_alert_until_it_goes_away(clock: ManualClock, reporter: Any) -> None:
    """reviewer-1 holds most task time, 3.5 x slower: one Bottleneck at the minute's
    evaluation with the numbers, none again while it lasts, and a resolution once the
    others have caught up and its tasks are fast again."""
    analyst, state = _analyst(clock, reporter)
    try:
        for name in ("reviewer-1", "reviewer-2", "reviewer-3", "reviewer-4"):
            analyst.tell(AgentJoined(agent_id=name, at=clock.time(), role="reviewer"))
        _reviewers(clock, analyst, 3500.0, 1000.0, 30, "a")
        assert _alerts(reporter, analyst, "Bottleneck") == []  # not before the evaluation
        clock.advance(60.0)
        raised = _alerts(reporter, analyst, "Bottleneck")
        assert [a.agent_id for a in raised] == ["reviewer-1"]
        assert raised[0].severity.value == "warning" and "ends_at" not in raised[0].metadata
        assert raised[0].message.startswith("reviewer-1 spends 54% of the swarm's task time; "
                                            "its p95 is 3.5x its peers'")
        assert raised[0].metadata["share"] == pytest.approx(0.54, abs=0.005)
        assert raised[0].metadata["p95_vs_peers"] == pytest.approx(3.5, abs=0.05)
        clock.advance(60.0)
        clock.advance(60.0)
        assert len(_alerts(reporter, analyst, "Bottleneck")) == 1  # not raised again
        _reviewers(clock, analyst, 1000.0, 1000.0, 200, "b")
        _reviewers(clock, analyst, 1000.0, 1000.0, 0, "c")
        analyst.tell(Observed(tasks=tuple(_task(clock, name, f"{name}-d-{k}", 1000.0)
                                          for name in ("reviewer-2", "reviewer-3", "reviewer-4")
                                          for k in range(100))))
        clock.advance(60.0)
        both = _alerts(reporter, analyst, "Bottleneck")
        assert len(both) == 2
        resolved = both[1]
        assert resolved.agent_id == "reviewer-1" and resolved.metadata["ends_at"] == clock.time()
        assert resolved.message.startswith("resolved: reviewer-1 spends 54%")
        assert state.finding_alerts == {}
        names = {a.metadata["alertname"] for a in _alerts(reporter, analyst)}
        assert names & {"SlowerThanPeers", "LongestQueue", "TopSpender"} == set()
    finally:
        analyst.stop()


def test_each_kind_of_finding_is_its_own_alert(clock: ManualClock, reporter: Any) -> None:
    """A slower peer, the longest queue, time mostly waiting and the top spender: each
    finding raises its own alertname (severity as FINDING_ALERTS says), once."""
    from actors.analyst import FINDING_ALERTS
    from messages import AgentMetric

    analyst, _ = _analyst(clock, reporter, prices={"gpt-x": Price(2.0, 8.0)})
    try:
        names = [f"c{i}" for i in range(6)]
        for name in names:
            analyst.tell(AgentJoined(agent_id=name, at=clock.time(), role="coder"))
        tasks = [_task(clock, name, f"{name}-{k}", (2500.0 if name == "c5" else 1000.0) * (1 + 0.01 * k),
                       **({"wait_ms": 900.0} if name == "c0" else {}),
                       **({"model": "gpt-x", "tokens_in": 1000, "tokens_out": 10} if name == "c1" else {}))
                 for name in names for k in range(5 if name == "c5" else 10)]
        analyst.tell(Observed(tasks=tuple(tasks)))
        analyst.tell(AgentMetric(agent_id="c2", metric_type="queue_depth", value=7.0,
                                 timestamp=clock.time()))
        clock.advance(60.0)
        clock.advance(60.0)
        raised = {(a.metadata["alertname"], a.agent_id, a.severity.value) for a in _alerts(reporter, analyst)
                  if a.metadata["alertname"] in FINDING_ALERTS}
        assert raised == {("SlowerThanPeers", "c5", "warning"), ("LongestQueue", "c2", "info"),
                          ("MostlyWaiting", "c0", "info"), ("TopSpender", "c1", "info")}
        queue = _alerts(reporter, analyst, "LongestQueue")[0]
        assert queue.metadata["queue_depth"] == 7.0
    finally:
        analyst.stop()
