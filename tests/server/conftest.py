"""Fixtures for the HTTP edge: a real system on a real SQLite file, served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actors import ManualClock, SwarmSystem, start_system
from server import Limits, ServerHandle, serve


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
    """The real actor system on the manual clock (1 s beats, FAILED after 3)."""
    swarm = start_system(db_path, swarm_id="edge", heartbeat_interval_ms=1000, clock=clock)
    yield swarm
    swarm.shutdown()


@pytest.fixture
def limits(request: pytest.FixtureRequest) -> Limits:
    """The server's limits: the defaults, or ``parametrize("limits", [...], indirect=True)``."""
    chosen: Limits = getattr(request, "param", Limits())
    return chosen


@pytest.fixture
def running(system: SwarmSystem, limits: Limits) -> Iterator[ServerHandle]:
    """The server on 127.0.0.1, a free port, no token."""
    handle = serve(system, limits=limits)
    yield handle
    handle.stop()


@pytest.fixture
def http(running: ServerHandle) -> Iterator[httpx.Client]:
    """An HTTP client of the running server."""
    with httpx.Client(base_url=running.url, timeout=10.0) as client:
        yield client
