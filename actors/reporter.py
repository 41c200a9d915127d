"""The health reporter: alerts from transitions, rendered reports; callbacks go to a runner."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors.callbacks import CallbackRunner
from actors.kernel.supervision import SupervisedActor, failed
from actors.pending import ServiceStarted, WriteBatch
from actors.protocol import ConfigureAlerts, GetAlertNames, GetCounters, GetRecentAlerts, RenderReport
from messages import Alert, AlertSeverity, Crash, HealthChanged, HealthReport, HealthState
from messages.render import render_json, render_markdown
from storage import Batch

__all__ = ["HealthReporter", "ReporterState", "alert_for"]

logger = logging.getLogger("swarmpulse.reporter")

_SEVERITY = {
    HealthState.HEALTHY: AlertSeverity.INFO,
    HealthState.DEGRADED: AlertSeverity.WARNING,
    HealthState.CRITICAL: AlertSeverity.CRITICAL,
    HealthState.FAILED: AlertSeverity.CRITICAL,
}


@dataclass(slots=True)
class ReporterState:
    """Alerts and the alert callbacks; outlives any one reporter, which alone touches it."""

    recent: collections.deque[Alert] = field(default_factory=lambda: collections.deque(maxlen=200))
    enabled: bool = True
    callbacks: dict[HealthState, list[Callable[[HealthChanged], object]]] = field(
        default_factory=dict
    )
    alerts: int = 0
    unknown_messages: int = 0
    alerts_by_severity: dict[str, int] = field(default_factory=dict)
    alerts_by_name: dict[str, int] = field(default_factory=dict)  # metadata "alertname", if a string
    transitions: dict[str, int] = field(default_factory=dict)
    forward: Callable[[HealthChanged | Alert], object] | None = None  # the alert router's tell


def alert_for(event: HealthChanged) -> Alert:
    """The alert a transition raises: warning when degraded, critical when worse."""
    if event.current is HealthState.HEALTHY:
        text = f"agent {event.agent_id} recovered (was {event.previous.value})"
    else:
        text = (
            f"agent {event.agent_id} is {event.current.value}: no heartbeat for "
            f"{event.heartbeat_age_ms / 1000:.1f} s"
        )
    return Alert(
        agent_id=event.agent_id,
        severity=_SEVERITY[event.current],
        message=text,
        at=event.at,
        metadata={"previous": event.previous.value, "current": event.current.value},
    )


class HealthReporter(SupervisedActor):
    """Raises alerts, owns the alert callback settings, renders reports.

    Accepts :class:`HealthChanged`, :class:`Alert`, :class:`ConfigureAlerts`,
    :class:`RenderReport` (reply str), :class:`GetRecentAlerts` (reply the last alerts), :class:`GetCounters`
    (reply transitions and alerts counted by kind) and
    :class:`Crash`. Sends every alert to be stored (as a
    :class:`~actors.pending.WriteBatch`, through its supervisor, which holds it
    while the writer restarts) and hands it to the :class:`CallbackRunner` for
    the subscribers; the callbacks configured here are given to the runner,
    which calls them for each transition the coordinator hands it. It never
    calls user code, so a slow or raising callback never delays a report.
    """

    kind = "reporter"

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any] | None,
        state: ReporterState,
        runner: CallbackRunner,
    ) -> None:
        super().__init__(supervisor=supervisor)
        self.state = state
        self.runner = runner

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case HealthChanged():
                # the coordinator has handed the transition itself to the runner
                counts = self.state.transitions
                counts[message.current.value] = counts.get(message.current.value, 0) + 1
                alert = alert_for(message)
                self._record(alert)
                self.runner.publish(alert)
                self._forward(message)
            case Alert():
                self._record(message)
                self.runner.publish(message)
                self._forward(message)
            case ConfigureAlerts(enabled=bool() as enabled, callbacks=dict() as callbacks) if (
                table := _callback_table(callbacks)
            ) is not None:
                self.state.enabled = enabled
                self.state.callbacks = table
                self.runner.set_alert_callbacks(enabled, table)
            case RenderReport(format="markdown", data=HealthReport() as data):
                return _render(render_markdown, data)
            case RenderReport(format="json", data=HealthReport() as data):
                return _render(render_json, data)
            case GetRecentAlerts(limit=limit) if _is_limit(limit):
                return list(self.state.recent)[-limit:] if limit else []
            case ServiceStarted():
                pass  # it sends through its supervisor: nothing to readdress
            case GetCounters():
                return dict(self.state.transitions), dict(self.state.alerts_by_severity)
            case GetAlertNames():
                return dict(self.state.alerts_by_name)
            case Crash(reason=reason):
                raise RuntimeError(f"reporter: {reason}")
            case _:
                self.unknown(message)
        return None

    def count_unknown(self) -> None:
        """Count a message not understood, also where the facade reads it."""
        super().count_unknown()
        self.state.unknown_messages += 1

    def _record(self, alert: Alert) -> None:
        self.state.recent.append(alert)
        self.state.alerts += 1
        ends = alert.metadata.get("ends_at")
        if not (isinstance(ends, (int, float)) and ends <= alert.at):  # a resolution raises nothing
            by_severity = self.state.alerts_by_severity
            by_severity[alert.severity.value] = by_severity.get(alert.severity.value, 0) + 1
            name = alert.metadata.get("alertname")
            if isinstance(name, str) and name:
                by_name = self.state.alerts_by_name
                by_name[name] = by_name.get(name, 0) + 1
        if self.supervisor is not None:
            self.supervisor.tell(WriteBatch(sender="reporter", batch=Batch(alerts=(alert,))))

    def _forward(self, message: HealthChanged | Alert) -> None:
        forward = self.state.forward
        if forward is not None:
            try:
                forward(message)
            except Exception:
                logger.exception("forwarding %r to the alert router failed", message)


def _callback_table(
    callbacks: dict[Any, Any],
) -> dict[HealthState, list[Callable[[HealthChanged], object]]] | None:
    """Callbacks by health state, or None if a key is no state or a value not callable."""
    table: dict[HealthState, list[Callable[[HealthChanged], object]]] = {}
    for state, fns in callbacks.items():
        try:
            key = HealthState(state)
        except (ValueError, TypeError):
            return None
        listed = list(fns) if isinstance(fns, list | tuple) else [fns]
        if not all(callable(fn) for fn in listed):
            return None
        table[key] = listed
    return table


def _is_limit(value: object) -> bool:
    return type(value) is int and value >= 0


def _render(render: Callable[[HealthReport], str], data: HealthReport) -> Any:
    """The rendered report, or (for data built wrongly) a reply that raises for the asker."""
    try:
        return render(data)
    except Exception as exc:
        return failed(exc)
