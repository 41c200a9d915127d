"""serve(): a server in a background thread, its URL, its stop, and where it may bind."""

from __future__ import annotations

import httpx
import pytest

from actors import SwarmSystem
from server import InsecureBind, ServerHandle, serve


def test_serve_binds_a_free_loopback_port_and_answers(running: ServerHandle) -> None:
    """The handle's URL names the port taken, and /healthz answers 200 there."""
    assert running.url.startswith("http://127.0.0.1:")
    assert running.port > 0
    reply = httpx.get(f"{running.url}/healthz")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"


def test_stop_closes_the_port_and_the_thread(system: SwarmSystem) -> None:
    """After stop() nothing listens any more and the server's thread has ended."""
    handle = serve(system)
    handle.stop()
    assert not handle.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{handle.url}/healthz")


def test_binding_beyond_loopback_without_a_token_is_refused(system: SwarmSystem) -> None:
    """0.0.0.0 without a token raises InsecureBind naming the address; nothing starts."""
    with pytest.raises(InsecureBind, match="0.0.0.0"):
        serve(system, host="0.0.0.0")


def test_binding_beyond_loopback_with_a_token_is_allowed(system: SwarmSystem) -> None:
    """With a token the server binds 0.0.0.0 and answers on loopback."""
    with serve(system, host="0.0.0.0", token="s3cret") as handle:
        assert httpx.get(f"http://127.0.0.1:{handle.port}/healthz").status_code == 200
