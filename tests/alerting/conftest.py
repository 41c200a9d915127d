"""Real receivers on loopback, and systems with alert management on a manual clock."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from actors import ManualClock, SwarmSystem, start_system
from actors.protocol import GetRecentAlerts
from messages.alerting import AlertInstance

WAIT = 10.0


@dataclass
class Request:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1 that records every request.

    ``script`` says how to answer the next requests, in order: ``"ok"`` (200),
    ``"fail"`` (500), ``"hang"`` (answer 200 only once ``release`` is set:
    the caller has timed out by then, and the request still lands: a late
    success). When the script runs out, every request gets 200.
    """

    script: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    handled: list[Request] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Request]:
        """Block until ``count`` requests have been answered; return them all."""
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.handled) >= count, timeout=timeout)
            assert ok, f"only {len(self.handled)} of {count} requests arrived"
            return list(self.handled)

    def bodies(self) -> list[Any]:
        """The JSON bodies answered so far, in order."""
        with self.changed:
            return [r.body for r in self.handled]


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            req = Request(self.path, dict(self.headers), body)
            with receiver.changed:
                receiver.requests.append(req)
                receiver.changed.notify_all()
                action = receiver.script.pop(0) if receiver.script else "ok"
            if action == "hang":
                receiver.release.wait(WAIT)
            code = 500 if action == "fail" else 200
            try:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the client gave up (a timed-out attempt): it landed all the same
            with receiver.changed:
                receiver.handled.append(req)
                receiver.changed.notify_all()

    return Handler


@contextlib.contextmanager
def _serving() -> Iterator[Receiver]:
    rec = Receiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = False
    server.block_on_close = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, name="test-receiver")
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback, stopped after the test."""
    with _serving() as rec:
        yield rec


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    """A second webhook receiver on loopback, stopped after the test."""
    with _serving() as rec:
        yield rec


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """A clock that moves only when the test advances it."""
    manual = ManualClock()
    yield manual
    manual.close()


def webhook_config(url: str, **route: Any) -> dict[str, Any]:
    """A configuration with one webhook receiver ``team`` and the given root route settings."""
    return {
        "route": {"receiver": "team", **route},
        "receivers": [{"name": "team", "webhook_configs": [{"url": url, "timeout": "1s"}]}],
        "notify": {"initial_backoff": "10s", "max_backoff": "1m"},
    }


@pytest.fixture
def make_system(clock: ManualClock, tmp_path: Any) -> Iterator[Callable[..., SwarmSystem]]:
    """Start systems with alerting on the test's clock and file; all shut down after."""
    started: list[SwarmSystem] = []

    def make(alerting: Any, **kwargs: Any) -> SwarmSystem:
        kwargs.setdefault("heartbeat_interval_ms", 1000)
        swarm = start_system(str(tmp_path / "swarm.db"), swarm_id="s", clock=clock,
                             alerting=alerting, **kwargs)
        started.append(swarm)
        return swarm

    yield make
    for swarm in started:
        swarm.shutdown()


def sync(swarm: SwarmSystem) -> dict[str, Any]:
    """Wait until every transition so far reached the router; return its counters."""
    swarm.snapshot()
    swarm.reporter.ask(GetRecentAlerts())
    return swarm.alerting_stats()


def settle(swarm: SwarmSystem, timeout: float = WAIT) -> dict[str, Any]:
    """Wait until every notice decided so far is delivered; return the counters."""
    import time

    deadline = time.monotonic() + timeout
    cond = threading.Condition()
    while True:
        stats = sync(swarm)
        if stats["notices_pending"] == 0:
            return stats
        assert time.monotonic() < deadline, f"notices still pending: {stats}"
        with cond:
            cond.wait(0.01)  # a bounded wait between asks, not a sleep standing in for sync


def alert(name: str = "Test", agent: str = "a1", *, at: float, ends: float | None = None,
          severity: str = "warning", **labels: str) -> AlertInstance:
    """An alert with the required labels."""
    return AlertInstance(
        labels={"alertname": name, "agent_id": agent, "swarm_id": "s", "severity": severity, **labels},
        annotations={"summary": f"{name} on {agent}"}, starts_at=at, ends_at=ends,
    )


def delivered(swarm: SwarmSystem, receiver: Receiver, count: int) -> list[Request]:
    """Wait for ``count`` requests at the receiver and for the router to have heard back."""
    requests = receiver.wait_for(count)
    settle(swarm)
    return requests


def wait_stats(swarm: SwarmSystem, key: str, value: int, timeout: float = WAIT) -> dict[str, Any]:
    """Wait until the router's counter ``key`` reaches ``value``."""
    import time

    deadline = time.monotonic() + timeout
    cond = threading.Condition()
    while True:
        stats = sync(swarm)
        if stats[key] >= value:
            return stats
        assert time.monotonic() < deadline, f"{key} stayed below {value}: {stats}"
        with cond:
            cond.wait(0.01)
