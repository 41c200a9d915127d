"""The base every message derives from, carrying the shared msgspec settings once."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

import msgspec

from messages.constraints import MAX_TIMESTAMP, MIN_TIMESTAMP, enum_member, to_epoch

__all__ = ["Message", "coerce_enum", "coerce_time"]

E = TypeVar("E", bound=enum.Enum)


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, forbid_unknown_fields=True):
    """Base of every message: frozen, keyword-only, tagged, unknown fields refused.

    The tag (field ``type``) lets a mixed stream decode into the right class.
    Fields never change meaning; new fields go at the end with defaults.
    """


def coerce_enum(message: Message, field: str, enum_type: type[E]) -> None:
    """Turn a string field into its enum member in place, or raise InvalidMessage.

    The rule is :func:`messages.constraints.enum_member`'s: only a member or a
    plain ``str`` value is taken.
    """
    value: Any = getattr(message, field)
    if type(value) is not enum_type:
        msgspec.structs.force_setattr(message, field, enum_member(field, value, enum_type))


def coerce_time(message: Message, field: str) -> None:
    """Turn a ``datetime`` field into epoch seconds in place; check any number.

    The range is that of :func:`messages.to_epoch`: 2000-01-01 to 2200-01-01 UTC.
    """
    value: Any = getattr(message, field)
    if type(value) is float and MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
        return
    msgspec.structs.force_setattr(message, field, to_epoch(field, value))
