"""Idempotency keys: a batch retried with the same key is answered as the first time, once stored.

Remembered per path for a window (default 10 minutes) and up to a number of
keys (the oldest are forgotten first), so memory stays bounded. A retry that
arrives while the first attempt is still being handled waits for its answer.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from server.errors import RequestRefused

__all__ = ["IdempotencyCache", "StoredAnswer", "check_key"]

MAX_KEY_LENGTH: Final = 255


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """What was answered to a key: the status and the encoded body."""

    status: int
    body: bytes


@dataclass(slots=True)
class _Entry:
    digest: bytes
    expires: float
    answer: asyncio.Future[StoredAnswer]


def check_key(key: str) -> str:
    """The key as given, or a 400 when it is empty, too long or not printable ASCII.

    Raises:
        RequestRefused: 400 naming the header.
    """
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise RequestRefused(
            400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            "idempotency-key",
        )
    return key


class IdempotencyCache:
    """Answers by (path, key), kept ``window`` seconds and at most ``max_keys`` of them.

    Used from the event loop's thread only.

    Args:
        window: seconds a key is remembered.
        max_keys: keys remembered at most; the oldest are forgotten first.
        now: the monotonic time source (seconds); injectable for tests.
    """

    def __init__(
        self, window: float, max_keys: int, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.max_keys = max_keys
        self._now = now
        self._entries: collections.OrderedDict[tuple[str, str], _Entry] = collections.OrderedDict()
        self.replays = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def answer(
        self, path: str, key: str, body: bytes, handle: Callable[[], Awaitable[StoredAnswer]]
    ) -> StoredAnswer:
        """The stored answer to a key seen in the window, or ``handle()``'s, remembered.

        Raises:
            RequestRefused: 422 when the key was used with a different body.
        """
        now = self._now()
        self._expire(now)
        digest = hashlib.blake2b(body, digest_size=16).digest()
        entry = self._entries.get((path, key))
        if entry is not None:
            if entry.digest != digest:
                raise RequestRefused(
                    422, "this Idempotency-Key was used with a different body", "idempotency-key"
                )
            self.replays += 1
            return await asyncio.shield(entry.answer)
        future: asyncio.Future[StoredAnswer] = asyncio.get_running_loop().create_future()
        self._entries[(path, key)] = _Entry(digest, now + self.window, future)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        try:
            result = await handle()
        except BaseException as exc:
            # nothing was stored (a refusal before any item was taken): a retry runs again
            self._entries.pop((path, key), None)
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        future.set_result(result)
        return result

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            first = next(iter(entries.values()))
            if first.expires > now:
                break
            entries.popitem(last=False)
