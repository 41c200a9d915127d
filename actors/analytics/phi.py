"""The phi-accrual failure detector (Hayashibara et al.; Akka's and Cassandra's).

The detector keeps a window of the agent's recent heartbeat gaps and fits a normal
distribution to them. After ``t`` seconds of silence, the suspicion level is

    phi(t) = -log10(1 - F(t)),

where F is the normal CDF with the window's mean plus ``acceptable_pause`` as its
mean and the window's standard deviation (at least ``min_std``) as its spread. A phi
of 1 means a 10% chance that a beat is still coming, 3 means 0.1%, 8 means 1e-8.

Because F is a normal CDF, the silence at which phi reaches a given level has a
closed form, :meth:`PhiAccrual.silence_for`: that is what lets a tracker arm a timer
for the exact moment instead of polling. Akka evaluates F with a logistic
approximation; this module uses the exact CDF (through ``erfc``, accurate in the
tail), so its thresholds are the textbook ones.

A normal fit underrates a heavy tail: when a few percent of beats come seconds
late, phi convicts agents whose late beat is still on its way. So, as an option that
is on by default (``guard``), the detector never reaches its FAILED threshold before
the longest of the last ``guard_samples`` gaps has passed, plus ``guard_margin`` of
it: a silence that this agent has recently ended with a beat is not taken as its
death. One long gap widens the guard for ``guard_samples`` beats at most, and never
past ``guard_cap`` times the mean gap.

Memory is constant: a ring of at most ``max_samples`` gaps plus running sums.
"""

from __future__ import annotations

import math
from array import array
from statistics import NormalDist
from typing import Final

__all__ = ["DEFAULT_PHI", "PhiAccrual", "PhiSettings"]

_STANDARD: Final = NormalDist()
_SQRT2: Final = math.sqrt(2.0)


class PhiSettings:
    """The detector's settings, with Akka's names and defaults.

    Attributes:
        threshold: phi at which the agent is FAILED (Akka's default 8).
        min_std: floor of the fitted standard deviation, in seconds (Akka: 100 ms),
            so that a very regular agent is not convicted by a few ms of delay.
        acceptable_pause: seconds added to the mean gap before phi is computed
            (Akka's ``acceptable-heartbeat-pause``).
        max_samples: gaps kept in the window (Akka: 1000).
        degraded_phi: phi at which the agent is DEGRADED.
        critical_phi: phi at which the agent is CRITICAL.
        guard: FAILED never comes before the longest recent gap has passed.
        guard_samples: recent gaps the guard looks at (None: the whole window).
        guard_margin: fraction added to the longest recent gap.
        guard_cap: the guard never holds FAILED back past this multiple of the mean
            gap (3, where the fixed detector convicts), so one wild gap cannot blind it.
    """

    __slots__ = ("threshold", "min_std", "acceptable_pause", "max_samples", "degraded_phi",
                 "critical_phi", "guard", "guard_samples", "guard_margin", "guard_cap")

    def __init__(
        self,
        threshold: float = 8.0,
        min_std: float = 0.1,
        acceptable_pause: float = 0.0,
        max_samples: int = 1000,
        degraded_phi: float = 1.0,
        critical_phi: float = 3.0,
        guard: bool = True,
        guard_samples: int | None = None,
        guard_margin: float = 0.1,
        guard_cap: float = 3.0,
    ) -> None:
        for name, value in (("threshold", threshold), ("min_std", min_std),
                            ("degraded_phi", degraded_phi), ("critical_phi", critical_phi)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, not {value!r}")
        if not (isinstance(acceptable_pause, (int, float)) and math.isfinite(acceptable_pause)
                and acceptable_pause >= 0):
            raise ValueError(f"acceptable_pause must be >= 0 seconds, not {acceptable_pause!r}")
        if type(max_samples) is not int or not 2 <= max_samples <= 100_000:
            raise ValueError(f"max_samples must be an integer from 2 to 100000, not {max_samples!r}")
        if not degraded_phi < critical_phi < threshold:
            raise ValueError(
                "phi levels must rise: degraded_phi < critical_phi < threshold, not "
                f"{degraded_phi} / {critical_phi} / {threshold}"
            )
        self.threshold = float(threshold)
        self.min_std = float(min_std)
        self.acceptable_pause = float(acceptable_pause)
        self.max_samples = max_samples
        if type(guard) is not bool:
            raise ValueError(f"guard must be True or False, not {guard!r}")
        if guard_samples is None:
            guard_samples = max_samples
        if type(guard_samples) is not int or not 1 <= guard_samples <= max_samples:
            raise ValueError(f"guard_samples must be an integer from 1 to max_samples, not {guard_samples!r}")
        if not (isinstance(guard_margin, (int, float)) and math.isfinite(guard_margin)
                and guard_margin >= 0):
            raise ValueError(f"guard_margin must be >= 0, not {guard_margin!r}")
        self.degraded_phi = float(degraded_phi)
        self.critical_phi = float(critical_phi)
        self.guard = guard
        self.guard_samples = guard_samples
        self.guard_margin = float(guard_margin)
        if not (isinstance(guard_cap, (int, float)) and math.isfinite(guard_cap) and guard_cap >= 1):
            raise ValueError(f"guard_cap must be >= 1, not {guard_cap!r}")
        self.guard_cap = float(guard_cap)

    def __repr__(self) -> str:
        return (f"PhiSettings(threshold={self.threshold}, min_std={self.min_std}, "
                f"acceptable_pause={self.acceptable_pause}, max_samples={self.max_samples})")


DEFAULT_PHI: Final = PhiSettings()


class PhiAccrual:
    """One agent's detector: feed it gaps, ask it for phi or for the silence at a phi.

    Until it has seen a gap it assumes the agent's configured interval, with a spread
    of a quarter of it (Akka seeds its window the same way from
    ``heartbeat-interval``), so a new agent is not convicted on its first silence.

    Example:
        >>> phi = PhiAccrual(interval=1.0)
        >>> for _ in range(10):
        ...     phi.add_gap(1.0)
        >>> round(phi.silence_for(8.0), 3)   # mean 1 s, std at its 0.1 s floor
        1.573
        >>> phi.phi(1.0) < 1 < phi.phi(1.2)
        True
    """

    __slots__ = ("settings", "_gaps", "_next", "_sum", "_sumsq", "_count", "_recent",
                 "_recent_next", "_longest")

    def __init__(self, interval: float, settings: PhiSettings = DEFAULT_PHI) -> None:
        if not (math.isfinite(interval) and interval > 0):
            raise ValueError(f"interval must be positive seconds, not {interval!r}")
        self.settings = settings
        self._gaps = array("d")
        self._next = 0
        self._sum = 0.0
        self._sumsq = 0.0
        self._count = 0
        self._recent = array("d")
        self._recent_next = 0
        self._longest = 0.0
        spread = interval / 4.0
        # the seed: two gaps one spread either side of the interval
        self.add_gap(interval - spread)
        self.add_gap(interval + spread)
        self._count = 0  # seeds are not observations
        del self._recent[:]  # nor do they guard anything
        self._recent_next = 0
        self._longest = 0.0

    def add_gap(self, gap: float) -> None:
        """Record the seconds between two heartbeats (non-finite or negative gaps are ignored)."""
        if not (gap >= 0.0 and math.isfinite(gap)):
            return
        gaps = self._gaps
        if len(gaps) < self.settings.max_samples:
            gaps.append(gap)
        else:
            old = gaps[self._next]
            self._sum -= old
            self._sumsq -= old * old
            gaps[self._next] = gap
            self._next = (self._next + 1) % len(gaps)
        self._sum += gap
        self._sumsq += gap * gap
        self._count += 1
        recent = self._recent
        if len(recent) < self.settings.guard_samples:
            recent.append(gap)
            evicted = 0.0
        else:
            evicted = recent[self._recent_next]
            recent[self._recent_next] = gap
            self._recent_next = (self._recent_next + 1) % len(recent)
        if gap >= self._longest:
            self._longest = gap
        elif evicted >= self._longest:  # the longest left the ring: look again (rare)
            self._longest = max(recent)

    @property
    def samples(self) -> int:
        """Gaps observed (the two seed gaps not counted)."""
        return self._count

    @property
    def mean(self) -> float:
        """Mean gap of the window, in seconds."""
        return self._sum / len(self._gaps)

    @property
    def std(self) -> float:
        """Standard deviation of the window's gaps, floored at ``min_std``."""
        n = len(self._gaps)
        mean = self._sum / n
        variance = max(0.0, self._sumsq / n - mean * mean)
        return max(math.sqrt(variance), self.settings.min_std)

    def phi(self, silence: float) -> float:
        """Suspicion after ``silence`` seconds without a beat (0 when there is none)."""
        if silence <= 0.0:
            return 0.0
        z = (silence - self.mean - self.settings.acceptable_pause) / self.std
        tail = 0.5 * math.erfc(z / _SQRT2)  # 1 - F, accurate far into the tail
        if tail <= 0.0:
            return math.inf
        return max(0.0, -math.log10(tail))

    @property
    def longest_recent(self) -> float:
        """The longest of the last ``guard_samples`` gaps (0 before the first)."""
        return self._longest

    def silence_for(self, level: float) -> float:
        """Seconds of silence after which phi reaches ``level`` (the inverse of :meth:`phi`).

        At the FAILED threshold, the guard may make it later (see the module's text).
        """
        if level <= 0.0:
            return 0.0
        # 1 - F(t) = 10**-level  <=>  z = -inv_cdf(10**-level), by symmetry of the normal
        z = -_STANDARD.inv_cdf(10.0 ** -level)
        s = self.settings
        silence = max(0.0, self.mean + s.acceptable_pause + z * self.std)
        if s.guard and level >= s.threshold:
            guard = min(self._longest * (1.0 + s.guard_margin), s.guard_cap * self.mean)
            silence = max(silence, guard)
        return silence
