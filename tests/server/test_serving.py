"""serve(): a server in a background thread, its URL, its stop, and where it may bind."""

from __future__ import annotations

import contextlib
import socket

import httpx
import pytest

from actors import SwarmSystem
from server import BadToken, InsecureBind, Limits, ServerHandle, serve


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


def test_stop_ends_open_event_streams_cleanly(system: SwarmSystem) -> None:
    """An open /v1/events stream ends as a complete response when the server stops."""
    handle = serve(system)
    with httpx.Client(base_url=handle.url, timeout=30) as http:
        with http.stream("GET", "/v1/events") as response:
            chunks = response.iter_bytes()
            assert next(chunks).startswith(b"retry:")
            handle.stop()
            assert list(chunks) == []  # the end of the stream, not a broken connection
    assert not handle.running


@pytest.mark.parametrize("token", ["", " padded ", "caf\u00e9", "two\nlines"])
def test_a_token_that_cannot_work_is_refused_without_showing_it(
    system: SwarmSystem, token: str
) -> None:
    """An empty token (or one no header can carry) raises BadToken; its text is not in the error."""
    with pytest.raises(BadToken) as caught:
        serve(system, token=token)
    if token.strip():
        assert token.strip() not in str(caught.value)


@pytest.mark.skipif(not hasattr(socket, "TCP_NOTSENT_LOWAT"), reason="no TCP_NOTSENT_LOWAT here")
@pytest.mark.parametrize("unsent", [16 * 1024, 128 * 1024])
def test_a_connection_holds_about_max_unsent_bytes_for_a_peer_that_does_not_read(
    unsent: int,
) -> None:
    """Set on the listener, the bound is inherited: a non-reading peer takes about that much."""
    from server.serving import _bound_unsent

    listener = socket.socket()
    _bound_unsent(listener, unsent)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        peer.connect(listener.getsockname())
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT) == unsent
            accepted.setblocking(False)
            taken = 0
            with contextlib.suppress(BlockingIOError):
                while taken < 64 * unsent:
                    taken += accepted.send(b"x" * 256)
    finally:
        peer.close()
        listener.close()
    # the limit plus what the peer's small buffer and one segment hold; unbounded, megabytes
    assert unsent <= taken < unsent + 128 * 1024


def test_max_unsent_bytes_must_be_a_positive_integer() -> None:
    """Limits(max_unsent_bytes=0) is refused like every other bound."""
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        Limits(max_unsent_bytes=0)
