"""Time parameters of the read API: ``since``, ``start`` and ``end``.

The grammar is the command line's (``demo/timeexpr.py``): a duration ago such
as ``30s``, ``15m``, ``24h`` or ``7d``, or an ISO 8601 time (naive means UTC);
the API also takes plain epoch seconds. It is restated here because nothing
may import ``demo``; the two are tested against the same cases.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Final

from server.errors import RequestRefused

__all__ = ["parse_instant", "time_range"]

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_EPOCH: Final = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HINT: Final = "use a duration ago such as 15m, 24h or 7d, an ISO 8601 time, or epoch seconds"


def parse_instant(text: str, field: str, now: float) -> float:
    """UTC epoch seconds for a duration ago (from ``now``), an ISO 8601 time or epoch seconds.

    Raises:
        RequestRefused: 400 naming ``field``.
    """
    match = _DURATION.match(text)
    if match is not None:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        if not 0 < seconds < 1e10 or not math.isfinite(seconds):
            raise RequestRefused(
                400, f"{field}: a duration must be more than zero and under 300 years", field
            )
        return max(0.0, now - seconds)
    if _EPOCH.match(text):
        epoch = float(text)
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise RequestRefused(400, f"{field}: {_HINT}", field) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        try:
            epoch = moment.timestamp()
        except (OverflowError, ValueError, OSError):
            raise RequestRefused(400, f"{field}: {_HINT}", field) from None
    if not 0 <= epoch < 1e11:
        raise RequestRefused(400, f"{field}: times before 1970 (or past 5000) hold no metrics", field)
    return epoch


def time_range(
    since: str | None, start: str | None, end: str | None, now: float
) -> tuple[float | None, float | None]:
    """The [start, end) range the parameters select; None where it is open.

    Raises:
        RequestRefused: 400 for a bad expression, ``since`` with ``start``/``end``,
            or an empty range.
    """
    if since is not None:
        if start is not None or end is not None:
            raise RequestRefused(400, "since: use either since or start/end, not both", "since")
        return parse_instant(since, "since", now), None
    low = None if start is None else parse_instant(start, "start", now)
    high = None if end is None else parse_instant(end, "end", now)
    if low is not None and high is not None and high <= low:
        raise RequestRefused(400, "end: the end must come after the start", "end")
    return low, high
