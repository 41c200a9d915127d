"""Helpers for testing code that uses swarmpulse, as ``structlog.testing`` is for structlog.

* :class:`ManualClock`: time that moves only when the test calls ``advance``;
  each deadline that falls due has taken effect when ``advance`` returns.
* :class:`EventRecorder`: records every :class:`HealthChanged` and :class:`Alert`
  it is given, as a subscriber (``swarm.subscribe(recorder)``) or as an alert
  callback, and lets a test wait for one with a timeout instead of sleeping.

Example:
    ```py
    from actors import start_system
    from actors.testing import EventRecorder, ManualClock

    clock = ManualClock()
    with start_system(clock=clock, heartbeat_interval_ms=1000) as swarm:
        recorder = EventRecorder()
        swarm.subscribe(recorder)
        swarm.register_agent("coder")
        clock.advance(1.0)
        event = recorder.wait_for_transition("coder", "degraded")
        assert event.heartbeat_age_ms == 1000.0
    clock.close()
    ```

* :func:`wait_for_restarts`, :func:`wait_for_given_up`: wait, with a timeout, until
  supervision has restarted that many children, or given up a service;
  :func:`service_ref`: the current ref of a service (``"analyst"`` too), to make
  it crash or to tell it something; :func:`live_trackers`: how many heartbeat
  trackers still run (they stop asynchronously after ``unregister_agent``).
* :func:`parts`: the parts of a running system (backlog, writer statistics,
  aggregator state, telemetry buffer, storage, ...), for white-box tests of
  swarmpulse itself. The facade keeps them private; this is the one door to
  them, and not a stable API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import pykka

from actors.aggregator import AggregateState
from actors.channel import TelemetryChannel
from actors.coordinator import Services
from actors.kernel.clock import ManualClock
from actors.kernel.runtime import Dispatcher
from actors.pending import Backlog
from actors.tracker import StallLedger
from actors.writer import WriterStats
from messages import Alert, HealthChanged, HealthState
from storage import MetricsStorage

if TYPE_CHECKING:
    from actors.system import SwarmSystem

__all__ = [
    "EventRecorder",
    "ManualClock",
    "Parts",
    "live_trackers",
    "parts",
    "service_ref",
    "wait_for_callbacks",
    "wait_for_given_up",
    "wait_for_restarts",
]

DEFAULT_WAIT = 10.0
"""Seconds the ``wait_for`` methods wait before they raise TimeoutError."""


class EventRecorder:
    """Keeps every event it is called with, in order; thread-safe.

    Call it with anything; :meth:`transitions` and :meth:`alerts` pick the
    :class:`HealthChanged` and :class:`Alert` events out.
    """

    def __init__(self) -> None:
        self._events: list[Any] = []
        self._changed = threading.Condition()

    def __call__(self, event: Any) -> None:
        """Record ``event`` and wake whoever waits for one."""
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    @property
    def events(self) -> list[Any]:
        """Every event recorded so far, oldest first (a copy)."""
        with self._changed:
            return list(self._events)

    def transitions(self, agent_id: str | None = None) -> list[HealthChanged]:
        """The health transitions recorded (of one agent, if given), oldest first."""
        return [
            e for e in self.events
            if isinstance(e, HealthChanged) and (agent_id is None or e.agent_id == agent_id)
        ]

    def alerts(self, agent_id: str | None = None) -> list[Alert]:
        """The alerts recorded (about one agent, or ``"*"`` for the swarm, if given)."""
        return [
            e for e in self.events
            if isinstance(e, Alert) and (agent_id is None or e.agent_id == agent_id)
        ]

    def states(self, agent_id: str) -> list[tuple[str, str]]:
        """(previous, current) state names of one agent's transitions, in order."""
        return [(e.previous.value, e.current.value) for e in self.transitions(agent_id)]

    def clear(self) -> None:
        """Forget every event recorded so far."""
        with self._changed:
            self._events.clear()

    def wait_for(
        self,
        predicate: Callable[[Any], bool] = lambda _event: True,
        *,
        count: int = 1,
        timeout: float = DEFAULT_WAIT,
    ) -> list[Any]:
        """Block until ``count`` recorded events satisfy ``predicate``; return those.

        Raises:
            TimeoutError: fewer had been recorded after ``timeout`` seconds.
        """
        with self._changed:
            found: list[Any] = []

            def enough() -> bool:
                found[:] = [e for e in self._events if predicate(e)]
                return len(found) >= count

            if not self._changed.wait_for(enough, timeout=timeout):
                raise TimeoutError(
                    f"{len(found)} of {count} matching events within {timeout} s; "
                    f"recorded: {self._events!r}"
                )
            return list(found)

    def wait_for_transition(
        self, agent_id: str, current: HealthState | str, *, timeout: float = DEFAULT_WAIT
    ) -> HealthChanged:
        """Block until the agent's transition into ``current`` is recorded; return it.

        Raises:
            TimeoutError: there was none after ``timeout`` seconds.
            ValueError: ``current`` is no health state.
        """
        state = HealthState(current)
        found = self.wait_for(
            lambda e: isinstance(e, HealthChanged) and e.agent_id == agent_id and e.current is state,
            timeout=timeout,
        )
        event: HealthChanged = found[0]
        return event

    def wait_for_alert(
        self, agent_id: str, *, timeout: float = DEFAULT_WAIT
    ) -> Alert:
        """Block until an alert about ``agent_id`` (``"*"``: the swarm) is recorded; return it.

        Raises:
            TimeoutError: there was none after ``timeout`` seconds.
        """
        found = self.wait_for(
            lambda e: isinstance(e, Alert) and e.agent_id == agent_id, timeout=timeout
        )
        alert: Alert = found[0]
        return alert


def wait_for_restarts(swarm: SwarmSystem, count: int, *, timeout: float = DEFAULT_WAIT) -> bool:
    """Block until supervision has restarted ``count`` children in all (trackers and services).

    Returns:
        False if fewer had been restarted after ``timeout`` seconds.
    """
    return swarm._services.wait_for_restarts(count, timeout=timeout)


def wait_for_given_up(swarm: SwarmSystem, service: str, *, timeout: float = DEFAULT_WAIT) -> bool:
    """Block until supervision has given ``service`` up (``failed_services`` names it then).

    Returns:
        False if it still ran after ``timeout`` seconds.
    """
    services = swarm._services
    with services.changed:
        return services.changed.wait_for(lambda: service in services.failed, timeout=timeout)


def service_ref(swarm: SwarmSystem, name: str) -> pykka.ActorRef[Any]:
    """The current ref of ``writer``, ``aggregator``, ``reporter``, ``analyst``,
    ``coordinator`` or ``alert_router``.

    Raises:
        KeyError: there is no such service (``alert_router``: alert management is off).
    """
    if name == "coordinator":
        return swarm.coordinator
    if name == "alert_router":
        if swarm._alert_router is None:
            raise KeyError(name)
        return swarm._alert_router
    return swarm._services.get(name)


def wait_for_callbacks(swarm: SwarmSystem, *, timeout: float = DEFAULT_WAIT) -> bool:
    """Return once every alert callback and subscriber call queued so far has been made.

    Callbacks run on their own threads after the reporter has the event: to see
    every transition in a recorder, ask the reporter something (it queues the
    calls before it answers), then wait for this.

    Returns:
        False if they were still running after ``timeout`` seconds.
    """
    return swarm._callbacks.wait_idle(timeout)


def live_trackers(swarm: SwarmSystem) -> int:
    """How many actors run on the system's pooled runtime (the heartbeat trackers).

    A tracker stops asynchronously after its agent's ``unregister_agent``; a
    memory measurement waits for this to reach 0.
    """
    return swarm._dispatcher.live_actors()


class Parts(NamedTuple):
    """The parts of a running system, for white-box tests of swarmpulse itself; not a stable API.

    Each is owned by one actor (the backlog and writer statistics by the
    writer, the aggregate state by the aggregator, ...): read them, never
    change them.
    """

    services: Services
    backlog: Backlog
    writer_stats: WriterStats
    aggregate: AggregateState
    telemetry: TelemetryChannel
    storage: MetricsStorage
    ledger: StallLedger
    dispatcher: Dispatcher


def parts(swarm: SwarmSystem) -> Parts:
    """The parts of ``swarm`` (see :class:`Parts`)."""
    return Parts(
        services=swarm._services,
        backlog=swarm._pending,
        writer_stats=swarm._writer_stats,
        aggregate=swarm._aggregate,
        telemetry=swarm._telemetry,
        storage=swarm._storage,
        ledger=swarm._ledger,
        dispatcher=swarm._dispatcher,
    )
