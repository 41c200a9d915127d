"""The counters views: the exporters' snapshot, the write pipeline, every part's counters."""

from __future__ import annotations

from typing import Any

import pykka

from actors.analytics.requests import GetInFlightCounts
from actors.pending import pending_writes
from actors.protocol import Drain, GetAlertNames, GetCounters, GetTotals, MetricsSnapshot
from actors.system.plumbing import ASK_TIMEOUT
from actors.system.stats import StatsViews
from messages import HealthState


class MonitoringViews(StatsViews):
    """What exporters, health checks and get_monitoring_stats read."""

    def metrics_snapshot(self) -> MetricsSnapshot:
        """Everything an exporter (``/metrics``, OpenTelemetry) reads, cheaply at scrape time.

        One ask to the coordinator (every agent's health), one to the aggregator
        (every agent's task counters, all durations as one histogram, the latest
        agent gauges), one to the reporter (transitions and alerts by kind), and
        the buffers' counters: tens of
        milliseconds at 10,000 agents, where a call per agent would take seconds.
        Metrics recorded before the call are counted (the aggregator drains first).
        """
        self._ask_service("aggregator", Drain())
        tasks = self._ask_service("aggregator", GetTotals())
        swarm = self.snapshot()
        # asked after the coordinator: every transition in its snapshot has reached the reporter
        transitions, alerts = self._ask_service("reporter", GetCounters())
        return MetricsSnapshot(
            swarm=swarm,
            tasks=tasks,
            transitions=transitions,
            alerts=alerts,
            pending_writes=self._pending_writes(),
            dropped=self._telemetry.dropped + self._pending.dropped + self._aggregate.outbox.dropped,
            quarantined=self._writer_stats.quarantined + self._aggregate.quarantined,
            phi=self._phi_values(),
            cost=self.get_cost()["by_agent"],
            in_flight=self._ask_service("analyst", GetInFlightCounts()),
            alert_names=self._ask_service("reporter", GetAlertNames()),
            receivers=self._receiver_stats(),
        )

    def _pending_writes(self) -> int:
        """Accepted and not yet committed, as every view shows it (:func:`actors.pending.pending_writes`)."""
        return pending_writes(len(self._telemetry), self._aggregate.outbox, self._pending)

    def unregistered_agent_metrics(self) -> int:
        """Metrics taken so far about agents that were not registered (policy ``store``).

        One counter, asking no actor: the ``unregistered_agent_metrics`` of
        :meth:`get_write_status` and ``get_monitoring_stats()``, without
        building either (the HTTP edge reads it twice a batch).

        Raises:
            SystemStopped: the system has been shut down.
        """
        self._check_open()
        return self._telemetry.unregistered

    def get_write_status(self) -> dict[str, Any]:
        """Where the accepted metrics are on their way to SQLite, from counters only.

        It asks no actor, so a health check may call it as often as it likes.
        ``buffered``: in the buffer the aggregator drains; ``pending_writes``:
        accepted and not yet committed (the buffer, batches on their way to the
        writer, and those it holds, each counted once: the same figure as
        ``/metrics``' ``swarmpulse_pending_writes`` and ``/healthz``); ``stored``: rows committed since the start
        (metrics, and the events and registrations stored beside them);
        ``dropped``: lost to a full backlog; ``quarantined``: refused by storage
        for their data and kept apart; ``write_failures`` and ``last_write_error``:
        failed commits (each retried); ``write_batches`` and ``written_rows``: what
        the writer committed; ``unregistered_agent_metrics``: metrics taken for
        agents that were not registered (policy ``store``). The same figures as
        ``get_monitoring_stats()``.

        Raises:
            SystemStopped: the system has been shut down.
        """
        self._check_open()
        writer = self._writer_stats
        outbox = self._aggregate.outbox
        buffered = len(self._telemetry)
        return {
            "buffered": buffered,
            "pending_writes": self._pending_writes(),
            "stored": self._pending.committed,
            "dropped": self._telemetry.dropped + self._pending.dropped + outbox.dropped,
            "quarantined": writer.quarantined + self._aggregate.quarantined,
            "write_failures": writer.failures,
            "last_write_error": writer.last_error,
            "write_batches": writer.batches,
            "written_rows": writer.rows,
            "unregistered_agent_metrics": self.unregistered_agent_metrics(),
        }

    def get_monitoring_stats(self) -> dict[str, Any]:
        """Counters of every part of the system (just ``monitoring_enabled`` when off)."""
        if not self._config.enable_monitoring:
            return {"monitoring_enabled": False}
        try:
            stats = self.get_task_stats()
        except pykka.ActorDeadError:
            if "aggregator" not in self._services.failed:
                raise
            # the aggregator was given up: its statistics are unknown, and the rest
            # still reports (failed_services is how a user learns of it)
            stats = {"total_tasks": None, "success_rate": None, "avg_duration_ms": None}
        snapshot = self._live_snapshot()
        distribution = self._distribution(snapshot)
        healthy = distribution[HealthState.HEALTHY.value]
        writer = self._writer_stats
        writes = self.get_write_status()
        return {
            "monitoring_enabled": True,
            "metrics_collector": {
                "total_tasks": stats["total_tasks"],
                "success_rate": stats["success_rate"],
                "avg_duration_ms": stats["avg_duration_ms"],
                "buffered": writes["buffered"],
                "pending_writes": writes["pending_writes"],
                "stored": writes["stored"],
                "dropped": writes["dropped"],
                "quarantined": writes["quarantined"],
                "uncounted_batches": self._aggregate.stats_errors,  # stored, not in the statistics
                "last_quarantine_error": writer.last_quarantine_error,
                "unregistered_agent_metrics": writes["unregistered_agent_metrics"],
                "write_failures": writes["write_failures"],
                "last_write_error": writes["last_write_error"],
            },
            "unknown_messages": {
                "coordinator": self._coordinator.proxy().unknown_messages.get(timeout=ASK_TIMEOUT),
                "aggregator": self._aggregate.unknown_messages,
                "writer": writer.unknown_messages,
                "reporter": self._reporter_state.unknown_messages,
            },
            "heartbeat_monitor": {
                "total_agents": len(snapshot.agents),
                "total_heartbeats": snapshot.total_heartbeats,
                "unknown_heartbeats": snapshot.unknown_heartbeats,
                "health_distribution": distribution,
                "stalls": snapshot.stalls,
            },
            "swarm_health": {
                "total_agents": len(snapshot.agents),
                "healthy_agents": healthy,
                "unhealthy_agents": len(snapshot.agents) - healthy,
                "health_distribution": distribution,
            },
            "supervision": {
                "tracker_restarts": snapshot.tracker_restarts,
                "service_restarts": snapshot.service_restarts,
                "failed_services": snapshot.failed_services,
            },
            "alerts": {
                "total": self._reporter_state.alerts,
                "callback_calls": self._callbacks.calls,
                "callback_errors": self._callbacks.errors,
                "callback_timeouts": self._callbacks.timeouts,
            },
            **({"alerting": self.alerting_stats()} if self._alert_router is not None else {}),
        }
