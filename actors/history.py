"""An agent's recent heartbeats, kept compactly: 16 bytes a beat, plus any metadata.

A deque of :class:`actors.protocol.HeartbeatRecord` cost about 160 bytes a
beat (the struct, an empty metadata dict, two float objects, the slot): with
10,000 agents keeping 100 beats each, 160 MB, most of the large swarm's memory.
Here the two times of each beat live in one ``array('d')`` used as a ring, and
metadata, usually empty, only where a beat had some. Records are built when
someone asks for the history.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from actors.protocol import HeartbeatRecord

__all__ = ["HeartbeatHistory"]


class HeartbeatHistory:
    """The last ``maxlen`` heartbeats of one agent, oldest first.

    Not thread-safe: one tracker at a time owns it (the state that outlives
    a tracker's restart holds it).

    Example:
        ```py
        history = HeartbeatHistory(2)
        for t in (1.0, 2.0, 3.0):
            history.append(t, t - 0.5, {})
        assert [r.received_at for r in history] == [2.0, 3.0]
        ```
    """

    __slots__ = ("_metadata", "_start", "_times", "maxlen")

    def __init__(self, maxlen: int) -> None:
        if type(maxlen) is not int or maxlen < 1:
            raise ValueError(f"a history keeps at least one heartbeat, not {maxlen!r}")
        self.maxlen = maxlen
        self._times = array("d")  # received_at, sent_at of slot i at 2i, 2i + 1
        self._start = 0  # the slot of the oldest beat once the ring is full
        self._metadata: dict[int, dict[str, Any]] = {}  # by slot, only when not empty

    def append(self, received_at: float, sent_at: float, metadata: Mapping[str, Any]) -> None:
        """Keep one heartbeat, forgetting the oldest when full."""
        times = self._times
        slot = len(times) // 2
        if slot < self.maxlen:
            times.append(received_at)
            times.append(sent_at)
        else:
            slot = self._start
            self._start = (slot + 1) % self.maxlen
            times[2 * slot] = received_at
            times[2 * slot + 1] = sent_at
            self._metadata.pop(slot, None)
        if metadata:
            self._metadata[slot] = dict(metadata)  # a copy: the caller's stays its own

    def __len__(self) -> int:
        return len(self._times) // 2

    def __iter__(self) -> Iterator[HeartbeatRecord]:
        count = len(self)
        times, metadata, start = self._times, self._metadata, self._start
        for i in range(count):
            slot = (start + i) % count
            yield HeartbeatRecord(
                received_at=times[2 * slot],
                sent_at=times[2 * slot + 1],
                metadata=dict(metadata.get(slot, {})),
            )
