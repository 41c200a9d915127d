"""Alertmanager's durations: ``"30s"``, ``"5m"``, ``"4h"``, ``"1h30m"``, ``"1d"``, ``"250ms"``."""

from __future__ import annotations

import re
from typing import Final

from messages import InvalidMessage

__all__ = ["format_duration", "parse_duration"]

_PATTERN: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNITS: Final = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)


def parse_duration(text: object, where: str = "duration") -> float:
    """Seconds in an Alertmanager duration string (units y w d h m s ms, largest first).

    Example:
        >>> parse_duration("1h30m")
        5400.0

    Raises:
        InvalidMessage: naming ``where``, the value, and the expected form.
    """
    if isinstance(text, str):
        if text == "0":
            return 0.0
        found = _PATTERN.match(text)
        if found is not None and text:
            return sum(int(n) * unit for n, unit in zip(found.groups(), _UNITS) if n)
    raise InvalidMessage(where, text, 'expected a duration such as "30s", "5m", "4h" or "1h30m"')


def format_duration(seconds: float) -> str:
    """The shortest Alertmanager string for ``seconds`` (whole milliseconds)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, name in ((3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")):
        if ms >= unit:
            out.append(f"{ms // unit}{name}")
            ms %= unit
    return "".join(out)
