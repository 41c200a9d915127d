"""A simulated LLM agent: a Pykka actor with a role that works through a shared task queue."""

from __future__ import annotations

import logging
import dataclasses
from typing import Any

import msgspec
import pykka

from actors import Clock, SwarmSystem, TimerHandle
from demo.tasks import Tally, Task, TaskSource, task_title
from messages import AgentMetric, TaskStarted

__all__ = ["Halt", "Hang", "Poll", "SimulatedAgent", "SlowDown", "TaskDone"]

DEMO_MODEL = "demo-model"
"""The model the simulated agents "call": the demo prices it, so tasks have a cost."""
DEMO_PRICES = {DEMO_MODEL: {"input": 3.0, "output": 15.0}}
"""Price per million tokens in and out of :data:`DEMO_MODEL` (``start_system(prices=...)``)."""

logger = logging.getLogger("swarmpulse.demo.agent")


class Poll(msgspec.Struct, frozen=True, kw_only=True):
    """Take the next task if idle."""


class TaskDone(msgspec.Struct, frozen=True, kw_only=True):
    """The agent's own timer: ``task``, started at monotonic ``started``, is finished."""

    task: Task
    started: float


class Halt(msgspec.Struct, frozen=True, kw_only=True):
    """Stop working: the task in hand is abandoned, no other is taken (the agent died)."""


class Hang(msgspec.Struct, frozen=True, kw_only=True):
    """The task in hand (or, if idle, the next one) runs ``seconds`` from its start."""

    seconds: float


class SlowDown(msgspec.Struct, frozen=True, kw_only=True):
    """From the next task on, every task takes ``factor`` times as long, within ``bounds``."""

    factor: float
    bounds: tuple[float, float]


def _tell(ref: pykka.ActorRef[Any], message: object) -> None:
    """Tell from a timer, ignoring an agent that has stopped since the timer was set."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass


class SimulatedAgent(pykka.ThreadingActor):
    """Takes a task, "works" on it for its duration, records it, and takes the next.

    Accepts :class:`Poll`, :class:`TaskDone` (from its own timer), :class:`Halt`,
    and the faults :class:`Hang` and :class:`SlowDown`. Says each task's start
    (:class:`messages.TaskStarted` through ``system.send``, so it is in flight and can
    be stuck), records each finished task with ``system.record_task_metric`` (its
    metadata names the model and the tokens in and out, which the demo prices) and an
    agent gauge ``tokens_per_second`` with ``system.send``, the cheap thread-safe path
    agents use (an append each, never blocking). Work is a ``clock.call_later`` timer, never a
    blocking wait, so the actor stays responsive. Its heartbeats do not come from
    here at all: a :class:`demo.pulse.Pulse` sends them from the clock's thread.

    Args:
        agent_id: its id.
        role: backend, frontend, tester, ... (names its kinds of work).
        source: where it takes tasks from.
        system: the running system it reports to.
        clock: the system's clock.
        tally: counts what it records.
    """

    def __init__(
        self,
        *,
        agent_id: str,
        role: str,
        source: TaskSource,
        system: SwarmSystem,
        clock: Clock,
        tally: Tally,
    ) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.role = role
        self.source = source
        self.system = system
        self.clock = clock
        self.tally = tally
        self.current: Task | None = None
        self.halted = False
        self._timer: TimerHandle | None = None
        self._started = 0.0  # monotonic start of the task in hand
        self._hang: float | None = None  # the next task runs this long (a Hang while idle)
        self._slow: SlowDown | None = None

    def on_start(self) -> None:
        """Start working."""
        self._poll()

    def on_stop(self) -> None:
        """Abandon the task in hand: a task that never finished is never recorded."""
        self._cancel()

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Poll():
                self._poll()
            case TaskDone(task=task, started=started):
                self._finish(task, started)
            case Halt():
                self.halted = True
                self.current = None
                self._cancel()
            case Hang(seconds=seconds):
                self._hung(seconds)
            case SlowDown():
                self._slow = message
            case _:
                logger.warning("agent %s ignored %r", self.agent_id, message)
        return None

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _poll(self) -> None:
        if self.halted or self.current is not None:
            return
        task = self.source.take(self.agent_id)
        if task is None:
            return
        if self._slow is not None:
            low, high = self._slow.bounds
            task = dataclasses.replace(
                task, seconds=round(min(high, max(low, task.seconds * self._slow.factor)), 3))
        if self._hang is not None:
            task, self._hang = dataclasses.replace(task, seconds=self._hang), None
        self.current = task
        self._started = self.clock.monotonic()
        self.system.send(TaskStarted(task_id=task.task_id, agent_id=self.agent_id,
                                     kind=task_title(self.role, task),
                                     timestamp=self.clock.time()))
        self._arm(task, task.seconds)

    def _arm(self, task: Task, delay: float) -> None:
        ref = self.actor_ref
        done = TaskDone(task=task, started=self._started)
        self._timer = self.clock.call_later(max(0.0, delay), lambda: _tell(ref, done))

    def _hung(self, seconds: float) -> None:
        """The task in hand now ends ``seconds`` after it started (the next one, if idle)."""
        if self.halted:
            return
        task = self.current
        if task is None:
            self._hang = seconds
            return
        self._cancel()
        task = self.current = dataclasses.replace(task, seconds=seconds)
        self._arm(task, seconds - (self.clock.monotonic() - self._started))

    def _finish(self, task: Task, started: float) -> None:
        if self.current is not task:
            return  # a timer that fired as the agent was halted
        self._timer = None
        self.current = None
        seconds = max(0.0, self.clock.monotonic() - started)
        tokens_out = task.tokens // 4
        self.system.record_task_metric(
            task.task_id, self.agent_id, seconds * 1000.0, task.result, task.tokens, task.files,
            {"role": self.role, "work": task_title(self.role, task), "model": DEMO_MODEL,
             "tokens_in": task.tokens - tokens_out, "tokens_out": tokens_out},
        )
        self.system.send(
            AgentMetric(
                agent_id=self.agent_id,
                metric_type="tokens_per_second",
                value=task.tokens / seconds if seconds > 0 else 0.0,
                timestamp=self.clock.time(),
            )
        )
        self.tally.task(self.agent_id)
        ref = self.actor_ref
        self._timer = self.clock.call_later(task.pause, lambda: _tell(ref, Poll()))
