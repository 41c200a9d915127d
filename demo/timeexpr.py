"""Time expressions of the command line: ``30s``, ``15m``, ``24h``, ``7d`` or ISO 8601."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Final

from demo.errors import BadTimeExpression

__all__ = ["parse_duration", "parse_instant", "time_range"]

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, option: str = "--since") -> float | None:
    """Return the seconds of a duration such as ``90s``, ``15m``, ``1.5h``, ``7d``, ``2w``.

    Returns:
        None when ``text`` does not look like a duration at all (it may be a time).

    Raises:
        BadTimeExpression: it is a duration, but zero or too large to mean anything.
    """
    match = _DURATION.match(text)
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if not 0 < seconds < 1e10 or not math.isfinite(seconds):
        raise BadTimeExpression(option, text, "a duration must be more than zero and under 300 years")
    return seconds


def parse_instant(text: str, option: str, now: float) -> float:
    """Return UTC epoch seconds for a duration ago (from ``now``) or an ISO 8601 time.

    A naive ISO time (no offset) is UTC; ``Z`` and offsets such as ``+02:00`` are honoured.

    Raises:
        BadTimeExpression: ``text`` is neither.
    """
    seconds = parse_duration(text, option)
    if seconds is not None:
        return max(0.0, now - seconds)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadTimeExpression(option, text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    epoch = moment.timestamp()
    if epoch < 0:
        raise BadTimeExpression(option, text, "times before 1970 hold no metrics")
    return epoch


def time_range(
    since: str | None, start: str | None, end: str | None, now: float
) -> tuple[float | None, float | None]:
    """Return the [start, end) range, in epoch seconds, that the time options select.

    Args:
        since: ``--since``: from then until now (a duration ago or a time).
        start: ``--start``: inclusive start (a duration ago or a time).
        end: ``--end``: exclusive end (a duration ago or a time).
        now: the current time, epoch seconds.

    Returns:
        (start, end); None where the range is open.

    Raises:
        BadTimeExpression: an expression is bad, ``--since`` is combined with
            ``--start``/``--end``, or the range is empty.
    """
    if since is not None:
        if start is not None or end is not None:
            raise BadTimeExpression(
                "--since", since, "use either --since or --start/--end, not both"
            )
        return parse_instant(since, "--since", now), None
    low = None if start is None else parse_instant(start, "--start", now)
    high = None if end is None else parse_instant(end, "--end", now)
    if low is not None and high is not None and high <= low:
        raise BadTimeExpression("--end", end or "", "the end must come after the start")
    return low, high
