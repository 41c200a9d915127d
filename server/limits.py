"""The server's limits, each a named setting, and the request reading that enforces them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from starlette.requests import Request

from server.errors import RequestRefused

__all__ = ["Limits", "body_format", "check_length", "format_of", "read_body"]

MiB: Final = 1024 * 1024
BodyFormat = Literal["json", "msgpack"]
_FORMATS: Final[dict[str, BodyFormat]] = {
    "application/json": "json",
    "application/msgpack": "msgpack",
    "application/x-msgpack": "msgpack",
    "application/vnd.msgpack": "msgpack",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound the server keeps; all are documented in the README ("HTTP server").

    Attributes:
        max_body_bytes: the largest request body, counted while reading (a
            chunked body without Content-Length too); past it: 413.
        max_batch_items: the most items in one batch; past it: 413.
        max_sse_clients: open ``/v1/events`` streams; one more: 503.
        sse_client_queue: events waiting for one slow stream; past it the
            stream is closed (the client reconnects and resumes by id).
        sse_replay: events kept for ``Last-Event-ID`` resumption.
        sse_ping_seconds: a keep-alive comment after this much quiet.
        summary_seconds: how often a ``summary`` event goes out.
        sse_coalesce_seconds: how long a coalescing stream (``?coalesce=1``) gathers
            transitions and alerts before it sends them as one ``health_batch``.
        idempotency_seconds: how long an ``Idempotency-Key`` is remembered.
        idempotency_keys: the most keys remembered (the oldest go first).
        max_write_backlog: metrics waiting to be written past which
            ``/healthz`` answers 503.
        max_unsent_bytes: bytes the kernel holds for one connection that it
            could not send yet (``TCP_NOTSENT_LOWAT``, set by :func:`server.serve`
            where the platform has it); past it a write waits, so an event
            stream that is not read fills its queue and is closed, instead of
            the kernel absorbing megabytes for it unseen.
    """

    max_body_bytes: int = 8 * MiB
    max_batch_items: int = 50_000
    max_sse_clients: int = 64
    sse_client_queue: int = 1_000
    sse_replay: int = 1_000
    sse_ping_seconds: float = 15.0
    summary_seconds: float = 5.0
    sse_coalesce_seconds: float = 0.25
    idempotency_seconds: float = 600.0
    idempotency_keys: int = 100_000
    max_write_backlog: int = 1_000_000
    max_unsent_bytes: int = 128 * 1024

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch_items", "max_sse_clients", "sse_client_queue",
                     "sse_replay", "idempotency_keys", "max_write_backlog", "max_unsent_bytes"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("sse_ping_seconds", "summary_seconds", "idempotency_seconds",
                     "sse_coalesce_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def body_format(request: Request) -> BodyFormat:
    """The body's encoding from its Content-Type (none given means JSON).

    Raises:
        RequestRefused: 415 for any other media type.
    """
    return format_of(request.headers.get("content-type"))


def format_of(header: str | None) -> BodyFormat:
    """The body's encoding from a Content-Type header's value (None: JSON).

    Raises:
        RequestRefused: 415 for any other media type.
    """
    if header is None:
        return "json"
    media = header.split(";", 1)[0].strip().lower()
    found = _FORMATS.get(media)
    if found is None:
        raise RequestRefused(
            415, "Content-Type must be application/json or application/msgpack", "content-type"
        )
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is longer than ``limit`` bytes.

    A declared Content-Length past the limit is refused before reading; a
    body without one (chunked) is counted as it arrives.

    Raises:
        RequestRefused: 413 past the limit, 400 for a malformed Content-Length.
    """
    check_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, f"the body is larger than {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def check_length(declared: str | None, limit: int) -> None:
    """Refuse a declared Content-Length past ``limit`` before the body is read.

    Raises:
        RequestRefused: 413 past the limit, 400 for a value that is not a whole number.
    """
    if declared is not None:
        if not declared.isdigit():
            raise RequestRefused(400, "Content-Length must be a whole number", "content-length")
        if int(declared) > limit:
            raise RequestRefused(413, f"the body is larger than {limit} bytes", "body")
