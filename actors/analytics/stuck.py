"""When a task in flight counts as stuck, and when a finished task counts as slow.

A task is stuck when it has run longer than a fixed limit (per kind, or global), or
longer than ``k`` times the p99 of its kind for its agent once there are
``min_samples`` finished tasks of that kind (default k = 3, 20 samples). The limit is
known when the task starts, so a tracker arms one timer for it, with no polling.

A finished task is slow when its duration's modified z-score against the agent's
recent tasks of the same kind is above 3.5. The score is taken on the logarithm of
the durations: task durations are skewed (close to log-normal), and on the raw
values a 3-sigma task of a log-normal with sigma 0.25 already scores 4.5, so every
agent would raise a slow-task alert an hour (measured: ``python -m demo bench
--only detectors``). On the log scale 3.5 means a task 2.4 x its median at that
spread, and a 6 x task scores above 7.

No task is scored before its stream has :data:`SLOW_MIN_SAMPLES` (100) tasks: the
median and MAD of fewer are too uncertain. At 20 (the stuck rule's warm-up, which this
score once shared) the MAD of 20 values has a standard error of about a quarter of
itself, so a true 3.5 reads as anything from 2.8 to 4.7, and 11 of the 13 false
slow-task incidents of the bench's swarms (``python -m demo bench --only detectors``,
precision 0.61) opened within an agent's first 60 tasks.

A score of 3.5 is still a 1-in-4,000 event for a normal stream, and an agent doing ten
tasks a minute has one every few hours: each such task is flagged (``slow`` on the
task), but an incident, which is what alerts, opens only on ``burst`` slow tasks
among the stream's last ``burst_window`` tasks, or on one task scoring twice the
threshold. A burst of slow tasks is one incident:
it opens on the first, counts the ones after it, and closes after ``quiet`` normal
tasks in a row, so a burst becomes one alert and not one per task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, NamedTuple

from actors.analytics.robust import MAD_Z_THRESHOLD, RecentWindow, modified_z, spread

__all__ = ["SLOW_MIN_SAMPLES", "KindStats", "SlowIncident", "StuckSettings", "stuck_after"]

SLOW_MIN_SAMPLES: Final = 100
"""Finished tasks of a stream before its tasks are scored for slowness (the warm-up)."""


class StuckSettings(NamedTuple):
    """Parameters of stuck-task detection.

    Attributes:
        limit_s: fixed limit for every kind, seconds (None: no fixed limit).
        kind_limits_s: fixed limits per kind, which take precedence.
        k: multiple of the kind's p99 past which a task is stuck.
        min_samples: finished tasks of the kind before the p99 rule applies.
    """

    limit_s: float | None = None
    kind_limits_s: Mapping[str, float] = {}
    k: float = 3.0
    min_samples: int = 20


class KindStats:
    """One (agent, kind) stream of finished durations: p99 for stuck, z-score for slow.

    The window holds the logarithms of the durations (in ms, floored at 1 us).
    """

    __slots__ = ("window", "incident", "recent_slow", "slow_tasks", "_spread", "_stale")

    REFRESH: int = 16
    """Tasks between two computations of the window's median and MAD (a sort of the
    window each): the score of one task is then a few arithmetic operations."""

    def __init__(self, size: int = 128) -> None:
        self.window = RecentWindow(size)
        self.incident: SlowIncident | None = None
        self.recent_slow = 0  # a bit per recent task, newest lowest: was it slow?
        self.slow_tasks = 0
        self._spread = (0.0, 0.0, 0.0)
        self._stale = 0

    def __len__(self) -> int:
        return len(self.window)

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile of the recent durations, in ms (nan when empty)."""
        return math.exp(self.window.percentile(q))

    def median_ms(self) -> float:
        """The median of the recent durations, in ms (nan when empty)."""
        return math.exp(self.window.median())

    def observe(self, duration_ms: float, *, quiet: int = 5, min_samples: int = SLOW_MIN_SAMPLES,
                threshold: float = MAD_Z_THRESHOLD, burst: int = 2,
                burst_window: int = 5) -> tuple[str, SlowIncident] | None:
        """Add a finished duration; report ``("opened", incident)`` or ``("closed", incident)``.

        The z-score is taken against the tasks before this one, then the task joins
        the window.
        """
        if not (duration_ms >= 0.0 and math.isfinite(duration_ms)):
            return None
        window = self.window
        value = math.log(max(duration_ms, 1e-3))
        if len(window) >= min_samples:
            if self._stale <= 0:
                self._spread = spread(window.values())
                self._stale = self.REFRESH
            self._stale -= 1
            median_log, mad, mean_ad = self._spread
            z = modified_z(value, median_log, mad, mean_ad)
            median = math.exp(median_log)
        else:
            z = 0.0
            median = math.nan
        window.add(value)
        slow = z > threshold
        self.recent_slow = ((self.recent_slow << 1) | slow) & ((1 << burst_window) - 1)
        incident = self.incident
        if slow:
            self.slow_tasks += 1
            if incident is None:
                if self.recent_slow.bit_count() < burst and z <= 2 * threshold:
                    return None
                self.incident = SlowIncident(first_ms=duration_ms, worst_z=z, median_ms=median)
                return "opened", self.incident
            incident.count += 1
            incident.calm = 0
            incident.worst_z = max(incident.worst_z, z)
            return None
        if incident is not None:
            incident.calm += 1
            if incident.calm >= quiet:
                self.incident = None
                return "closed", incident
        return None


class SlowIncident:
    """A burst of slow tasks of one agent and kind."""

    __slots__ = ("first_ms", "worst_z", "median_ms", "count", "calm")

    def __init__(self, first_ms: float, worst_z: float, median_ms: float) -> None:
        self.first_ms = first_ms
        self.worst_z = worst_z
        self.median_ms = median_ms
        self.count = 1
        self.calm = 0

    def __repr__(self) -> str:
        return f"SlowIncident(count={self.count}, worst_z={self.worst_z:.1f}, median_ms={self.median_ms})"


def stuck_after(kind: str, stats: KindStats | None, settings: StuckSettings) -> float | None:
    """Seconds a task of ``kind`` may run before it is stuck (None: no limit applies).

    The smallest of the fixed limit that applies and ``k`` x the kind's p99.
    """
    limits: list[float] = []
    fixed = settings.kind_limits_s.get(kind, settings.limit_s)
    if fixed is not None:
        limits.append(float(fixed))
    if stats is not None and len(stats) >= settings.min_samples:
        p99 = stats.percentile_ms(99.0)
        if p99 > 0:
            limits.append(settings.k * p99 / 1000.0)
    return min(limits) if limits else None
