"""The protocol's enumerations; every value is its lower-case string."""

from __future__ import annotations

import enum

__all__ = ["AlertSeverity", "HealthState", "TaskResult"]


class TaskResult(enum.StrEnum):
    """How a task ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class HealthState(enum.StrEnum):
    """An agent's health, from its heartbeat age; members compare by severity."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    CRITICAL = "critical"
    FAILED = "failed"

    @property
    def severity(self) -> int:
        """0 for HEALTHY up to 3 for FAILED."""
        return _SEVERITY[self]


_SEVERITY = {
    HealthState.HEALTHY: 0,
    HealthState.DEGRADED: 1,
    HealthState.CRITICAL: 2,
    HealthState.FAILED: 3,
}


class AlertSeverity(enum.StrEnum):
    """How loudly an alert should be heard."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
