"""Tests for server/client.py: RemoteSwarm against the real server on loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from actors import ManualClock, SwarmSystem
from messages import HealthState, InvalidMessage
from server import ServerHandle, serve
from server.client import RemoteError, RemoteSwarm

TOKEN = "agent-token"


class Wire(httpx.BaseTransport):
    """The real TCP transport, plus a record of what went over it and a switch to cut it.

    ``lose_responses`` makes that many metric posts reach the server and lose
    their answer on the way back (the failure that makes a retry a duplicate);
    ``cut`` refuses every request before it leaves, as a down server would.
    """

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.cond = threading.Condition()
        self.keys: list[str] = []
        self.beats = 0
        self.lose_responses = 0
        self.cut = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.cond:
            if self.cut:
                raise httpx.ConnectError("cut by the test", request=request)
        response = self.inner.handle_request(request)
        response.read()
        with self.cond:
            if request.url.path == "/v1/metrics":
                self.keys.append(request.headers["idempotency-key"])
                if self.lose_responses:
                    self.lose_responses -= 1
                    raise httpx.ReadError("answer lost by the test", request=request)
            if request.url.path == "/v1/heartbeats":
                self.beats += 1
            self.cond.notify_all()
        return response

    def wait_beats(self, count: int) -> None:
        """Wait until ``count`` heartbeats in all have been answered."""
        with self.cond:
            assert self.cond.wait_for(lambda: self.beats >= count, timeout=10), self.beats

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def server(system: SwarmSystem) -> Iterator[ServerHandle]:
    """The real server, with a token, on a free loopback port."""
    with serve(system, token=TOKEN) as handle:
        yield handle


@pytest.fixture
def wire() -> Iterator[Wire]:
    """A transport the test can watch and cut."""
    transport = Wire()
    yield transport
    transport.close()


@pytest.fixture
def client(server: ServerHandle, wire: Wire) -> Iterator[RemoteSwarm]:
    """A RemoteSwarm of the server, over the watched transport, with short backoff."""
    with RemoteSwarm(server.url, TOKEN, transport=wire, backoff=0.01, max_backoff=0.05) as remote:
        yield remote


def test_importing_the_client_loads_neither_actors_storage_nor_the_app() -> None:
    """An agent process importing server.client gets messages and httpx, nothing heavier."""
    code = (
        "import sys, server.client\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('actors', 'storage', 'server', 'starlette', 'uvicorn', 'pykka'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60).stdout.strip()
    assert loaded.split(",") == ["server", "server.client"]


def test_client_mirrors_the_facade_through_the_real_server(
    client: RemoteSwarm, system: SwarmSystem
) -> None:
    """Register, beat, record every kind, flush: the system has it all, stored in SQLite."""
    assert client.register_agent("remote-1", {"role": "coder"}, interval_ms=2000)
    assert not client.register_agent("remote-1")
    assert client.update_agent_heartbeat("remote-1", {"step": 1})
    client.record_task_metric("t1", "remote-1", 1520.0, "success", tokens_used=812, files_changed=3)
    client.record_task_execution("t2", "remote-1", 310.0, success=False)
    client.record_agent_metric("remote-1", "queue_depth", 4.0)
    client.record_swarm_metric("topology_health", 0.9)
    assert client.flush(timeout=10)
    assert client.sent == 4 and client.dropped == 0 and client.buffered == 0
    stored = system.query_task_metrics(agent_id="remote-1")
    assert [(m.task_id, m.result.value, m.tokens_used) for m in stored] == [
        ("t1", "success", 812), ("t2", "failure", 0)]
    status = system.get_agent_health_status("remote-1")
    assert status is not None and status["interval_ms"] == 2000 and status["heartbeats"] >= 1
    assert system.get_monitoring_stats()["metrics_collector"]["stored"] >= 4
    assert client.unregister_agent("remote-1")
    assert not client.unregister_agent("remote-1")


def test_metrics_of_an_unregistered_agent_are_counted_as_noted(
    client: RemoteSwarm, system: SwarmSystem
) -> None:
    """Policy store: the server's per-item notes surface as .noted and .last_notes."""
    client.register_agent("known")
    client.record_task_metric("t1", "known", 10.0, "success")
    client.record_task_metric("t2", "stranger", 10.0, "success")
    client.record_agent_metric("stranger", "queue_depth", 1.0)
    assert client.flush(timeout=10)
    assert (client.sent, client.refused, client.noted) == (3, 0, 2)
    assert {n["note"] for n in client.last_notes} == {"agent not registered; stored (policy store)"}
    assert sorted(m.task_id for m in system.query_task_metrics()) == ["t1", "t2"]


def test_bad_metrics_raise_in_the_caller_and_nothing_is_sent(client: RemoteSwarm, wire: Wire) -> None:
    """A metric that breaks the protocol raises InvalidMessage naming the field, before any send."""
    with pytest.raises(InvalidMessage) as error:
        client.record_task_metric("t", "a", -5.0, "success")
    assert error.value.field == "duration_ms"
    with pytest.raises(InvalidMessage) as error:
        client.record_task_metric("t", "a", 5.0, "exploded")
    assert error.value.field == "result"
    with pytest.raises(InvalidMessage):
        client.record_agent_metric("", "queue_depth", 1.0)
    assert client.flush(timeout=10) and wire.keys == []


def test_a_wrong_token_is_an_error_not_a_silent_loss(server: ServerHandle) -> None:
    """Calls answered at once raise RemoteError(401); a refused batch is counted as dropped."""
    with RemoteSwarm(server.url, "wrong", backoff=0.01) as remote:
        with pytest.raises(RemoteError) as error:
            remote.register_agent("a")
        assert error.value.status == 401
        remote.record_task_metric("t", "a", 1.0, "success")
        assert remote.flush(timeout=10)
        assert remote.dropped == 1 and remote.sent == 0 and "401" in (remote.last_error or "")


def test_a_lost_answer_is_retried_with_the_same_key_and_stored_once(
    client: RemoteSwarm, system: SwarmSystem, wire: Wire
) -> None:
    """The server took the batch but the answer was lost: the retry reuses its key, one copy is kept."""
    wire.lose_responses = 2
    for i in range(50):
        client.record_task_metric(f"t{i}", "a", float(i), "success")
    assert client.flush(timeout=10)
    assert client.send_failures >= 2
    assert len(wire.keys) == len(set(wire.keys)) + 2  # the batch sent three times under one key
    assert client.sent == 50
    stored = system.query_task_metrics(agent_id="a")
    assert sorted(m.task_id for m in stored) == sorted(f"t{i}" for i in range(50))


def test_past_the_buffer_the_oldest_are_dropped_and_counted(
    server: ServerHandle, system: SwarmSystem, wire: Wire
) -> None:
    """With the server unreachable, the buffer keeps the newest max_buffer; the rest are counted."""
    wire.cut = True
    with RemoteSwarm(server.url, TOKEN, transport=wire, max_buffer=10, batch_size=5,
                     backoff=0.01, max_backoff=0.02) as remote:
        for i in range(40):
            remote.record_task_metric(f"t{i}", "a", 1.0, "success")
        assert not remote.flush(timeout=0.2)  # nothing gets through while cut
        assert remote.dropped > 0 and remote.buffered <= 10 + 5
        with wire.cond:
            wire.cut = False
        assert remote.flush(timeout=10)
        stored = {m.task_id for m in system.query_task_metrics(agent_id="a")}
        assert len(stored) + remote.dropped == 40
        assert {f"t{i}" for i in range(30, 40)} <= stored  # the newest ten all survived


def test_beating_keeps_a_busy_agent_healthy(
    client: RemoteSwarm, system: SwarmSystem, clock: ManualClock, wire: Wire
) -> None:
    """While the block runs (the agent busy), beats go out from a side thread: it never degrades."""
    assert client.register_agent("busy", interval_ms=1000)
    system.check_agent_health("busy")
    with client.beating("busy", every=0.01):
        for round_ in range(1, 6):  # 5 x 0.9 s of monitor time: 4.5 intervals
            wire.wait_beats(wire.beats + 1)
            assert system.check_agent_health("busy") is HealthState.HEALTHY
            clock.advance(0.9)
    clock.advance(3.5)  # the block is over: no more beats, and it fails on its deadline
    assert system.check_agent_health("busy") is HealthState.FAILED
