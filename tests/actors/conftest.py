"""Fixtures for tests that run the real actor system on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import ManualClock, SwarmSystem, start_system
from messages import HealthState
from tests.events import EventLog


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


@pytest.fixture
def events(system: SwarmSystem) -> EventLog:
    """Every health transition of the system, in order, via alert callbacks."""
    log = EventLog()
    system.configure_alerts(callbacks={state: log for state in HealthState})
    return log
