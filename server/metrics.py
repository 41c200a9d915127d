"""``GET /metrics``: the system's state in the Prometheus text format, read at scrape time.

A custom collector (prometheus_client's "Custom Collectors"): every scrape
takes one :meth:`SwarmSystem.metrics_snapshot` and yields metric families built
from it, so nothing is kept in sync by hand and a scrape always shows the
system as it is. The registry is our own, never the process-global one.

The series (``A`` agents, ``G`` agent gauges):

=========================================================  =========  ==================
series                                                     type       series count
=========================================================  =========  ==================
``swarmpulse_agent_health{agent_id,state}``                gauge      4 A
``swarmpulse_agent_heartbeat_age_seconds{agent_id}``       gauge      A
``swarmpulse_agent_up{agent_id}`` (1 unless FAILED)        gauge      A
``swarmpulse_tasks_total{agent_id,result}``                counter    at most 5 A
``swarmpulse_tokens_total{agent_id}``                      counter    A
``swarmpulse_files_changed_total{agent_id}``               counter    A
``swarmpulse_task_duration_seconds`` (all agents)          histogram  19 (16 bounds, +Inf, sum, count)
``swarmpulse_health_transitions_total{to}``                counter    4
``swarmpulse_alerts_total{severity}``                      counter    3
``swarmpulse_pending_writes``                              gauge      1
``swarmpulse_dropped_total``                               counter    1
``swarmpulse_quarantined_total``                           counter    1
``swarmpulse_agent_metric{agent_id,metric_type}``          gauge      G
``swarmpulse_agent_phi{agent_id}`` (phi detector agents)   gauge      at most A
``swarmpulse_cost_total{agent_id}`` (priced agents)        counter    at most A
``swarmpulse_tasks_in_flight{agent_id}`` (agents with one) gauge      at most A
``swarmpulse_tasks_stuck{agent_id}`` (agents with one)     gauge      at most A
``swarmpulse_findings_total{alertname}``                   counter    one per alert name
``swarmpulse_notifications_total{receiver,integration}``   counter    I
``swarmpulse_notifications_failed_total{receiver,integration,reason}``  counter  2 I
``swarmpulse_notifications_given_up_total{receiver,integration}``  counter  I
``swarmpulse_receiver_failing{receiver,integration}``      gauge      I
=========================================================  =========  ==================

``I`` is the number of integrations of the alerting configuration (none with
alert management off); ``reason`` is ``timeout`` or ``error`` (any other failure).

The task counters and tokens are the agents' tasks since the system started
(agents that have recorded a task; counters restart with the process, as
Prometheus expects).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from actors import SwarmSystem
from actors.protocol import MetricsSnapshot
from messages import AlertSeverity, HealthState
from storage import LogHistogram

__all__ = [
    "DURATION_BUCKETS_SECONDS",
    "CONTENT_TYPE",
    "MetricsRenderer",
    "SwarmCollector",
    "metrics_registry",
    "render_metrics",
    "metrics_endpoint",
]

DURATION_BUCKETS_SECONDS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)
"""Upper bounds (seconds) of ``swarmpulse_task_duration_seconds``: a fixed subset.

Our own histogram (:class:`storage.LogHistogram`) has ~1,400 buckets 1% wide;
the export collapses them to these, each duration counted at its bucket's
representative (so one within 0.5% of a bound may land on either side of it).
"""
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""Text format 0.0.4: what we write (legacy names, no UTF-8 escaping), and what
every Prometheus reads (Debian's 2.42 predates the 1.0.0 format's media type)."""

_STATES: Final = tuple(state.value for state in HealthState)
_FAILED: Final = HealthState.FAILED.value
_SEVERITIES: Final = tuple(severity.value for severity in AlertSeverity)
_BOUNDS_MS: Final = tuple(b * 1000.0 for b in DURATION_BUCKETS_SECONDS)
_LE: Final = tuple(floatToGoString(b) for b in DURATION_BUCKETS_SECONDS)  # type: ignore[no-untyped-call]


class SwarmCollector:
    """Yields the swarmpulse metric families from one snapshot per scrape.

    Args:
        read: returns the snapshot; ``SwarmSystem.metrics_snapshot`` of the system watched.
    """

    def __init__(self, read: Callable[[], MetricsSnapshot]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        """Nothing: registering the collector must not take a snapshot."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Take a snapshot and yield every family built from it."""
        snapshot = self._read()
        for _, build in _PARTS:
            yield from build(snapshot)


def _health(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    health = GaugeMetricFamily(
        "swarmpulse_agent_health",
        "Health state of each agent: one series per state, the current one 1, the others 0.",
        labels=("agent_id", "state"),
    )
    # Samples are built directly (add_metric zips labels per call): 10,000 agents
    # make 60,000 of them, and these loops are most of a scrape's own cost.
    name, samples = health.name, health.samples
    for agent in snapshot.swarm.agents:
        agent_id = agent.agent_id
        current = agent.health_state.value
        for state in _STATES:
            samples.append(
                Sample(name, {"agent_id": agent_id, "state": state}, 1.0 if state == current else 0.0)
            )
    yield health


def _age(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    age = GaugeMetricFamily(
        "swarmpulse_agent_heartbeat_age_seconds",
        "Seconds since the agent's last heartbeat (registration counts as one).",
        labels=("agent_id",),
    )
    name, samples = age.name, age.samples
    for agent in snapshot.swarm.agents:
        samples.append(Sample(name, {"agent_id": agent.agent_id}, agent.heartbeat_age_ms / 1000.0))
    yield age


def _up(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "swarmpulse_agent_up",
        "1 while the agent is not FAILED, 0 once it is.",
        labels=("agent_id",),
    )
    name, samples = up.name, up.samples
    for agent in snapshot.swarm.agents:
        samples.append(Sample(name, {"agent_id": agent.agent_id},
                              0.0 if agent.health_state.value == _FAILED else 1.0))
    yield up


def _gauges(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    gauges = GaugeMetricFamily(
        "swarmpulse_agent_metric",
        "Latest value of each agent gauge recorded with record_agent_metric.",
        labels=("agent_id", "metric_type"),
    )
    for agent_id, metric_type, value in snapshot.tasks.gauges:
        gauges.samples.append(
            Sample(gauges.name, {"agent_id": agent_id, "metric_type": metric_type}, value)
        )
    yield gauges


def _task_counters(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    tasks = CounterMetricFamily(
        "swarmpulse_tasks", "Tasks finished, by agent and result.", labels=("agent_id", "result")
    )
    tokens = CounterMetricFamily(
        "swarmpulse_tokens", "LLM tokens the agent's tasks used.", labels=("agent_id",)
    )
    files = CounterMetricFamily(
        "swarmpulse_files_changed", "Files the agent's tasks changed.", labels=("agent_id",)
    )
    tasks_name, tokens_name, files_name = (f"{f.name}_total" for f in (tasks, tokens, files))
    for agent in snapshot.tasks.agents:
        agent_id = agent.agent_id
        for result, count in agent.results.items():
            tasks.samples.append(Sample(tasks_name, {"agent_id": agent_id, "result": result}, count))
        labels = {"agent_id": agent_id}
        tokens.samples.append(Sample(tokens_name, labels, agent.tokens))
        files.samples.append(Sample(files_name, labels, agent.files))
    yield tasks
    yield tokens
    yield files


def _durations(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    totals = snapshot.tasks
    histogram = LogHistogram()
    histogram.bins = dict(totals.duration_bins)
    histogram.zero_count = totals.duration_zero
    counts = histogram.cumulative(_BOUNDS_MS)
    yield HistogramMetricFamily(
        "swarmpulse_task_duration_seconds",
        "Task durations of every agent, from swarmpulse's log-bucket histogram (1% buckets).",
        buckets=[*zip(_LE, counts), ("+Inf", totals.duration_count)],
        sum_value=totals.duration_sum_ms / 1000.0,
    )


def _analysis_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    phi = GaugeMetricFamily(
        "swarmpulse_agent_phi",
        "Suspicion of each agent with the phi detector: -log10 of the chance its next beat "
        "is still coming (FAILED at the threshold, 8 by default).",
        labels=("agent_id",),
    )
    for agent_id, value in snapshot.phi.items():
        phi.samples.append(Sample(phi.name, {"agent_id": agent_id}, value))
    yield phi
    cost = CounterMetricFamily(
        "swarmpulse_cost",
        "Cost of each agent's priced tasks so far, from the price table (tokens in and out).",
        labels=("agent_id",),
    )
    for agent_id, value in snapshot.cost.items():
        cost.add_metric((agent_id,), value)
    yield cost
    flying = GaugeMetricFamily(
        "swarmpulse_tasks_in_flight",
        "Tasks started and not finished, per agent that has one.",
        labels=("agent_id",),
    )
    stuck = GaugeMetricFamily(
        "swarmpulse_tasks_stuck",
        "Tasks in flight past their stuck limit, per agent that has one.",
        labels=("agent_id",),
    )
    for agent_id, (tasks, stuck_tasks) in snapshot.in_flight.items():
        flying.add_metric((agent_id,), tasks)
        if stuck_tasks:
            stuck.add_metric((agent_id,), stuck_tasks)
    yield flying
    yield stuck
    findings = CounterMetricFamily(
        "swarmpulse_findings",
        "Alerts raised since start by their alertname: the detectors' findings (TaskStuck, "
        "SlowTasks, OutlierAgent, DurationRegression, AgentAtRisk, ...) and the others named so.",
        labels=("alertname",),
    )
    for name, count in sorted(snapshot.alert_names.items()):
        findings.add_metric((name,), count)
    yield findings


def _notification_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    labels = ("receiver", "integration")
    attempts = CounterMetricFamily(
        "swarmpulse_notifications", "Notification attempts, by receiver and integration.", labels=labels)
    failed = CounterMetricFamily(
        "swarmpulse_notifications_failed",
        "Notification attempts that did not get through, by reason (timeout or error).",
        labels=(*labels, "reason"))
    given_up = CounterMetricFamily(
        "swarmpulse_notifications_given_up",
        "Notices dropped undelivered (their integration left the configuration).", labels=labels)
    failing = GaugeMetricFamily(
        "swarmpulse_receiver_failing",
        "1 while the integration's ReceiverFailing alert fires, else 0.", labels=labels)
    for r in snapshot.receivers:
        key = (r.receiver, r.integration)
        attempts.add_metric(key, r.attempts)
        failed.add_metric((*key, "timeout"), r.timeouts)
        failed.add_metric((*key, "error"), r.failures - r.timeouts)
        given_up.add_metric(key, r.given_up)
        failing.add_metric(key, 1.0 if r.failing else 0.0)
    yield attempts
    yield failed
    yield given_up
    yield failing


def _system_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    transitions = CounterMetricFamily(
        "swarmpulse_health_transitions",
        "Health transitions of any agent, by the state moved to.",
        labels=("to",),
    )
    for state in _STATES:
        transitions.add_metric((state,), snapshot.transitions.get(state, 0))
    yield transitions
    alerts = CounterMetricFamily("swarmpulse_alerts", "Alerts raised, by severity.", labels=("severity",))
    for severity in _SEVERITIES:
        alerts.add_metric((severity,), snapshot.alerts.get(severity, 0))
    yield alerts
    yield GaugeMetricFamily(
        "swarmpulse_pending_writes",
        "Metrics and events accepted but not yet committed to SQLite.",
        value=snapshot.pending_writes,
    )
    yield CounterMetricFamily(
        "swarmpulse_dropped",
        "Metrics and events dropped because a bounded buffer was full.",
        value=snapshot.dropped,
    )
    yield CounterMetricFamily(
        "swarmpulse_quarantined",
        "Rows the storage could not write, kept aside with their error.",
        value=snapshot.quarantined,
    )


def _states(snapshot: MetricsSnapshot) -> list[tuple[str, HealthState]]:
    return [(agent.agent_id, agent.health_state) for agent in snapshot.swarm.agents]


def _task_totals(snapshot: MetricsSnapshot) -> list[Any]:
    return snapshot.tasks.agents  # fresh frozen structs per snapshot (their dicts are copies)


def _gauge_values(snapshot: MetricsSnapshot) -> list[tuple[str, str, float]]:
    return snapshot.tasks.gauges  # a fresh list per snapshot


_Part = tuple[Callable[[MetricsSnapshot], Any] | None, Callable[[MetricsSnapshot], Iterator[Metric]]]
_PARTS: Final[tuple[_Part, ...]] = (
    (_states, _health),
    (None, _age),  # changes with every scrape
    (_states, _up),
    (_gauge_values, _gauges),
    (_task_totals, _task_counters),
    (None, _durations),
    (None, _system_families),
    (None, _analysis_families),
    (None, _notification_families),
)
"""The families in exposition order: what each one's text depends on (None: it is
rendered every time), and how it is built from a snapshot."""


class _Families:
    """A collector of given families, for :func:`generate_latest` to render."""

    def __init__(self, families: Iterator[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return self._families


class MetricsRenderer:
    """The exposition of one system, each family rendered by prometheus_client only when it changed.

    Every render takes one snapshot. A family whose inputs equal those of the
    last render (the health states of the agents, their task counters, their
    gauges) reuses the text :func:`prometheus_client.generate_latest` wrote for
    it then; the others are built and rendered again, by the same function. The
    text is what :func:`render_metrics` writes for the same snapshot. At 10,000
    agents that is about 100,000 samples, each costing prometheus_client some
    microseconds to write; a quiet swarm's scrape renders only the ages again.

    Args:
        read: returns the snapshot; ``SwarmSystem.metrics_snapshot`` of the system watched.
    """

    def __init__(self, read: Callable[[], MetricsSnapshot]) -> None:
        self._read = read
        self._texts: dict[int, tuple[Any, bytes]] = {}
        self.reused = 0
        """Families whose text was reused, over every render."""

    def render(self) -> bytes:
        """The exposition text of a fresh snapshot (blocking: asks the actors)."""
        enabled = gc.isenabled()
        gc.disable()  # see render_metrics
        try:
            snapshot = self._read()
            parts = []
            for index, (inputs_of, build) in enumerate(_PARTS):
                inputs = None if inputs_of is None else inputs_of(snapshot)
                kept = self._texts.get(index)
                if inputs is not None and kept is not None and kept[0] == inputs:
                    self.reused += 1
                    parts.append(kept[1])
                    continue
                text = generate_latest(_Families(build(snapshot)))
                if inputs is not None:
                    self._texts[index] = (inputs, text)
                parts.append(text)
            return b"".join(parts)
        finally:
            if enabled:
                gc.enable()


def metrics_registry(system: SwarmSystem) -> CollectorRegistry:
    """A registry of its own (not the process-global one) holding the system's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SwarmCollector(system.metrics_snapshot))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The exposition text of every collector in ``registry`` (blocking: asks the actors).

    The cyclic garbage collector is paused meanwhile: a scrape of 10,000 agents
    makes over a million short-lived objects (none in a cycle), which set off
    full collections over the whole system's objects, up to 300 ms of a scrape.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return generate_latest(registry)
    finally:
        if enabled:
            gc.enable()


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: a fresh snapshot, rendered off the event loop.

    Behind the server's bearer-token check like every path but ``/healthz``
    (Prometheus sends the token: ``authorization: {credentials: TOKEN}``).
    """
    state = request.app.state
    renderer: MetricsRenderer | None = getattr(state, "metrics_renderer", None)
    if renderer is None:
        renderer = state.metrics_renderer = MetricsRenderer(state.edge.system.metrics_snapshot)
    body = await run_in_threadpool(renderer.render)
    return Response(body, media_type=CONTENT_TYPE)
