"""Twenty real agent processes report through RemoteSwarm; one is SIGKILLed; the server goes away.

The system runs here on the real clock (the agents are real processes), and
the test waits on events (health transitions from ``SwarmSystem.subscribe``)
and on the agents' own lines on stdout, each with a deadline; nothing sleeps.
"""

from __future__ import annotations

import collections
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from actors import SwarmSystem, start_system
from messages import Alert, HealthChanged, HealthState
from server import ServerHandle, serve

AGENTS = 20
BEFORE = 300  # tasks each agent records before the outage...
DURING = 200  # ...and while the server refuses every request
VICTIM_INTERVAL_MS = 200
OTHERS_INTERVAL_MS = 500  # the others beat every 50 ms: ten beats per interval, for loaded machines
DEADLINE = 60.0
TOKEN = "cross-process"

AGENT = r"""
import sys, time
from server.client import RemoteSwarm

url, agent_id, interval_ms, before, during = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def say(*words):
    print(*words, flush=True)

with RemoteSwarm(url, sys.argv[6], backoff=0.02, max_backoff=0.2, batch_size=64) as remote:
    remote.register_agent(agent_id, {"pid": 0}, interval_ms=interval_ms)
    with remote.beating(agent_id, every=0.05):
        for i in range(before):
            remote.record_task_metric(f"{agent_id}/a{i}", agent_id, 10.0 + i, "success", tokens_used=i)
        assert remote.flush(timeout=60), remote.last_error
        say("stored", remote.sent)
        for command in sys.stdin:
            word, *rest = command.split()
            if word == "finish":
                break
            if word == "sync":
                assert remote.flush(timeout=60), remote.last_error
                say("synced", remote.sent)
                continue
            # record a phase's tasks while the test makes sending fail, and report the retries
            failures = remote.send_failures
            for i in range(during):
                remote.record_task_metric(f"{agent_id}/{word}{i}", agent_id, 5.0, "failure", files_changed=1)
            deadline = time.monotonic() + 60
            while remote.send_failures < failures + 3:  # waits on the client's condition
                assert time.monotonic() < deadline, "no send ever failed"
                remote.flush(timeout=0.05)
            say("retried", remote.send_failures - failures)
        assert remote.update_agent_heartbeat(agent_id)  # the server is back: one beat at once
        assert remote.flush(timeout=60), remote.last_error
        say("stored", remote.sent, remote.dropped)
"""


class Relay:
    """A TCP relay between the agents and the server, which can lose the server's answers.

    In ``lose`` mode every request reaches the server, and the connection is
    cut as its answer comes back: the server has taken the batch, the agent
    never hears so, and retries it. One thread, one selector; nothing of HTTP.
    """

    def __init__(self, upstream_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.upstream_port = upstream_port
        self.lose = False
        self.lost = 0
        self._closing = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._peers: dict[socket.socket, tuple[socket.socket, bool]] = {}  # sock -> (peer, upstream?)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self.thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._closing:
            for key, _ in self._selector.select():
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._wake_r:
                    continue
                if sock is self.listener:
                    self._accept()
                    continue
                if sock not in self._peers:
                    continue
                peer, upstream = self._peers[sock]
                try:
                    data = sock.recv(1 << 16)
                    if data and upstream and self.lose:
                        self.lost += 1  # the server answered: the agent shall not hear it
                        data = b""
                    if data:
                        peer.sendall(data)
                except OSError:
                    data = b""
                if not data:
                    self._drop(sock, peer)
        for sock in list(self._peers):
            self._drop(sock, self._peers[sock][0])

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        try:
            server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:  # the server is down: the agent sees its connection closed
            client.close()
            return
        server.settimeout(None)
        self._peers[client] = (server, False)
        self._peers[server] = (client, True)
        self._selector.register(client, selectors.EVENT_READ)
        self._selector.register(server, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket, peer: socket.socket) -> None:
        for one in (sock, peer):
            if self._peers.pop(one, None) is not None:
                self._selector.unregister(one)
                one.close()

    def close(self) -> None:
        self._closing = True
        self._wake_w.send(b"x")
        self.thread.join(timeout=30)
        self._selector.close()
        for sock in (self.listener, self._wake_r, self._wake_w):
            sock.close()


class Transitions:
    """Health transitions from the system's event subscription, to wait on."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: list[HealthChanged] = []

    def __call__(self, event: HealthChanged | Alert) -> None:
        if isinstance(event, HealthChanged):
            with self.cond:
                self.seen.append(event)
                self.cond.notify_all()

    def wait(self, agent_id: str, state: HealthState, after: int = 0) -> list[HealthChanged]:
        """Block until ``agent_id`` reached ``state`` in a transition past its first ``after``.

        Returns the agent's transitions past those ``after``.
        """
        with self.cond:
            assert self.cond.wait_for(
                lambda: any(e.current is state for e in self.of(agent_id)[after:]), DEADLINE
            ), f"{agent_id} never became {state.value}: {self.of(agent_id)}"
            return self.of(agent_id)[after:]

    def of(self, agent_id: str) -> list[HealthChanged]:
        with self.cond:
            return [e for e in self.seen if e.agent_id == agent_id]


class Agent:
    """One agent process and the lines it prints, read on a thread into a queue."""

    def __init__(self, url: str, agent_id: str, interval_ms: int) -> None:
        self.agent_id = agent_id
        self.process = subprocess.Popen(
            [sys.executable, "-c", AGENT, url, agent_id, str(interval_ms), str(BEFORE), str(DURING),
             TOKEN],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, word: str) -> list[str]:
        """The next line, which must start with ``word``; its words."""
        line = self.lines.get(timeout=DEADLINE)
        if line is None:
            assert self.process.stderr is not None
            raise AssertionError(f"{self.agent_id} ended: {self.process.stderr.read()}")
        words = line.split()
        assert words[0] == word, line
        return words

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[SwarmSystem]:
    """The real system on a real SQLite file, on the real clock."""
    with start_system(str(tmp_path / "cross.db"), heartbeat_interval_ms=OTHERS_INTERVAL_MS) as system:
        yield system


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    """The agent processes started by the test; every one is killed and reaped at the end."""
    started: list[Agent] = []
    yield started
    for agent in started:
        agent.stop()


def states(url: str) -> dict[str, str]:
    """Each agent's health as ``GET /v1/agents`` shows it."""
    answer = httpx.get(f"{url}/v1/agents", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = body["agents"] if isinstance(body, dict) else body
    return {row["agent_id"]: row["health_state"] for row in rows}


def test_twenty_processes_one_killed_the_server_gone_awhile_every_metric_stored_once(
    swarm: SwarmSystem, agents: list[Agent]
) -> None:
    """SIGKILL: DEGRADED, CRITICAL, FAILED on its deadlines; lost answers, then an outage: retries,
    and every metric still stored exactly once."""
    transitions = Transitions()
    unsubscribe = swarm.subscribe(transitions)
    handle: ServerHandle | None = serve(swarm, token=TOKEN)
    relay: Relay | None = None
    try:
        port = handle.port
        relay = Relay(port)
        victim = "agent-00"
        for i in range(AGENTS):
            agent_id = f"agent-{i:02d}"
            interval = VICTIM_INTERVAL_MS if agent_id == victim else OTHERS_INTERVAL_MS
            agents.append(Agent(f"http://127.0.0.1:{relay.port}", agent_id, interval))
        for agent in agents:
            assert int(agent.expect("stored")[1]) == BEFORE

        # The victim dies without a word: its silence walks it down the states on its deadlines.
        before_kill = len(transitions.of(victim))
        agents[0].process.send_signal(signal.SIGKILL)
        agents[0].process.wait(timeout=30)
        walk = transitions.wait(victim, HealthState.FAILED, after=before_kill)
        # a loaded machine may have let it slip just before the kill; from its last recovery on:
        recovered = [i for i, e in enumerate(walk) if e.current is HealthState.HEALTHY]
        since = walk[recovered[-1] + 1:] if recovered else walk
        assert [e.current.value for e in since] == ["degraded", "critical", "failed"]
        for event, intervals in zip(since, (1, 2, 3)):
            assert event.heartbeat_age_ms >= intervals * VICTIM_INTERVAL_MS - 1e-6  # float sums
        shown = states(handle.url)
        assert shown[victim] == "failed"
        assert len(shown) == AGENTS and all(shown[a.agent_id] != "failed" for a in agents[1:])

        # The server takes every batch but its answers are lost: each is retried under its key.
        relay.lose = True
        for agent in agents[1:]:
            agent.say("lost")
        for agent in agents[1:]:
            assert int(agent.expect("retried")[1]) >= 3
        relay.lose = False
        assert relay.lost > 0
        for agent in agents[1:]:  # every batch of that phase acknowledged (by a replayed answer)
            agent.say("sync")
        for agent in agents[1:]:
            assert int(agent.expect("synced")[1]) == BEFORE + DURING

        # The server goes away while the others keep recording (1.5 s and more: until each of them
        # is FAILED for want of heartbeats); they retry until it is back, and recover.
        seen = {a.agent_id: len(transitions.of(a.agent_id)) for a in agents[1:]}
        handle.stop()
        handle = None
        for agent in agents[1:]:
            agent.say("gone")
        for agent in agents[1:]:
            assert int(agent.expect("retried")[1]) >= 3
        for agent in agents[1:]:  # the outage lasts until the monitor has given every one up
            transitions.wait(agent.agent_id, HealthState.FAILED, after=seen[agent.agent_id])
        # counted before the server is back: a beat may bring an agent back before serve() returns
        outage = {a.agent_id: len(transitions.of(a.agent_id)) for a in agents[1:]}
        handle = serve(swarm, port=port, token=TOKEN)
        for agent in agents[1:]:
            agent.say("finish")
        for agent in agents[1:]:
            _, sent, dropped = agent.expect("stored")
            assert (int(sent), int(dropped)) == (BEFORE + 2 * DURING, 0)

        stored = collections.Counter(m.task_id for m in swarm.query_task_metrics())
        expected = {f"{victim}/a{i}" for i in range(BEFORE)} | {
            f"{a.agent_id}/{phase}{i}"
            for a in agents[1:]
            for phase, count in (("a", BEFORE), ("lost", DURING), ("gone", DURING))
            for i in range(count)
        }
        assert set(stored) == expected
        twice = sorted(t for t, n in stored.items() if n > 1)
        assert not twice, (len(twice), twice[:5], twice[-5:])  # nothing twice, retries included
        assert swarm.get_task_stats()["total_tasks"] == len(expected)
        for agent in agents[1:]:  # the others came back once the server did
            transitions.wait(agent.agent_id, HealthState.HEALTHY, after=outage[agent.agent_id])
            assert agent.process.wait(timeout=DEADLINE) == 0
    finally:
        if handle is not None:
            handle.stop()
        if relay is not None:
            relay.close()
        unsubscribe()
