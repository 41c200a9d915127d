"""The hot path: senders append to a buffer that the aggregator drains in batches.

A message per metric costs a Pykka ``tell`` (about 14 us); a validated append
to a deque costs well under a microsecond. The sender tells the aggregator one
:class:`Drain` per batch, and a periodic tick drains what is left, so the
message boundary stays while the caller pays almost nothing.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any, Final

from messages import (
    MAX_ID_LENGTH,
    AgentMetric,
    InvalidMessage,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    check_count,
    check_id,
    check_metadata,
    check_millis,
)

__all__ = ["TelemetryChannel"]

logger = logging.getLogger("swarmpulse.channel")

_RESULTS: Final[dict[Any, str]] = {
    **{member: member.value for member in TaskResult},
    **{member.value: member.value for member in TaskResult},
}
# Past this the slow path checks and converts: a duration becomes a float, a count is
# bounded to what SQLite stores (an int too large would fail only in the writer).
_FAST_MAX: Final = 2**53
_KNOWN_IDS_LIMIT: Final = 100_000


class TelemetryChannel:
    """Where metrics enter the system; safe to call from any thread.

    Task metrics are buffered as :data:`storage.TaskRow` tuples, already valid.

    Args:
        time: the clock's wall time function, for timestamps.
        notify: called (cheaply, from the sender's thread) when a batch is ready.
        batch_size: buffered items that make a batch.
        max_buffered: past this many undrained items (the aggregator is down),
            the oldest are dropped and counted in :attr:`dropped`.
    """

    def __init__(
        self,
        time: Callable[[], float],
        notify: Callable[[], None],
        *,
        batch_size: int = 2048,
        max_buffered: int = 1_000_000,
    ) -> None:
        self._time = time
        self._notify = notify
        self._batch_size = batch_size
        self._max_buffered = max_buffered
        self._buffer: collections.deque[Any] = collections.deque()
        self._known_ids: set[str] = set()
        self._notified = False
        self.dropped = 0
        self.accepted = 0

    def record_task(
        self,
        task_id: str,
        agent_id: str,
        duration_ms: float,
        result: TaskResult | str,
        tokens_used: int = 0,
        files_changed: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Validate a finished task and buffer it; never blocks.

        Raises:
            InvalidMessage: a field breaks a rule of :class:`messages.TaskMetric`.
        """
        try:
            value = _RESULTS.get(result)
        except TypeError:
            value = None
        if (
            value is None
            or metadata is not None
            or type(task_id) is not str
            or not 0 < len(task_id) <= MAX_ID_LENGTH
            or not task_id.isprintable()
            or agent_id not in self._known_ids
            or (type(duration_ms) is not float and type(duration_ms) is not int)
            or not 0 <= duration_ms < _FAST_MAX
            or type(tokens_used) is not int
            or not 0 <= tokens_used < _FAST_MAX
            or type(files_changed) is not int
            or not 0 <= files_changed < _FAST_MAX
        ):
            self._record_checked(
                task_id, agent_id, duration_ms, result, tokens_used, files_changed, metadata
            )
            return
        buffer = self._buffer
        buffer.append(
            (task_id, agent_id, duration_ms, value, tokens_used, files_changed, self._time(), None)
        )
        if len(buffer) >= self._batch_size and not self._notified:
            self._batch_ready()

    def _record_checked(
        self,
        task_id: Any,
        agent_id: Any,
        duration_ms: Any,
        result: Any,
        tokens_used: Any,
        files_changed: Any,
        metadata: Any,
    ) -> None:
        """The slow path: every rule with its precise error, then the append."""
        check_id("task_id", task_id)
        check_id("agent_id", agent_id)
        check_millis("duration_ms", duration_ms)
        try:
            value = _RESULTS.get(result)
        except TypeError:
            value = None
        if value is None:
            allowed = ", ".join(_RESULTS[m] for m in TaskResult)
            raise InvalidMessage("result", result, f"must be one of: {allowed}")
        check_count("tokens_used", tokens_used)
        check_count("files_changed", files_changed)
        if metadata is not None:
            check_metadata("metadata", metadata)
            metadata = dict(metadata) or None
        if len(self._known_ids) >= _KNOWN_IDS_LIMIT:
            self._known_ids.clear()
        self._known_ids.add(agent_id)
        self._buffer.append(
            (task_id, agent_id, float(duration_ms), value, tokens_used, files_changed,
             self._time(), metadata)
        )
        if len(self._buffer) >= self._batch_size and not self._notified:
            self._batch_ready()

    def send(self, message: TaskMetric | AgentMetric | SwarmMetric) -> None:
        """Buffer a message an agent built (its constructor has validated it).

        Raises:
            InvalidMessage: the message is not telemetry this channel carries.
        """
        if type(message) not in (TaskMetric, AgentMetric, SwarmMetric):
            raise InvalidMessage(
                "message", message, "must be a TaskMetric, AgentMetric or SwarmMetric"
            )
        buffer = self._buffer
        buffer.append(message)
        if len(buffer) >= self._batch_size and not self._notified:
            self._batch_ready()

    def _batch_ready(self) -> None:
        self._notified = True
        overflow = len(self._buffer) - self._max_buffered
        if overflow > 0:
            for _ in range(overflow):
                try:
                    self._buffer.popleft()
                except IndexError:
                    break
            self.dropped += overflow
            logger.error("telemetry buffer full: dropped the %d oldest metrics", overflow)
        self._notify()

    def take(self, limit: int) -> list[Any]:
        """Remove and return up to ``limit`` buffered items, oldest first."""
        self._notified = False
        buffer = self._buffer
        popleft = buffer.popleft
        taken: list[Any] = []
        append = taken.append
        try:
            for _ in range(min(limit, len(buffer))):
                append(popleft())
        except IndexError:
            pass
        self.accepted += len(taken)
        return taken

    def __len__(self) -> int:
        return len(self._buffer)
