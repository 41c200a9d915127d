"""Idempotency keys: a batch retried with the same key is answered as the first time, once stored.

Remembered per path for a window (default 10 minutes) and up to a number of
keys (the oldest are forgotten first), so memory stays bounded. A retry that
arrives while the first attempt is still being handled waits for its answer.

The keys belong to the system served, not to one server: :func:`cache_for`
gives every server of a system (one after another, or side by side) the same
cache, so a batch whose answer was lost when the server stopped is still
answered, and not stored again, by the next ``serve()`` of that system. They
live in memory: a new process (``swarmpulse serve`` run again) starts with none.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from server.errors import RequestRefused

__all__ = ["IdempotencyCache", "StoredAnswer", "cache_for", "check_key"]

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
    answer: concurrent.futures.Future[StoredAnswer]


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

    Safe to share between servers on different event loops: the table is
    behind a lock, and a pending answer is a thread-safe future.

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
        self._lock = threading.Lock()
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
        digest = hashlib.blake2b(body, digest_size=16).digest()
        with self._lock:
            now = self._now()
            self._expire(now)
            entry = self._entries.get((path, key))
            if entry is None:
                future: concurrent.futures.Future[StoredAnswer] = concurrent.futures.Future()
                mine = _Entry(digest, now + self.window, future)
                self._entries[(path, key)] = mine
                while len(self._entries) > self.max_keys:
                    self._entries.popitem(last=False)
            elif entry.digest == digest:
                self.replays += 1
        if entry is not None:
            if entry.digest != digest:
                raise RequestRefused(
                    422, "this Idempotency-Key was used with a different body", "idempotency-key"
                )
            pending = entry.answer
            if not pending.done():
                try:  # shielded: a waiter that gives up must not cancel the first attempt
                    await asyncio.shield(asyncio.wrap_future(pending))
                except asyncio.CancelledError:
                    if not pending.cancelled():
                        raise  # this request was cancelled, not the first attempt
            if pending.cancelled():  # the first attempt was cut short: the server stopped
                raise RequestRefused(503, "the first request with this Idempotency-Key was "
                                     "interrupted; retry", "idempotency-key")
            return pending.result()
        try:
            result = await handle()
        except BaseException as exc:
            # nothing was stored (a refusal before any item was taken): a retry runs again
            with self._lock:
                if self._entries.get((path, key)) is mine:
                    del self._entries[(path, key)]
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        future.set_result(result)
        return result

    def configure(self, window: float, max_keys: int) -> None:
        """Take a new server's bounds; the keys already held keep their own expiry."""
        with self._lock:
            self.window = window
            self.max_keys = max_keys
            while len(self._entries) > max_keys:
                self._entries.popitem(last=False)

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            first = next(iter(entries.values()))
            if first.expires > now:
                break
            entries.popitem(last=False)


_BY_SYSTEM: Final[weakref.WeakKeyDictionary[object, IdempotencyCache]] = weakref.WeakKeyDictionary()
_BY_SYSTEM_LOCK: Final = threading.Lock()


def cache_for(system: object, window: float, max_keys: int) -> IdempotencyCache:
    """The idempotency cache of ``system``: the same one for every server of it.

    Held as long as the system is (a weak reference: it goes with the system);
    the bounds are the latest server's.
    """
    with _BY_SYSTEM_LOCK:
        cache = _BY_SYSTEM.get(system)
        if cache is None:
            cache = _BY_SYSTEM[system] = IdempotencyCache(window, max_keys)
        else:
            cache.configure(window, max_keys)
    return cache
