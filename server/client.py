"""``RemoteSwarm``: the facade's calls, for an agent in another process, over HTTP.

Imports only :mod:`messages` and httpx (and the standard library): an agent
process never loads the actor system or the server.

Heartbeats, registration and unregistration are sent at once (their answer
matters). Metrics are validated at once (a bad one raises
:class:`messages.InvalidMessage` in the caller), then buffered and sent in
batches from a background thread, as msgpack, each batch with an
``Idempotency-Key`` that stays the same on every retry of that batch, so the
server stores it once however often it is sent. A failed send is retried
with exponential backoff and full jitter; while it waits, new metrics queue
up to ``max_buffer``, past which the oldest are dropped and counted in
:attr:`RemoteSwarm.dropped`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

import httpx
import msgspec

from messages import (
    AgentMetric,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    SwarmMetric,
    SwarmPulseError,
    TaskMetric,
    TaskResult,
    check_id,
    encode,
)

__all__ = ["MSGPACK", "RemoteError", "RemoteSwarm"]

logger = logging.getLogger("swarmpulse.client")

MSGPACK: Final = "application/msgpack"
"""The media type of every body the client sends."""
_RETRY_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_batch_encoder: Final = msgspec.msgpack.Encoder()

Metric = TaskMetric | AgentMetric | SwarmMetric


class RemoteError(SwarmPulseError):
    """The server answered a call with an error (``status``), or could not be reached (0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"swarmpulse server: {detail}" if status == 0 else f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class RemoteSwarm:
    """A swarmpulse server seen as the facade; thread-safe; a context manager.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8321``.
        token: the server's bearer token, if it has one.
        swarm_id: the swarm named in :meth:`record_swarm_metric`.
        batch_size: most metrics in one request (keep it within the server's batch limit).
        linger: seconds a partial batch waits for more metrics before it is sent.
        max_buffer: metrics kept while the server is unreachable; past it the oldest are dropped.
        timeout: seconds for one request.
        retries: attempts of an immediate call (heartbeat, registration) before it raises.
        backoff: first retry delay in seconds; doubles per failed attempt...
        max_backoff: ...up to this; each delay is drawn at random below it (full jitter).
        transport: an httpx transport (e.g. for a proxy); None: plain TCP.
        clock: epoch seconds for timestamps; ``time.time`` unless a test says otherwise.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        swarm_id: str = "swarm",
        batch_size: int = 1000,
        linger: float = 0.05,
        max_buffer: int = 100_000,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.05,
        max_backoff: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_id("swarm_id", swarm_id)
        for name, value in (("batch_size", batch_size), ("max_buffer", max_buffer), ("retries", retries)):
            if type(value) is not int or value < 1:
                raise InvalidMessage(name, value, "must be a positive integer")
        for name, number in (("linger", linger), ("timeout", timeout), ("backoff", backoff),
                             ("max_backoff", max_backoff)):
            if not isinstance(number, int | float) or not 0 < number < float("inf"):
                raise InvalidMessage(name, number, "must be a positive number of seconds")
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)
        self.url = url
        self.swarm_id = swarm_id
        self.batch_size = batch_size
        self.linger = linger
        self.max_buffer = max_buffer
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._cond = threading.Condition()
        self._buffer: collections.deque[Metric] = collections.deque()
        self._in_flight = 0
        self._flushing = 0
        self._closing = False
        self._abort = threading.Event()
        #: metrics dropped: the buffer overflowed, the server refused a batch for good, or close gave up
        self.dropped = 0
        #: metrics the server stored (its ``accepted`` count, summed over batches)
        self.sent = 0
        #: metrics the server refused one by one (see :attr:`last_refusals`)
        self.refused = 0
        #: metrics the server took with a note, e.g. of an agent that is not registered,
        #: stored under the policy ``store`` (see :attr:`last_notes`)
        self.noted = 0
        #: failed attempts to send a batch (each one retried)
        self.send_failures = 0
        #: heartbeats from :meth:`beating` that failed (the next one is tried on time)
        self.beat_failures = 0
        self.last_error: str | None = None
        self.last_refusals: list[dict[str, Any]] = []
        self.last_notes: list[dict[str, Any]] = []
        self._sender = threading.Thread(target=self._run, name="swarmpulse-client", daemon=True)
        self._sender.start()

    # Calls answered at once

    def register_agent(
        self,
        agent_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        interval_ms: int | None = None,
        failure_threshold: int | None = None,
    ) -> bool:
        """Register an agent; False if it was already registered.

        Raises:
            InvalidMessage: an argument breaks the protocol (nothing was sent).
            RemoteError: the server refused the call or stayed unreachable.
        """
        message = RegisterAgent(agent_id=agent_id, metadata=_copy(metadata), interval_ms=interval_ms,
                                failure_threshold=failure_threshold)
        response = self._call("POST", "/v1/agents", encode(message))
        return response.status_code == 201

    def unregister_agent(self, agent_id: str) -> bool:
        """Unregister an agent; False if the server did not know it."""
        check_id("agent_id", agent_id)
        response = self._call("DELETE", f"/v1/agents/{_quote(agent_id)}", None, allow=frozenset({404}))
        return response.status_code == 200

    def update_agent_heartbeat(self, agent_id: str, metadata: Mapping[str, Any] | None = None) -> bool:
        """Send one heartbeat now; False if the server refused it (e.g. an unknown agent).

        Raises:
            InvalidMessage: the id or metadata breaks the protocol.
            RemoteError: the server stayed unreachable through every retry.
        """
        beat = Heartbeat(agent_id=agent_id, timestamp=self._clock(), metadata=_copy(metadata))
        response = self._call("POST", "/v1/heartbeats", encode(beat))
        answer = _json(response)
        return bool(answer.get("accepted", 0)) and not answer.get("refused")

    @contextlib.contextmanager
    def beating(self, agent_id: str, every: float = 1.0) -> Iterator[None]:
        """Beat for ``agent_id`` from a side thread while the block runs: busy is not dead.

        The first beat is sent before the block starts; then one every ``every``
        seconds until it ends, however long the agent's own work blocks. A beat
        that fails is logged and counted in :attr:`beat_failures`; the next one
        is tried on time.
        """
        check_id("agent_id", agent_id)
        if not isinstance(every, int | float) or not 0 < every < float("inf"):
            raise InvalidMessage("every", every, "must be a positive number of seconds")
        stop = threading.Event()

        def beat() -> None:
            while True:
                try:
                    self.update_agent_heartbeat(agent_id)
                except (RemoteError, httpx.HTTPError) as exc:
                    with self._cond:
                        self.beat_failures += 1
                        self.last_error = str(exc)
                    logger.warning("heartbeat of %r failed: %s", agent_id, exc)
                if stop.wait(every):
                    return

        thread = threading.Thread(target=beat, name=f"swarmpulse-beat-{agent_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # Metrics, batched

    def record_task_metric(
        self,
        task_id: str,
        agent_id: str,
        duration_ms: float,
        result: TaskResult | str,
        tokens_used: int = 0,
        files_changed: int = 0,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue a finished task for the next batch; never blocks on the network.

        Raises:
            InvalidMessage: an argument breaks the protocol (nothing was queued).
        """
        self._queue(TaskMetric(
            task_id=task_id, agent_id=agent_id, duration_ms=duration_ms,
            result=result,  # type: ignore[arg-type]  # a str is checked and coerced by the message
            tokens_used=tokens_used, files_changed=files_changed, timestamp=self._clock(),
            metadata=_copy(metadata),
        ))

    def record_task_execution(
        self,
        task_id: str,
        agent_id: str,
        duration_ms: float,
        success: bool,
        tokens_used: int = 0,
        files_changed: int = 0,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue a finished task as a success or a failure."""
        if type(success) is not bool:
            raise InvalidMessage("success", success, "must be True or False")
        self.record_task_metric(task_id, agent_id, duration_ms,
                                TaskResult.SUCCESS if success else TaskResult.FAILURE,
                                tokens_used, files_changed, metadata)

    def record_agent_metric(
        self, agent_id: str, metric_type: str, value: float, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Queue a gauge about one agent."""
        self._queue(AgentMetric(agent_id=agent_id, metric_type=metric_type, value=value,
                                timestamp=self._clock(), metadata=_copy(metadata)))

    def record_swarm_metric(
        self, metric_type: str, value: float, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Queue a gauge about the whole swarm (``swarm_id`` of this client)."""
        self._queue(SwarmMetric(swarm_id=self.swarm_id, metric_type=metric_type, value=value,
                                timestamp=self._clock(), metadata=_copy(metadata)))

    @property
    def buffered(self) -> int:
        """Metrics queued or in flight, not yet acknowledged by the server."""
        with self._cond:
            return len(self._buffer) + self._in_flight

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Send everything queued before the call; True once the server took it all.

        Returns False if ``timeout`` seconds passed first (the server is down:
        the metrics stay queued and keep being retried).
        """
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: not self._buffer and not self._in_flight, timeout)
            finally:
                self._flushing -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Flush for up to ``timeout`` seconds, then stop; what is still unsent is dropped and counted."""
        with self._cond:
            if self._closing:
                return
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._abort.set()
        self._sender.join()
        with self._cond:
            left = len(self._buffer)
            self._buffer.clear()
            self.dropped += left
        if left:
            logger.error("closed with %d metrics unsent (server unreachable); they are dropped", left)
        self._http.close()

    def __enter__(self) -> RemoteSwarm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Plumbing

    def _queue(self, metric: Metric) -> None:
        with self._cond:
            if self._closing:
                raise RemoteError(0, "the client is closed")
            buffer = self._buffer
            buffer.append(metric)
            if len(buffer) > self.max_buffer:
                buffer.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    logger.error("client buffer full (%d): dropped %d oldest metrics so far",
                                 self.max_buffer, self.dropped)
            if len(buffer) >= self.batch_size:
                self._cond.notify_all()
            elif len(buffer) == 1:
                self._cond.notify_all()

    def _run(self) -> None:
        """The sender: take a batch, send it until the server acknowledges it, repeat."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._buffer or self._closing)
                if not self._buffer:
                    return
                # a partial batch lingers for company, unless someone is waiting on it
                self._cond.wait_for(
                    lambda: len(self._buffer) >= self.batch_size or self._flushing or self._closing,
                    self.linger,
                )
                if self._abort.is_set():  # close() gave up: what is left is counted there
                    return
                n = min(self.batch_size, len(self._buffer))
                batch = [self._buffer.popleft() for _ in range(n)]
                self._in_flight = n
            delivered = self._deliver(batch)
            with self._cond:
                self._in_flight = 0
                if not delivered:  # given up at close: put them back to be counted
                    self._buffer.extendleft(reversed(batch))
                self._cond.notify_all()
            if not delivered:
                return

    def _deliver(self, batch: list[Metric]) -> bool:
        """POST one batch under one idempotency key until acknowledged; False if aborted."""
        body = _batch_encoder.encode(batch)
        headers = {"Content-Type": MSGPACK, "Idempotency-Key": uuid.uuid4().hex}
        attempt = 0
        while True:
            try:
                response = self._http.post("/v1/metrics", content=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    answer = _json(response)
                    refusals = list(answer.get("refused") or [])
                    notes = list(answer.get("notes") or [])
                    with self._cond:
                        self.sent += int(answer.get("accepted", 0))
                        self.refused += len(refusals)
                        if refusals:
                            self.last_refusals = refusals[:20]
                        self.noted += len(notes)
                        if notes:
                            self.last_notes = notes[:20]
                    if refusals:
                        logger.warning("server refused %d of %d metrics: %s", len(refusals),
                                       len(batch), refusals[:3])
                    return True
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in _RETRY_STATUS:
                    # refused for good (bad token, too large, not the protocol): retrying cannot help
                    with self._cond:
                        self.dropped += len(batch)
                        self.last_error = error
                    logger.error("server refused a batch of %d metrics for good: %s", len(batch), error)
                    return True
            with self._cond:
                self.send_failures += 1
                self.last_error = error
            if self._abort.wait(self._delay(attempt)):
                return False
            attempt += 1

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in (0, min(max, base * 2**attempt)]."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** min(attempt, 30))
        return ceiling * (1.0 - random.random())

    def _call(
        self, method: str, path: str, body: bytes | None, allow: frozenset[int] = frozenset()
    ) -> httpx.Response:
        """One immediate request, retried on network errors and busy answers."""
        headers = {"Content-Type": MSGPACK} if body is not None else {}
        for attempt in range(self.retries):
            try:
                response = self._http.request(method, path, content=body, headers=headers)
            except httpx.HTTPError as exc:
                error = RemoteError(0, f"{type(exc).__name__}: {exc}")
            else:
                if response.status_code < 300 or response.status_code in allow:
                    return response
                error = RemoteError(response.status_code, _detail(response))
                if response.status_code not in _RETRY_STATUS:
                    raise error
            if attempt + 1 < self.retries:
                time.sleep(self._delay(attempt))  # the caller asked for an answer: it waits
        raise error


def _copy(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidMessage("metadata", metadata, "must be a dict")
    return dict(metadata)


def _quote(agent_id: str) -> str:
    return quote(agent_id, safe="")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _detail(response: httpx.Response) -> str:
    answer = _json(response)
    return str(answer.get("error") or answer.get("detail") or response.text[:200] or response.reason_phrase)
