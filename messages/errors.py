"""Errors raised by the message layer, and the project's base error."""

from __future__ import annotations

import reprlib

__all__ = ["InvalidMessage", "SwarmPulseError"]


class SwarmPulseError(Exception):
    """Base class of every error that swarmpulse raises on purpose."""


class InvalidMessage(SwarmPulseError, ValueError):
    """A message, or an argument that becomes one, breaks a rule of the protocol.

    Attributes:
        field: the name of the offending field (``metadata``, ``duration_ms``,
            or a path such as ``$.tokens_used`` when it came from decoding).
        value: the offending value, as received (``None`` when decoding could
            not isolate it).
        reason: what rule it broke, in words.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = _shown(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {reason} (got {shown})")


class _Short(reprlib.Repr):
    """A repr that stops at a few levels and items: no value, however deep or large,
    makes building the error raise (``RecursionError``) or take long."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxstring = 80
        self.maxother = 80
        self.maxlong = 80


_short = _Short()


def _shown(value: object) -> str:
    try:
        return _short.repr(value)
    except Exception:  # a hostile __repr__ (reprlib catches most, not every one)
        return f"<{type(value).__name__} object>"
