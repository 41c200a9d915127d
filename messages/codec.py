"""Bytes in and out: msgpack or JSON, with encoders and decoders built once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, Literal

import msgspec

from messages.constraints import check_timestamp
from messages.control import Control
from messages.errors import InvalidMessage
from messages.events import Event
from messages.tasks import TaskStarted
from messages.telemetry import Telemetry

__all__ = ["AnyMessage", "Format", "decode", "encode"]

AnyMessage = Telemetry | TaskStarted | Event | Control
"""Every message that crosses the wire."""
Format = Literal["msgpack", "json"]

_encoders: Final[dict[str, msgspec.msgpack.Encoder | msgspec.json.Encoder]] = {
    "msgpack": msgspec.msgpack.Encoder(),
    "json": msgspec.json.Encoder(),
}
_decoders: Final[dict[str, msgspec.msgpack.Decoder[Any] | msgspec.json.Decoder[Any]]] = {
    "msgpack": msgspec.msgpack.Decoder(AnyMessage),
    "json": msgspec.json.Decoder(AnyMessage),
}
_untyped: Final[dict[str, Callable[[Any], Any]]] = {
    "msgpack": msgspec.msgpack.Decoder().decode,
    "json": msgspec.json.Decoder().decode,
}
_TIME_FIELDS: Final = frozenset({"timestamp", "at"})
_PATH = re.compile(r"at `\$\.?([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _check_time(data: bytes | bytearray | memoryview, format: str, field: str) -> None:
    """Raise the error :func:`messages.to_epoch` gives for the time field msgspec refused.

    msgspec's own message only says "Expected `float` <= 7258118400.0"; this one
    names the range and the unit the value seems to be in (milliseconds, ...).
    """
    try:
        raw = _untyped[format](data)
        value = raw.get(field) if isinstance(raw, dict) else None
    except (msgspec.MsgspecError, RecursionError):
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        check_timestamp(field, value)


def _check_format(format: str) -> None:
    if format not in _encoders:
        raise InvalidMessage("format", format, "must be 'msgpack' or 'json'")


def encode(message: AnyMessage, format: Format = "msgpack") -> bytes:
    """Encode a message as msgpack (default) or JSON bytes."""
    _check_format(format)
    return _encoders[format].encode(message)


def decode(data: bytes | bytearray | memoryview, format: Format = "msgpack") -> AnyMessage:
    """Decode bytes into the message type their tag names.

    Raises:
        InvalidMessage: the bytes are malformed, name an unknown type, or break
            a rule of the protocol; ``field`` names the offending field.
    """
    _check_format(format)
    try:
        message: AnyMessage = _decoders[format].decode(data)
    except msgspec.ValidationError as exc:
        inner = exc.__context__ or exc.__cause__
        if isinstance(inner, InvalidMessage):
            raise inner from None
        text = str(exc)
        unknown = _UNKNOWN.search(text)
        if unknown:
            raise InvalidMessage(unknown.group(1), None, "is not a field of this message") from None
        path = _PATH.search(text)
        if path:
            field = path.group(1) or "message"
            if field in _TIME_FIELDS:
                _check_time(data, format, field)  # the protocol's words, and the value
            raise InvalidMessage(field, None, text) from None
        field, _, reason = text.partition(": ")
        if reason and field.isidentifier():
            raise InvalidMessage(field, None, reason) from None
        raise InvalidMessage("message", None, text) from None
    except msgspec.DecodeError as exc:
        raise InvalidMessage("message", bytes(data[:40]), f"malformed {format}: {exc}") from None
    except RecursionError:
        raise InvalidMessage("message", bytes(data[:40]), "nested too deeply") from None
    return message
