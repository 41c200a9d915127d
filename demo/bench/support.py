"""What every benchmark group shares: run sizes, results, percentiles and process memory."""

from __future__ import annotations

import gc
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from types import FunctionType, ModuleType, TracebackType
from typing import Any, Final

__all__ = [
    "AGENT_IDS",
    "FLUSH_TIMEOUT",
    "MODES",
    "FullCollections",
    "GroupResult",
    "Sizes",
    "deep_size_mb",
    "durations",
    "percentile",
    "rss_mb",
]

AGENT_IDS: Final = tuple(f"agent-{i:03d}" for i in range(100))
"""The 100 agent ids that record task metrics in every benchmark that needs them."""

FLUSH_TIMEOUT: Final = 600.0
"""Seconds a flush may take: a slow machine must not turn a slow run into a failed one."""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each measurement is; one set per mode.

    Attributes:
        mode: ``full``, ``quick`` or ``smoke`` (a hidden size for the tests).
        record_calls: timed calls per hot-path measurement (facade, agent, Prometheus).
        tell_calls: timed ``ActorRef.tell`` calls to a plain actor.
        persist_metrics: metrics recorded from 4 threads until committed.
        stats_rows: rows over 48 h in the database that ``get_task_stats`` reads.
        stats_repeats: timed ``get_task_stats`` calls (and plain SQL scans).
        percentile_values: lognormal durations the histogram is checked on.
        aggregator_metrics: metrics recorded while the process memory is watched.
        swarm_agents: agents of the large swarm (spawn, memory, threads, lateness).
        swarm_interval_s: heartbeat interval of the large swarm.
        swarm_silent: agents of the large swarm made silent.
        swarm_history_fill: heartbeats sent to every agent of the large swarm, as fast as
            they go, before its memory is read (100 fills the default history).
        small_agents: agents of the small swarm (lateness only).
        small_interval_s: heartbeat interval of the small swarm.
        small_silent: agents of the small swarm made silent.
    """

    mode: str
    record_calls: int
    tell_calls: int
    persist_metrics: int
    stats_rows: int
    stats_repeats: int
    percentile_values: int
    aggregator_metrics: int
    swarm_agents: int
    swarm_interval_s: float
    swarm_silent: int
    swarm_history_fill: int
    small_agents: int
    small_interval_s: float
    small_silent: int

    def as_dict(self) -> dict[str, Any]:
        """The sizes as a JSON-ready dict."""
        return asdict(self)


MODES: Final = {
    "full": Sizes(
        mode="full", record_calls=1_000_000, tell_calls=200_000, persist_metrics=1_000_000,
        stats_rows=1_000_000, stats_repeats=20, percentile_values=1_000_000,
        aggregator_metrics=1_000_000, swarm_agents=10_000, swarm_interval_s=5.0,
        swarm_silent=200, swarm_history_fill=100, small_agents=1_000, small_interval_s=1.0,
        small_silent=100,
    ),
    "quick": Sizes(
        mode="quick", record_calls=100_000, tell_calls=20_000, persist_metrics=100_000,
        stats_rows=100_000, stats_repeats=20, percentile_values=1_000_000,
        aggregator_metrics=100_000, swarm_agents=2_000, swarm_interval_s=2.0,
        swarm_silent=100, swarm_history_fill=10, small_agents=1_000, small_interval_s=1.0,
        small_silent=100,
    ),
    "smoke": Sizes(
        mode="smoke", record_calls=2_000, tell_calls=500, persist_metrics=4_000,
        stats_rows=4_000, stats_repeats=3, percentile_values=10_000,
        aggregator_metrics=4_000, swarm_agents=100, swarm_interval_s=0.4,
        swarm_silent=10, swarm_history_fill=2, small_agents=50, small_interval_s=0.3,
        small_silent=5,
    ),
}
"""The sizes of each mode, by name."""


@dataclass(slots=True)
class GroupResult:
    """What one benchmark group measured.

    Attributes:
        figures: the reported numbers by key (None: not measured, and why is in details).
        details: anything a reader needs to trust the figures (sizes, checks, extra percentiles).
    """

    figures: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Return the nearest-rank ``q`` quantile (rank ``ceil(q * n)``) of sorted values.

    Raises:
        ValueError: there are no values.
    """
    if not ordered:
        raise ValueError("a percentile needs at least one value")
    rank = max(1, math.ceil(Fraction(repr(float(q))) * len(ordered)))
    return ordered[rank - 1]


def rss_mb() -> float:
    """Return this process's resident set size (``VmRSS``), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS line in /proc/self/status")


def durations(count: int, seed: int = 7) -> list[float]:
    """Return ``count`` skewed (lognormal) task durations in ms: median 55 ms, p99 about 900 ms."""
    draw = random.Random(seed).lognormvariate
    return [draw(4.0, 1.2) for _ in range(count)]


def deep_size_mb(root: object) -> float:
    """Return the memory of ``root`` and everything it references (not classes or code), in MiB."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | ModuleType | FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total / 2**20


class FullCollections:
    """Counts and times the cyclic garbage collector's full (generation 2) collections.

    A full collection stops every thread; use as a context manager around a measurement.
    """

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000.0)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, float]:
        """How many full collections ran, and their longest and total pause (ms)."""
        return {
            "full_gc_collections": len(self.pauses_ms),
            "full_gc_max_ms": max(self.pauses_ms, default=0.0),
            "full_gc_total_ms": sum(self.pauses_ms),
        }
