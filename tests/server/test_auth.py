"""The token: every endpoint but /healthz needs it, compared in constant time; 401 says nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from actors import SwarmSystem
from server import ServerHandle, serve

TOKEN = "correct-horse-battery-staple"


@pytest.fixture
def guarded(system: SwarmSystem) -> Iterator[ServerHandle]:
    """The server with a token."""
    with serve(system, token=TOKEN) as handle:
        yield handle


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/agents"), ("POST", "/v1/agents"), ("GET", "/v1/agents/a"),
    ("DELETE", "/v1/agents/a"), ("POST", "/v1/heartbeats"), ("POST", "/v1/metrics"),
    ("GET", "/v1/stats"), ("GET", "/v1/alerts"), ("GET", "/v1/health-events"),
    ("GET", "/v1/report"), ("GET", "/v1/events"), ("GET", "/openapi.json"), ("GET", "/nowhere"),
])
def test_every_endpoint_needs_the_token(guarded: ServerHandle, method: str, path: str) -> None:
    """A missing or wrong token gets 401 with no detail, whatever the endpoint."""
    for authorization in (None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN,
                          "Bearer", f"bearer {TOKEN[:-1]}"):
        headers = {} if authorization is None else {"Authorization": authorization}
        reply = httpx.request(method, f"{guarded.url}{path}", headers=headers,
                              json={"agent_id": "a"})
        assert reply.status_code == 401, authorization
        assert reply.json() == {"error": "unauthorized"}


def test_the_right_token_opens_the_api(guarded: ServerHandle) -> None:
    """With Authorization: Bearer TOKEN the API answers."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(f"{guarded.url}/v1/agents", json={"agent_id": "a"}, headers=headers).status_code == 201
    assert httpx.get(f"{guarded.url}/v1/agents", headers=headers).json()["agents"][0]["agent_id"] == "a"


def test_healthz_answers_without_the_token(guarded: ServerHandle) -> None:
    """A liveness probe needs no secret."""
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200


def test_no_cors_headers_are_sent(guarded: ServerHandle) -> None:
    """CORS is off: a cross-origin preflight gets no Access-Control-Allow-Origin."""
    reply = httpx.options(f"{guarded.url}/v1/agents", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET",
        "Authorization": f"Bearer {TOKEN}"})
    assert "access-control-allow-origin" not in reply.headers
