"""Batches: a body decoded into the protocol's messages, with each refused item named.

A body of complete, valid messages is decoded straight into the structs; any
other is decoded generically and checked item by item with the protocol's own
rules, so that every refusal names its index, its field and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from messages import InvalidMessage, TaskMetric, decode
from server.errors import RequestRefused
from server.limits import BodyFormat
from server.taskrows import RowTaskMetric, TaskRows, task_rows

__all__ = [
    "BatchAnswer", "MetricItems", "Note", "Refusal", "decode_batch", "decode_body",
    "decode_metrics", "parse_batch",
]

_GENERIC: Final[dict[str, msgspec.json.Decoder[Any] | msgspec.msgpack.Decoder[Any]]] = {
    "json": msgspec.json.Decoder(),
    "msgpack": msgspec.msgpack.Decoder(),
}
_MSGPACK: Final = msgspec.msgpack.Encoder()
_UNIONS: Final[dict[frozenset[str], Any]] = {}
_TYPED: Final[dict[tuple[frozenset[str], str], Any]] = {}
_AS_ROWS: Final[dict[tuple[frozenset[str], str], Any]] = {}


class Refusal(msgspec.Struct, frozen=True):
    """One refused item of a batch."""

    index: int
    field: str
    error: str


class Note(msgspec.Struct, frozen=True):
    """Something to know about one item that was taken (e.g. its agent is not registered)."""

    index: int
    field: str
    note: str


class BatchAnswer(msgspec.Struct, frozen=True):
    """The answer to a batch: how many items were taken, why the others were not, and notes
    on taken items (an unregistered agent's metric stored under the policy ``store``)."""

    accepted: int
    refused: list[Refusal]
    notes: list[Note] = msgspec.field(default_factory=list)


def decode_body(data: bytes, format: BodyFormat) -> Any:
    """The body as plain data (dicts, lists, ...), or a 400 with a one-line reason."""
    if not data:
        raise RequestRefused(400, "the body is empty", "body")
    try:
        return _GENERIC[format].decode(data)
    except msgspec.DecodeError as exc:
        raise RequestRefused(400, f"the body is not valid {format}: {exc}", "body") from None
    except RecursionError:
        raise RequestRefused(400, "the body is nested too deeply", "body") from None


def _union(types: dict[str, type[Any]]) -> Any:
    key = frozenset(types)
    union = _UNIONS.get(key)
    if union is None:
        members = tuple(types.values())
        union = members[0] if len(members) == 1 else _make_union(members)
        _UNIONS[key] = union
    return union


def _make_union(members: tuple[type[Any], ...]) -> Any:
    union: Any = members[0]
    for member in members[1:]:
        union = union | member
    return union


def explain(item: dict[str, Any]) -> InvalidMessage:
    """The protocol's own error for an item: decode it as :func:`messages.decode` does."""
    try:
        decode(_MSGPACK.encode(item), "msgpack")
    except InvalidMessage as exc:
        return exc
    except (TypeError, OverflowError) as exc:  # a value msgpack cannot carry back
        return InvalidMessage("message", None, str(exc))
    return InvalidMessage("message", None, "was refused")


def parse_batch(
    raw: Any, types: dict[str, type[Any]], now: float, max_items: int, default_type: str | None
) -> tuple[list[tuple[int, Any]], list[Refusal]]:
    """Validate a decoded body as a batch: the messages it holds, and the refused items.

    Args:
        raw: the decoded body, an object or a list of objects.
        types: the message types this endpoint takes, by tag.
        now: the server's wall time, for items without a timestamp.
        max_items: past this many items the whole batch is refused (413).
        default_type: the tag of an item that has none (None: the tag is required).

    Raises:
        RequestRefused: the body is no object or list (400), or too long (413).
    """
    if isinstance(raw, dict):
        items: list[Any] = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise RequestRefused(
            400, "the body must be a message object or a list of them", "body"
        )
    if len(items) > max_items:
        raise RequestRefused(413, f"a batch holds at most {max_items} items, not {len(items)}",
                             "body")
    refused: list[Refusal] = []
    candidates: list[tuple[int, dict[str, Any]]] = []
    allowed = ", ".join(types)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            refused.append(Refusal(index, "message", "must be an object"))
            continue
        if default_type is not None and "type" not in item:
            item["type"] = default_type
        tag = item.get("type")
        if type(tag) is not str or tag not in types:
            refused.append(Refusal(index, "type", f"must be one of: {allowed}"))
            continue
        if "timestamp" not in item:
            item["timestamp"] = now
        candidates.append((index, item))
    union = _union(types)
    try:  # the common case: every item valid, converted in one call
        converted = msgspec.convert([item for _, item in candidates], list[union])  # type: ignore[valid-type]
        return [(index, message) for (index, _), message in zip(candidates, converted)], refused
    except msgspec.ValidationError:
        pass
    taken: list[tuple[int, Any]] = []
    for index, item in candidates:
        try:
            taken.append((index, msgspec.convert(item, union)))
        except msgspec.ValidationError:
            error = explain(item)
            refused.append(Refusal(index, error.field, error.reason))
    refused.sort(key=lambda r: r.index)
    return taken, refused


def _typed(types: dict[str, type[Any]], format: BodyFormat) -> Any:
    """A decoder of the protocol's messages themselves: one message or a list of them."""
    return _cached_decoder(_TYPED, types, format, lambda: _union(types))


def _cached_decoder(
    cache: dict[tuple[frozenset[str], str], Any], types: dict[str, type[Any]],
    format: BodyFormat, union: Callable[[], Any],
) -> Any:
    """The decoder of ``list[union] | union`` for ``format``, made once per set of types."""
    key = (frozenset(types), format)
    decoder = cache.get(key)
    if decoder is None:
        members = union()
        shape = list[members] | members  # type: ignore[valid-type]
        decoder = msgspec.json.Decoder(shape) if format == "json" else msgspec.msgpack.Decoder(shape)
        cache[key] = decoder
    return decoder


def decode_batch(
    body: bytes, format: BodyFormat, types: dict[str, type[Any]], now: float, max_items: int,
    default_type: str | None,
) -> tuple[list[tuple[int, Any]], list[Refusal]]:
    """The messages of a batch and its refused items.

    A body of complete, valid messages (as :func:`messages.encode` writes them,
    timestamps included: what the client library sends) is decoded straight
    into the protocol's structs; anything else is decoded generically and
    checked item by item, so that each refusal can be named.
    """
    if body:
        try:
            decoded = _typed(types, format).decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            pass
        else:
            messages = decoded if isinstance(decoded, list) else [decoded]
            if len(messages) > max_items:
                raise RequestRefused(
                    413, f"a batch holds at most {max_items} items, not {len(messages)}", "body")
            return list(enumerate(messages)), []
    return parse_batch(decode_body(body, format), types, now, max_items, default_type)


@dataclass(frozen=True, slots=True)
class MetricItems:
    """A metrics batch as decoded: task metrics as rows where it could, the rest as messages.

    Attributes:
        messages: ``(index, message)`` of every item not in ``rows``, in batch order.
        rows: the valid task metrics as storage rows, or None.
    """

    messages: list[tuple[int, Any]]
    rows: TaskRows | None = None

    def __len__(self) -> int:
        return len(self.messages) + (len(self.rows.indexes) if self.rows is not None else 0)


def _as_rows(types: dict[str, type[Any]], format: BodyFormat) -> Any:
    """:func:`_typed`, but task metrics decoded as :class:`RowTaskMetric` (see server.taskrows)."""
    return _cached_decoder(_AS_ROWS, types, format, lambda: _make_union(
        tuple(RowTaskMetric if t is TaskMetric else t for t in types.values())))


def decode_metrics(
    body: bytes, format: BodyFormat, types: dict[str, type[Any]], now: float, max_items: int,
    default_type: str | None,
) -> tuple[MetricItems, list[Refusal]]:
    """:func:`decode_batch` for metrics: a body of complete messages gives its tasks as rows.

    Those are decoded in one call and checked a column at a time
    (:func:`server.taskrows.task_rows`), refused items named by index and
    field as the protocol's own rules name them; any other body takes
    :func:`decode_batch`'s item-by-item way.
    """
    if body:
        try:
            decoded = _as_rows(types, format).decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            pass
        else:
            items: list[Any] = decoded if isinstance(decoded, list) else [decoded]
            if len(items) > max_items:
                raise RequestRefused(
                    413, f"a batch holds at most {max_items} items, not {len(items)}", "body")
            return _split(items)
    messages, refused = decode_batch(body, format, types, now, max_items, default_type)
    return MetricItems(messages), refused


def _split(items: list[Any]) -> tuple[MetricItems, list[Refusal]]:
    if not items:
        return MetricItems([]), []
    if set(map(type, items)) == {RowTaskMetric}:  # the usual batch: only finished tasks
        rows, errors = task_rows(items, range(len(items)))
        messages: list[tuple[int, Any]] = []
    else:
        indexes = [i for i, item in enumerate(items) if type(item) is RowTaskMetric]
        messages = [(i, item) for i, item in enumerate(items) if type(item) is not RowTaskMetric]
        if not indexes:
            return MetricItems(messages), []
        rows, errors = task_rows([items[i] for i in indexes], indexes)
    refused = [Refusal(index, error.field, error.reason) for index, error in errors]
    return MetricItems(messages, rows if rows.indexes else None), refused
