"""The base every message derives from, carrying the shared msgspec settings once."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

import msgspec

from messages.constraints import to_epoch
from messages.errors import InvalidMessage

__all__ = ["Message", "coerce_enum", "coerce_time"]

E = TypeVar("E", bound=enum.Enum)


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, forbid_unknown_fields=True):
    """Base of every message: frozen, keyword-only, tagged, unknown fields refused.

    The tag (field ``type``) lets a mixed stream decode into the right class.
    Fields never change meaning; new fields go at the end with defaults.
    """


def coerce_enum(message: Message, field: str, enum_type: type[E]) -> None:
    """Turn a string field into its enum member in place, or raise InvalidMessage."""
    value: Any = getattr(message, field)
    if type(value) is enum_type:
        return
    try:
        member = enum_type(value)
    except (ValueError, TypeError):
        allowed = ", ".join(str(m.value) for m in enum_type)
        raise InvalidMessage(field, value, f"must be one of: {allowed}") from None
    msgspec.structs.force_setattr(message, field, member)


def coerce_time(message: Message, field: str) -> None:
    """Turn a ``datetime`` field into epoch seconds in place; check any number."""
    value: Any = getattr(message, field)
    if type(value) is float and 0.0 <= value < float("inf"):
        return
    msgspec.structs.force_setattr(message, field, to_epoch(field, value))
