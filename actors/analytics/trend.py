"""Early warning from heartbeat gaps: an agent whose beats drift later or grow jittery.

Two exponentially weighted averages follow each agent's gaps, a fast one (the last
few beats) and a slow one (the baseline). The agent is *at risk* when, after a
warm-up, the fast mean rises above the slow mean by ``rise`` baseline deviations, or
the fast deviation grows to ``jitter`` times the baseline's. It stops being at risk
when both fall back to half those margins (hysteresis, so one late beat does not
make a storm of warnings). A gap-drifting agent is usually warned about before its
silence reaches the interval and it degrades.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["GapTrend", "TrendSettings"]


class TrendSettings(NamedTuple):
    """Parameters of :class:`GapTrend`.

    Attributes:
        fast: weight of a new gap in the fast average.
        slow: weight of a new gap in the baseline.
        warmup: gaps before a warning can be given.
        rise: fast-mean rise, in baseline deviations, that warns.
        jitter: ratio of fast to baseline deviation that warns.
        min_std: floor of the baseline deviation, in seconds.
    """

    fast: float = 0.25
    slow: float = 0.01
    warmup: int = 30
    rise: float = 4.0
    jitter: float = 3.0
    min_std: float = 0.05


class GapTrend:
    """One agent's gap trend; :meth:`add` returns True when the at-risk state changes.

    Example:
        >>> t = GapTrend()
        >>> [t.add(1.0) for _ in range(30)].count(True)
        0
        >>> any(t.add(1.0 + 0.1 * i) for i in range(1, 10)), t.at_risk
        (True, True)
    """

    __slots__ = ("settings", "_n", "_fast", "_slow", "_fast_var", "_slow_var", "at_risk", "reason")

    def __init__(self, settings: TrendSettings = TrendSettings()) -> None:
        self.settings = settings
        self._n = 0
        self._fast = self._slow = 0.0
        self._fast_var = self._slow_var = 0.0
        self.at_risk = False
        self.reason = ""

    def add(self, gap: float) -> bool:
        """Record one gap in seconds; True when the agent became, or stopped being, at risk."""
        if not (math.isfinite(gap) and gap >= 0):
            return False
        s = self.settings
        self._n += 1
        if self._n == 1:
            self._fast = self._slow = gap
            return False
        d_fast = gap - self._fast
        self._fast += s.fast * d_fast
        self._fast_var = (1 - s.fast) * (self._fast_var + s.fast * d_fast * d_fast)
        if self._n <= s.warmup:
            # the warm-up: the baseline is the exact mean and variance of the first gaps
            d = gap - self._slow
            self._slow += d / self._n
            self._slow_var += (d * (gap - self._slow) - self._slow_var) / self._n
            return False
        base_std = max(math.sqrt(self._slow_var), s.min_std, 0.02 * self._slow)
        d_slow = gap - self._slow
        if not self.at_risk and abs(d_slow) <= 2.5 * base_std:
            # the baseline learns only from gaps that look like it, and not while the agent
            # is at risk, so a drift does not widen the yardstick it is measured by
            self._slow += s.slow * d_slow
            self._slow_var = (1 - s.slow) * (self._slow_var + s.slow * d_slow * d_slow)
        base_std = max(math.sqrt(self._slow_var), s.min_std, 0.02 * self._slow)
        fast_std = math.sqrt(self._fast_var)
        rise = (self._fast - self._slow) / base_std
        jitter = fast_std / base_std
        if not self.at_risk and (rise > s.rise or jitter > s.jitter):
            self.at_risk = True
            self.reason = (f"gaps rising: {self._fast:.2f} s against {self._slow:.2f} s"
                           if rise > s.rise else
                           f"gaps jittery: spread {fast_std:.2f} s against {base_std:.2f} s")
            return True
        if self.at_risk and rise < s.rise / 2 and jitter < max(1.0, s.jitter / 2):
            self.at_risk = False
            self.reason = ""
            return True
        return False
