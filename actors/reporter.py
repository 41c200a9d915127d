"""The health reporter: alerts from transitions, alert callbacks, rendered reports."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors.pending import PendingWrites
from actors.report import render_json, render_markdown
from actors.supervision import SupervisedActor, failed
from messages import Alert, AlertSeverity, Crash, HealthChanged, HealthReport, HealthState
from messages.requests import ConfigureAlerts, Query, RenderReport

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
    """Alerts and callbacks; outlives any one reporter."""

    recent: collections.deque[Alert] = field(default_factory=lambda: collections.deque(maxlen=200))
    enabled: bool = True
    callbacks: dict[HealthState, list[Callable[[HealthChanged], object]]] = field(
        default_factory=dict
    )
    alerts: int = 0
    forward: Callable[[HealthChanged | Alert], object] | None = None  # the alert router's tell
    callback_calls: int = 0
    callback_errors: int = 0
    listeners: list[Callable[[HealthChanged | Alert], object]] = field(default_factory=list)


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
    """Raises alerts, runs alert callbacks on its own thread, renders reports.

    Accepts :class:`HealthChanged`, :class:`Alert`, :class:`ConfigureAlerts`,
    :class:`RenderReport` (reply str), :class:`Query` (``recent_alerts``) and
    :class:`Crash`. Queues every alert for storage. A callback that raises is
    logged and counted, never propagated.
    """

    kind = "reporter"

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any] | None,
        state: ReporterState,
        pending: PendingWrites,
    ) -> None:
        super().__init__(supervisor=supervisor)
        self.state = state
        self.pending = pending

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case HealthChanged():
                self._notify(message)
                self._record(alert_for(message))
                self._callbacks(message)
                self._forward(message)
            case Alert():
                self._record(message)
                self._forward(message)
            case ConfigureAlerts(enabled=bool() as enabled, callbacks=dict() as callbacks) if (
                table := _callback_table(callbacks)
            ) is not None:
                self.state.enabled = enabled
                self.state.callbacks = table
            case RenderReport(format="markdown", data=HealthReport() as data):
                return _render(render_markdown, data)
            case RenderReport(format="json", data=HealthReport() as data):
                return _render(render_json, data)
            case Query(method="recent_alerts", kwargs=dict() as kwargs) if _is_limit(
                limit := kwargs.get("limit", 50)
            ):
                return list(self.state.recent)[-limit:]
            case Crash(reason=reason):
                raise RuntimeError(f"reporter: {reason}")
            case _:
                self.unknown(message)
        return None

    def _record(self, alert: Alert) -> None:
        self.state.recent.append(alert)
        self.state.alerts += 1
        self.pending.add("alerts", alert)
        self._notify(alert)

    def _notify(self, event: HealthChanged | Alert) -> None:
        """Every subscribed listener gets the event (they must not block)."""
        for listener in list(self.state.listeners):
            try:
                listener(event)
            except Exception:
                self.state.callback_errors += 1
                logger.exception("event listener %r raised on %r", listener, event)

    def _forward(self, message: HealthChanged | Alert) -> None:
        forward = self.state.forward
        if forward is not None:
            try:
                forward(message)
            except Exception:
                logger.exception("forwarding %r to the alert router failed", message)

    def _callbacks(self, event: HealthChanged) -> None:
        state = self.state
        if not state.enabled:
            return
        for callback in state.callbacks.get(event.current, ()):
            state.callback_calls += 1
            try:
                callback(event)
            except Exception:
                state.callback_errors += 1
                logger.exception("alert callback %r raised on %r", callback, event)


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
