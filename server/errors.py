"""Errors of the HTTP edge: what a request did wrong, and a server that must not start."""

from __future__ import annotations

from messages import SwarmPulseError

__all__ = ["InsecureBind", "RequestRefused"]


class RequestRefused(SwarmPulseError):
    """A request the server answers with an error status and a one-line reason.

    Attributes:
        status: the HTTP status code.
        reason: what was wrong, in one line (never a traceback or a path).
        field: the offending field or header, when there is one.
    """

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.field = field
        super().__init__(reason)


class InsecureBind(SwarmPulseError, ValueError):
    """The server was asked to listen beyond loopback without a token.

    Attributes:
        host: the address it was asked to bind.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"refusing to serve on {host} without a token: anyone who can reach it could "
            "feed and read the swarm; pass a token (--token or SWARMPULSE_TOKEN), or bind 127.0.0.1"
        )
