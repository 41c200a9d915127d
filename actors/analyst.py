"""The analyst: stuck and slow tasks, lasting shifts, outliers among peers, profiles and cost.

It runs the detectors of :mod:`actors.analytics` over what the swarm reports and
says what it finds as :class:`~messages.Alert` events to the reporter (which routes
alerts like any other). It never blocks anyone: it is told, and its timers tell it.

Each kind of finding (:meth:`Analyst._findings`) is an alert of its own, named in
:data:`FINDING_ALERTS`: raised at the evaluation (every ``evaluate_s``, on the
analyst's clock) that first finds it, once per agent and kind while it lasts, and
resolved (an ``Alert`` whose metadata has ``ends_at``) at the first evaluation that no
longer does.
"""

from __future__ import annotations

import bisect
import logging
import math
import statistics
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import pykka

from actors.analytics.cost import task_cost
from actors.analytics.requests import (
    AgentJoined,
    AgentLeft,
    CheckStuck,
    Evaluate,
    GetCost,
    GetFindings,
    GetInFlight,
    GetInFlightCounts,
    GetProfiles,
    Observed,
)
from actors.analytics.robust import RecentWindow, peer_outliers
from actors.analytics.state import MAX_IN_FLIGHT, AgentAnalysis, AnalystState, InFlight
from actors.analytics.stuck import stuck_after
from actors.kernel.clock import Clock
from actors.kernel.supervision import SupervisedActor
from actors.pending import ServiceStarted
from messages import (
    DEFAULT_KIND,
    AgentMetric,
    Alert,
    AlertSeverity,
    Crash,
    TaskMetric,
    TaskStarted,
)
from storage.rows import TaskColumns

__all__ = ["FINDING_ALERTS", "Analyst", "Finding"]

logger = logging.getLogger("swarmpulse.analyst")

DETAILED_PER_BATCH = 128
"""Tasks of one drained batch the per-task detectors see; a bigger batch is sampled evenly."""

FINDING_ALERTS: Final = {
    "Bottleneck": AlertSeverity.WARNING,        # one agent holds most of the swarm's task time
    "SlowerThanPeers": AlertSeverity.WARNING,   # p95 at least 2 x its role peers' median
    "LongestQueue": AlertSeverity.INFO,         # the longest queue_depth reported (a ranking)
    "MostlyInLLMCalls": AlertSeverity.INFO,     # half its task time or more in LLM calls
    "MostlyInTools": AlertSeverity.INFO,        # ... in tools
    "MostlyWaiting": AlertSeverity.INFO,        # ... waiting
    "TopSpender": AlertSeverity.INFO,           # one agent spent most of the cost (as Bottleneck)
}
"""Each kind of finding's alertname and severity: warning for a bottleneck, info for
rankings (someone always has the longest queue) and where the time goes. The cost
summary is always a finding, and a TopSpender alert only when one agent holds most of
it, as a Bottleneck holds most of the task time."""
_PART_ALERTS: Final = {"llm": "MostlyInLLMCalls", "tool": "MostlyInTools", "wait": "MostlyWaiting"}


class _Finish(NamedTuple):
    """A finished task as the detectors read it (from a TaskMetric or a stored row)."""

    task_id: str
    agent_id: str
    duration_ms: float
    result: str
    timestamp: float
    metadata: dict[str, Any]


class _PeerP95:
    """Each role's recent p95s, sorted once, so that every agent's peer median is a lookup.

    (Asking for it agent by agent over every profile made the findings quadratic in the
    number of agents: seconds at 10,000, on the analyst's thread.)
    """

    def __init__(self, profiles: Mapping[str, Mapping[str, Any]]) -> None:
        by_role: dict[str, list[float]] = {}
        for profile in profiles.values():
            if profile["role"] is not None and profile["p95_recent_ms"]:
                by_role.setdefault(profile["role"], []).append(profile["p95_recent_ms"])
        self._sorted = {role: sorted(values) for role, values in by_role.items()}

    def median_of_others(self, role: str, mine: float, min_peers: int) -> float | None:
        """The median of the role's p95s without one of ``mine`` (None: fewer than ``min_peers``)."""
        values = self._sorted.get(role, [])
        i = bisect.bisect_left(values, mine)
        present = i < len(values) and values[i] == mine
        n = len(values) - (1 if present else 0)
        if n < min_peers or n == 0:
            return None

        def at(j: int) -> float:  # the j-th of the others, in order
            return values[j + 1] if present and j >= i else values[j]

        mid = n // 2
        return at(mid) if n % 2 else (at(mid - 1) + at(mid)) / 2.0


def _holds_most(share: float, agents: int) -> bool:
    """Whether one agent's ``share`` of the swarm's task time (or cost) is a bottleneck: half,
    or twice a fair share in a big swarm, and well past a fair share in a small one (of two
    agents sharing evenly, neither is)."""
    return share >= min(0.5, 2.0 / agents) and share > 1.5 / agents


def Finding(text: str, alertname: str = "", **numbers: float | str) -> dict[str, Any]:  # noqa: N802
    """A plain-language finding with the numbers behind it, and the alert it raises."""
    return {"text": text, "numbers": numbers, "alertname": alertname}


class Analyst(SupervisedActor):
    """Finds stuck, slow, regressing and outlying agents; profiles them; prices their tasks.

    Accepts :class:`TaskStarted`, :class:`TaskMetric` (one, or :class:`Observed` batches),
    :class:`AgentMetric` (``queue_depth`` is kept), :class:`AgentJoined`,
    :class:`AgentLeft`, its own :class:`CheckStuck` and :class:`Evaluate`, and answers
    :class:`GetFindings`, :class:`GetProfiles`, :class:`GetInFlight`, :class:`GetInFlightCounts`
    and :class:`GetCost`.
    Sends :class:`Alert` to ``alerts`` (the reporter's ref, or a callable giving it).
    """

    kind = "analyst"

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any] | None,
        state: AnalystState,
        clock: Clock,
        alerts: Any,
    ) -> None:
        super().__init__(supervisor=supervisor)
        self.state = state
        self.clock = clock
        self._alerts = alerts
        self._timer: Any = None

    def on_start(self) -> None:
        """Re-arm the stuck timers of tasks in flight, and the minute timer."""
        ref = self.actor_ref
        self._timer = self.clock.call_every(self.state.settings.evaluate_s,
                                            lambda: ref.tell(Evaluate()))
        for agent in self.state.agents.values():
            for task in agent.in_flight.values():
                if not task.stuck and task.limit_s is not None:
                    self._arm(agent.agent_id, task)

    def on_stop(self) -> None:
        """Cancel the timers (they are re-armed by the next incarnation)."""
        if self._timer is not None:
            self._timer.cancel()
        for agent in self.state.agents.values():
            for task in agent.in_flight.values():
                if task.timer is not None:
                    task.timer.cancel()
                    task.timer = None

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Observed(tasks=TaskColumns() as columns, counted=counted):
                self._observed(columns, counted)
            case Observed(tasks=tuple() as tasks):
                for task in tasks:
                    self._finished(task)
            case TaskMetric():
                self._finished(message)
            case ServiceStarted():
                pass  # it finds the reporter through a callable: nothing to readdress
            case TaskStarted():
                self._started(message)
            case AgentMetric(metric_type="queue_depth"):
                agent = self.state.agents.get(message.agent_id)
                if agent is not None:
                    agent.queue_depth = message.value
            case AgentMetric():
                pass
            case AgentJoined(agent_id=agent_id, at=at, role=role):
                agent = self.state.agents.get(agent_id)
                if agent is None:
                    self.state.agents[agent_id] = AgentAnalysis(agent_id, registered_at=at, role=role)
                elif role is not None:
                    agent.role = role
            case AgentLeft(agent_id=agent_id):
                self._left(agent_id)
            case CheckStuck(agent_id=agent_id, task_id=task_id, generation=generation):
                self._check_stuck(agent_id, task_id, generation)
            case Evaluate():
                self._evaluate()
            case GetFindings():
                return self._findings()
            case GetProfiles():
                return self._profiles()
            case GetInFlight(agent_id=agent_id):
                return self._in_flight(agent_id)
            case GetInFlightCounts():
                return {a.agent_id: (len(a.in_flight), sum(t.stuck for t in a.in_flight.values()))
                        for a in self.state.agents.values() if a.in_flight}
            case GetCost():
                return self._cost()
            case Crash(reason=reason):
                raise RuntimeError(f"analyst: {reason}")
            case _:
                return self.unknown(message)
        return None

    # -- tasks ------------------------------------------------------------------------

    def _agent(self, agent_id: str, at: float) -> AgentAnalysis:
        agent = self.state.agents.get(agent_id)
        if agent is None:  # metrics of an agent that never registered still count
            agent = self.state.agents[agent_id] = AgentAnalysis(agent_id, registered_at=at)
        return agent

    def _started(self, message: TaskStarted) -> None:
        agent = self._agent(message.agent_id, message.timestamp)
        old = agent.in_flight.pop(message.task_id, None)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        if len(agent.in_flight) >= MAX_IN_FLIGHT:
            oldest = next(iter(agent.in_flight))
            dropped = agent.in_flight.pop(oldest)
            if dropped.timer is not None:
                dropped.timer.cancel()
            agent.forgotten_in_flight += 1
        kind = message.kind or DEFAULT_KIND
        stats = agent.kinds.get(kind)
        self.state.generation += 1
        task = InFlight(task_id=message.task_id, kind=kind, started=message.timestamp,
                        limit_s=stuck_after(kind, stats, self.state.settings.stuck),
                        generation=self.state.generation)
        agent.in_flight[message.task_id] = task
        if task.limit_s is not None:
            self._arm(agent.agent_id, task)

    def _arm(self, agent_id: str, task: InFlight, factor: float = 1.0) -> None:
        assert task.limit_s is not None
        running = max(0.0, self.clock.time() - task.started)
        delay = task.limit_s * factor - running
        ref = self.actor_ref
        check = CheckStuck(agent_id=agent_id, task_id=task.task_id, generation=task.generation)
        if delay <= 0.0:
            # already past it (a start reported late, or a restart): judged next in the
            # inbox, not at the clock's next tick, which a manual clock might never give
            task.timer = None
            ref.tell(check)
            return
        task.timer = self.clock.call_later(delay, lambda: ref.tell(check))

    def _check_stuck(self, agent_id: str, task_id: str, generation: int) -> None:
        agent = self.state.agents.get(agent_id)
        task = agent.in_flight.get(task_id) if agent is not None else None
        if task is None or task.generation != generation or task.limit_s is None:
            return  # finished, or a newer start of the same id
        running = max(0.0, self.clock.time() - task.started)
        if not task.stuck:
            task.stuck = True
            self.state.stuck_tasks += 1
            self._alert(agent_id, AlertSeverity.WARNING, "TaskStuck",
                        f"task {task_id} ({task.kind}) of {agent_id} has run {running:.1f} s, "
                        f"past its limit of {task.limit_s:.1f} s",
                        task_id=task_id, kind=task.kind, running_s=round(running, 3),
                        limit_s=round(task.limit_s, 3))
            self._arm(agent_id, task, factor=2.0)
        elif not task.reminded:
            task.reminded = True
            self._alert(agent_id, AlertSeverity.WARNING, "TaskStillStuck",
                        f"task {task_id} ({task.kind}) of {agent_id} is still running after "
                        f"{running:.1f} s (twice its limit)",
                        task_id=task_id, kind=task.kind, running_s=round(running, 3))

    def _finished(self, metric: TaskMetric) -> None:
        self._finish(metric.task_id, metric.agent_id, metric.duration_ms, metric.result.value,
                     metric.timestamp, metric.metadata)

    def _observed(self, columns: TaskColumns, counted: Mapping[str, tuple[int, float]] | None) -> None:
        """A drained batch: every task counted and priced, the detectors on a sample.

        ``counted`` (the aggregator's per-agent task counts and time, from the summaries
        it made anyway) spares a pass over the rows. Tasks with metadata are priced and
        their times added, tasks in flight ended, each one; the slow-task, shift and
        outlier detectors see every task of a batch up to :data:`DETAILED_PER_BATCH`,
        and a uniform sample of a bigger one (so a burst costs the hot path nothing).
        """
        task_ids, agent_ids, durations = columns.task_ids, columns.agent_ids, columns.durations
        results, timestamps, metadata = columns.results, columns.timestamps, columns.metadata
        n = len(task_ids)
        if not n:
            return
        if counted is None:
            sums: dict[str, list[float]] = {}
            for agent_id, duration in zip(agent_ids, durations, strict=True):
                entry = sums.setdefault(agent_id, [0, 0.0])
                entry[0] += 1
                entry[1] += duration
            counted = {a: (int(c), t) for a, (c, t) in sums.items()}
        first = timestamps[0]
        for agent_id, (count, total_ms) in counted.items():
            agent = self._agent(agent_id, first)
            agent.tasks += count
            agent.busy_ms += total_ms
        described = [i for i, m in enumerate(metadata) if m]
        for i in described:
            self._account(self._agent(agent_ids[i], timestamps[i]), metadata[i] or {}, count=False,
                          at=timestamps[i])
        if self.state.settings.prices:
            self.state.unpriced_tasks += n - len(described)
        step = max(1, n // DETAILED_PER_BATCH)
        chosen = set(range(0, n, step))
        flying = {t for a in self.state.agents.values() for t in a.in_flight}
        if flying:
            chosen.update(i for i, t in enumerate(task_ids) if t in flying)
        for i in sorted(chosen):
            self._finish(task_ids[i], agent_ids[i], durations[i], results[i], timestamps[i],
                         metadata[i] or {}, account=False)

    def _account(self, agent: AgentAnalysis, metadata: Mapping[str, Any], *, count: bool = True,
                 duration_ms: float = 0.0, at: float = 0.0) -> None:
        """Count one task (unless counted already), its time in LLM calls/tools/waiting, its cost
        (and the budget's, by the minute of ``at``)."""
        if count:
            agent.tasks += 1
            agent.busy_ms += duration_ms
        if metadata:
            agent.add_times(dict(metadata))
        prices = self.state.settings.prices
        if prices:
            cost = task_cost(metadata, prices)
            if cost is None:
                self.state.unpriced_tasks += 1
            else:
                agent.cost += cost
                agent.priced_tasks += 1
                budget = self.state.settings.cost_budget
                if budget is not None and budget.enabled:
                    budget.add(agent.agent_id, at, cost)

    def _finish(self, task_id: str, agent_id: str, duration_ms: float, result: str,
                timestamp: float, metadata: dict[str, Any], *, account: bool = True) -> None:
        """One finished task: its start's end, its cost (with ``account``), and the detectors."""
        metric = _Finish(task_id, agent_id, duration_ms, result, timestamp, metadata)
        agent = self._agent(metric.agent_id, metric.timestamp)
        started = agent.in_flight.pop(metric.task_id, None)
        kind = started.kind if started is not None else metric.metadata.get("kind", DEFAULT_KIND)
        if not isinstance(kind, str) or not kind:
            kind = DEFAULT_KIND
        if started is not None:
            if started.timer is not None:
                started.timer.cancel()
            if started.stuck:
                self._alert(metric.agent_id, AlertSeverity.INFO, "TaskStuckFinished",
                            f"stuck task {metric.task_id} ({kind}) of {metric.agent_id} finished "
                            f"after {metric.duration_ms / 1000:.1f} s ({metric.result})",
                            task_id=metric.task_id, kind=kind,
                            duration_s=round(metric.duration_ms / 1000, 3))
        duration = metric.duration_ms
        failed = metric.result != "success"
        if account:
            self._account(agent, metric.metadata, duration_ms=duration, at=metric.timestamp)
        agent.recent.add(duration)
        agent.recent_failures = ((agent.recent_failures << 1) | failed) & ((1 << 200) - 1)
        agent.recent_count += 1
        event = agent.kind_stats(kind).observe(duration)
        if event is not None:
            what, incident = event
            if what == "opened":
                self.state.slow_incidents += 1
                self._alert(metric.agent_id, AlertSeverity.WARNING, "SlowTasks",
                            f"{metric.agent_id}: {kind} task {metric.task_id} took "
                            f"{duration:.0f} ms, {duration / incident.median_ms:.1f}x its median "
                            f"of {incident.median_ms:.0f} ms", kind=kind,
                            duration_ms=round(duration, 3), median_ms=round(incident.median_ms, 3),
                            z=round(incident.worst_z, 2))
            else:
                self._alert(metric.agent_id, AlertSeverity.INFO, "SlowTasksEnded",
                            f"{metric.agent_id}: {kind} tasks back to normal after "
                            f"{incident.count} slow one(s)", kind=kind, slow_tasks=incident.count)
        self._minute(agent, metric.timestamp, duration, failed)

    def _minute(self, agent: AgentAnalysis, at: float, duration: float | None, failed: bool) -> None:
        index = int(at // 60)
        minute = agent.minute
        if minute.index != index:
            if minute.index >= 0 and minute.tasks:
                self._close_minute(agent)
            minute.index = index
            minute.durations = RecentWindow(256)
            minute.tasks = minute.failures = 0
        if duration is not None:
            minute.durations.add(duration)
            minute.tasks += 1
            minute.failures += failed

    def _close_minute(self, agent: AgentAnalysis) -> None:
        minute = agent.minute
        p95 = minute.durations.percentile(95.0)
        if agent.p95_shift.update(p95):
            self.state.regressions += 1
            self._alert(agent.agent_id, AlertSeverity.WARNING, "DurationRegression",
                        f"{agent.agent_id}: task p95 shifted up to {p95:.0f} ms and stayed "
                        f"(Page-Hinkley)", p95_ms=round(p95, 3))
        rate = minute.failures / minute.tasks
        if agent.failure_shift.update(rate):
            self.state.regressions += 1
            self._alert(agent.agent_id, AlertSeverity.WARNING, "FailureRegression",
                        f"{agent.agent_id}: failure rate shifted up to {rate:.0%} and stayed "
                        f"(Page-Hinkley)", failure_rate=round(rate, 4))

    def _left(self, agent_id: str) -> None:
        agent = self.state.agents.pop(agent_id, None)
        if agent is None:
            return
        for task in agent.in_flight.values():
            if task.timer is not None:
                task.timer.cancel()

    # -- the minute's evaluation -------------------------------------------------------

    def _evaluate(self) -> None:
        now = self.clock.time()
        index = int(now // 60)
        by_role: dict[str, dict[str, float]] = {}
        for agent in self.state.agents.values():
            if agent.minute.index >= 0 and agent.minute.index < index and agent.minute.tasks:
                self._close_minute(agent)
                agent.minute.tasks = agent.minute.failures = 0
                agent.minute.index = index
            if agent.role is not None and len(agent.recent) >= 20:
                by_role.setdefault(agent.role, {})[agent.agent_id] = agent.recent.percentile(95.0)
        flagged: set[str] = set()
        for role, peers in by_role.items():
            found = peer_outliers(peers, min_peers=self.state.settings.outlier_min_peers)
            for agent_id, z in found.items():
                flagged.add(agent_id)
                agent = self.state.agents[agent_id]
                if agent.outlier:
                    continue
                agent.outlier = True
                self.state.outliers += 1
                others = [v for k, v in peers.items() if k != agent_id]
                median = statistics.median(others)
                self._alert(agent_id, AlertSeverity.WARNING, "OutlierAgent",
                            f"{agent_id}: p95 {peers[agent_id]:.0f} ms is "
                            f"{peers[agent_id] / median:.1f}x the median of its {len(others)} "
                            f"{role} peers ({median:.0f} ms)", role=role,
                            p95_ms=round(peers[agent_id], 3), peers_median_ms=round(median, 3),
                            z=round(z, 2) if math.isfinite(z) else None)  # inf: peers all equal
        for agent in self.state.agents.values():
            if agent.outlier and agent.agent_id not in flagged:
                agent.outlier = False
                self._alert(agent.agent_id, AlertSeverity.WARNING, "OutlierAgent",
                            f"resolved: {agent.agent_id} is no longer an outlier among its peers",
                            ends_at=now)
        self._finding_alerts(now)
        self._cost_budget(now)

    def _cost_budget(self, now: float) -> None:
        """CostBudgetExceeded, raised or resolved as the budget's rule says at ``now``."""
        budget = self.state.settings.cost_budget
        if budget is None or not budget.enabled:
            return
        for change in budget.evaluate(now):
            labels, notes = change.labels, change.annotations
            numbers: dict[str, Any] = {"spent": float(notes["spent"]), "budget": budget.budget,
                                       "per_hour": budget.per_hour, "window_s": budget.window}
            text = notes["summary"]
            if change.ends_at is not None:
                numbers["ends_at"] = change.ends_at
                text = f"resolved: {text}"
            self._alert(labels["agent_id"], AlertSeverity(labels["severity"]), "CostBudgetExceeded",
                        text, **numbers)

    def _finding_alerts(self, now: float) -> None:
        """Raise an alert for each finding new since the last evaluation, resolve the gone ones.

        One alert per (alertname, agent) while it lasts; its numbers in the metadata.
        """
        firing = self.state.finding_alerts
        seen: set[tuple[str, str]] = set()
        for finding in self._findings():
            name, numbers = finding["alertname"], finding["numbers"]
            agent_id = numbers.get("agent_id")
            if name not in FINDING_ALERTS or not isinstance(agent_id, str):
                continue
            key = (name, agent_id)
            seen.add(key)
            if key in firing:
                continue
            firing[key] = finding["text"]
            self._alert(agent_id, FINDING_ALERTS[name], name, finding["text"],
                        **{k: v for k, v in numbers.items() if k != "agent_id"})
        for key in [key for key in firing if key not in seen]:
            text = firing.pop(key)
            name, agent_id = key
            self._alert(agent_id, FINDING_ALERTS[name], name, f"resolved: {text}", ends_at=now)

    # -- answers -------------------------------------------------------------------------

    def _profiles(self) -> dict[str, dict[str, Any]]:
        now = self.clock.time()
        out: dict[str, dict[str, Any]] = {}
        for agent in self.state.agents.values():
            registered_s = max(1e-9, now - agent.registered_at)
            busy = min(1.0, agent.busy_ms / 1000.0 / registered_s)
            spent = {f"{name}_share": (ms / agent.busy_ms if agent.busy_ms else None)
                     for name, ms in agent.spent_ms.items()}
            out[agent.agent_id] = {
                "role": agent.role, "tasks": agent.tasks, "busy_share": busy,
                "idle_share": 1.0 - busy, "throughput_per_min": agent.tasks / registered_s * 60.0,
                "busy_ms": agent.busy_ms, **spent, "queue_depth": agent.queue_depth,
                "in_flight": len(agent.in_flight), "cost": agent.cost,
                "p95_recent_ms": agent.recent.percentile(95.0) if len(agent.recent) else None,
                "failure_rate_recent": None if agent.recent_count == 0 else agent.failure_rate(),
            }
        return out

    def _findings(self) -> list[dict[str, Any]]:
        profiles = self._profiles()
        peers = _PeerP95(profiles)
        findings: list[dict[str, Any]] = []
        total_busy = sum(p["busy_ms"] for p in profiles.values())
        if len(profiles) >= 2 and total_busy > 0:
            top_id = max(profiles, key=lambda a: (profiles[a]["busy_ms"], a))
            share = profiles[top_id]["busy_ms"] / total_busy
            if _holds_most(share, len(profiles)):
                text = f"{top_id} spends {share:.0%} of the swarm's task time"
                ratio = self._peer_ratio(top_id, profiles, peers)
                if ratio is not None and ratio >= 1.5:
                    text += f"; its p95 is {ratio:.1f}x its peers'"
                findings.append(Finding(text, "Bottleneck", agent_id=top_id, share=round(share, 4),
                                        **({"p95_vs_peers": round(ratio, 2)} if ratio else {})))
        named = {f["numbers"]["agent_id"] for f in findings}  # a set: linear in the agents
        for agent_id, profile in sorted(profiles.items()):
            ratio = self._peer_ratio(agent_id, profiles, peers)
            if ratio is not None and ratio >= 2.0 and agent_id not in named:
                findings.append(Finding(f"{agent_id} is the slowest of its {profile['role']} peers: "
                                        f"its p95 is {ratio:.1f}x theirs", "SlowerThanPeers",
                                        agent_id=agent_id, role=profile["role"],
                                        p95_ms=round(profile["p95_recent_ms"], 3),
                                        p95_vs_peers=round(ratio, 2)))
        queues = {a: p["queue_depth"] for a, p in profiles.items() if p["queue_depth"]}
        if queues:
            worst = max(queues, key=lambda a: (queues[a], a))
            findings.append(Finding(f"{worst} has the longest queue: {queues[worst]:g} waiting",
                                    "LongestQueue", agent_id=worst, queue_depth=queues[worst]))
        for agent_id, profile in sorted(profiles.items()):
            for name in ("llm", "tool", "wait"):
                share = profile.get(f"{name}_share")
                if share is not None and share >= 0.5:
                    label = {"llm": "in LLM calls", "tool": "in tools", "wait": "waiting"}[name]
                    findings.append(Finding(f"{agent_id} spends {share:.0%} of its task time {label}",
                                            _PART_ALERTS[name], agent_id=agent_id,
                                            share=round(share, 4), part=name))
        cost = self._cost()
        if cost["total"] > 0:
            top = max(cost["by_agent"], key=lambda a: (cost["by_agent"][a], a))
            spent = cost["by_agent"][top] / cost["total"]
            findings.append(Finding(
                f"the swarm's tasks cost {cost['total']:.4f} {cost['currency']}; "
                f"{top} spent {spent:.0%} of it", "TopSpender" if _holds_most(spent, len(profiles)) else "",
                total=round(cost["total"], 6), agent_id=top,
                agent_cost=round(cost["by_agent"][top], 6)))
        return findings

    def _peer_ratio(self, agent_id: str, profiles: dict[str, dict[str, Any]],
                    peers: _PeerP95) -> float | None:
        me = profiles[agent_id]
        if me["role"] is None or me["p95_recent_ms"] is None:
            return None
        median = peers.median_of_others(me["role"], me["p95_recent_ms"],
                                        self.state.settings.outlier_min_peers)
        return me["p95_recent_ms"] / median if median is not None and median > 0 else None

    def _in_flight(self, agent_id: str | None) -> dict[str, list[dict[str, Any]]]:
        now = self.clock.time()
        agents = ([self.state.agents[agent_id]] if agent_id in self.state.agents else []) \
            if agent_id is not None else list(self.state.agents.values())
        return {
            a.agent_id: [
                {"task_id": t.task_id, "kind": t.kind, "started": t.started,
                 "running_s": max(0.0, now - t.started), "limit_s": t.limit_s, "stuck": t.stuck}
                for t in a.in_flight.values()
            ]
            for a in agents
        }

    def _cost(self) -> dict[str, Any]:
        by_agent = {a.agent_id: a.cost for a in self.state.agents.values() if a.priced_tasks}
        return {"total": math.fsum(by_agent.values()), "by_agent": by_agent,
                "currency": self.state.settings.currency,
                "priced_tasks": sum(a.priced_tasks for a in self.state.agents.values()),
                "unpriced_tasks": self.state.unpriced_tasks}

    # -- saying it -----------------------------------------------------------------------

    def _alert(self, agent_id: str, severity: AlertSeverity, name: str, message: str,
               **numbers: Any) -> None:
        self.state.alerts += 1
        alert = Alert(agent_id=agent_id, severity=severity, message=message,
                      at=self.clock.time(), metadata={"alertname": name, **numbers})
        target = self._alerts() if callable(self._alerts) else self._alerts
        try:
            target.tell(alert)
        except pykka.ActorDeadError:  # the reporter is restarting: the alert is logged, not lost silently
            logger.warning("analyst alert not delivered (reporter restarting): %s", message)
