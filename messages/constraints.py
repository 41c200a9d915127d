"""Field constraints: msgspec ``Meta`` aliases for decoding, and checks for code.

msgspec enforces ``Meta`` constraints only when decoding, so messages built in
code run the same rules through the ``check_*`` functions in ``__post_init__``.
Each check raises :class:`InvalidMessage` naming the field and the bad value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Final

import msgspec

from messages.errors import InvalidMessage

__all__ = [
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_KEYS",
    "AgentId",
    "Count",
    "Metadata",
    "Millis",
    "Name",
    "Timestamp",
    "check_count",
    "check_finite",
    "check_id",
    "check_metadata",
    "check_millis",
    "check_timestamp",
    "to_epoch",
]

MAX_ID_LENGTH: Final = 256
MAX_METADATA_KEYS: Final = 64
MAX_METADATA_BYTES: Final = 8192
MAX_COUNT: Final = 2**63 - 1
"""The largest count SQLite stores (a signed 64-bit integer)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NO_CONTROL_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f]*$"

AgentId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH, pattern=_NO_CONTROL_PATTERN)
]
"""An identifier (agent, task, swarm): 1 to 256 characters, no control characters."""
Name = AgentId
"""A metric name: the same rules as an identifier."""
Millis = Annotated[float, msgspec.Meta(ge=0)]
"""A non-negative, finite duration in milliseconds."""
Count = Annotated[int, msgspec.Meta(ge=0)]
"""A non-negative whole number (tokens, files)."""
Timestamp = Annotated[float, msgspec.Meta(ge=0)]
"""UTC epoch seconds."""
Metadata = Annotated[dict[str, Any], msgspec.Meta(max_length=MAX_METADATA_KEYS)]
"""Free-form data: at most 64 keys and 8 KiB once encoded."""

_metadata_encoder: Final = msgspec.msgpack.Encoder()
_json_encoder: Final = msgspec.json.Encoder()
_json_decode: Final = msgspec.json.Decoder().decode
_NUMBER: Final = (int, float)


def check_id(field: str, value: object) -> None:
    """Refuse anything but a 1-256 character string with no control character."""
    if type(value) is not str:
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
    """Refuse anything but finite, non-negative epoch seconds."""
    check_millis(field, value)


def check_count(field: str, value: object) -> None:
    """Refuse anything but a non-negative int (bool is not a count here)."""
    if type(value) is not int:
        raise InvalidMessage(field, value, "must be an integer")
    if value < 0:
        raise InvalidMessage(field, value, "must not be negative")
    if value > MAX_COUNT:
        raise InvalidMessage(field, value, f"must be at most {MAX_COUNT}")


def check_metadata(field: str, value: object) -> None:
    """Refuse anything but a dict of at most 64 string keys, 8 KiB encoded."""
    if type(value) is not dict:
        raise InvalidMessage(field, value, "must be a dict")
    if not value:
        return
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidMessage(field, value, f"must have at most {MAX_METADATA_KEYS} keys")
    for key in value:
        if type(key) is not str:
            raise InvalidMessage(field, value, f"keys must be strings, not {type(key).__name__}")
    try:
        size = len(_metadata_encoder.encode(value))
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidMessage(field, value, f"must be encodable data ({exc})") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidMessage(
            field, value, f"must be at most {MAX_METADATA_BYTES} bytes encoded, not {size}"
        )
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


def to_epoch(field: str, value: object) -> float:
    """Return UTC epoch seconds for a number or a ``datetime`` (naive means UTC).

    Raises:
        InvalidMessage: the value is neither, or is negative or not finite.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    check_timestamp(field, value)
    return float(value)  # type: ignore[arg-type]
