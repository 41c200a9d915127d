"""Field constraints: msgspec ``Meta`` aliases for decoding, and checks for code.

msgspec enforces ``Meta`` constraints only when decoding, so messages built in
code run the same rules through the ``check_*`` functions in ``__post_init__``.
Each check raises :class:`InvalidMessage` naming the field and the bad value.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar, get_args, get_origin

import msgspec

from messages.enums import TaskResult
from messages.errors import InvalidMessage

__all__ = [
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_METADATA_KEYS",
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "AgentId",
    "Count",
    "Metadata",
    "Millis",
    "Name",
    "Result",
    "Rule",
    "Timestamp",
    "check_count",
    "check_finite",
    "check_id",
    "check_metadata",
    "check_millis",
    "check_timestamp",
    "checker",
    "enum_member",
    "rule_of",
    "rules_of",
    "to_epoch",
]

MAX_ID_LENGTH: Final = 256
MAX_METADATA_KEYS: Final = 64
MAX_METADATA_BYTES: Final = 8192
MAX_METADATA_DEPTH: Final = 32
"""The deepest nesting of dicts and lists in metadata, the metadata dict itself counting 1.

Deeper data would be refused later anyway (an encoder's or a decoder's recursion limit,
which depends on how deep the stack already is), so it is refused here, by name."""
MAX_COUNT: Final = 2**63 - 1
"""The largest count SQLite stores (a signed 64-bit integer)."""
MIN_TIMESTAMP: Final = 946_684_800.0
"""2000-01-01T00:00:00Z in UTC epoch seconds: the earliest time a message may carry."""
MAX_TIMESTAMP: Final = 7_258_118_400.0
"""2200-01-01T00:00:00Z in UTC epoch seconds: the latest time a message may carry.

Milliseconds since the epoch (``time.time() * 1000``) are past it for any date
after 1970-03-25, and so are microseconds and nanoseconds: such a value is
refused, not stored as a time 50,000 years from now."""
_TIME_RANGE: Final = "epoch seconds from 2000-01-01 to 2200-01-01 UTC"

_CONTROL_CHARS: Final = "\x00-\x1f\x7f-\x9f"
"""The characters no identifier may hold (C0, DEL, C1): the one statement of them."""
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NO_CONTROL_PATTERN: Final = f"^[^{_CONTROL_CHARS}]*$"

_ID_SIZE: Final = msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)
_ID_CHARS: Final = msgspec.Meta(pattern=_NO_CONTROL_PATTERN)
_NON_NEGATIVE: Final = msgspec.Meta(ge=0)
_TIME_RANGE_META: Final = msgspec.Meta(ge=MIN_TIMESTAMP, le=MAX_TIMESTAMP)
_METADATA_KEYS: Final = msgspec.Meta(max_length=MAX_METADATA_KEYS)


@dataclass(frozen=True, eq=False)
class Rule:
    """The rules of one kind of field, stated once, for every path that checks a value of it.

    An alias carries its rule in its ``Annotated`` metadata, beside its msgspec
    constraints (msgspec ignores it), so a message's fields name their rules:
    ``__post_init__`` runs :attr:`check` on what code built, a decoder checks
    :attr:`metas` in C, and a bulk decoder (the HTTP edge's task rows) drops
    :attr:`screened` and asks :attr:`screen` about whole columns instead. A
    change to a rule here is a change on every path.

    Attributes:
        metas: the msgspec constraints a decoder checks (the alias's own objects).
        check: every rule, in Python: ``check(field, value)`` returns the value to
            keep (an int duration as a float, a datetime as epoch seconds, a
            string as its enum member) or raises :class:`InvalidMessage`.
        screened: those of :attr:`metas` a bulk decoder may leave out, because
            :attr:`screen` covers them (a ``pattern`` costs a Python ``re``
            search per string; one search over a joined column costs less).
        screen: whether every value of a column that a decoder took under
            :attr:`metas` less :attr:`screened` surely passes :attr:`check`: one
            cheap test for a whole column, where False means "ask check about
            each". None: the decoder's checks are the whole rule.
    """

    metas: tuple[msgspec.Meta, ...]
    check: Callable[[str, Any], Any]
    screened: tuple[msgspec.Meta, ...] = ()
    screen: Callable[[Sequence[Any]], bool] | None = None


def rule_of(annotation: Any) -> Rule | None:
    """The :class:`Rule` an annotation (an alias such as :data:`AgentId`) carries, if any."""
    if get_origin(annotation) is not Annotated:
        return None
    return next((extra for extra in get_args(annotation)[1:] if isinstance(extra, Rule)), None)


def rules_of(struct: type[msgspec.Struct]) -> dict[str, Rule]:
    """The rule of each field of a message that has one, by field name, in field order."""
    rules = {}
    for field in msgspec.structs.fields(struct):
        rule = rule_of(field.type)
        if rule is not None:
            rules[field.name] = rule
    return rules


def checker(struct: type[msgspec.Struct]) -> Callable[[Any], None]:
    """A function that runs the rule of each of ``struct``'s fields on a built message.

    What ``__post_init__`` calls: every check in field order, and a value a check
    converts (an int duration to a float, ...) set in place. It is written out
    field by field, as :mod:`dataclasses` writes ``__init__``: a loop over the
    rules cost a third more per message (0.8 us against 0.5, a scratch timeit).
    """
    rules = rules_of(struct)
    scope: dict[str, Any] = {"_set": msgspec.structs.force_setattr}
    lines = ["def check(message):"]
    for i, (name, rule) in enumerate(rules.items()):
        assert name.isidentifier(), name
        scope[f"_check{i}"] = rule.check
        lines += [
            f"    value = message.{name}",
            f"    kept = _check{i}({name!r}, value)",
            f"    if kept is not value:",
            f"        _set(message, {name!r}, kept)",
        ]
    if not rules:
        lines.append("    pass")
    exec("\n".join(lines), scope)  # noqa: S102 - the source is field names and fixed text
    check: Callable[[Any], None] = scope["check"]
    check.__qualname__ = f"checker({struct.__name__})"
    return check


def _kept_id(field: str, value: object) -> object:
    # isprintable() is False for every control character and lone surrogate (and for a
    # few more characters, which check_id then decides): the common case in one call
    if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable():
        return value
    check_id(field, value)
    return value


_CLEAN_IDS: Final = re.compile(f"[^{_CONTROL_CHARS}\ud800-\udfff]*")
_ASCII_CONTROLS: Final = bytes(c for c in range(128) if _CONTROL.match(chr(c)))


def _ids_screen(values: Sequence[Any]) -> bool:
    # A run of one negated character class: the joined column matches iff each value
    # does. An ASCII column can hold only the ASCII controls: deleting them in C
    # (bytes.translate) takes 25 us for 5,000 ids, where a regex takes 110 to 280.
    joined = "".join(values)
    if joined.isascii():
        return len(joined.encode("ascii").translate(None, _ASCII_CONTROLS)) == len(joined)
    return _CLEAN_IDS.fullmatch(joined) is not None


_ID_RULE: Final = Rule(metas=(_ID_SIZE, _ID_CHARS), check=_kept_id, screened=(_ID_CHARS,),
                       screen=_ids_screen)


def _kept_millis(field: str, value: object) -> float:
    if type(value) is float and 0.0 <= value < math.inf:
        return value
    check_millis(field, value)
    return value if type(value) is float else float(value)  # type: ignore[arg-type]


def _millis_screen(values: Sequence[float]) -> bool:
    return max(values, default=0.0) != math.inf  # the decoder's ge=0 lets infinity through; NaN it refuses


_MILLIS_RULE: Final = Rule(metas=(_NON_NEGATIVE,), check=_kept_millis, screen=_millis_screen)


def _kept_count(field: str, value: object) -> object:
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    check_count(field, value)
    return value


def _count_screen(values: Sequence[int]) -> bool:
    return max(values, default=0) <= MAX_COUNT  # the decoder's ge=0 only: msgpack carries up to 2**64 - 1


_COUNT_RULE: Final = Rule(metas=(_NON_NEGATIVE,), check=_kept_count, screen=_count_screen)


def _kept_time(field: str, value: object) -> float:
    if type(value) is float and MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
        return value
    return to_epoch(field, value)


_TIME_RULE: Final = Rule(metas=(_TIME_RANGE_META,), check=_kept_time)


def _kept_metadata(field: str, value: object) -> object:
    if type(value) is dict and not value:
        return value
    check_metadata(field, value)
    return value


def _metadata_screen(values: Sequence[dict[str, Any]]) -> bool:
    return not any(values)  # size, depth and JSON-ness are checked in Python: empty ones only


_METADATA_RULE: Final = Rule(metas=(_METADATA_KEYS,), check=_kept_metadata,
                             screen=_metadata_screen)

AgentId = Annotated[str, _ID_SIZE, _ID_CHARS, _ID_RULE]
"""An identifier (agent, task, swarm): 1 to 256 characters, no control characters."""
Name = AgentId
"""A metric name: the same rules as an identifier."""
Millis = Annotated[float, _NON_NEGATIVE, _MILLIS_RULE]
"""A non-negative, finite duration in milliseconds."""
Count = Annotated[int, _NON_NEGATIVE, _COUNT_RULE]
"""A non-negative whole number (tokens, files), at most :data:`MAX_COUNT`."""
Timestamp = Annotated[float, _TIME_RANGE_META, _TIME_RULE]
"""UTC epoch seconds from :data:`MIN_TIMESTAMP` (2000-01-01) to :data:`MAX_TIMESTAMP`
(2200-01-01), both included."""
Metadata = Annotated[dict[str, Any], _METADATA_KEYS, _METADATA_RULE]
"""Free-form JSON data: at most 64 keys, 8 KiB once encoded, 32 levels deep."""

E = TypeVar("E", bound=enum.Enum)


def enum_member(field: str, value: object, enum_type: type[E]) -> E:
    """The member of ``enum_type`` that ``value`` is or names, or raise InvalidMessage.

    Only a member or a plain ``str`` value is taken: an object that merely
    compares equal to a value (a str subclass, a class with its own ``__eq__``)
    is refused, so nothing but the real types travels on.
    """
    if type(value) is enum_type:
        return value
    member: E | None = _members(enum_type).get(value) if type(value) is str else None
    if member is None:
        allowed = ", ".join(str(m.value) for m in enum_type)
        raise InvalidMessage(field, value, f"must be one of: {allowed}")
    return member


@functools.cache
def _members(enum_type: type[E]) -> dict[str, E]:
    """An enum's members by their (plain str) values."""
    return {str(member.value): member for member in enum_type}


def _result(field: str, value: object) -> TaskResult:
    if type(value) is TaskResult:
        return value
    return enum_member(field, value, TaskResult)


Result = Annotated[TaskResult, Rule(metas=(), check=_result)]
"""How a task ended, a :class:`~messages.TaskResult` (a decoder checks it whole)."""

_metadata_encoder: Final = msgspec.msgpack.Encoder()
_json_encoder: Final = msgspec.json.Encoder()
_json_decode: Final = msgspec.json.Decoder().decode
_NUMBER: Final = (int, float)


def check_id(field: str, value: object) -> None:
    """Refuse anything but a 1-256 character string with no control character."""
    if type(value) is not str:
        if isinstance(value, str):  # equal to an id, but its own type travels on with it
            raise InvalidMessage(field, value, f"must be a plain str, not {type(value).__name__}")
        raise InvalidMessage(field, value, "must be a string")
    if not value:
        raise InvalidMessage(field, value, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidMessage(field, value, f"must be at most {MAX_ID_LENGTH} characters")
    if _CONTROL.search(value):
        raise InvalidMessage(field, value, "must not contain control characters")
    if _SURROGATE.search(value):  # not encodable: SQLite (and UTF-8) would refuse it later
        raise InvalidMessage(field, value, "must be valid Unicode (no lone surrogates)")


def check_finite(field: str, value: object) -> None:
    """Refuse anything but a finite int or float (bool is not a number here)."""
    if not isinstance(value, _NUMBER) or isinstance(value, bool):
        raise InvalidMessage(field, value, "must be a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise InvalidMessage(field, value, "must be finite")


def check_millis(field: str, value: object) -> None:
    """Refuse anything but a finite, non-negative number."""
    check_finite(field, value)
    if value < 0:  # type: ignore[operator]
        raise InvalidMessage(field, value, "must not be negative")


def check_timestamp(field: str, value: object) -> None:
    """Refuse anything but epoch seconds from 2000-01-01 to 2200-01-01 UTC.

    The range is :data:`MIN_TIMESTAMP` to :data:`MAX_TIMESTAMP`, both included.
    A value that would be in range once divided by 1,000, 1,000,000 or
    1,000,000,000 is named as milliseconds, microseconds or nanoseconds.
    """
    check_finite(field, value)
    if MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:  # type: ignore[operator]
        return
    raise InvalidMessage(field, value, _out_of_range(float(value)))  # type: ignore[arg-type]


def _out_of_range(value: float) -> str:
    """Say why a finite time is out of range, naming the unit it seems to be in."""
    for unit, scale in (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9)):
        if MIN_TIMESTAMP <= value / scale <= MAX_TIMESTAMP:
            return (f"is out of range: must be {_TIME_RANGE}; this looks like {unit} "
                    f"(divide by {scale:,.0f})")
    return f"is out of range: must be {_TIME_RANGE}"


def check_count(field: str, value: object) -> None:
    """Refuse anything but a non-negative int (bool is not a count here)."""
    if type(value) is not int:
        raise InvalidMessage(field, value, "must be an integer")
    if value < 0:
        raise InvalidMessage(field, value, "must not be negative")
    if value > MAX_COUNT:
        raise InvalidMessage(field, value, f"must be at most {MAX_COUNT}")


def check_metadata(field: str, value: object) -> None:
    """Refuse anything but JSON data in a dict: at most 64 string keys, 8 KiB, 32 levels deep.

    No depth raises ``RecursionError``: nesting is measured without recursion.
    """
    if type(value) is not dict:
        raise InvalidMessage(field, value, "must be a dict")
    if not value:
        return
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidMessage(field, value, f"must have at most {MAX_METADATA_KEYS} keys")
    for key in value:
        if type(key) is not str:
            raise InvalidMessage(field, value, f"keys must be strings, not {type(key).__name__}")
    size: int | None
    try:
        size = len(_metadata_encoder.encode(value))
    except RecursionError:  # deeper than the encoder can go from here: measured below
        size = None
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidMessage(field, value, f"must be encodable data ({exc})") from None
    if size is not None and size > MAX_METADATA_BYTES:
        raise InvalidMessage(
            field, value, f"must be at most {MAX_METADATA_BYTES} bytes encoded, not {size}"
        )
    # After the size, which bounds the walk; past the encoder's reach the walk still
    # stops at the first level beyond the limit.
    if _deeper_than(value, MAX_METADATA_DEPTH):
        raise InvalidMessage(
            field, value, f"must be nested at most {MAX_METADATA_DEPTH} levels deep"
        )
    if size is None:
        raise InvalidMessage(field, value, "must be encodable data (nested too deeply)")
    # Stored as JSON: only what reads back equal is accepted (no NaN or infinities,
    # tuples, sets, bytes, datetimes, non-string keys at any depth).
    try:
        same = _json_decode(_json_encoder.encode(value)) == value
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.MsgspecError):
        same = False
    if not same:
        raise InvalidMessage(
            field, value, "must be JSON data (str keys; str, finite number, bool, None, list, dict)"
        )


def _deeper_than(value: object, limit: int) -> bool:
    """Whether dicts and lists (tuples too) nest more than ``limit`` levels in ``value``.

    Iterative, and it stops at the first container past the limit, so neither a
    cycle nor a depth of a million costs more than ``limit`` levels of work down
    that branch.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        # the base classes' own iterators: a subclass's overrides are not called
        if isinstance(item, dict):
            children: Any = dict.values(item)
        elif isinstance(item, list):
            children = list.__iter__(item)
        elif isinstance(item, tuple):
            children = tuple.__iter__(item)
        else:
            continue
        for child in children:
            if isinstance(child, dict | list | tuple):
                stack.append((child, depth + 1))
    return False


def to_epoch(field: str, value: object) -> float:
    """Return UTC epoch seconds for a number or a ``datetime`` (naive means UTC).

    Every time argument of the facade and of storage's reads goes through here,
    so one range holds everywhere: :data:`MIN_TIMESTAMP` (2000-01-01) to
    :data:`MAX_TIMESTAMP` (2200-01-01), both included. A range bound outside it
    is refused, not clamped (``None`` leaves that end of a range open).

    Raises:
        InvalidMessage: the value is neither, or is outside the range (a value in
            milliseconds is named as such).
    """
    if isinstance(value, dt.datetime):
        try:
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            seconds = value.timestamp()
        except Exception as exc:  # a hostile tzinfo, a datetime subclass's own method
            raise InvalidMessage(field, value, f"must be a datetime with a valid offset ({exc})") from None
        if type(seconds) is not float or not MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
            raise InvalidMessage(field, value, f"is out of range: must be {_TIME_RANGE}")
        return seconds
    check_timestamp(field, value)
    return float(value)  # type: ignore[arg-type]
