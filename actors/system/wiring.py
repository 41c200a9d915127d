"""How the parts are joined: what the database restores, the alert router, and the signals between parts."""

from __future__ import annotations

from typing import Any

import pykka

from actors.alerting.config import AlertingSettings
from actors.alerting.router import AlertRouter
from actors.alerting.rules import task_outcomes
from actors.alerting.sources import INSTANT_TTL
from actors.alerting.state import decode_state
from actors.protocol import (
    AgentSnapshot,
    Beat,
    Drain,
    ReadAlertState,
    Redeliver,
    StallDetected,
    Wake,
)
from actors.system.plumbing import Plumbing
from messages import Alert, AlertSeverity, HealthState, TaskStarted
from storage import AgentRecord, MetricsStorage


class Wiring(Plumbing):
    """The handlers the parts call (tick, stall, dead letters) and the start of the alert router."""

    @staticmethod
    def _restore_agents(storage: MetricsStorage) -> dict[str, tuple[AgentSnapshot, AgentRecord]]:
        """Every agent a database holds, as a not-tracked snapshot entry with its record."""
        states = storage.last_states()
        found: dict[str, tuple[AgentSnapshot, AgentRecord]] = {}
        for record in storage.agents():
            last = record.unregistered_at or record.registered_at or 0.0
            entry = AgentSnapshot(
                agent_id=record.agent_id,
                health_state=HealthState(states.get(record.agent_id, HealthState.HEALTHY.value)),
                last_heartbeat=last,
                heartbeat_age_ms=0.0,
                registered_at=record.registered_at or 0.0,
                heartbeats=0,
                tracked=False,
            )
            found[record.agent_id] = (entry, record)
        return found

    def _notify_aggregator(self) -> None:
        try:
            self._services.get("aggregator").tell(Drain())
        except (pykka.ActorDeadError, KeyError):
            pass  # a restarted aggregator drains the buffer as it starts

    def _on_tick(self) -> None:
        if self._alert_router is not None:
            self._storage_condition()
        try:
            if len(self._telemetry):
                self._services.get("aggregator").tell(Drain())
            elif len(self._pending) and self._writer_stats.retry is None:
                self._services.get("writer").tell(Wake())
        except (pykka.ActorDeadError, KeyError):
            pass

    def _storage_condition(self) -> None:
        """The storage's conditions as alerts of their own: an outage (the writer backing off)
        and a backlog (more than half of ``max_pending`` waiting; it resolves below a
        quarter), each resolved when it ends, and rows quarantined (an instant, raised
        again while more are)."""
        if self._alert_router is None:
            return
        now = self._clock.time()
        failing = self._writer_stats.backoff > 0
        if failing != self._storage_outage:
            self._storage_outage = failing
            self._system_alert("StorageOutage", AlertSeverity.CRITICAL, failing,
                               f"storage is not writable: {self._writer_stats.last_error}")
        backlog = len(self._telemetry) + max(len(self._pending), self._aggregate.outbox.rows)
        limit = self._pending.max_rows
        if backlog > limit // 2 and not self._storage_backlog:
            self._storage_backlog = True
            self._system_alert("StorageBacklog", AlertSeverity.WARNING, True,
                               f"{backlog} metrics wait to be written (max_pending {limit}: past "
                               "it the oldest are dropped)")
        elif backlog < limit // 4 and self._storage_backlog:
            self._storage_backlog = False
            self._system_alert("StorageBacklog", AlertSeverity.WARNING, False,
                               f"{backlog} metrics wait to be written")
        quarantined = self._writer_stats.quarantined + self._aggregate.quarantined
        if quarantined > self._quarantined_seen:
            new, self._quarantined_seen = quarantined - self._quarantined_seen, quarantined
            self._system_alert("StorageQuarantine", AlertSeverity.WARNING, True,
                               f"{new} rows could not be stored and were quarantined "
                               f"({quarantined} in all)", ends_at=now + INSTANT_TTL)

    def _system_alert(self, name: str, severity: AlertSeverity, firing: bool, message: str,
                      ends_at: float | None = None) -> None:
        """Tell the alert router a swarm-wide condition started (or, not ``firing``, ended)."""
        if self._alert_router is None:
            return
        now = self._clock.time()
        meta: dict[str, Any] = {"alertname": name}
        if not firing:
            meta["ends_at"] = now
        elif ends_at is not None:
            meta["ends_at"] = ends_at
        try:
            self._alert_router.tell(Alert(agent_id="*", severity=severity, at=now, metadata=meta,
                                          message=message))
        except pykka.ActorDeadError:
            pass

    def _on_stall(self, seconds: float) -> None:
        self._ledger.add(seconds)
        try:
            self._coordinator.tell(StallDetected(seconds=seconds))
        except pykka.ActorDeadError:
            pass

    def _dead_letter(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        if isinstance(message, Beat):
            try:
                self._coordinator.tell(
                    Redeliver(kind="tracker", name=message.agent_id, messages=[message])
                )
            except pykka.ActorDeadError:
                pass


    def _started(self, message: TaskStarted) -> None:
        if self._config.enable_monitoring:
            self._to_analyst(message)

    def _start_alerting(self, settings: AlertingSettings) -> None:
        loaded = decode_state(self._read(ReadAlertState()))
        router = AlertRouter.start(
            settings=settings, clock=self._clock, writer=lambda: self._services.get("writer"),
            swarm_id=self._config.swarm_id, loaded=loaded,
        )
        self._alert_router = router

        def forward(message: Any) -> None:
            try:
                router.tell(message)
            except pykka.ActorDeadError:
                pass

        self._reporter_state.forward = forward
        p95 = settings.duration_p95
        durations = p95 is not None and p95.enabled
        per_kind = durations and p95 is not None and p95.per_kind
        if settings.failure_rate.enabled or durations:
            self._aggregate.outcomes = lambda columns, groups: forward(
                task_outcomes(columns, groups, durations=durations, per_kind=per_kind))
