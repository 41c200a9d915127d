"""User callbacks and subscribers: whatever they do, no actor stops and nothing waits on them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors import ManualClock, SwarmSystem, start_system
from actors.callbacks import CallbackRunner
from actors.testing import EventRecorder
from messages import Alert, HealthChanged, HealthState

WAIT = 10.0


class _UserActor(pykka.ThreadingActor):
    """An actor of the user's own, outside any swarmpulse system."""

    def on_receive(self, message: Any) -> Any:
        return ("echo", message)


@pytest.fixture
def runner() -> Iterator[CallbackRunner]:
    """A callback runner with a short budget; closed after the test."""
    made = CallbackRunner(timeout=0.2)
    yield made
    assert made.close(timeout=WAIT)


@pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt, RuntimeError])
def test_runner_counts_any_exception_and_runs_the_next_callback(
    runner: CallbackRunner, error: type[BaseException]
) -> None:
    """A callback raising SystemExit, KeyboardInterrupt or an error is counted; the next one runs."""
    seen = EventRecorder()

    def bad(event: object) -> None:
        raise error("from a callback")

    runner.run([bad, seen], "event-1")
    assert seen.wait_for(timeout=WAIT) == ["event-1"]
    assert runner.errors == 1
    assert runner.calls == 2


def test_runner_reports_a_callback_over_budget_and_runs_the_others(runner: CallbackRunner) -> None:
    """A blocked callback is counted as a timeout after its budget; later calls run meanwhile."""
    release = threading.Event()
    started = threading.Event()
    seen = EventRecorder()

    def blocked(event: object) -> None:
        started.set()
        release.wait(WAIT)

    runner.run([blocked, seen], "first")
    runner.run([seen], "second")
    assert started.wait(WAIT)
    assert seen.wait_for(count=2, timeout=WAIT) == ["first", "second"]
    assert runner.timeouts == 1
    release.set()


def test_unsubscribe_stops_deliveries(runner: CallbackRunner) -> None:
    """After the returned function is called, the listener gets nothing more."""
    first, second = EventRecorder(), EventRecorder()
    stop_first = runner.subscribe(first)
    runner.subscribe(second)
    runner.publish(1)
    stop_first()
    stop_first()  # harmless twice
    runner.publish(2)
    assert second.wait_for(count=2, timeout=WAIT) == [1, 2]
    assert first.events == [1]


@pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt])
def test_an_exiting_alert_callback_stops_no_actor_of_any_system_or_the_user(
    db_path: str, clock: ManualClock, error: type[BaseException]
) -> None:
    """SystemExit/KeyboardInterrupt from a callback leaves this system, another one and a user actor running."""
    mine = start_system(db_path, heartbeat_interval_ms=1000, clock=clock)
    other_clock = ManualClock()
    other = start_system(None, swarm_id="other", clock=other_clock)
    user = _UserActor.start()
    try:
        raised = threading.Event()

        def exits(event: HealthChanged) -> None:
            raised.set()
            raise error("bye")

        mine.configure_alerts(callbacks={HealthState.DEGRADED: exits})
        mine.register_agent("a")
        clock.advance(1.0)
        assert raised.wait(WAIT)
        recorder = EventRecorder()
        mine.subscribe(recorder)  # runs after the raising callback: it has been handled
        mine.register_agent("b")
        clock.advance(1.0)
        recorder.wait_for_transition("b", "degraded", timeout=WAIT)
        assert mine.get_monitoring_stats()["alerts"]["callback_errors"] == 2  # a, then b

        # this system's actors still work ...
        mine.record_task_metric("t-1", "a", 10.0, "success")
        assert [m.task_id for m in mine.query_task_metrics()] == ["t-1"]
        assert "a" in mine.generate_report("markdown")
        # ... so do another system's and the user's own
        other.register_agent("x")
        other.record_task_metric("t-2", "x", 5.0, "success")
        assert other.get_task_stats()["total_tasks"] == 1
        assert user.ask("ping", timeout=WAIT) == ("echo", "ping")
        assert mine.get_monitoring_stats()["supervision"]["failed_services"] == []
    finally:
        user.stop()
        other.shutdown()
        other_clock.close()
        mine.shutdown()


def test_a_slow_callback_delays_no_report_and_the_others_still_run(
    db_path: str, clock: ManualClock
) -> None:
    """A blocked callback: reports come at once, it is counted over budget, later callbacks run."""
    swarm = start_system(db_path, heartbeat_interval_ms=1000, clock=clock, callback_timeout=0.2)
    release = threading.Event()
    try:
        blocked = threading.Event()

        def slow(event: HealthChanged) -> None:
            blocked.set()
            release.wait(WAIT)

        later = EventRecorder()
        swarm.configure_alerts(callbacks={HealthState.DEGRADED: slow, HealthState.CRITICAL: later})
        swarm.register_agent("a")
        clock.advance(1.0)
        assert blocked.wait(WAIT)
        # the reporter is not held up: a report while the callback blocks
        assert "a" in swarm.generate_report("markdown")
        clock.advance(1.0)
        assert later.wait_for_transition("a", "critical", timeout=WAIT).previous is HealthState.DEGRADED
        assert swarm.get_monitoring_stats()["alerts"]["callback_timeouts"] == 1
    finally:
        release.set()
        swarm.shutdown()


def test_subscribers_get_every_transition_and_alert_until_they_unsubscribe(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """Each transition arrives as its HealthChanged then its Alert; stall alerts come too."""
    recorder = EventRecorder()
    unsubscribe = system.subscribe(recorder)
    system.register_agent("a")
    clock.advance(1.0)
    clock.stall(0.5)
    recorder.wait_for_alert("*", timeout=WAIT)
    kinds = [type(e) for e in recorder.events]
    assert kinds == [HealthChanged, Alert, Alert]
    assert recorder.states("a") == [("healthy", "degraded")]
    assert recorder.alerts("a")[0].severity.value == "warning"
    unsubscribe()
    clock.advance(1.0)
    system.check_agent_health("a")  # the transition to critical has been made ...
    late = EventRecorder()
    system.subscribe(late)
    clock.advance(5.0)
    late.wait_for_transition("a", "failed", timeout=WAIT)  # ... and delivered after it
    assert len(recorder.events) == 3


def test_subscribe_refuses_what_is_not_callable(system: SwarmSystem) -> None:
    """A listener that cannot be called is refused with InvalidMessage naming it."""
    with pytest.raises(ValueError, match="listener"):
        system.subscribe("not callable")  # type: ignore[arg-type]


def test_callback_timeout_must_be_a_positive_number(db_path: str) -> None:
    """start_system refuses a callback budget that is not a positive number of seconds."""
    for bad in (0, -1.0, float("nan"), float("inf"), "5", None):
        with pytest.raises(ValueError, match="callback_timeout"):
            start_system(db_path, callback_timeout=bad)  # type: ignore[arg-type]
