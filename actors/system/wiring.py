"""How the parts are joined: what the database restores, the alert router, and the signals between parts."""

from __future__ import annotations

from typing import Any

import pykka

from actors.alerting.config import AlertingSettings
from actors.alerting.protocol import TaskOutcomes
from actors.alerting.router import AlertRouter
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
        """A storage outage (the writer backing off) is an alert of its own, resolved when it ends."""
        failing = self._writer_stats.backoff > 0
        if failing == self._storage_outage or self._alert_router is None:
            return
        self._storage_outage = failing
        now = self._clock.time()
        meta: dict[str, Any] = {"alertname": "StorageOutage"}
        if not failing:
            meta["ends_at"] = now
        try:
            self._alert_router.tell(Alert(
                agent_id="*", severity=AlertSeverity.CRITICAL, at=now, metadata=meta,
                message=f"storage is not writable: {self._writer_stats.last_error}",
            ))
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
        if settings.failure_rate.enabled:
            self._aggregate.outcomes = lambda counts: forward(TaskOutcomes(counts=counts))
