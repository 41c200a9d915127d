"""The analyst in the running system: stuck and slow tasks, cost, tasks in flight, profiles."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import ManualClock, SwarmSystem, start_system
from actors.testing import EventRecorder
from messages import Alert, InvalidMessage, TaskStarted


@pytest.fixture
def swarm(clock: ManualClock, tmp_path: Path) -> Iterator[SwarmSystem]:
    """Agents beating every minute (so silence never matters here), a 30 s stuck limit, prices."""
    system = start_system(
        str(tmp_path / "analysis.db"), heartbeat_interval_ms=60_000, clock=clock,
        stuck_limit_s=30.0, prices={"gpt": {"input": 2.0, "output": 10.0}},
    )
    yield system
    system.shutdown()


def _named(recorder: EventRecorder, name: str, count: int = 1) -> list[Alert]:
    found: list[Alert] = recorder.wait_for(
        lambda e: isinstance(e, Alert) and e.metadata.get("alertname") == name, count=count
    )
    return found


def test_a_task_running_past_its_limit_raises_task_stuck_and_is_stored(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """TaskStarted without a finish: in flight, then stuck at 30 s, alerted and stored."""
    recorder = EventRecorder()
    swarm.subscribe(recorder)
    swarm.register_agent("coder-1", {"role": "coder"})
    swarm.task_started("coder-1", "t-1", kind="code")
    flight = swarm.get_tasks_in_flight("coder-1")
    assert [(t["task_id"], t["kind"], t["stuck"]) for t in flight["coder-1"]] == [
        ("t-1", "code", False)
    ]
    clock.advance(29.0)
    assert swarm.get_tasks_in_flight()["coder-1"][0]["running_s"] == pytest.approx(29.0)
    assert not recorder.alerts("coder-1")
    clock.advance(1.0)
    alert = _named(recorder, "TaskStuck")[0]
    assert alert.agent_id == "coder-1" and "t-1" in alert.message
    assert swarm.get_tasks_in_flight("coder-1")["coder-1"][0]["stuck"] is True
    stored = swarm.query_alerts(agent_id="coder-1")
    assert any(a.metadata.get("alertname") == "TaskStuck" for a in stored)
    swarm.record_task_metric("t-1", "coder-1", 31_000.0, "success")
    swarm.flush()
    _named(recorder, "TaskStuckFinished")
    assert swarm.get_tasks_in_flight("coder-1") == {"coder-1": []}


def test_a_burst_of_slow_tasks_raises_one_slow_tasks_alert(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """120 tasks around 100 ms, then three of 2 s: one SlowTasks alert, stored."""
    recorder = EventRecorder()
    swarm.subscribe(recorder)
    swarm.register_agent("a")
    rng = random.Random(3)
    for i in range(120):
        swarm.record_task_metric(f"n{i}", "a", rng.uniform(90, 110), "success")
    swarm.flush()
    assert not recorder.alerts("a")
    for i in range(3):
        swarm.record_task_metric(f"s{i}", "a", 2000.0, "success")
    swarm.flush()
    slow = _named(recorder, "SlowTasks")[0]
    assert slow.agent_id == "a" and "median" in slow.message
    swarm.get_agent_profiles()  # the analyst has handled everything told before
    assert len([a for a in recorder.alerts("a") if a.metadata["alertname"] == "SlowTasks"]) == 1
    assert any(a.metadata.get("alertname") == "SlowTasks" for a in swarm.query_alerts(agent_id="a"))


def test_cost_from_task_metadata_shows_in_get_cost_and_profiles(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """1 M tokens in at 2 and 100 k out at 10 per million: 3.0."""
    swarm.register_agents(["a", "b"], {"role": "coder"})
    swarm.record_task_metric("t1", "a", 500.0, "success",
                             metadata={"model": "gpt", "tokens_in": 1_000_000, "tokens_out": 100_000})
    swarm.record_task_metric("t2", "b", 500.0, "success", metadata={"model": "other"})
    swarm.flush()
    cost = swarm.get_cost()
    assert cost["total"] == pytest.approx(3.0)
    assert cost["by_agent"] == {"a": pytest.approx(3.0)}
    assert cost["priced_tasks"] == 1 and cost["unpriced_tasks"] == 1
    profiles = swarm.get_agent_profiles()
    assert profiles["a"]["role"] == "coder" and profiles["a"]["tasks"] == 1
    assert profiles["a"]["cost"] == pytest.approx(3.0)
    assert isinstance(swarm.get_findings(), list)


def test_the_task_context_manager_times_the_task_and_records_a_failure_on_error(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """The duration comes from the clock; an exception is recorded as a failure and re-raised."""
    swarm.register_agent("a")
    with swarm.task("a", "ok", kind="review") as meta:
        assert swarm.get_tasks_in_flight("a")["a"][0]["task_id"] == "ok"
        clock.advance(2.5)
        meta["model"] = "gpt"
        meta["tokens_out"] = 1000
    with pytest.raises(ValueError, match="boom"), swarm.task("a", "bad"):
        clock.advance(1.0)
        raise ValueError("boom")
    stored = {m.task_id: m for m in swarm.query_task_metrics(agent_id="a")}
    assert stored["ok"].duration_ms == pytest.approx(2500.0)
    assert stored["ok"].result.value == "success"
    assert stored["ok"].metadata["kind"] == "review"
    assert stored["bad"].result.value == "failure"
    assert stored["bad"].duration_ms == pytest.approx(1000.0)
    assert swarm.get_tasks_in_flight("a") == {"a": []}
    assert swarm.get_cost()["total"] == pytest.approx(0.01)


def test_task_started_goes_through_the_channel_and_bad_ones_are_refused(
    swarm: SwarmSystem, tmp_path: Path
) -> None:
    """A TaskStarted an agent built is accepted by the channel; bad settings name their field."""
    swarm.register_agent("a")
    swarm.send(TaskStarted(task_id="x", agent_id="a", kind="plan", timestamp=swarm.clock.time()))
    assert swarm.get_tasks_in_flight("a")["a"][0]["kind"] == "plan"
    with pytest.raises(InvalidMessage, match="kind"):
        swarm.task_started("a", "y", kind="")
    with pytest.raises(InvalidMessage, match="stuck_limit_s"):
        start_system(str(tmp_path / "x.db"), stuck_limit_s=-1)
    with pytest.raises(InvalidMessage, match="prices"):
        start_system(str(tmp_path / "x.db"), prices={"m": {"input": "cheap"}})


def test_a_big_batch_is_counted_and_priced_task_by_task(
    swarm: SwarmSystem, clock: ManualClock
) -> None:
    """5,000 tasks drained together: the detectors sample them, counts and cost see all."""
    swarm.register_agents(["a", "b"])
    for i in range(5000):
        metadata = {"model": "gpt", "tokens_in": 1000, "tokens_out": 0} if i % 2 else None
        swarm.record_task_metric(f"t{i}", "ab"[i % 2], 100.0, "success", metadata=metadata)
    swarm.flush()
    profiles = swarm.get_agent_profiles()
    assert (profiles["a"]["tasks"], profiles["b"]["tasks"]) == (2500, 2500)
    assert profiles["a"]["busy_ms"] == pytest.approx(250_000.0)
    cost = swarm.get_cost()
    assert cost["by_agent"] == {"b": pytest.approx(2500 * 1000 * 2.0 / 1e6)}
    assert (cost["priced_tasks"], cost["unpriced_tasks"]) == (2500, 2500)


def test_the_peer_median_of_the_findings_is_the_median_of_the_other_agents_of_the_role() -> None:
    """The sorted-once lookup gives what statistics.median of the other agents' p95s gives."""
    import statistics

    from actors.analyst import _PeerP95

    rng = random.Random(5)
    for _ in range(500):
        values = [rng.choice([None, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]) for _ in range(rng.randint(1, 9))]
        profiles = {f"a{i}": {"role": rng.choice(["r", "s"]), "p95_recent_ms": v}
                    for i, v in enumerate(values)}
        peers = _PeerP95(profiles)
        for agent_id, me in profiles.items():
            if me["p95_recent_ms"] is None:
                continue
            others = [p["p95_recent_ms"] for a, p in profiles.items()
                      if a != agent_id and p["role"] == me["role"] and p["p95_recent_ms"]]
            expected = statistics.median(others) if len(others) >= 3 else None
            assert peers.median_of_others(me["role"], me["p95_recent_ms"], 3) == expected
