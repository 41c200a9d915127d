"""Fixtures for tests that run the real actor system on a real SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import ManualClock, SwarmSystem, start_system
from messages import HealthChanged, HealthState


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """A clock that moves only when the test advances it."""
    manual = ManualClock()
    yield manual
    manual.close()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """A fresh SQLite file in the test's own temporary folder."""
    return str(tmp_path / "swarm.db")


@pytest.fixture
def system(clock: ManualClock, db_path: str) -> Iterator[SwarmSystem]:
    """A running system on a manual clock and a real file; shut down after the test."""
    swarm = start_system(db_path, swarm_id="test-swarm", heartbeat_interval_ms=1000, clock=clock)
    yield swarm
    swarm.shutdown()


class EventLog:
    """Collects HealthChanged events from alert callbacks, for waiting on."""

    def __init__(self) -> None:
        self.events: list[HealthChanged] = []
        self.changed = threading.Condition()

    def __call__(self, event: HealthChanged) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[HealthChanged]:
        """Block until ``count`` events arrived; return them all."""
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= count, timeout=timeout), (
                f"only {len(self.events)} of {count} events arrived: {self.events}"
            )
            return list(self.events)

    def transitions(self, agent_id: str) -> list[tuple[str, str]]:
        """(previous, current) pairs seen for one agent, in order."""
        return [(e.previous.value, e.current.value) for e in self.events if e.agent_id == agent_id]


@pytest.fixture
def events(system: SwarmSystem) -> EventLog:
    """Every health transition of the system, in order, via alert callbacks."""
    log = EventLog()
    system.configure_alerts(callbacks={state: log for state in HealthState})
    return log
