"""Ingest over HTTP: agents, metrics, idempotent retries, and bodies that are not the protocol."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from actors import ManualClock, SwarmSystem, start_system
from server import serve
from messages import AgentMetric, RegisterAgent, SwarmMetric, TaskMetric, encode
from server import serve


def _task(i: int, agent_id: str = "w", **extra: object) -> dict[str, object]:
    return {"type": "task_metric", "task_id": f"t{i}", "agent_id": agent_id,
            "duration_ms": 100.0 + i, "result": "success", **extra}


def test_register_answers_201_then_200_and_the_agent_is_watched(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """A plain object registers (201); the same again is 200; settings and metadata are kept."""
    body = {"agent_id": "r1", "metadata": {"role": "coder"}, "interval_ms": 2500,
            "failure_threshold": 4}
    first = http.post("/v1/agents", json=body)
    assert first.status_code == 201
    assert first.json() == {"agent_id": "r1", "registered": True}
    assert http.post("/v1/agents", json=body).status_code == 200
    status = system.get_agent_health_status("r1")
    assert status is not None
    assert (status["interval_ms"], status["failure_threshold"]) == (2500, 4)


def test_register_takes_the_protocol_message_in_msgpack(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """messages.encode(RegisterAgent) posted as msgpack registers the agent."""
    reply = http.post("/v1/agents", content=encode(RegisterAgent(agent_id="mp")),
                      headers={"content-type": "application/msgpack"})
    assert reply.status_code == 201
    assert system.get_agent_health_status("mp") is not None


@pytest.mark.parametrize(("body", "field"), [
    ({"agent_id": ""}, "agent_id"),
    ({"agent_id": "x", "interval_ms": 0}, "interval_ms"),
    ({"agent_id": "x", "failure_threshold": 1}, "failure_threshold"),
    ({"agent_id": "x", "colour": "red"}, "colour"),
    ({"type": "heartbeat", "agent_id": "x"}, "type"),
    ([{"agent_id": "x"}], "body"),
])
def test_a_bad_registration_is_400_naming_the_field(
    http: httpx.Client, body: object, field: str
) -> None:
    """Each broken rule is a 400 whose body names the field, and nothing registers."""
    reply = http.post("/v1/agents", json=body)
    assert reply.status_code == 400
    assert reply.json()["field"] == field
    assert http.get("/v1/agents").json()["agents"] == []


def test_unregister_answers_200_then_404(http: httpx.Client, system: SwarmSystem) -> None:
    """DELETE stops watching the agent; a second DELETE (or an unknown id) is 404."""
    http.post("/v1/agents", json={"agent_id": "gone"})
    assert http.delete("/v1/agents/gone").status_code == 200
    assert system.get_agent_health_status("gone")["tracked"] is False
    missing = http.delete("/v1/agents/gone")
    assert missing.status_code == 404 and missing.json()["field"] == "agent_id"


def test_a_metrics_batch_stores_every_valid_item_and_refuses_the_rest_by_field(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """Task, agent and swarm metrics in one list; each bad item named; the good ones stored."""
    body = [
        _task(0, tokens_used=5),
        _task(1, duration_ms=-1.0),
        {"type": "agent_metric", "agent_id": "w", "metric_type": "queue", "value": 3},
        {"type": "swarm_metric", "swarm_id": "edge", "metric_type": "load", "value": 0.5},
        _task(2, result="exploded"),
        {"type": "heartbeat", "agent_id": "w"},
        _task(3, timestamp=clock.time() - 60.0),
    ]
    reply = http.post("/v1/metrics", json=body)
    assert reply.status_code == 202
    answer = reply.json()
    assert answer["accepted"] == 4
    assert [(r["index"], r["field"]) for r in answer["refused"]] == [
        (1, "duration_ms"), (4, "result"), (5, "type"),
    ]
    assert "exploded" in answer["refused"][1]["error"]  # the protocol's own reason
    stored = system.query_task_metrics()
    assert [m.task_id for m in stored] == ["t3", "t0"]  # t3 carried its own, older timestamp
    assert stored[1].timestamp == pytest.approx(clock.time())  # the server's clock
    assert system.get_task_stats()["total_tokens"] == 5


def test_msgpack_metrics_as_messages_encode_writes_them(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """A msgpack list of encoded TaskMetric/AgentMetric/SwarmMetric is taken whole."""
    now = clock.time()
    items = [
        TaskMetric(task_id="m1", agent_id="w", duration_ms=5.0, result="failure", timestamp=now),
        AgentMetric(agent_id="w", metric_type="mem", value=1.5, timestamp=now),
        SwarmMetric(swarm_id="edge", metric_type="load", value=2.0, timestamp=now),
    ]
    body = msgspec.msgpack.encode([msgspec.msgpack.decode(encode(m)) for m in items])
    reply = http.post("/v1/metrics", content=body, headers={"content-type": "application/msgpack"})
    unregistered = {"field": "agent_id", "note": "agent not registered; stored (policy store)"}
    assert reply.json() == {"accepted": 3, "refused": [],  # "w" is not registered: noted
                            "notes": [{"index": 0, **unregistered}, {"index": 1, **unregistered}]}
    assert system.get_task_stats()["results_breakdown"]["failure"] == 1


def test_one_metric_object_is_a_batch_of_one(http: httpx.Client, system: SwarmSystem) -> None:
    """A single object (not a list) is taken as one item."""
    assert http.post("/v1/metrics", json=_task(9)).json()["accepted"] == 1
    assert len(system.query_task_metrics()) == 1


def test_metrics_of_an_unknown_agent_follow_the_core_policy(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """The core stores metrics of agents it does not watch: so does the edge."""
    assert http.post("/v1/metrics", json=_task(1, agent_id="stranger")).json()["accepted"] == 1
    assert [m.agent_id for m in system.query_task_metrics()] == ["stranger"]


def test_the_answer_notes_each_item_of_an_unregistered_agent_under_the_policy_store(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """Policy store: each taken item of an unregistered agent has its note; the others none."""
    http.post("/v1/agents", json={"agent_id": "known"})
    batch = [
        _task(0, agent_id="known"),
        _task(1, agent_id="stranger"),
        {"type": "swarm_metric", "swarm_id": "edge", "metric_type": "load", "value": 1.0},
        {"type": "agent_metric", "agent_id": "stranger", "metric_type": "mem", "value": 2.0},
        _task(4, agent_id="stranger", duration_ms=-1),
        {"type": "task_started", "task_id": "t5", "agent_id": "other"},
    ]
    answer = http.post("/v1/metrics", json=batch).json()
    assert answer["accepted"] == 5
    assert [r["index"] for r in answer["refused"]] == [4]
    assert answer["notes"] == [
        {"index": 1, "field": "agent_id", "note": "agent not registered; stored (policy store)"},
        {"index": 3, "field": "agent_id", "note": "agent not registered; stored (policy store)"},
        {"index": 5, "field": "agent_id", "note": "agent not registered; tracked (policy store)"},
    ]
    assert sorted(m.task_id for m in system.query_task_metrics()) == ["t0", "t1"]
    only_known = http.post("/v1/metrics", json=[_task(6, agent_id="known")]).json()
    assert only_known == {"accepted": 1, "refused": [], "notes": []}


@pytest.fixture
def refusing(clock: ManualClock, tmp_path: Path) -> Iterator[httpx.Client]:
    """A server of a system started with unknown_agents="refuse"."""
    swarm = start_system(str(tmp_path / "refuse.db"), swarm_id="edge", clock=clock,
                         unknown_agents="refuse")
    try:
        with serve(swarm) as handle, httpx.Client(base_url=handle.url, timeout=10.0) as client:
            yield client
    finally:
        swarm.shutdown()


def test_under_the_policy_refuse_an_unregistered_agent_s_items_are_refused(
    refusing: httpx.Client,
) -> None:
    """Policy refuse: each item of an unregistered agent is refused by index; no note."""
    refusing.post("/v1/agents", json={"agent_id": "known"})
    batch = [_task(0, agent_id="stranger"), _task(1, agent_id="known"),
             {"type": "agent_metric", "agent_id": "stranger", "metric_type": "mem", "value": 2.0}]
    answer = refusing.post("/v1/metrics", json=batch).json()
    assert answer["accepted"] == 1 and answer["notes"] == []
    assert [(r["index"], r["field"]) for r in answer["refused"]] == [(0, "agent_id"),
                                                                     (2, "agent_id")]
    assert all("unknown agent" in r["error"] for r in answer["refused"])


@pytest.mark.parametrize(("content", "headers", "status", "field"), [
    (b"{not json", {}, 400, "body"),
    (b"", {}, 400, "body"),
    (b'"a string"', {}, 400, "body"),
    (b"42", {}, 400, "body"),
    (b"\xc1", {"content-type": "application/msgpack"}, 400, "body"),
    (b"[]" * 1, {"content-type": "text/plain"}, 415, "content-type"),
    (b"[" * 100_000 + b"]" * 100_000, {}, 400, "body"),
])
def test_a_body_that_is_not_the_protocol_is_one_line_without_traceback(
    http: httpx.Client, content: bytes, headers: dict[str, str], status: int, field: str
) -> None:
    """Malformed, empty, scalar, deeply nested or wrongly typed: a one-line reason, no trace."""
    for path in ("/v1/metrics", "/v1/heartbeats"):
        reply = http.post(path, content=content, headers=headers)
        assert reply.status_code == status
        body = reply.json()
        assert body["field"] == field
        assert "\n" not in body["error"]
        assert "Traceback" not in reply.text and "/work" not in reply.text and ".py" not in reply.text


def test_an_empty_list_is_an_empty_batch(http: httpx.Client) -> None:
    """[] is valid and takes nothing."""
    assert http.post("/v1/metrics", json=[]).json() == {"accepted": 0, "refused": [], "notes": []}


def test_a_retried_batch_with_the_same_key_is_stored_once_and_answered_the_same(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """Three posts of one batch under one Idempotency-Key: one stored copy, one answer."""
    body = [_task(i) for i in range(10)] + [_task(99, duration_ms="slow")]
    headers = {"Idempotency-Key": "batch-0001"}
    answers = [http.post("/v1/metrics", json=body, headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["accepted"] == 10
    assert len(system.query_task_metrics()) == 10
    other = http.post("/v1/metrics", json=body, headers={"Idempotency-Key": "batch-0002"})
    assert other.json()["accepted"] == 10
    assert len(system.query_task_metrics()) == 20  # another key is another batch


def test_a_key_reused_with_another_body_is_refused(http: httpx.Client, system: SwarmSystem) -> None:
    """The same key with a different body is 422, and the second body is not stored."""
    headers = {"Idempotency-Key": "k"}
    http.post("/v1/metrics", json=[_task(1)], headers=headers)
    reply = http.post("/v1/metrics", json=[_task(2)], headers=headers)
    assert reply.status_code == 422 and reply.json()["field"] == "idempotency-key"
    assert [m.task_id for m in system.query_task_metrics()] == ["t1"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_400(http: httpx.Client, key: str) -> None:
    """Empty, too long or not ASCII: 400 naming the header, nothing stored."""
    reply = http.post("/v1/metrics", json=[_task(1)],
                      headers={"Idempotency-Key": key.encode("utf-8")})
    assert reply.status_code == 400 and reply.json()["field"] == "idempotency-key"


def test_a_msgpack_batch_of_tasks_is_stored_once_and_its_bad_items_refused_by_index(
    http: httpx.Client, system: SwarmSystem, clock: ManualClock
) -> None:
    """3,000 encoded tasks, two broken past what decoding checks: 2,998 stored once, 2 named."""
    now = clock.time()
    items = [_task(i, timestamp=now, tokens_used=2) for i in range(3000)]
    items[17]["task_id"] = "bell\x07"
    items[2000]["duration_ms"] = float("inf")
    reply = http.post("/v1/metrics", content=msgspec.msgpack.encode(items),
                      headers={"content-type": "application/msgpack"})
    answer = reply.json()
    assert answer["accepted"] == 2998
    assert [(r["index"], r["field"]) for r in answer["refused"]] == [
        (17, "task_id"), (2000, "duration_ms")]
    system.flush()
    stats = system.get_task_stats()
    assert (stats["total_tasks"], stats["total_tokens"]) == (2998, 2 * 2998)
    stored = system.query_task_metrics(limit=10_000)
    assert len(stored) == 2998 and len({m.task_id for m in stored}) == 2998


def test_a_batch_about_unknown_agents_is_refused_by_index_under_the_refuse_policy(
    db_path: str, clock: ManualClock
) -> None:
    """unknown_agents="refuse": the rows of unregistered agents are refused, each by index."""
    with start_system(db_path, clock=clock, unknown_agents="refuse") as swarm:
        swarm.register_agent("w")
        with serve(swarm) as handle, httpx.Client(base_url=handle.url, timeout=10.0) as client:
            items = [_task(i, agent_id="w" if i % 3 else "ghost", timestamp=clock.time())
                     for i in range(9)]
            reply = client.post("/v1/metrics", content=msgspec.msgpack.encode(items),
                                headers={"content-type": "application/msgpack"})
        answer = reply.json()
        assert answer["accepted"] == 6
        assert [(r["index"], r["field"]) for r in answer["refused"]] == [
            (0, "agent_id"), (3, "agent_id"), (6, "agent_id")]
        assert "ghost" in answer["refused"][0]["error"]
        swarm.flush()
        assert swarm.get_task_stats()["total_tasks"] == 6


def test_a_metrics_batch_reads_the_unregistered_counter_without_building_the_write_status(
    http: httpx.Client, system: SwarmSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /v1/metrics notes an unregistered agent's item from the one counter alone."""
    def refused() -> dict[str, object]:
        raise AssertionError("get_write_status() built for a batch")

    monkeypatch.setattr(system, "get_write_status", refused)
    http.post("/v1/agents", json={"agent_id": "known"})
    answer = http.post("/v1/metrics", json=[_task(0, agent_id="known"), _task(1, agent_id="stranger")])
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 2
    assert [n["index"] for n in answer.json()["notes"]] == [1]
    assert system.unregistered_agent_metrics() == 1
