"""Running the app on uvicorn in a background thread: :func:`serve` and its handle."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from types import TracebackType
from typing import Final

import uvicorn

from actors import SwarmSystem
from server.app import create_app
from server.errors import BadToken, InsecureBind
from server.events import EventHub
from server.limits import Limits

__all__ = ["ServerHandle", "check_bind", "serve"]

START_TIMEOUT: Final = 30.0
STOP_TIMEOUT: Final = 10.0


def check_token(token: str | None) -> None:
    """Refuse a token that is empty or could not travel in an Authorization header.

    Raises:
        BadToken: empty, surrounded by spaces, or not printable ASCII.
    """
    if token is None:
        return
    if not token:
        raise BadToken("is empty: give one, or none at all")
    if token != token.strip() or not token.isascii() or not token.isprintable():
        raise BadToken("must be printable ASCII without surrounding spaces")


def check_bind(host: str, token: str | None) -> None:
    """Refuse an address beyond loopback when there is no token, and a token that cannot work.

    Raises:
        InsecureBind: ``host`` is not a loopback address and ``token`` is None.
        BadToken: see :func:`check_token`.
    """
    check_token(token)
    if token:
        return
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it could resolve to anything
        loopback = False
    if not loopback:
        raise InsecureBind(host)


def _bound_unsent(sock: socket.socket, unsent: int) -> None:
    """Let the kernel hold at most ``unsent`` bytes not yet sent per connection.

    Set on the listening socket, the accepted connections inherit it. Without it
    a connection to a peer that does not read absorbs megabytes (2.8 MB measured
    here for a peer with a 4 KiB receive buffer) before a write waits, so the
    server cannot tell an event stream that is not read from one that is. A peer
    that reads is not slowed: what it has taken is no longer unsent.
    """
    option = getattr(socket, "TCP_NOTSENT_LOWAT", None)
    if option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, unsent)
    except OSError:  # a kernel without it: the streams are still bounded, later
        pass


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it has started (or failed to)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class ServerHandle:
    """A server running in a background thread; ``stop()`` (or the ``with`` block) ends it.

    Attributes:
        url: ``http://HOST:PORT``, with the port actually bound.
        host: the address bound.
        port: the port bound.
    """

    def __init__(self, server: _Server, thread: threading.Thread, host: str, port: int,
                 hub: EventHub) -> None:
        self._server = server
        self._hub = hub
        self._thread = thread
        self.host = host
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    @property
    def running(self) -> bool:
        """True until the server has stopped."""
        return self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the event streams, finish the requests in flight, and stop; idempotent.

        The streams are ended first: uvicorn waits for open responses before it
        stops, and an event stream never ends by itself.
        """
        loop = self._server.loop
        if loop is not None and self._thread.is_alive():
            try:
                loop.call_soon_threadsafe(self._hub.close)
            except RuntimeError:  # the loop has already closed
                pass
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    system: SwarmSystem,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    limits: Limits | None = None,
) -> ServerHandle:
    """Serve ``system`` over HTTP from a background thread; returns once it accepts requests.

    Args:
        system: a running system (from :func:`actors.start_system`).
        host: the address to bind; anything but loopback needs a token.
        port: the port; 0 picks a free one (see the handle's ``url``).
        token: when set, every endpoint but ``/healthz`` needs
            ``Authorization: Bearer TOKEN``.
        limits: the server's bounds (:class:`server.Limits`).

    Raises:
        InsecureBind: a non-loopback ``host`` without a token.
        BadToken: an empty token, or one that cannot travel in a header.
        OSError: the address cannot be bound.
        RuntimeError: the server did not start.
    """
    check_bind(host, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _bound_unsent(sock, (limits if limits is not None else Limits()).max_unsent_bytes)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    app = create_app(system, token=token, limits=limits)
    config = uvicorn.Config(
        app,
        log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5,
        server_header=False, date_header=True, loop="auto", http="auto",
        proxy_headers=False,  # no client address is used: X-Forwarded-* would cost a layer per request
    )
    server = _Server(config)

    def run() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
            server.ready.set()

    thread = threading.Thread(target=run, name=f"swarmpulse-server-{bound_port}", daemon=True)
    thread.start()
    if not server.ready.wait(START_TIMEOUT) or not server.started:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        raise RuntimeError("the HTTP server did not start")
    return ServerHandle(server, thread, host, bound_port, app.state.edge.hub)
