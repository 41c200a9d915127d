"""What the analyst knows about each agent, in constant memory per agent.

It outlives any one analyst actor (like the other services' state), so a restart
keeps what was learnt; an agent's part is released when the agent leaves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from actors.analytics.pagehinkley import FAILURE_SHIFT, P95_SHIFT, PageHinkley
from actors.analytics.robust import RecentWindow
from actors.analytics.stuck import KindStats, StuckSettings
from actors.analytics.cost import Price

if TYPE_CHECKING:
    from actors.alerting.rules import CostBudget

__all__ = ["MAX_IN_FLIGHT", "MAX_KINDS", "AgentAnalysis", "AnalystSettings", "AnalystState",
           "InFlight", "Minute"]

MAX_KINDS: Final = 16
"""Task kinds kept apart per agent; further kinds share the stream ``"other"``."""
MAX_IN_FLIGHT: Final = 1024
"""Tasks in flight kept per agent; past it the oldest is forgotten (and counted)."""
_TIME_KEYS: Final = (("llm", "llm_ms"), ("tool", "tool_ms"), ("wait", "wait_ms"))


@dataclass(slots=True)
class AnalystSettings:
    """The analyst's knobs, with their defaults.

    Attributes:
        stuck: when a task in flight is stuck (fixed limits, k x p99).
        prices: model name -> price per million tokens in and out.
        currency: the prices' currency, as shown.
        outlier_min_peers: peers of the same role an outlier needs.
        evaluate_s: seconds between two evaluations (minutes closed, shifts, outliers,
            findings, the cost budget).
        cost_budget: the ``[rules.cost_budget]`` rule of the alerting configuration, with
            its minute sums (None: no budget).
    """

    stuck: StuckSettings = field(default_factory=StuckSettings)
    prices: dict[str, Price] = field(default_factory=dict)
    currency: str = "USD"
    outlier_min_peers: int = 3
    evaluate_s: float = 60.0
    cost_budget: CostBudget | None = None


@dataclass(slots=True)
class InFlight:
    """A task that has started and not finished."""

    task_id: str
    kind: str
    started: float          # epoch s, as the agent said
    limit_s: float | None   # seconds it may run before it is stuck
    generation: int
    stuck: bool = False
    reminded: bool = False
    timer: Any = None


@dataclass(slots=True)
class Minute:
    """The tasks of the current minute (for per-minute p95 and failure rate)."""

    index: int = -1
    durations: RecentWindow = field(default_factory=lambda: RecentWindow(256))
    tasks: int = 0
    failures: int = 0


@dataclass(slots=True)
class AgentAnalysis:
    """One agent: streams per kind, tasks in flight, shifts, and its profile's sums."""

    agent_id: str
    registered_at: float
    role: str | None = None
    kinds: dict[str, KindStats] = field(default_factory=dict)
    in_flight: dict[str, InFlight] = field(default_factory=dict)
    minute: Minute = field(default_factory=Minute)
    p95_shift: PageHinkley = field(default_factory=lambda: PageHinkley(P95_SHIFT))
    failure_shift: PageHinkley = field(default_factory=lambda: PageHinkley(FAILURE_SHIFT))
    recent: RecentWindow = field(default_factory=lambda: RecentWindow(200))
    recent_failures: int = 0     # a bit per recent task (newest lowest): did it fail?
    recent_count: int = 0
    tasks: int = 0
    busy_ms: float = 0.0
    spent_ms: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k, _ in _TIME_KEYS})
    cost: float = 0.0
    priced_tasks: int = 0
    queue_depth: float | None = None
    outlier: bool = False
    forgotten_in_flight: int = 0

    def kind_stats(self, kind: str) -> KindStats:
        """The stream of ``kind`` (``"other"`` past :data:`MAX_KINDS` kinds)."""
        stats = self.kinds.get(kind)
        if stats is None:
            if len(self.kinds) >= MAX_KINDS:
                kind = "other"
                stats = self.kinds.get(kind)
            if stats is None:
                stats = self.kinds[kind] = KindStats()
        return stats

    def failure_rate(self) -> float:
        """Share of the recent tasks (up to 200) that did not succeed."""
        n = min(self.recent_count, 200)
        return (self.recent_failures & ((1 << n) - 1)).bit_count() / n if n else math.nan

    def add_times(self, metadata: dict[str, Any]) -> None:
        """Add time spent in LLM calls, tools and waiting, where the metadata says."""
        for name, key in _TIME_KEYS:
            value = metadata.get(key)
            if (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value) and value >= 0):
                self.spent_ms[name] += float(value)


@dataclass(slots=True)
class AnalystState:
    """Every agent's analysis, and the swarm's counters."""

    settings: AnalystSettings = field(default_factory=AnalystSettings)
    agents: dict[str, AgentAnalysis] = field(default_factory=dict)
    alerts: int = 0
    stuck_tasks: int = 0
    slow_incidents: int = 0
    regressions: int = 0
    outliers: int = 0
    unpriced_tasks: int = 0
    generation: int = 0
    finding_alerts: dict[tuple[str, str], str] = field(default_factory=dict)
    """(alertname, agent_id) -> the finding's text, for each finding alert firing now."""
