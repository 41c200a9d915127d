"""Rows as the storage writes and reads them, and their messages.

A :data:`TaskRow` is the hot-path form of a :class:`TaskMetric`: a plain tuple
the writer inserts without building or checking a message. Metadata is kept
as JSON text, ``NULL`` when empty, and read back as an equal dict (for
JSON-native values: strings, numbers, booleans, ``None``, lists, dicts).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, Final, NamedTuple, TypeVar

import msgspec

from messages import (
    AgentMetric,
    Alert,
    AlertSeverity,
    HealthChanged,
    HealthState,
    SwarmMetric,
    TaskMetric,
    TaskResult,
)

_M = TypeVar("_M", TaskMetric, AgentMetric, SwarmMetric, HealthChanged, Alert)

__all__ = [
    "EMPTY_COLUMNS",
    "SWARM_AGENT_ID",
    "RowTuple",
    "AgentRecord",
    "TaskColumns",
    "TaskRow",
    "agent_metric_from_row",
    "alert_from_row",
    "dump_metadata",
    "health_event_from_row",
    "load_metadata",
    "swarm_metric_from_row",
    "task_metric_from_row",
    "task_row",
]


# What a file holds is shown as it is. Rows are read back as the messages they
# were; one that no longer passes today's checks (an id with control characters
# written by another program, a millisecond timestamp accepted by an older
# version) is read as a subclass that skips them, so a read never refuses data
# it stored. Each has its parent's tag: it encodes exactly as the parent does.


class _StoredTaskMetric(TaskMetric, tag="task_metric", kw_only=True, frozen=True):
    def __post_init__(self) -> None:
        pass


class _StoredAgentMetric(AgentMetric, tag="agent_metric", kw_only=True, frozen=True):
    def __post_init__(self) -> None:
        pass


class _StoredSwarmMetric(SwarmMetric, tag="swarm_metric", kw_only=True, frozen=True):
    def __post_init__(self) -> None:
        pass


class _StoredHealthChanged(HealthChanged, tag="health_changed", kw_only=True, frozen=True):
    def __post_init__(self) -> None:
        pass


class _StoredAlert(Alert, tag="alert", kw_only=True, frozen=True):
    def __post_init__(self) -> None:
        pass


_AS_STORED: Final[dict[type[Any], type[Any]]] = {
    TaskMetric: _StoredTaskMetric,
    AgentMetric: _StoredAgentMetric,
    SwarmMetric: _StoredSwarmMetric,
    HealthChanged: _StoredHealthChanged,
    Alert: _StoredAlert,
}


def _read(cls: type[_M], **fields: Any) -> _M:
    """Build the message of a stored row; as stored, unchecked, if today's checks refuse it."""
    try:
        return cls(**fields)
    except (ValueError, TypeError, OverflowError):
        stored: _M = _AS_STORED[cls](**fields)
        return stored



class TaskRow(NamedTuple):
    """One task as the storage writes it: the one declaration of the row layout.

    Already valid: the writer does not check it again. A plain tuple with these
    fields in this order is the same row (the hot path builds plain tuples, a
    ``TaskRow`` costs ten times as much to make), and :class:`TaskColumns`
    holds the same fields as columns, in the same order.
    """

    task_id: str
    agent_id: str
    duration_ms: float
    result: str
    """The :class:`~messages.TaskResult` value (a plain string)."""
    tokens_used: int
    files_changed: int
    timestamp: float
    metadata: dict[str, Any] | None
    """None when there is none."""


RowTuple = TaskRow | tuple[str, str, float, str, int, int, float, dict[str, Any] | None]
"""A :class:`TaskRow`, or a plain tuple of its fields in its order (the hot path's form)."""


@dataclass(frozen=True, slots=True)
class TaskColumns:
    """Task rows held as columns: row ``i`` is ``(task_ids[i], agent_ids[i], ...)``.

    The form a batch of :data:`TaskRow` takes between the aggregator and the
    storage: one tuple per column instead of a tuple per row, so the rows'
    own tuples are freed as soon as they are drained, the aggregator and the
    writer split them into columns once, and the writer lays out statement
    parameters by slicing. Every column has the same length; nobody changes
    them after building.
    """

    task_ids: Sequence[str]
    agent_ids: Sequence[str]
    durations: Sequence[float]
    results: Sequence[str]
    tokens: Sequence[int]
    files: Sequence[int]
    timestamps: Sequence[float]
    metadata: Sequence[dict[str, Any] | None]

    @classmethod
    def from_rows(cls, rows: Sequence[RowTuple]) -> TaskColumns:
        """Split rows into columns.

        Raises:
            ValueError: a row does not have the eight fields of a TaskRow.
        """
        if not rows:
            return EMPTY_COLUMNS
        if set(map(len, rows)) != _ROW_LENGTH:
            raise ValueError(f"a task row has {_ROW_FIELDS} fields")
        # A column at a time, in C. Not zip(*rows): that makes an iterator per row,
        # which the garbage collector tracks: with a burst of rows alive, 5 times
        # as slow (20,000 rows: 19 ms against 3.7, 1,000,000 rows buffered).
        return cls(*(tuple(map(pick, rows)) for pick in _PICK))

    @classmethod
    def concat(cls, parts: Iterable[TaskColumns]) -> TaskColumns:
        """Join batches of columns, in order."""
        parts = [part for part in parts if len(part.task_ids)]
        if len(parts) < 2:
            return parts[0] if parts else EMPTY_COLUMNS
        return cls(*(_joined([getattr(part, name) for part in parts]) for name in _FIELDS))

    def packed(self) -> TaskColumns:
        """The same rows with the numeric columns as arrays of machine numbers.

        8 bytes a value in one block instead of a Python object each: a
        backlog of a million rows waiting for the writer costs tens of MB less,
        and the allocator gets those blocks back when they are written. A
        column that does not fit (a count past 2**63) stays as it was.
        """
        return TaskColumns(
            self.task_ids,
            self.agent_ids,
            _packed("d", self.durations),
            self.results,
            _packed("q", self.tokens),
            _packed("q", self.files),
            _packed("d", self.timestamps),
            self.metadata,
        )

    def row(self, index: int) -> TaskRow:
        """Row ``index`` as a :class:`TaskRow`."""
        return TaskRow(*(getattr(self, name)[index] for name in _FIELDS))

    def rows(self) -> list[TaskRow]:
        """Every row, in order."""
        return [TaskRow(*values) for values in zip(*(getattr(self, n) for n in _FIELDS))]

    def take(self, positions: Sequence[int]) -> TaskColumns:
        """The rows at ``positions``, in that order, as columns."""
        return TaskColumns(
            *(tuple(map(getattr(self, name).__getitem__, positions)) for name in _FIELDS)
        )

    def __len__(self) -> int:
        return len(self.task_ids)


def _joined(columns: list[Sequence[Any]]) -> Sequence[Any]:
    """One column of several batches: arrays of one type stay an array (copied in C)."""
    first = columns[0]
    if type(first) is array and all(
        type(c) is array and c.typecode == first.typecode for c in columns
    ):
        joined = array(first.typecode)
        for column in columns:
            joined.extend(column)
        return joined
    return tuple(chain.from_iterable(columns))


def _packed(typecode: str, column: Sequence[Any]) -> Sequence[Any]:
    try:
        return array(typecode, column)
    except (OverflowError, TypeError):
        return column


_FIELDS: Final = TaskColumns.__slots__
_ROW_FIELDS: Final = len(_FIELDS)
_ROW_LENGTH: Final = {_ROW_FIELDS}
_PICK: Final = tuple(itemgetter(i) for i in range(_ROW_FIELDS))
assert _ROW_FIELDS == len(TaskRow._fields), "TaskColumns holds a TaskRow's fields, in order"
EMPTY_COLUMNS: Final = TaskColumns((), (), (), (), (), (), (), ())
"""No task rows."""

SWARM_AGENT_ID: Final = "*"
"""The agent id of an alert about the whole swarm (stored with no agent)."""

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder(dict[str, Any]).decode


class AgentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the database knows about one agent.

    Attributes:
        agent_id: the agent.
        registered_at: when it last registered (epoch s), or None if it never did
            (its metrics arrived without a registration).
        unregistered_at: when it unregistered, or None while registered.
        interval_ms: its heartbeat interval, if registered.
        failure_threshold: intervals of silence before FAILED, if registered.
        metadata: what it registered with.
    """

    agent_id: str
    registered_at: float | None = None
    unregistered_at: float | None = None
    interval_ms: int | None = None
    failure_threshold: int | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


def task_row(m: TaskMetric) -> TaskRow:
    """Return the row form of a task metric."""
    return TaskRow(
        m.task_id,
        m.agent_id,
        m.duration_ms,
        m.result.value,
        m.tokens_used,
        m.files_changed,
        m.timestamp,
        m.metadata or None,
    )


def dump_metadata(metadata: dict[str, Any] | None) -> str | None:
    """Return metadata as JSON text, or None when there is none."""
    return _json_encode(metadata).decode() if metadata else None


def load_metadata(text: str | None) -> dict[str, Any]:
    """Return the dict stored as JSON text (empty for NULL)."""
    return _json_decode(text) if text else {}


def task_metric_from_row(row: tuple[Any, ...]) -> TaskMetric:
    """Build a TaskMetric from a stored row: a :class:`TaskRow`'s fields, metadata as JSON text."""
    task = TaskRow(*row)
    return _read(
        TaskMetric,
        task_id=task.task_id,
        agent_id=task.agent_id,
        duration_ms=task.duration_ms,
        result=TaskResult(task.result),
        tokens_used=task.tokens_used,
        files_changed=task.files_changed,
        timestamp=task.timestamp,
        metadata=load_metadata(task.metadata),  # type: ignore[arg-type]  # stored as JSON text
    )


def agent_metric_from_row(row: tuple[Any, ...]) -> AgentMetric:
    """Build an AgentMetric from ``agent_id, metric_type, value, timestamp, metadata``."""
    agent_id, metric_type, value, timestamp, metadata = row
    return _read(
        AgentMetric,
        agent_id=agent_id,
        metric_type=metric_type,
        value=value,
        timestamp=timestamp,
        metadata=load_metadata(metadata),
    )


def swarm_metric_from_row(row: tuple[Any, ...]) -> SwarmMetric:
    """Build a SwarmMetric from ``swarm_id, metric_type, value, timestamp, metadata``."""
    swarm_id, metric_type, value, timestamp, metadata = row
    return _read(
        SwarmMetric,
        swarm_id=swarm_id,
        metric_type=metric_type,
        value=value,
        timestamp=timestamp,
        metadata=load_metadata(metadata),
    )


def health_event_from_row(row: tuple[Any, ...]) -> HealthChanged:
    """Build a HealthChanged from ``agent_id, previous, current, at, heartbeat_age_ms``."""
    agent_id, previous, current, at, age = row
    return _read(
        HealthChanged,
        agent_id=agent_id,
        previous=HealthState(previous),
        current=HealthState(current),
        at=at,
        heartbeat_age_ms=age,
    )


def alert_from_row(row: tuple[Any, ...]) -> Alert:
    """Build an Alert from ``agent_id (NULL for the swarm), severity, message, at, metadata``."""
    agent_id, severity, message, at, metadata = row
    return _read(
        Alert,
        agent_id=SWARM_AGENT_ID if agent_id is None else agent_id,
        severity=AlertSeverity(severity),
        message=message,
        at=at,
        metadata=load_metadata(metadata),
    )
