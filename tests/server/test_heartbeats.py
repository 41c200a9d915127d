"""POST /v1/heartbeats: one or a list, the server's clock when no timestamp, refusals per item.

Also the :class:`server.heartbeats.HeartbeatSender` alone, with fakes of the
coordinator and the ask bridge: what it tells, what it asks, and when it waits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from actors import ManualClock, SwarmSystem, start_system
from messages import Heartbeat, HealthState, encode
from server import Limits, serve
from server.heartbeats import HeartbeatSender
from tests.clocks import CoordinatorHoldingClock


def _register(http: httpx.Client, agent_id: str) -> None:
    assert http.post("/v1/agents", json={"agent_id": agent_id}).status_code == 201


def test_a_heartbeat_without_timestamp_keeps_an_agent_healthy(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """An agent beating over HTTP stays HEALTHY past the deadline it would have missed."""
    _register(http, "remote-1")
    clock.advance(0.9)
    reply = http.post("/v1/heartbeats", json={"agent_id": "remote-1"})
    assert reply.status_code == 202
    assert reply.json() == {"accepted": 1, "refused": [], "notes": []}
    clock.advance(0.9)  # 1.8 s after registration, 0.9 s after the beat
    assert system.check_agent_health("remote-1") is HealthState.HEALTHY
    history = system.get_heartbeat_history("remote-1")
    assert history[-1]["sent_at"] == pytest.approx(clock.time() - 0.9)  # the server's clock


def test_a_list_takes_the_valid_beats_and_names_each_refusal(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """Valid items of a list are taken; an unknown agent, a non-object and a bad id are refused."""
    _register(http, "a")
    body = [{"agent_id": "a"}, {"agent_id": "ghost"}, 7, {"agent_id": ""}, {"agent_id": "a", "x": 1},
            {"type": "heartbeat", "agent_id": "a"}]
    reply = http.post("/v1/heartbeats", json=body)
    assert reply.status_code == 202
    answer = reply.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["refused"]] == [
        (1, "agent_id"), (2, "message"), (3, "agent_id"), (4, "x"),
    ]
    assert "unknown agent" in answer["refused"][0]["error"]
    assert system.get_agent_health_status("a")["heartbeats"] == 2


def test_msgpack_heartbeats_as_the_protocol_encodes_them(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """A msgpack list of messages.encode'd heartbeats is taken whole, timestamps kept."""
    _register(http, "m")
    beats = [Heartbeat(agent_id="m", timestamp=clock.time() - 5.0) for _ in range(3)]
    body = msgspec.msgpack.encode([msgspec.msgpack.decode(encode(b)) for b in beats])
    reply = http.post("/v1/heartbeats", content=body,
                      headers={"content-type": "application/msgpack"})
    assert reply.json() == {"accepted": 3, "refused": [], "notes": []}
    assert system.get_heartbeat_history("m")[-1]["sent_at"] == pytest.approx(clock.time() - 5.0)


def test_an_unregistered_agent_beating_again_is_refused(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """After DELETE /v1/agents/{id}, the agent's next beat is refused as unknown, not told."""
    _register(http, "leaver")
    assert http.post("/v1/heartbeats", json={"agent_id": "leaver"}).json()["accepted"] == 1
    assert http.delete("/v1/agents/leaver").status_code == 200
    answer = http.post("/v1/heartbeats", json={"agent_id": "leaver"}).json()
    assert answer["accepted"] == 0
    assert [(r["index"], r["field"]) for r in answer["refused"]] == [(0, "agent_id")]
    assert system.snapshot().unknown_heartbeats == 1


def test_a_heartbeat_is_answered_while_the_coordinator_is_busy(tmp_path: Path) -> None:
    """A registered agent's beat gets its 202 without waiting for the coordinator to take it."""
    clock = CoordinatorHoldingClock()
    system = start_system(str(tmp_path / "held.db"), heartbeat_interval_ms=1000, clock=clock)
    try:
        with serve(system) as handle, httpx.Client(base_url=handle.url, timeout=5.0) as http:
            _register(http, "busy")
            clock.hold_coordinator()
            reply = http.post("/v1/heartbeats", json={"agent_id": "busy"})
            assert reply.status_code == 202
            assert reply.json() == {"accepted": 1, "refused": [], "notes": []}
            assert clock.holding.wait(5.0)  # the coordinator is in fact held on that beat
            clock.release.set()
            assert system.get_agent_health_status("busy")["heartbeats"] == 1
    finally:
        clock.release.set()
        system.shutdown()
        clock.close()


class _Coordinator:
    """The coordinator's ref as the sender uses it: ``tell`` only."""

    def __init__(self) -> None:
        self.told: list[Heartbeat] = []

    def tell(self, message: Heartbeat) -> None:
        self.told.append(message)


class _Bridge:
    """An ask bridge whose answers wait until the test opens the gate (open by default)."""

    def __init__(self) -> None:
        self.asked: list[list[Heartbeat]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def ask(self, messages: list[Heartbeat]) -> list[Any]:
        self.asked.append(messages)
        await self.gate.wait()
        return [message.agent_id != "ghost" for message in messages]


def _beat(agent_id: str = "a") -> Heartbeat:
    return Heartbeat(agent_id=agent_id, timestamp=1_700_000_000.0)


def _sender(sync_every: int, max_unconfirmed: int) -> tuple[HeartbeatSender, _Coordinator, _Bridge]:
    coordinator, bridge = _Coordinator(), _Bridge()
    sender = HeartbeatSender(coordinator, bridge, lambda agent_id: agent_id != "ghost",  # type: ignore[arg-type]
                             sync_every=sync_every, max_unconfirmed=max_unconfirmed)
    return sender, coordinator, bridge


def test_the_sender_tells_and_asks_one_request_in_sync_every_to_confirm() -> None:
    """Known beats are told; the request after every sync_every tells is asked, confirming them."""
    async def main() -> None:
        sender, coordinator, bridge = _sender(sync_every=3, max_unconfirmed=10)
        for _ in range(3):
            assert await sender.send([_beat()]) == [True]
        assert (len(coordinator.told), len(bridge.asked), sender.unconfirmed) == (3, 0, 3)
        assert await sender.send([_beat()]) == [True]
        assert (len(coordinator.told), len(bridge.asked), sender.unconfirmed) == (3, 1, 0)
        assert await sender.send([_beat(), _beat()]) == [True, True]
        assert (len(coordinator.told), sender.unconfirmed) == (5, 2)

    asyncio.run(main())


def test_the_sender_asks_a_batch_naming_an_unknown_agent() -> None:
    """A batch with any unregistered id goes to the coordinator as an ask, and its answer is kept."""
    async def main() -> None:
        sender, coordinator, bridge = _sender(sync_every=3, max_unconfirmed=10)
        assert await sender.send([_beat(), _beat("ghost")]) == [True, False]
        assert (len(coordinator.told), len(bridge.asked)) == (0, 1)

    asyncio.run(main())


def test_the_sender_makes_clients_wait_past_max_unconfirmed() -> None:
    """While the coordinator has not confirmed max_unconfirmed tells, a request waits for it."""
    async def main() -> None:
        sender, coordinator, bridge = _sender(sync_every=2, max_unconfirmed=4)
        bridge.gate.clear()  # the coordinator answers nothing for now
        for _ in range(2):
            await sender.send([_beat()])
        confirming = asyncio.create_task(sender.send([_beat()]))  # the 3rd: asked
        await asyncio.sleep(0)
        for _ in range(2):  # told while that confirmation is on its way
            await sender.send([_beat()])
        assert sender.unconfirmed == 4
        waiting = asyncio.create_task(sender.send([_beat()]))
        await asyncio.sleep(0)
        assert (len(coordinator.told), len(bridge.asked)) == (4, 2)
        assert not waiting.done()
        bridge.gate.set()
        assert await confirming == [True] and await waiting == [True]
        assert sender.unconfirmed == 0

    asyncio.run(main())


@pytest.mark.parametrize(("body", "field"), [
    ({"agent_id": "a", "timestamp": None}, "timestamp"),  # null is no "left out"
    ({"agent_id": "a", "timestamp": 12.0}, "timestamp"),  # before 2000
    ({"agent_id": "a\u0001"}, "agent_id"),
    ({"agent_id": "a", "metadata": [1]}, "metadata"),
    ({"type": "task_metric", "agent_id": "a"}, "type"),
])
def test_a_single_invalid_heartbeat_is_refused_by_field(
    http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    """One heartbeat object that breaks a rule is refused, naming the field, as a batch item is."""
    _register(http, "a")
    answer = http.post("/v1/heartbeats", json=body).json()
    assert answer["accepted"] == 0
    assert [(r["index"], r["field"]) for r in answer["refused"]] == [(0, field)]


@pytest.mark.parametrize("limits", [Limits(max_body_bytes=1000)], indirect=True)
def test_a_declared_body_past_the_limit_is_413_before_it_is_read(http: httpx.Client) -> None:
    """max_body_bytes on POST /v1/heartbeats: 1000 bytes taken, a Content-Length of 1001 refused."""
    assert http.post("/v1/heartbeats", content=b"[" + b" " * 998 + b"]").status_code == 202
    reply = http.post("/v1/heartbeats", content=b"[" + b" " * 999 + b"]")
    assert reply.status_code == 413 and reply.json()["field"] == "body"


def test_a_retried_heartbeat_with_its_key_is_answered_again_and_counted_once(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """The same Idempotency-Key and body: the first answer again, one beat; another body: 422."""
    _register(http, "k")
    headers = {"Idempotency-Key": "beat-1"}
    first = http.post("/v1/heartbeats", json={"agent_id": "k"}, headers=headers)
    again = http.post("/v1/heartbeats", json={"agent_id": "k"}, headers=headers)
    assert first.status_code == again.status_code == 202 and first.json() == again.json()
    assert system.get_agent_health_status("k")["heartbeats"] == 1
    other = http.post("/v1/heartbeats", json=[{"agent_id": "k"}], headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "idempotency-key"
