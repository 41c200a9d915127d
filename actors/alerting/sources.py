"""Alerts from what the system sees: health transitions and its own conditions.

Health: an agent entering DEGRADED, CRITICAL or FAILED fires ``AgentDegraded``,
``AgentCritical`` or ``AgentFailed``; the lower ones keep firing on the way up
(the agent is still at least degraded) and the default inhibition rules leave
only the worst one to be heard. A heartbeat (back to HEALTHY) resolves all
three. Every alert has the labels ``alertname``, ``agent_id``, ``swarm_id``,
``severity`` and ``scope`` (``agent`` or ``swarm``).

The system's own conditions arrive as :class:`messages.Alert` about agent
``*``: a monitor stall becomes ``MonitorStall`` (an instant: it resolves
after :data:`INSTANT_TTL`, as Alertmanager resolves an alert nobody renews);
a service given up ``ServiceFailed``; a storage outage ``StorageOutage``. An
``Alert`` whose metadata names an ``alertname`` keeps it.
"""

from __future__ import annotations

from typing import Final

from messages import Alert, HealthChanged, HealthState
from messages.alerting import AlertInstance

__all__ = ["HEALTH_ALERTS", "INSTANT_TTL", "from_alert", "from_transition"]

HEALTH_ALERTS: Final = {
    HealthState.DEGRADED: ("AgentDegraded", "warning"),
    HealthState.CRITICAL: ("AgentCritical", "critical"),
    HealthState.FAILED: ("AgentFailed", "critical"),
}
INSTANT_TTL: Final = 300.0
"""Seconds after which an instant condition (a stall) resolves: Alertmanager's resolve_timeout."""


def _labels(alertname: str, agent_id: str, swarm_id: str, severity: str) -> dict[str, str]:
    return {
        "alertname": alertname, "agent_id": agent_id, "swarm_id": swarm_id,
        "severity": severity, "scope": "swarm" if agent_id == "*" else "agent",
    }


def from_transition(event: HealthChanged, swarm_id: str, starts: dict[str, float]) -> list[AlertInstance]:
    """The alerts a transition fires or resolves.

    Args:
        event: the transition.
        swarm_id: the system's swarm.
        starts: ``alertname -> starts_at`` of the agent's alerts firing now;
            updated in place, so that a resolve keeps each alert's start.
    """
    out = []
    if event.current is HealthState.HEALTHY:
        for state, (name, severity) in HEALTH_ALERTS.items():
            if name in starts:
                out.append(AlertInstance(
                    labels=_labels(name, event.agent_id, swarm_id, severity),
                    annotations={"summary": f"agent {event.agent_id} recovered ({event.previous.value} -> healthy)"},
                    starts_at=starts.pop(name), ends_at=event.at,
                ))
        return out
    name, severity = HEALTH_ALERTS[event.current]
    starts.setdefault(name, event.at)
    out.append(AlertInstance(
        labels=_labels(name, event.agent_id, swarm_id, severity),
        annotations={
            "summary": f"agent {event.agent_id} is {event.current.value}",
            "description": f"no heartbeat for {event.heartbeat_age_ms / 1000:.1f} s",
        },
        starts_at=starts[name],
    ))
    return out


def from_alert(alert: Alert, swarm_id: str) -> AlertInstance:
    """An alert of the system's own, with labels."""
    meta = alert.metadata
    ends: float | None = None
    if isinstance(meta.get("alertname"), str):
        name = meta["alertname"]
    elif "stall_seconds" in meta:
        name, ends = "MonitorStall", alert.at + INSTANT_TTL
    elif alert.agent_id == "*" and "crashed" in alert.message:
        name = "ServiceFailed"
    elif alert.agent_id == "*":
        name = "SwarmAlert"
    else:
        name = "TrackerGivenUp" if "tracker" in alert.message else "AgentAlert"
    if isinstance(meta.get("ends_at"), (int, float)):
        ends = float(meta["ends_at"])
    labels = _labels(name, alert.agent_id, swarm_id, alert.severity.value)
    for key in ("service", "receiver", "integration"):
        if isinstance(meta.get(key), str):
            labels[key] = meta[key]
    return AlertInstance(labels=labels, annotations={"summary": alert.message}, starts_at=alert.at,
                         ends_at=ends)
