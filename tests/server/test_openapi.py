"""GET /openapi.json describes every endpoint; schemathesis finds no input that makes a 5xx."""

from __future__ import annotations

import httpx
import msgspec
import schemathesis
from hypothesis import HealthCheck, reject, settings

from server import ServerHandle, routes
from server.openapi import document

@schemathesis.serializer("application/msgpack")
def _msgpack(ctx: object, value: object) -> bytes:
    """Bodies for application/msgpack, as an agent would encode them."""
    try:
        return msgspec.msgpack.encode(value)
    except OverflowError:  # an int msgpack cannot carry: no agent could send it
        reject()


schema = schemathesis.openapi.from_dict(document()).exclude(path="/v1/events")


def test_every_route_is_described(http: httpx.Client) -> None:
    """Each route of the app (methods included) is a path of the served description."""
    served = http.get("/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, ops in served["paths"].items() for method in ops}
    for route in routes:
        path = route.path.replace(":path}", "}")
        for method in getattr(route, "methods", None) or ():  # a Mount (/static) has none
            if method != "HEAD":
                assert (path, method) in described


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: schemathesis.Case, running: ServerHandle) -> None:
    """Whatever schemathesis generates, the answer is never a 5xx (503 aside: not an error of ours)."""
    response = case.call(base_url=running.url, timeout=30)
    assert response.status_code < 500 or response.status_code == 503, (
        f"{case.method} {case.path}: {response.status_code} {response.text[:200]}")
    assert "Traceback" not in response.text


def test_a_batch_answer_with_refusals_and_notes_is_as_described(http: httpx.Client) -> None:
    """A 202 with a refused item and a noted one validates against BatchAnswer, every key described."""
    from jsonschema import Draft202012Validator

    described = http.get("/openapi.json").json()["components"]["schemas"]["BatchAnswer"]
    batch = [{"type": "task_metric", "task_id": "t", "agent_id": "unregistered",
              "duration_ms": 5.0, "result": "success"},
             {"type": "task_metric", "task_id": "u", "agent_id": "a", "duration_ms": -1,
              "result": "success"}]
    answer = http.post("/v1/metrics", json=batch).json()
    assert answer["refused"] and answer["notes"]
    Draft202012Validator(described).validate(answer)
    assert set(answer) == set(described["properties"]) == set(described["required"])
    for part, item in (("refused", answer["refused"][0]), ("notes", answer["notes"][0])):
        assert set(item) == set(described["properties"][part]["items"]["required"])
