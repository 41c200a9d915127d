"""Bearer-token authentication: every path but ``/healthz`` and the dashboard's shell needs the token.

The shell and its assets hold no data (see :mod:`server.dashboard`).
"""

from __future__ import annotations

import hmac
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from server.dashboard import is_public

__all__ = ["OPEN_PATHS", "BearerAuth"]

OPEN_PATHS: Final = frozenset({"/healthz"})
"""Paths that answer without the token (a load balancer's liveness probe)."""
_UNAUTHORIZED: Final = b'{"error":"unauthorized"}'


class BearerAuth:
    """ASGI middleware: 401, with no detail, unless ``Authorization: Bearer TOKEN`` matches.

    The comparison is constant-time (:func:`hmac.compare_digest`), so the
    answer's timing says nothing about how much of a guess was right.

    Args:
        app: the application behind it.
        token: the shared secret; None lets every request through.
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._expected = None if token is None else f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the header of an HTTP request, then pass it on or answer 401."""
        if (
            self._expected is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in OPEN_PATHS
            or is_public(scope["path"])
            or self._authorized(scope)
        ):
            await self.app(scope, receive, send)
            return
        _alarm(scope)
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        })
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})

    def _authorized(self, scope: Scope) -> bool:
        assert self._expected is not None
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        return hmac.compare_digest(given, self._expected)


def _alarm(scope: Scope) -> None:
    """Tell the app's refusal alarm, if it has one (``server.refusals``)."""
    app = scope.get("app")
    edge = getattr(getattr(app, "state", None), "edge", None)
    alarm = getattr(edge, "refusals", None)
    if alarm is not None:
        client = scope.get("client")
        alarm.refused(client[0] if client else "unknown", 401, "no valid bearer token")
