"""The idempotency cache: its window and bound on keys (alone, on a fake clock), and its owner."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from actors import SwarmSystem
from server import serve
from server.errors import RequestRefused
from server.idempotency import IdempotencyCache, StoredAnswer, cache_for


class Counter:
    """A handler that counts its calls and answers with the count."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> StoredAnswer:
        self.calls += 1
        return StoredAnswer(202, str(self.calls).encode())


def _ask(cache: IdempotencyCache, key: str, handler: Counter, body: bytes = b"x") -> bytes:
    return asyncio.run(cache.answer("/v1/metrics", key, body, handler)).body


def test_a_key_is_answered_from_memory_until_its_window_ends() -> None:
    """At window - epsilon the first answer is replayed; at the window the batch runs again."""
    now = [0.0]
    cache = IdempotencyCache(window=600.0, max_keys=10, now=lambda: now[0])
    handler = Counter()
    assert _ask(cache, "k", handler) == b"1"
    now[0] = 599.999
    assert _ask(cache, "k", handler) == b"1"
    now[0] = 600.0
    assert _ask(cache, "k", handler) == b"2"
    assert handler.calls == 2


def test_keys_past_the_bound_forget_the_oldest() -> None:
    """max_keys=2: two keys are remembered; a third forgets the first."""
    cache = IdempotencyCache(window=600.0, max_keys=2, now=lambda: 0.0)
    handler = Counter()
    _ask(cache, "a", handler), _ask(cache, "b", handler)
    assert _ask(cache, "a", handler) == b"1" and len(cache) == 2
    _ask(cache, "c", handler)
    assert len(cache) == 2
    assert _ask(cache, "a", handler) == b"4"  # forgotten: handled again


def test_a_concurrent_retry_waits_for_the_first_answer() -> None:
    """A retry arriving while the first attempt runs gets its answer; the batch runs once."""
    cache = IdempotencyCache(window=600.0, max_keys=10)
    release = asyncio.Event()
    calls = []

    async def slow() -> StoredAnswer:
        calls.append(1)
        await release.wait()
        return StoredAnswer(202, b"once")

    async def both() -> list[StoredAnswer]:
        first = asyncio.create_task(cache.answer("/p", "k", b"x", slow))
        second = asyncio.create_task(cache.answer("/p", "k", b"x", slow))
        await asyncio.sleep(0)  # both have started; neither can finish before the release
        release.set()
        return list(await asyncio.gather(first, second))

    answers = asyncio.run(both())
    assert [a.body for a in answers] == [b"once", b"once"] and len(calls) == 1


def test_a_failed_first_attempt_is_not_remembered() -> None:
    """A refusal before anything was taken leaves the key free for a retry."""
    cache = IdempotencyCache(window=600.0, max_keys=10)

    async def refuse() -> StoredAnswer:
        raise RequestRefused(400, "bad")

    with pytest.raises(RequestRefused):
        asyncio.run(cache.answer("/p", "k", b"x", refuse))
    assert len(cache) == 0


def test_a_key_outlives_a_server_restart_on_the_same_system(system: SwarmSystem) -> None:
    """Post under a key, stop the server, serve the same system again, retry: same answer, once."""
    batch = [{"type": "task_metric", "task_id": f"t{i}", "agent_id": "w", "duration_ms": 5.0,
              "result": "success"} for i in range(3)]
    headers = {"Idempotency-Key": "before-the-restart"}
    with serve(system) as first:
        answer = httpx.post(f"{first.url}/v1/metrics", json=batch, headers=headers)
    assert answer.status_code == 202 and answer.json()["accepted"] == 3
    with serve(system) as second:
        retried = httpx.post(f"{second.url}/v1/metrics", json=batch, headers=headers)
        other = httpx.post(f"{second.url}/v1/metrics", json=batch,
                           headers={"Idempotency-Key": "another-batch"})
    assert (retried.status_code, retried.content) == (202, answer.content)
    assert other.json()["accepted"] == 3  # a new key is still a new batch
    assert sorted(m.task_id for m in system.query_task_metrics()) == ["t0", "t0", "t1", "t1",
                                                                     "t2", "t2"]


def test_each_system_has_its_own_keys() -> None:
    """The same key on two systems is two batches: the cache is the system's, not the process's."""
    one, two = Owner(), Owner()
    assert cache_for(one, 600.0, 10) is cache_for(one, 600.0, 10)
    assert cache_for(one, 600.0, 10) is not cache_for(two, 600.0, 10)
    handler = Counter()
    assert _ask(cache_for(one, 600.0, 10), "k", handler) == b"1"
    assert _ask(cache_for(two, 600.0, 10), "k", handler) == b"2"


def test_a_later_server_s_bounds_apply_to_the_shared_keys() -> None:
    """A server started with idempotency_keys=1 trims what an earlier one remembered."""
    owner = Owner()
    handler = Counter()
    cache = cache_for(owner, 600.0, 10)
    _ask(cache, "a", handler), _ask(cache, "b", handler)
    assert len(cache_for(owner, 600.0, 1)) == 1
    assert _ask(cache, "b", handler) == b"2" and _ask(cache, "a", handler) == b"3"


class Owner:
    """Something a cache can belong to (a system, in the server)."""


def test_a_retry_on_another_server_s_loop_waits_for_the_first_answer() -> None:
    """Two servers of one system (two event loops): the retry on the second waits, runs nothing."""
    cache = IdempotencyCache(window=600.0, max_keys=10)
    started, release = threading.Event(), threading.Event()
    calls = []

    async def slow() -> StoredAnswer:
        calls.append(1)
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return StoredAnswer(202, b"once")

    answers: list[bytes] = []
    first = threading.Thread(target=lambda: answers.append(
        asyncio.run(cache.answer("/p", "k", b"x", slow)).body))
    first.start()
    assert started.wait(10)

    async def retry() -> bytes:
        waiting = asyncio.ensure_future(cache.answer("/p", "k", b"x", slow))
        await asyncio.sleep(0)
        assert not waiting.done()  # held until the first server answers
        release.set()
        return (await asyncio.wait_for(waiting, 10)).body

    assert asyncio.run(retry()) == b"once"
    first.join(10)
    assert answers == [b"once"] and len(calls) == 1 and cache.replays == 1
