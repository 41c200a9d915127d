"""The AlertRouter: a thin actor around :class:`~actors.alerting.engine.AlertEngine`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
import pykka

from actors.alerting.burst import QUIET, BurstHold
from actors.alerting.config import AlertingSettings
from actors.alerting.duration import parse_duration
from actors.alerting.engine import AlertEngine
from actors.alerting.notifier import Notifier
from actors.alerting.protocol import (
    AlertStateFailed,
    AlertStateStored,
    BurstOver,
    Delivered,
    DeliveryError,
    GetAlerting,
    GetReceivers,
    ListAlerts,
    ListSilences,
    Notify,
    Sample,
    StoreAlertState,
    TaskOutcomes,
    Tick,
)
from actors.alerting.rules import DurationP95, FailureRate
from actors.alerting.sources import from_alert, from_transition
from actors.alerting.state import Loaded
from actors.kernel.clock import Clock, TimerHandle
from messages import Alert, HealthChanged, InvalidMessage
from messages.alerting import Acknowledge, AlertInstance, ExpireSilence, SilenceSpec

__all__ = ["AlertRouter"]

logger = logging.getLogger("swarmpulse.alerting")

AFTER_EVERY: Final = 256
"""Alerts taken at most, in a burst, before the engine is stepped and its changes stored.

Anything else (a delivery's result above all: its log entry) is stored at once."""
STORE_RETRY: Final = 1.0
"""Seconds before a state batch the writer refused (or never answered) is sent again."""
NOTIFIER_GRACE: Final = 0.5
"""Seconds the router's stop waits, in all, for its notifiers to stop (a held one is left)."""


class AlertRouter(pykka.ThreadingActor):
    """Routes alerts to receivers, exactly once per group state, durably.

    Accepts :class:`HealthChanged` and :class:`messages.Alert` (from the
    reporter), :class:`AlertInstance` (rules, users), :class:`SilenceSpec`
    (reply the id), :class:`ExpireSilence` and :class:`Acknowledge` (reply
    bool), :class:`ListSilences`, :class:`GetAlerting`, :class:`GetReceivers`, and its own
    :class:`TaskOutcomes` (the aggregator), :class:`Tick`, :class:`Sample`, :class:`Delivered`,
    :class:`DeliveryError`, :class:`AlertStateStored`, :class:`AlertStateFailed`,
    :class:`BurstOver`.
    Sends :class:`Notify` to a :class:`Notifier` per integration and
    :class:`StoreAlertState` to the storage writer. A notice goes out only
    once the writer has committed it to the outbox, so a crash can repeat an
    attempt (same id) but never forget or re-decide one. While the writer
    refuses the state (a storage outage) notices go out before they are
    stored, so the outage itself is heard: a crash then may decide one again,
    with the same id (:func:`~actors.alerting.nflog.notice_id`).
    """

    def __init__(
        self,
        *,
        settings: AlertingSettings,
        clock: Clock,
        writer: Callable[[], pykka.ActorRef[Any]],
        swarm_id: str = "swarm",
        loaded: Loaded | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock
        self.writer = writer
        self.engine = AlertEngine(settings, swarm_id)
        fr = settings.failure_rate
        self.failure_rate = FailureRate(
            window=parse_duration(fr.window), threshold=fr.threshold, min_tasks=fr.min_tasks,
            severity=fr.severity, swarm_id=swarm_id, enabled=fr.enabled,
        )
        p95 = settings.duration_p95
        self.duration_p95 = DurationP95(swarm_id=swarm_id) if p95 is None else DurationP95(
            window=parse_duration(p95.window), threshold_ms=parse_duration(p95.threshold) * 1000.0,
            min_tasks=p95.min_tasks, per_kind=p95.per_kind, severity=p95.severity,
            swarm_id=swarm_id, enabled=p95.enabled,
        )
        self.swarm_id = swarm_id
        self.loaded = loaded
        self.notifiers: dict[str, pykka.ActorRef[Any]] = {}
        self.starts: dict[str, dict[str, float]] = {}
        self.durable: set[str] = set()
        self.unsaved: list[Any] = []
        self.batch: tuple[int, list[Any], set[str]] | None = None
        self.given_up: dict[int, set[str]] = {}  # batches sent again; a late commit still counts
        # integration -> the notice out there, or delivered and its log entry not yet committed:
        # one at a time, so a kill can make at most one attempt per integration again
        self.busy: dict[str, str] = {}
        self.logging: dict[str, str] = {}  # notice id -> integration, delivered, not yet logged
        self.token = 0
        self.store_failures = 0
        # the writer refuses (or cannot take) the state: notices go out undurable meanwhile
        self.store_down = False
        self.unknown_messages = 0
        self._timer: TimerHandle | None = None
        self._timer_at: float | None = None
        self._store_timer: TimerHandle | None = None
        self._flap_timer: TimerHandle | None = None
        self._since_after = 0
        # transitions and the reporter's alerts held back while their burst lasts
        self.held: BurstHold[HealthChanged | Alert] = BurstHold()
        self._burst_timer: TimerHandle | None = None

    def on_start(self) -> None:
        """Start a notifier per integration, restore stored state, start the timers."""
        for integrations in self.settings.receivers.values():
            for integ in integrations:
                self.notifiers[integ.id] = Notifier.start(self.actor_ref)
        now = self.clock.time()
        if self.loaded is not None:
            self.engine.restore(self.loaded, now)
            self.durable.update(self.engine.outbox)
            for alert in self.loaded.alerts.values():
                if alert.labels["alertname"].startswith("Agent") and not alert.resolved(now):
                    self.starts.setdefault(alert.labels["agent_id"], {})[alert.labels["alertname"]] = alert.starts_at
            self.loaded = None
        ref = self.actor_ref
        self._flap_timer = self.clock.call_every(
            self.settings.flap_sample_interval, lambda: _tell(ref, Sample())
        )
        self._after()

    def on_stop(self) -> None:
        """Take what is held back, cancel the timers, and stop the notifiers, waiting at
        most :data:`NOTIFIER_GRACE` in all: an idle notifier is gone on return, one held
        by a receiver is left to end."""
        if self.held:  # routed and stored, not sent: a notice decided now waits for the next run
            self._take_held()
            self.unsaved.extend(self.engine.take_changes())
            self._store()
        for timer in (self._timer, self._store_timer, self._flap_timer, self._burst_timer):
            if timer is not None:
                timer.cancel()
        stopping = [ref.stop(block=False) for ref in self.notifiers.values()]
        deadline = time.monotonic() + NOTIFIER_GRACE
        for future in stopping:  # notifiers only tell the router: no deadlock in waiting
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except pykka.Timeout:
                pass

    def _alerts(self, now: float, limit: int) -> list[dict[str, Any]]:
        """The alerts the router holds, firing first, newest first, as plain data."""
        engine = self.engine
        held = sorted(engine.alerts.items(),
                      key=lambda item: (item[1].resolved(now), -item[1].starts_at))[:max(0, limit)]
        return [
            {
                "fingerprint": fp,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": alert.starts_at,
                "endsAt": alert.ends_at,
                "status": "resolved" if alert.resolved(now) else "firing",
                "muted": engine.muted(alert, now),
                "acknowledgedBy": engine.acked[fp][0] if fp in engine.acked else None,
            }
            for fp, alert in held
        ]

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type; every handled message ends in :meth:`_after`.

        A transition or an alert of the reporter that happened shortly before it
        arrived, with more messages waiting behind it, is held back while its burst lasts, and so is everything after it
        (:class:`~actors.alerting.burst.BurstHold`);
        the engine is not stepped meanwhile. Its own timers and helpers leave them
        held while the burst lasts; a request from outside (a query, a silence, an
        alert of a rule or a user) takes them in first, in order.
        """
        now = self.clock.time()
        reply: Any = None
        match message:
            case HealthChanged(at=at) | Alert(at=at) if (
                self.held or not self.actor_inbox.empty()  # a burst: more are waiting
            ) and self.held.wants(at, now):
                self.held.add(message, at=at, now=now, mono=self.clock.monotonic())
                if self._burst_timer is None:
                    self._arm_burst_check()
                return None
            case BurstOver():
                if self._burst_timer is not None:  # this one, or one a stale BurstOver left
                    self._burst_timer.cancel()
                    self._burst_timer = None
                if self.held:
                    if not self.held.over(now, self.clock.monotonic()):
                        self._arm_burst_check()
                        return None
                    self._take_held()
                    self._after()
                return None
            case (Tick() | Sample() | TaskOutcomes() | Delivered() | DeliveryError()
                  | AlertStateStored() | AlertStateFailed()) if self.held and not self.held.over(
                      now, self.clock.monotonic()):
                pass  # its own timers and helpers: they do not wait for the burst
            case _ if self.held:
                self._take_held()  # a request from outside sees every transition sent before it
        match message:
            case HealthChanged() | Alert():
                self._take(message, now)
            case AlertInstance():
                self.engine.put(message, now)
            case SilenceSpec():
                try:
                    reply = self.engine.add_silence(message, now)
                except InvalidMessage as exc:
                    reply = _failed(exc)
            case ExpireSilence(silence_id=silence_id):
                reply = self.engine.expire_silence(silence_id, now)
            case Acknowledge(fingerprint=fp, by=by, comment=comment):
                reply = self.engine.acknowledge(fp, by, comment, now)
            case ListSilences():
                reply = [(s.spec(), state.value) for s, state in self.engine.list_silences(now)]
            case ListAlerts(limit=limit):
                reply = self._alerts(now, limit)
            case GetAlerting():
                reply = self._stats()
            case GetReceivers():
                reply = self.engine.receiver_stats(now)
            case Sample():
                for flap in self.engine.sample_flaps(now):
                    self.engine.put(flap, now)
                self._rules(now)
            case TaskOutcomes(counts=counts, durations=durations):
                if self.failure_rate.enabled:
                    self.failure_rate.add(counts)
                if self.duration_p95.enabled:
                    self.duration_p95.add(durations)
                self._rules(now)
            case Tick():
                self._timer = None
                self._timer_at = None
            case Delivered(notice_id=notice_id):
                self.durable.discard(notice_id)
                notice = self.engine.outbox.get(notice_id)
                if notice is not None and self.store_down:  # no log commit to wait for
                    if self.busy.get(notice.integration) == notice_id:
                        del self.busy[notice.integration]
                elif notice is not None:
                    self.logging[notice_id] = notice.integration
                self.engine.delivered(notice_id, now)
            case DeliveryError(notice_id=notice_id, error=error, timed_out=timed_out):
                notice = self.engine.outbox.get(notice_id)
                if notice is not None and self.busy.get(notice.integration) == notice_id:
                    del self.busy[notice.integration]
                failing = self.engine.failed(notice_id, error, now, timed_out=timed_out)
                if failing is not None:
                    logger.error("receiver failing: %s", error)
                    self.engine.put(failing, now)
            case AlertStateStored(token=token) if self.batch and self.batch[0] == token:
                self.store_down = False
                self.durable.update(self.batch[2])
                self._logged(self.batch[1])
                self.batch = None
                if self._store_timer is not None:
                    self._store_timer.cancel()
                    self._store_timer = None
            case AlertStateFailed(token=token, error=error) if self.batch and self.batch[0] == token:
                self.store_failures += 1
                logger.warning("alert state not stored (%s); retrying", error)
                self._requeue()
            case AlertStateStored(token=token) if token in self.given_up:
                self.durable.update(self.given_up.pop(token))  # committed after all
                self._logged(self.unsaved)
            case AlertStateStored() | AlertStateFailed():
                pass  # an answer to a batch already given up on and sent again
            case _:
                self.unknown_messages += 1
                logger.warning("alert router ignored %r", message)
                return None
        self._since_after += 1
        burst = isinstance(message, (HealthChanged, Alert, AlertInstance, TaskOutcomes))
        if not burst or self._since_after >= AFTER_EVERY or self.actor_inbox.empty():
            self._after()  # once per burst: a storm of transitions is stored in few batches
        return reply

    # Bursts: held back while they last, taken in as of the time each item arrived

    def _arm_burst_check(self) -> None:
        ref = self.actor_ref
        self._burst_timer = self.clock.call_later(QUIET, lambda: _ask(ref, BurstOver()))

    def _take_held(self) -> None:
        """Route every held item as of its arrival; step the engine every AFTER_EVERY."""
        held = self.held.take()
        if self._burst_timer is not None:
            self._burst_timer.cancel()
            self._burst_timer = None
        for count, (message, at) in enumerate(held, 1):
            self._take(message, at)
            if count % AFTER_EVERY == 0:
                self._after()

    def _take(self, message: HealthChanged | Alert, now: float) -> None:
        if isinstance(message, Alert):
            self.engine.put(from_alert(message, self.swarm_id), now)
            return
        agent_id = message.agent_id
        starts = self.starts.setdefault(agent_id, {})
        for alert in from_transition(message, self.swarm_id, starts):
            self.engine.put(alert, now)
        if not starts:
            del self.starts[agent_id]
        flap = self.engine.observe_health(agent_id, message.current.value, now)
        if flap is not None:
            self.engine.put(flap, now)

    def _rules(self, now: float) -> None:
        """Evaluate the rules over task metrics; route the alerts they start or stop."""
        for rule in (self.failure_rate, self.duration_p95):
            if rule.enabled:
                for rule_alert in rule.evaluate(now):
                    self.engine.put(rule_alert, now)

    # The loop: step the engine, store what changed, send what is stored

    def _after(self) -> None:
        if self.held:
            return  # stepped when the burst is in (the BurstOver)
        self._since_after = 0
        now = self.clock.time()
        self.engine.step(now)
        self.unsaved.extend(self.engine.take_changes())
        self._store()
        durable = None if self.store_down else self.durable  # an outage is no reason for silence
        for notice in self.engine.due_notices(now, durable, self.busy):
            ref = self.notifiers.get(notice.integration)
            integ = self.engine._integrations.get(notice.integration)
            if ref is None or integ is None:  # the receiver left the configuration
                logger.warning("gave up notice %s: %s is no longer configured", notice.id, notice.integration)
                self.engine.give_up(notice.id, "no such integration any more", now)
                continue
            self.busy[notice.integration] = notice.id
            ref.tell(Notify(notice=notice, integration=integ, external_url=self.settings.external_url))
        self._schedule()

    def _logged(self, changes: list[Any]) -> None:
        """Free the integrations whose delivered notice's log entry these changes committed."""
        for change in changes:
            if change.table == "alert_outbox" and change.body is None:
                integration = self.logging.pop(change.key, None)
                if integration is not None and self.busy.get(integration) == change.key:
                    del self.busy[integration]

    def _store(self) -> None:
        if self.batch is not None or not self.unsaved:
            return
        self.token += 1
        changes, self.unsaved = self.unsaved, []
        notices = {c.key for c in changes if c.table == "alert_outbox" and c.body is not None}
        self.batch = (self.token, changes, notices)
        ref = self.actor_ref
        try:
            self.writer().tell(StoreAlertState(changes=changes, reply_to=ref, token=self.token))
        except (pykka.ActorDeadError, KeyError):
            self._requeue()

    def _requeue(self) -> None:
        """Put a failed batch back in front of newer changes and try again later."""
        assert self.batch is not None
        token, changes, notices = self.batch
        self.batch = None
        self.store_down = True
        self.given_up[token] = notices
        while len(self.given_up) > 100:
            del self.given_up[min(self.given_up)]
        newer = {(c.table, c.key) for c in self.unsaved}
        self.unsaved = [c for c in changes if (c.table, c.key) not in newer] + self.unsaved
        if self._store_timer is not None:
            self._store_timer.cancel()
        ref = self.actor_ref
        self._store_timer = self.clock.call_later(STORE_RETRY, lambda: _tell(ref, Tick()))

    def _schedule(self) -> None:
        when = self.engine.next_deadline()
        if when is None or (self._timer_at is not None and self._timer_at <= when):
            return
        if self._timer is not None:
            self._timer.cancel()
        ref = self.actor_ref
        # A deadline still past after the step waits on the writer or a receiver (a notice
        # not yet stored, or its integration busy), whose answer steps the engine anyway:
        # look again in a while, not at once (a Tick a microsecond, for as long as it waits).
        delay = when - self.clock.time()
        if delay <= 0:
            delay = QUIET
        self._timer_at = when
        self._timer = self.clock.call_later(delay, lambda: _ask(ref, Tick()))

    def _stats(self) -> dict[str, Any]:
        s = self.engine.stats
        receivers = self.engine.receiver_stats(self.clock.time())
        return {
            "alerts_received": s.alerts_received,
            "active_alerts": len(self.engine.alerts),
            "groups": len(self.engine.groups),
            "notices_decided": s.notices_decided,
            "notices_delivered": s.notices_delivered,
            "notices_pending": len(self.engine.outbox),
            "attempts": s.attempts,
            "failures": s.failures,
            "failures_by_integration": dict(s.failures_by_integration),
            "timeouts": s.timeouts,
            "given_up": s.given_up,
            "receivers": {r.integration: msgspec.structs.asdict(r) for r in receivers},
            "receivers_failing": [r.integration for r in receivers if r.failing],
            "silences": len(self.engine.silences),
            "escalations": len(self.engine.escalations),
            "flapping_agents": sorted(a for a, d in self.engine.flaps.items() if d.flapping),
            "state_store_failures": self.store_failures,
            "state_store_down": self.store_down,
            "state_unsaved": len(self.unsaved) + (len(self.batch[1]) if self.batch else 0),
        }


def _tell(ref: pykka.ActorRef[Any], message: Any) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass


def _ask(ref: pykka.ActorRef[Any], message: Any) -> Any:
    """Ask without blocking: a ManualClock waits on the future, so a tick is complete on return."""
    try:
        return ref.ask(message, block=False)
    except pykka.ActorDeadError:
        return None


def _failed(exc: BaseException) -> Any:
    from actors.kernel.supervision import failed

    return failed(exc)
