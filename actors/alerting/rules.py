"""Rules over task metrics: an agent's failure rate and p95 task duration over a sliding window.

Constant memory per stream: figures are kept per minute (``task timestamp // 60``)
and only the buckets inside the window are kept (a bucket counts while any of
its minute is inside the window).

* ``HighFailureRate`` fires when, over the last ``window`` seconds, an agent
  finished at least ``min_tasks`` tasks and at least ``threshold`` of them
  failed (``failure`` or ``timeout``); it resolves when that no longer holds.
* ``CostBudgetExceeded`` fires when, over the last ``window`` seconds, the swarm's
  priced tasks (or, with ``per_agent``, one agent's) cost more than ``per_hour``
  times the window in hours; it resolves when that no longer holds. Costs come from
  the price table (``start_system(prices=...)``), a sum per minute. The analyst
  keeps this rule (it prices the tasks) and evaluates it at its minute, so the alert
  goes through the reporter like its findings: stored, counted, in the report.
* ``HighTaskDuration`` fires when, over the last ``window`` seconds, an agent
  (or, with ``per_kind``, one kind of task of an agent: the finish's
  ``metadata["kind"]``, as ``SwarmSystem.task`` records it) finished at least
  ``min_tasks`` tasks and their p95 duration is above ``threshold``; it
  resolves when that no longer holds. Durations are kept as
  :class:`storage.LogHistogram` buckets (1% wide) per minute, so the p95 is
  within 0.5% of the exact one.

:func:`task_outcomes` turns one batch of the aggregator's task rows into the
:class:`~actors.alerting.protocol.TaskOutcomes` both rules take.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors.alerting.protocol import TaskOutcomes
from messages import DEFAULT_KIND
from messages.alerting import AlertInstance
from storage import LogHistogram

__all__ = ["FAILED_RESULTS", "CostBudget", "DurationP95", "FailureRate", "task_outcomes"]

FAILED_RESULTS = frozenset({"failure", "timeout"})


@dataclass
class FailureRate:
    """Per-agent minute buckets of (tasks, failures) and the alerts they raise."""

    window: float = 300.0
    threshold: float = 0.5
    min_tasks: int = 10
    severity: str = "warning"
    swarm_id: str = "swarm"
    enabled: bool = True
    buckets: dict[str, collections.OrderedDict[int, list[int]]] = field(default_factory=dict)
    firing: dict[str, float] = field(default_factory=dict)

    def add(self, counts: Mapping[tuple[str, int], tuple[int, int]]) -> None:
        """Count ``{(agent_id, minute_start): (tasks, failures)}``."""
        for (agent_id, minute), (tasks, failures) in counts.items():
            per = self.buckets.setdefault(agent_id, collections.OrderedDict())
            bucket = per.setdefault(minute, [0, 0])
            bucket[0] += tasks
            bucket[1] += failures

    def evaluate(self, now: float) -> list[AlertInstance]:
        """The alerts that start or stop firing at ``now``."""
        out = []
        start = now - self.window
        for agent_id, per in list(self.buckets.items()):
            for minute in [m for m in per if m + 60 <= start]:
                del per[minute]
            tasks = sum(b[0] for b in per.values())
            failures = sum(b[1] for b in per.values())
            bad = tasks >= self.min_tasks and failures >= self.threshold * tasks
            if bad and agent_id not in self.firing:
                self.firing[agent_id] = now
                out.append(self._alert(agent_id, now, None, failures, tasks))
            elif not bad and agent_id in self.firing:
                out.append(self._alert(agent_id, self.firing.pop(agent_id), now, failures, tasks))
            if not per:
                del self.buckets[agent_id]
        return out

    def _alert(self, agent_id: str, starts: float, ends: float | None, failures: int, tasks: int) -> AlertInstance:
        return AlertInstance(
            labels={"alertname": "HighFailureRate", "agent_id": agent_id, "swarm_id": self.swarm_id,
                    "severity": self.severity, "scope": "agent"},
            annotations={"summary": f"agent {agent_id}: {failures} of {tasks} tasks failed "
                                    f"in the last {self.window:g} s"},
            starts_at=starts, ends_at=ends,
        )


@dataclass
class DurationP95:
    """Per-stream minute histograms of task durations, and the alerts their p95 raises.

    A stream is an agent, or with ``per_kind`` an (agent, kind) pair; its key
    in :attr:`buckets` is ``(agent_id, kind)``, kind ``""`` when not per kind.
    """

    window: float = 300.0
    threshold_ms: float = 60_000.0
    min_tasks: int = 20
    per_kind: bool = False
    severity: str = "warning"
    swarm_id: str = "swarm"
    enabled: bool = False
    buckets: dict[tuple[str, str], collections.OrderedDict[int, LogHistogram]] = field(default_factory=dict)
    firing: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, durations: Mapping[tuple[str, str, int], Sequence[float]]) -> None:
        """Count ``{(agent_id, kind, minute_start): durations_ms}`` (kind ignored unless per kind)."""
        for (agent_id, kind, minute), values in durations.items():
            stream = (agent_id, kind if self.per_kind else "")
            per = self.buckets.setdefault(stream, collections.OrderedDict())
            bucket = per.get(minute)
            if bucket is None:
                bucket = per[minute] = LogHistogram()
            bucket.add_many(values)

    def evaluate(self, now: float) -> list[AlertInstance]:
        """The alerts that start or stop firing at ``now``."""
        out = []
        start = now - self.window
        for stream, per in list(self.buckets.items()):
            for minute in [m for m in per if m + 60 <= start]:
                del per[minute]
            merged = LogHistogram()
            for bucket in per.values():
                merged.merge(bucket)
            tasks = merged.count()
            p95 = merged.quantile(0.95) if tasks else 0.0
            slow = tasks >= self.min_tasks and p95 > self.threshold_ms
            if slow and stream not in self.firing:
                self.firing[stream] = now
                out.append(self._alert(stream, now, None, p95, tasks))
            elif not slow and stream in self.firing:
                out.append(self._alert(stream, self.firing.pop(stream), now, p95, tasks))
            if not per:
                del self.buckets[stream]
        return out

    def _alert(self, stream: tuple[str, str], starts: float, ends: float | None, p95: float,
               tasks: int) -> AlertInstance:
        agent_id, kind = stream
        labels = {"alertname": "HighTaskDuration", "agent_id": agent_id, "swarm_id": self.swarm_id,
                  "severity": self.severity, "scope": "agent"}
        what = f"agent {agent_id}"
        if self.per_kind:
            labels["kind"] = kind
            what += f" ({kind} tasks)"
        return AlertInstance(
            labels=labels,
            annotations={"summary": f"{what}: p95 task duration {p95 / 1000:.3g} s over {tasks} tasks "
                                    f"in the last {self.window:g} s (threshold "
                                    f"{self.threshold_ms / 1000:g} s)"},
            starts_at=starts, ends_at=ends,
        )


@dataclass
class CostBudget:
    """Per-stream minute sums of spend, and the alerts the budget raises.

    A stream is the swarm (key ``"*"``) or, with ``per_agent``, an agent.
    """

    per_hour: float
    window: float = 3600.0
    per_agent: bool = False
    severity: str = "warning"
    swarm_id: str = "swarm"
    enabled: bool = True
    buckets: dict[str, collections.OrderedDict[int, float]] = field(default_factory=dict)
    firing: dict[str, float] = field(default_factory=dict)

    @property
    def budget(self) -> float:
        """The most the window may cost."""
        return self.per_hour * self.window / 3600.0

    def add(self, agent_id: str, at: float, cost: float) -> None:
        """Count the cost of a task of ``agent_id`` finished at ``at`` (epoch s)."""
        per = self.buckets.setdefault(agent_id if self.per_agent else "*", collections.OrderedDict())
        minute = int(at // 60) * 60
        per[minute] = per.get(minute, 0.0) + cost

    def evaluate(self, now: float) -> list[AlertInstance]:
        """The alerts that start or stop firing at ``now``."""
        out = []
        start = now - self.window
        budget = self.budget
        for stream, per in list(self.buckets.items()):
            for minute in [m for m in per if m + 60 <= start]:
                del per[minute]
            spent = math.fsum(per.values())
            over = spent > budget
            if over and stream not in self.firing:
                self.firing[stream] = now
                out.append(self._alert(stream, now, None, spent))
            elif not over and stream in self.firing:
                out.append(self._alert(stream, self.firing.pop(stream), now, spent))
            if not per and stream not in self.firing:
                del self.buckets[stream]
        return out

    def _alert(self, stream: str, starts: float, ends: float | None, spent: float) -> AlertInstance:
        what = "the swarm" if stream == "*" else f"agent {stream}"
        return AlertInstance(
            labels={"alertname": "CostBudgetExceeded", "agent_id": stream, "swarm_id": self.swarm_id,
                    "severity": self.severity, "scope": "swarm" if stream == "*" else "agent"},
            annotations={"summary": f"{what} spent {spent:.4f} in the last {self.window:g} s, "
                                    f"budget {self.budget:.4f} ({self.per_hour:g} per hour)",
                         "spent": f"{spent:.6f}", "budget": f"{self.budget:.6f}"},
            starts_at=starts, ends_at=ends,
        )


def task_outcomes(columns: Any, groups: Mapping[tuple[str, int], Sequence[int]], *,
                  durations: bool, per_kind: bool) -> TaskOutcomes:
    """One batch of task rows (a :class:`storage.rows.TaskColumns` and its positions by
    (agent_id, minute_start)) as the rules take it: counts, and durations when wanted."""
    results = columns.results
    counts = {key: (len(ix), sum(1 for i in ix if results[i] in FAILED_RESULTS))
              for key, ix in groups.items()}
    taken: dict[tuple[str, str, int], list[float]] = {}
    if durations:
        values, metadata = columns.durations, columns.metadata
        for (agent_id, minute), ix in groups.items():
            if not per_kind:
                taken[(agent_id, "", minute)] = [values[i] for i in ix]
                continue
            for i in ix:
                meta = metadata[i]
                kind = meta.get("kind", DEFAULT_KIND) if meta else DEFAULT_KIND
                if not isinstance(kind, str) or not kind:
                    kind = DEFAULT_KIND
                taken.setdefault((agent_id, kind, minute), []).append(values[i])
    return TaskOutcomes(counts=counts, durations=taken)
