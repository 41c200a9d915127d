"""The OpenTelemetry bridge (the ``swarmpulse[otel]`` extra): our series as observable instruments.

:func:`instrument` registers, on a meter provider you configured (with an
OTLP exporter, say, sending to a collector), one observable instrument per
series of ``/metrics`` (see :mod:`server.metrics`), with the same names
(counters without Prometheus's ``_total``, which OpenTelemetry's Prometheus
exporter adds back) and the same labels as attributes. Nothing is kept in sync
by hand: each collection reads :meth:`SwarmSystem.metrics_snapshot`.

The OpenTelemetry API has no observable histogram, so the task durations go
out as their Prometheus parts: ``swarmpulse_task_duration_seconds_bucket``
(a cumulative counter per ``le`` bound, the same fixed bounds),
``..._sum`` and ``..._count``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final

try:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "the OpenTelemetry bridge needs the otel extra: pip install 'swarmpulse[otel]'"
    ) from exc

from actors import SwarmSystem
from actors.protocol import MetricsSnapshot
from messages import AlertSeverity, HealthState
from server.metrics import DURATION_BUCKETS_SECONDS
from storage import LogHistogram

__all__ = ["OtelBridge", "instrument"]

_STATES: Final = tuple(state.value for state in HealthState)
_SEVERITIES: Final = tuple(severity.value for severity in AlertSeverity)
_BOUNDS_MS: Final = tuple(b * 1000.0 for b in DURATION_BUCKETS_SECONDS)
_Callback = Callable[[CallbackOptions], Iterable[Observation]]


class OtelBridge:
    """The instruments registered for one system; :meth:`close` silences them.

    One collection calls every instrument's callback in turn; they share one
    snapshot, taken by the first and reused for ``max_age`` seconds.

    Args:
        read: returns the snapshot (``SwarmSystem.metrics_snapshot``).
        provider: the meter provider to register on.
        max_age: seconds a snapshot serves the callbacks of one collection.
        clock: monotonic seconds (a test may pass its own).
    """

    def __init__(
        self,
        read: Callable[[], MetricsSnapshot],
        provider: MeterProvider,
        *,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, MetricsSnapshot] | None = None
        self._closed = False
        meter = provider.get_meter("swarmpulse")
        gauges: dict[str, tuple[str, str, _Callback]] = {
            "swarmpulse_agent_health": ("1", "Health state of each agent: 1 for the current state.",
                                        self._health),
            "swarmpulse_agent_heartbeat_age_seconds": ("s", "Seconds since the agent's last heartbeat.",
                                                       self._age),
            "swarmpulse_agent_up": ("1", "1 while the agent is not FAILED.", self._up),
            "swarmpulse_agent_metric": ("1", "Latest value of each agent gauge.", self._gauges),
            "swarmpulse_pending_writes": ("1", "Metrics and events not yet committed.", self._pending),
        }
        counters: dict[str, tuple[str, str, _Callback]] = {
            "swarmpulse_tasks": ("1", "Tasks finished, by agent and result.", self._tasks),
            "swarmpulse_tokens": ("1", "LLM tokens the agent's tasks used.", self._tokens),
            "swarmpulse_files_changed": ("1", "Files the agent's tasks changed.", self._files),
            "swarmpulse_health_transitions": ("1", "Health transitions, by the state moved to.",
                                              self._transitions),
            "swarmpulse_alerts": ("1", "Alerts raised, by severity.", self._alerts),
            "swarmpulse_dropped": ("1", "Metrics and events dropped by a full buffer.", self._dropped),
            "swarmpulse_quarantined": ("1", "Rows the storage kept aside.", self._quarantined),
            "swarmpulse_task_duration_seconds_bucket": (
                "1", "Tasks at most `le` seconds long (cumulative, fixed bounds).", self._buckets),
            "swarmpulse_task_duration_seconds_count": ("1", "Tasks timed.", self._count),
            "swarmpulse_task_duration_seconds_sum": ("s", "Total task time.", self._sum),
        }
        for name, (unit, description, callback) in gauges.items():
            meter.create_observable_gauge(name, callbacks=[callback], unit=unit, description=description)
        for name, (unit, description, callback) in counters.items():
            meter.create_observable_counter(name, callbacks=[callback], unit=unit, description=description)

    def close(self) -> None:
        """Observe nothing from now on (call it before the system shuts down)."""
        with self._lock:
            self._closed = True
            self._cached = None

    def _snapshot(self) -> MetricsSnapshot | None:
        with self._lock:
            if self._closed:
                return None
            now = self._clock()
            if self._cached is None or now - self._cached[0] > self._max_age:
                self._cached = (now, self._read())
            return self._cached[1]

    def _each(self, observe: Callable[[MetricsSnapshot], Iterator[Observation]]) -> list[Observation]:
        snapshot = self._snapshot()
        return [] if snapshot is None else list(observe(snapshot))

    # One callback per instrument

    def _health(self, options: CallbackOptions) -> Iterable[Observation]:
        def observe(s: MetricsSnapshot) -> Iterator[Observation]:
            for agent in s.swarm.agents:
                current = agent.health_state.value
                for state in _STATES:
                    yield Observation(int(state == current), {"agent_id": agent.agent_id, "state": state})
        return self._each(observe)

    def _age(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(a.heartbeat_age_ms / 1000.0, {"agent_id": a.agent_id}) for a in s.swarm.agents
        ))

    def _up(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(int(a.health_state is not HealthState.FAILED), {"agent_id": a.agent_id})
            for a in s.swarm.agents
        ))

    def _gauges(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(value, {"agent_id": agent_id, "metric_type": metric_type})
            for agent_id, metric_type, value in s.tasks.gauges
        ))

    def _pending(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: iter([Observation(s.pending_writes)]))

    def _tasks(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(count, {"agent_id": a.agent_id, "result": result})
            for a in s.tasks.agents for result, count in a.results.items()
        ))

    def _tokens(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(a.tokens, {"agent_id": a.agent_id}) for a in s.tasks.agents
        ))

    def _files(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(a.files, {"agent_id": a.agent_id}) for a in s.tasks.agents
        ))

    def _transitions(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(s.transitions.get(state, 0), {"to": state}) for state in _STATES
        ))

    def _alerts(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: (
            Observation(s.alerts.get(severity, 0), {"severity": severity}) for severity in _SEVERITIES
        ))

    def _dropped(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: iter([Observation(s.dropped)]))

    def _quarantined(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: iter([Observation(s.quarantined)]))

    def _buckets(self, options: CallbackOptions) -> Iterable[Observation]:
        def observe(s: MetricsSnapshot) -> Iterator[Observation]:
            histogram = LogHistogram()
            histogram.bins = dict(s.tasks.duration_bins)
            histogram.zero_count = s.tasks.duration_zero
            for bound, count in zip(DURATION_BUCKETS_SECONDS, histogram.cumulative(_BOUNDS_MS)):
                yield Observation(count, {"le": repr(bound)})
            yield Observation(s.tasks.duration_count, {"le": "+Inf"})
        return self._each(observe)

    def _count(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: iter([Observation(s.tasks.duration_count)]))

    def _sum(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._each(lambda s: iter([Observation(s.tasks.duration_sum_ms / 1000.0)]))


def instrument(
    system: SwarmSystem, provider: MeterProvider | None = None, *, max_age: float = 1.0
) -> OtelBridge:
    """Register the system's series on ``provider`` (default: the global meter provider).

    Example (an OTLP exporter, from ``opentelemetry-exporter-otlp``)::

        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=...))
        bridge = instrument(system, MeterProvider(metric_readers=[reader]))
    """
    chosen = provider if provider is not None else otel_metrics.get_meter_provider()
    return OtelBridge(system.metrics_snapshot, chosen, max_age=max_age)
