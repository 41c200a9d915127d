"""Tests for actors/kernel/runtime.py: Pykka semantics on a pooled dispatcher.

Tests that take the `kind` fixture run once with `pykka.ThreadingActor` and
once with `PooledActor`, with the same assertions: the pooled runtime must
behave like Pykka's own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope

from actors.kernel.runtime import Dispatcher, PooledActor

WAIT = 10.0


class Abort(BaseException):
    """A BaseException that is neither SystemExit nor KeyboardInterrupt."""


class Recorder(pykka.Actor):
    """Records lifecycle hooks and messages in `log`; behaviour set by message.

    Messages: ("block", gate) waits for gate; "boom" raises ValueError;
    "abort" raises Abort; "log" returns the log; anything else is recorded.
    """

    def __init__(self, log: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log: list[Any] = [] if log is None else log
        self.failed = threading.Event()
        self.active = 0
        self.overlaps = 0

    def on_start(self) -> None:
        self.log.append(("on_start", threading.current_thread().name))

    def on_stop(self) -> None:
        self.log.append("on_stop")

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.log.append("_handle_failure")
        super()._handle_failure(exception_type, exception_value, traceback)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.log.append(("on_failure", exception_type))
        self.failed.set()

    def on_receive(self, message: Any) -> Any:
        self.active += 1
        if self.active > 1:
            self.overlaps += 1
        try:
            match message:
                case ("block", threading.Event() as gate):
                    assert gate.wait(WAIT)
                case "boom":
                    raise ValueError("boom")
                case "abort":
                    raise Abort
                case "log":
                    return list(self.log)
                case "overlaps":
                    return self.overlaps
                case _:
                    self.log.append(message)
            return None
        finally:
            self.active -= 1

    def double(self, value: int) -> int:
        """Proxy target."""
        return 2 * value


class FailingStart(Recorder):
    """Raises in on_start."""

    def on_start(self) -> None:
        raise RuntimeError("cannot start")


class AbortingStart(Recorder):
    """Raises a BaseException in on_start."""

    def on_start(self) -> None:
        raise Abort


class ThreadedRecorder(Recorder, pykka.ThreadingActor):
    """Recorder on its own thread."""


class PooledRecorder(Recorder, PooledActor):
    """Recorder on a dispatcher."""


class ThreadedFailingStart(FailingStart, pykka.ThreadingActor):
    """FailingStart on its own thread."""


class PooledFailingStart(FailingStart, PooledActor):
    """FailingStart on a dispatcher."""


class PooledAbortingStart(AbortingStart, PooledActor):
    """AbortingStart on a dispatcher."""


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    """A two-worker dispatcher, shut down after the test."""
    d = Dispatcher(workers=2, name="test", throughput=4)
    try:
        yield d
    finally:
        d.shutdown(timeout=WAIT)


Start = Callable[..., pykka.ActorRef[Any]]


@pytest.fixture(params=["threading", "pooled"])
def start(request: pytest.FixtureRequest, dispatcher: Dispatcher) -> Start:
    """Start a Recorder (or FailingStart) of the parametrized kind."""

    def _start(*, failing_start: bool = False, **kwargs: Any) -> pykka.ActorRef[Any]:
        if request.param == "threading":
            cls: type[pykka.Actor] = ThreadedFailingStart if failing_start else ThreadedRecorder
            return cls.start(**kwargs)
        cls = PooledFailingStart if failing_start else PooledRecorder
        return cls.start(dispatcher=dispatcher, **kwargs)

    return _start


def blocked(ref: pykka.ActorRef[Any]) -> threading.Event:
    """Make the actor block on a gate; return the gate to release it."""
    gate = threading.Event()
    ref.tell(("block", gate))
    return gate


def test_tells_and_asks_are_handled_in_send_order(start: Start) -> None:
    """Tells and asks to one actor are handled in the order they were sent."""
    ref = start()
    futures = []
    for i in range(50):
        if i % 5 == 0:
            futures.append(ref.ask(i, block=False))
        else:
            ref.tell(i)
    assert ref.ask("log", block=True, timeout=WAIT)[1:] == list(range(50))
    assert [f.get(timeout=WAIT) for f in futures] == [None] * 10
    ref.stop(timeout=WAIT)


def test_on_start_runs_before_first_message_off_the_caller_thread(start: Start) -> None:
    """on_start runs before any message, on a thread other than the caller's."""
    ref = start()
    ref.tell("first")
    log = ref.ask("log", block=True, timeout=WAIT)
    assert log[0][0] == "on_start" and log[1] == "first"
    assert log[0][1] != threading.current_thread().name
    ref.stop(timeout=WAIT)


def test_pooled_on_start_runs_on_a_dispatcher_worker(dispatcher: Dispatcher) -> None:
    """A pooled actor's hooks run on one of its dispatcher's workers."""
    ref = PooledRecorder.start(dispatcher=dispatcher)
    thread_name = ref.ask("log", block=True, timeout=WAIT)[0][1]
    assert thread_name in {t.name for t in dispatcher.worker_threads}
    assert thread_name.startswith("test-worker-")
    ref.stop(timeout=WAIT)


def test_one_actor_never_runs_on_two_workers_at_once(start: Start) -> None:
    """While an actor's handler runs, a free worker does not run that actor too."""
    busy = start()
    other = start()
    gate = blocked(busy)
    for i in range(10):
        busy.tell(i)
    # The run queue is FIFO: had `busy` been scheduled again, the free worker
    # would have run it before reaching this ask.
    assert other.ask("log", block=True, timeout=WAIT)
    gate.set()
    assert busy.ask("overlaps", block=True, timeout=WAIT) == 0
    assert busy.ask("log", block=True, timeout=WAIT)[1:] == list(range(10))
    busy.stop(timeout=WAIT)
    other.stop(timeout=WAIT)


def test_ask_returns_the_handler_result(start: Start) -> None:
    """ask returns what the handler returned."""
    ref = start()
    ref.tell("x")
    assert ref.ask("log", block=True, timeout=WAIT)[1:] == ["x"]
    ref.stop(timeout=WAIT)


def test_ask_failure_goes_to_caller_and_actor_keeps_running(start: Start) -> None:
    """An exception during an ask is raised by the caller's future, not fatal."""
    ref = start()
    with pytest.raises(ValueError, match="boom"):
        ref.ask("boom", block=True, timeout=WAIT)
    assert ref.is_alive()
    ref.tell("after")
    assert ref.ask("log", block=True, timeout=WAIT)[1:] == ["after"]
    ref.stop(timeout=WAIT)


def test_tell_failure_logs_handles_then_calls_on_failure_and_stops(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing tell logs, then _handle_failure, then on_failure; the actor stops."""
    log: list[Any] = []
    ref = start(log=log)
    ref.tell("boom")
    assert ref.actor_stopped.wait(WAIT)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("log", block=True, timeout=WAIT)
    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None
    assert log[1:3] == ["_handle_failure", ("on_failure", ValueError)]
    assert "on_stop" not in log
    assert any("Unhandled exception" in r.message for r in caplog.records)


def test_failing_on_start_stops_the_actor(start: Start) -> None:
    """An exception in on_start stops the actor before it handles messages."""
    log: list[Any] = []
    ref = start(failing_start=True, log=log)
    assert ref.actor_stopped.wait(WAIT)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("log", block=True, timeout=WAIT)
    assert log == ["_handle_failure"]


def test_stop_runs_on_stop_and_a_second_stop_returns_false(start: Start) -> None:
    """stop() runs on_stop and returns True; stopping again returns False."""
    log: list[Any] = []
    ref = start(log=log)
    assert ref.stop(timeout=WAIT) is True
    assert log[-1] == "on_stop"
    assert ref.stop(timeout=WAIT) is False
    assert not ref.is_alive()


def test_envelopes_left_at_stop_fail_asks_and_answer_pending_stop(start: Start) -> None:
    """Leftover asks get ActorDeadError and a pending stop ask gets True."""
    ref = start()
    gate = blocked(ref)
    ref.tell("boom")
    leftover_ask = ref.ask("log", block=False)
    pending_stop = ref.stop(block=False)
    gate.set()
    with pytest.raises(pykka.ActorDeadError):
        leftover_ask.get(timeout=WAIT)
    assert pending_stop.get(timeout=WAIT) is True


def test_leftover_tells_become_dead_letters() -> None:
    """Tells still queued when a pooled actor stops go to dead_letters with its ref."""
    letters: list[tuple[pykka.ActorRef[Any], Any]] = []
    own = Dispatcher(workers=1, name="letters", dead_letters=lambda r, m: letters.append((r, m)))
    try:
        ref = PooledRecorder.start(dispatcher=own)
        gate = blocked(ref)
        ref.tell("boom")
        ref.tell("late-1")
        ref.tell(("late", 2))
        gate.set()
        assert ref.actor_stopped.wait(WAIT)
    finally:
        own.shutdown(timeout=WAIT)
    assert letters == [(ref, "late-1"), (ref, ("late", 2))]
    assert own.dead_letter_count == 2


def test_dead_letters_are_counted_and_logged_by_default(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a callback, dead letters are counted and logged at debug level."""
    caplog.set_level(logging.DEBUG, logger="actors.kernel.runtime")
    ref = PooledRecorder.start(dispatcher=dispatcher)
    gate = blocked(ref)
    ref.tell("boom")
    ref.tell("lost")
    gate.set()
    assert ref.actor_stopped.wait(WAIT)
    dispatcher.shutdown(timeout=WAIT)
    assert dispatcher.dead_letter_count == 1
    assert any("Dead letter" in r.message and "'lost'" in r.message for r in caplog.records)


def test_put_after_death_fails_ask_at_once_and_reports_tell() -> None:
    """An envelope that races past is_alive() after death is not lost."""
    letters: list[tuple[pykka.ActorRef[Any], Any]] = []
    own = Dispatcher(workers=1, name="late", dead_letters=lambda r, m: letters.append((r, m)))
    try:
        ref = PooledRecorder.start(dispatcher=own)
        assert ref.stop(timeout=WAIT) is True
        own.shutdown(timeout=WAIT)  # the actor is fully torn down
        future = pykka.ThreadingFuture[Any]()
        ref.actor_inbox.put(Envelope("ask", reply_to=future))
        ref.actor_inbox.put(Envelope("tell"))
        with pytest.raises(pykka.ActorDeadError):
            future.get(timeout=0)
    finally:
        own.shutdown(timeout=WAIT)
    assert letters == [(ref, "tell")]


def test_proxy_calls_and_attributes_work(start: Start) -> None:
    """Proxy method calls and attribute reads return through futures."""
    ref = start()
    proxy = ref.proxy()
    assert proxy.double(21).get(timeout=WAIT) == 42
    assert proxy.overlaps.get(timeout=WAIT) == 0
    ref.stop(timeout=WAIT)


def test_base_exception_stops_actor_and_all_others(start: Start) -> None:
    """A BaseException in a handler stops that actor (on_stop) and every other actor."""
    log: list[Any] = []
    victim = start(log=log)
    bystander = start()
    victim.tell("abort")
    assert victim.actor_stopped.wait(WAIT)
    assert bystander.actor_stopped.wait(WAIT)
    assert "on_stop" in log


def test_base_exception_does_not_block_the_only_worker() -> None:
    """With one worker, stop_all after a BaseException still reaches pooled actors."""
    own = Dispatcher(workers=1, name="solo")
    try:
        victim = PooledRecorder.start(dispatcher=own)
        bystander = PooledRecorder.start(dispatcher=own)
        doomed_ask = victim.ask("abort", block=False)
        assert bystander.actor_stopped.wait(WAIT)
        with pytest.raises(pykka.ActorDeadError):
            doomed_ask.get(timeout=WAIT)
        assert own.worker_threads[0].is_alive()
        fresh = PooledRecorder.start(dispatcher=own)
        assert fresh.ask("log", block=True, timeout=WAIT)[0][0] == "on_start"
    finally:
        own.shutdown(timeout=WAIT)


def test_base_exception_in_on_start_stops_actors_and_spares_the_worker() -> None:
    """A BaseException in on_start stops the actor and all others; the worker lives."""
    own = Dispatcher(workers=1, name="abort")
    try:
        bystander = PooledRecorder.start(dispatcher=own)
        doomed = PooledAbortingStart.start(dispatcher=own)
        doomed_ask = doomed.ask("log", block=False)
        assert doomed.actor_stopped.wait(WAIT)
        assert bystander.actor_stopped.wait(WAIT)
        with pytest.raises(pykka.ActorDeadError):
            doomed_ask.get(timeout=WAIT)
        assert pykka.ActorRegistry.get_all() == []
        fresh = PooledRecorder.start(dispatcher=own)
        assert fresh.ask("log", block=True, timeout=WAIT)[0][0] == "on_start"
    finally:
        own.shutdown(timeout=WAIT)


def test_shutdown_times_out_on_a_blocked_actor_and_can_be_retried() -> None:
    """shutdown raises TimeoutError while a handler blocks; a later call finishes."""
    own = Dispatcher(workers=1, name="stuck")
    ref = PooledRecorder.start(dispatcher=own)
    gate = blocked(ref)
    try:
        with pytest.raises(TimeoutError):
            own.shutdown(timeout=0.0)
        assert own.live_actors() == 1
        with pytest.raises(RuntimeError):
            PooledRecorder.start(dispatcher=own)
    finally:
        gate.set()
        own.shutdown(timeout=WAIT)
    assert own.live_actors() == 0
    assert not own.worker_threads[0].is_alive()


def test_blocked_handler_only_holds_its_own_worker(dispatcher: Dispatcher) -> None:
    """With two workers, one blocked actor does not stop others from running."""
    stuck = PooledRecorder.start(dispatcher=dispatcher)
    gate = blocked(stuck)
    others = [PooledRecorder.start(dispatcher=dispatcher) for _ in range(20)]
    try:
        for i, ref in enumerate(others):
            ref.tell(i)
        logs = [ref.ask("log", block=True, timeout=WAIT) for ref in others]
        assert [log[1:] for log in logs] == [[i] for i in range(20)]
        assert not gate.is_set()
    finally:
        gate.set()


def test_thousand_actors_on_two_workers_get_all_messages_in_order(
    dispatcher: Dispatcher,
) -> None:
    """1,000 actors sharing two workers each get their 20 messages in order."""
    refs = [PooledRecorder.start(dispatcher=dispatcher) for _ in range(1000)]
    for i in range(20):
        for ref in refs:
            ref.tell(i)
    futures = [ref.ask("log", block=False) for ref in refs]
    assert all(f.get(timeout=WAIT)[1:] == list(range(20)) for f in futures)
    assert dispatcher.live_actors() == 1000


def test_shutdown_stops_actors_in_start_order_and_leaves_nothing() -> None:
    """shutdown stops every actor in start order, then ends every worker."""
    stopped: list[int] = []

    class Numbered(PooledActor):
        def __init__(self, number: int, *, dispatcher: Dispatcher) -> None:
            super().__init__(dispatcher=dispatcher)
            self.number = number

        def on_stop(self) -> None:
            stopped.append(self.number)

    own = Dispatcher(workers=1, name="order")
    try:
        refs = [Numbered.start(n, dispatcher=own) for n in range(100)]
        # Let every actor go idle, so that only shutdown decides the order.
        assert [ref.proxy().number.get(timeout=WAIT) for ref in refs] == list(range(100))
    finally:
        own.shutdown(timeout=WAIT)
    assert stopped == list(range(100))
    assert pykka.ActorRegistry.get_all() == []
    assert own.live_actors() == 0
    assert not any(t.is_alive() for t in own.worker_threads)


def test_shutdown_is_idempotent_and_refuses_new_actors(dispatcher: Dispatcher) -> None:
    """A second shutdown is a no-op and a shut-down dispatcher refuses actors."""
    ref = PooledRecorder.start(dispatcher=dispatcher)
    dispatcher.shutdown(timeout=WAIT)
    dispatcher.shutdown(timeout=WAIT)
    assert not ref.is_alive()
    with pytest.raises(RuntimeError):
        PooledRecorder.start(dispatcher=dispatcher)
    assert pykka.ActorRegistry.get_all() == []


def test_pooled_actors_are_found_by_class_in_the_registry(dispatcher: Dispatcher) -> None:
    """Pooled actors register in pykka's ActorRegistry like any actor."""
    refs = [PooledRecorder.start(dispatcher=dispatcher) for _ in range(3)]
    assert pykka.ActorRegistry.get_by_class(PooledRecorder) == refs


def test_dispatcher_uses_only_its_worker_threads(dispatcher: Dispatcher) -> None:
    """Starting many pooled actors creates no thread beyond the workers."""
    before = threading.active_count()
    refs = [PooledRecorder.start(dispatcher=dispatcher) for _ in range(200)]
    assert all(ref.ask("log", block=True, timeout=WAIT) for ref in refs)
    assert threading.active_count() == before
    assert [t.name for t in dispatcher.worker_threads] == ["test-worker-0", "test-worker-1"]
