"""Rules over task metrics: the failure rate of an agent over a sliding window.

Constant memory per agent: counts are kept per minute (``task timestamp // 60``)
and only the buckets inside the window are kept. The alert ``HighFailureRate``
fires when, over the last ``window`` seconds, an agent finished at least
``min_tasks`` tasks and at least ``threshold`` of them failed (``failure`` or
``timeout``); it resolves when that no longer holds.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass, field

from messages.alerting import AlertInstance

__all__ = ["FAILED_RESULTS", "FailureRate"]

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
