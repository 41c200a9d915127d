"""POST /v1/heartbeats: one or a list, the server's clock when no timestamp, refusals per item."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from actors import ManualClock, SwarmSystem
from messages import Heartbeat, HealthState, encode


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
