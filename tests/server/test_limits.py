"""Every limit at its bound and one past it: body size (declared or chunked), batch items."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from actors import SwarmSystem
from server import Limits

SMALL = Limits(max_body_bytes=1000, max_batch_items=5)
small = pytest.mark.parametrize("limits", [SMALL], indirect=True)


def _body(size: int) -> bytes:
    """A valid empty batch of exactly ``size`` bytes (JSON whitespace as padding)."""
    return b"[" + b" " * (size - 2) + b"]"


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 100):
        yield data[start:start + 100]


@small
def test_a_body_at_the_limit_is_taken_and_one_byte_more_is_413(http: httpx.Client) -> None:
    """max_body_bytes with Content-Length: 1000 bytes accepted, 1001 refused."""
    assert http.post("/v1/metrics", content=_body(1000)).status_code == 202
    reply = http.post("/v1/metrics", content=_body(1001))
    assert reply.status_code == 413 and reply.json()["field"] == "body"


@small
def test_a_chunked_body_is_counted_while_read(http: httpx.Client) -> None:
    """Without Content-Length (chunked): 1000 bytes accepted, 1001 refused with 413."""
    assert http.post("/v1/heartbeats", content=_chunks(_body(1000))).status_code == 202
    reply = http.post("/v1/heartbeats", content=_chunks(_body(1001)))
    assert reply.status_code == 413


@small
def test_a_batch_at_the_item_limit_is_taken_and_one_more_is_413(
    http: httpx.Client, system: SwarmSystem
) -> None:
    """max_batch_items: 5 heartbeats taken, 6 refused whole (none taken)."""
    http.post("/v1/agents", json={"agent_id": "a"})
    assert http.post("/v1/heartbeats", json=[{"agent_id": "a"}] * 5).json()["accepted"] == 5
    reply = http.post("/v1/heartbeats", json=[{"agent_id": "a"}] * 6)
    assert reply.status_code == 413
    status = system.get_agent_health_status("a")
    assert status is not None and status["heartbeats"] == 5


def test_limits_refuse_nonsense_settings() -> None:
    """A limit that is not a positive number is refused when the Limits are made."""
    with pytest.raises(ValueError, match="max_body_bytes"):
        Limits(max_body_bytes=0)
    with pytest.raises(ValueError, match="sse_ping_seconds"):
        Limits(sse_ping_seconds=float("nan"))
