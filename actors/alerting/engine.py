"""The alert engine: routing, grouping, muting, the notification log, escalation.

Pure: no threads, no actors, no clock; every method takes ``now`` (wall-clock
epoch seconds) and the actor around it (:mod:`actors.alerting.router`) asks
:meth:`AlertEngine.next_deadline` when to call again. Alertmanager's
dispatcher, as its ``dispatch.go`` has it:

* a new group waits ``group_wait`` for its first flush (at once if its alert
  started more than ``group_wait`` ago and the group never flushed);
* after a flush the group flushes again every ``group_interval``;
* each flush asks the notification log (:func:`~actors.alerting.nflog.needs_update`)
  per integration whether to notify; an unchanged firing group is re-sent
  after ``repeat_interval``;
* resolved alerts leave the group once a flush has handed them on; an empty
  group is deleted;
* silenced and inhibited alerts are left out of the notices (the mute stage).

What we add: ``ReceiverFailing`` alerts follow the route tree, never go to the
failing integration itself, and go to every other receiver when the tree
would give them to nobody else; ``resolve_immediately`` flushes a group when one of its notified
alerts resolves; a decided notice is kept (:class:`~actors.alerting.nflog.Notice`)
and retried until delivered, and none other is decided for that
(integration, group) meanwhile; escalation policies with acknowledgements;
flap detection; and every change recorded for durable storage
(:meth:`AlertEngine.take_changes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors.alerting.config import AlertingSettings, Integration
from actors.alerting.escalation import Escalation, EscalationPolicy, acknowledge, advance, due_at, start
from actors.alerting.flap import FlapDetector
from actors.alerting.inhibit import InhibitRule
from actors.alerting.matcher import matches
from actors.alerting.nflog import LogEntry, Notice, backoff, needs_update, notice_id
from actors.alerting.route import Route, group_key, group_labels, match_routes
from actors.alerting.silence import Silence, SilenceState, new_silence
from actors.alerting.state import Loaded, StateCodec
from messages.alerting import AlertInstance, SilenceSpec, fingerprint
from messages.report import ReceiverStats

__all__ = ["RECEIVER_FAILING", "AlertEngine", "EngineStats", "Group", "IntegrationCounters"]

RECEIVER_FAILING = "ReceiverFailing"
"""The alert an integration raises after ``failures_before_alert`` failures in a row."""


@dataclass
class Group:
    """One aggregation group: the alerts of one route with the same grouping labels."""

    key: str
    route: Route
    labels: dict[str, str]
    alerts: dict[str, AlertInstance] = field(default_factory=dict)
    next_flush: float = 0.0
    flushed: bool = False


@dataclass
class EngineStats:
    """Counters the system reports (``get_monitoring_stats()["alerting"]``)."""

    alerts_received: int = 0
    notices_decided: int = 0
    notices_delivered: int = 0
    attempts: int = 0
    failures: int = 0
    failures_by_integration: dict[str, int] = field(default_factory=dict)
    flaps_started: int = 0
    timeouts: int = 0
    given_up: int = 0


@dataclass
class IntegrationCounters:
    """One integration's delivery counters (see :class:`messages.ReceiverStats`)."""

    attempts: int = 0
    delivered: int = 0
    failures: int = 0
    timeouts: int = 0
    given_up: int = 0
    consecutive: int = 0
    last_error: str = ""


class AlertEngine:
    """All alert management state, owned by one actor.

    Args:
        settings: the checked configuration.
        swarm_id: the system's swarm, for the alerts it makes itself.
    """

    def __init__(self, settings: AlertingSettings, swarm_id: str = "swarm") -> None:
        self.settings = settings
        self.swarm_id = swarm_id
        self.alerts: dict[str, AlertInstance] = {}
        self.groups: dict[str, Group] = {}
        self.nflog: dict[tuple[str, str], LogEntry] = {}
        self.outbox: dict[str, Notice] = {}
        self.outstanding: dict[tuple[str, str], str] = {}
        self.silences: dict[str, Silence] = {}
        self.escalations: dict[str, Escalation] = {}
        self.acked: dict[str, tuple[str, str, float]] = {}  # fingerprint -> (by, comment, at)
        self.flaps: dict[str, FlapDetector] = {}
        self.health: dict[str, str] = {}
        self.stats = EngineStats()
        self.codec = StateCodec()
        self._integrations = {i.id: i for ints in settings.receivers.values() for i in ints}
        self._policies = {p.name: p for p in settings.escalation_policies}
        self.counters: dict[str, IntegrationCounters] = {}
        self._fallback: dict[str, Route] = {}  # receiver -> its route for ReceiverFailing
        self._index: list[dict[tuple[str, ...], set[str]]] | None = None
        self._index_at = 0.0  # the time the index was built for (firing depends on it)

    # Alerts in

    def put(self, alert: AlertInstance, now: float) -> None:
        """Take a new or updated alert: store it, route it into its groups."""
        self.stats.alerts_received += 1
        fp = alert.fingerprint
        old = self.alerts.get(fp)
        if old is not None and not old.resolved(now) and old.starts_at < alert.starts_at:
            alert = msgspec.structs.replace(alert, starts_at=old.starts_at)
        self.alerts[fp] = alert
        self._index = None
        self.codec.put_alert(fp, alert, now)
        for route in self._routes(alert):
            key = group_key(route, alert.labels)
            group = self.groups.get(key)
            if group is None:
                group = Group(key, route, group_labels(route, alert.labels), next_flush=now + route.group_wait)
                self.groups[key] = group
            was = group.alerts.get(fp)
            group.alerts[fp] = alert
            if not group.flushed and alert.starts_at + route.group_wait < now:
                group.next_flush = now
            if (route.resolve_immediately and group.flushed and alert.resolved(now)
                    and was is not None and not was.resolved(now)):
                group.next_flush = now
        self._escalation_for(fp, alert, now)

    def observe_health(self, agent_id: str, state: str, now: float) -> AlertInstance | None:
        """Feed an agent's state to its flap detector; the AgentFlapping change, if any."""
        self.health[agent_id] = state
        if not self.settings.flapping.enabled:
            return None
        detector = self.flaps.get(agent_id)
        if detector is None:
            detector = self.flaps[agent_id] = FlapDetector(self.settings.flapping)
        return self._flap_change(agent_id, detector.observe(state), now)

    def sample_flaps(self, now: float) -> list[AlertInstance]:
        """One sample of every tracked agent's current state (Nagios' regular check)."""
        out = []
        for agent_id, detector in list(self.flaps.items()):
            change = self._flap_change(agent_id, detector.observe(self.health[agent_id]), now)
            if change is not None:
                out.append(change)
            if detector.steady:
                del self.flaps[agent_id]
        return out

    def _flap_change(self, agent_id: str, change: bool | None, now: float) -> AlertInstance | None:
        if change is None:
            return None
        if change:
            self.stats.flaps_started += 1
        labels = {"alertname": "AgentFlapping", "agent_id": agent_id, "swarm_id": self.swarm_id,
                  "severity": "warning", "scope": "agent"}
        old = self.alerts.get(fingerprint(labels))
        starts = old.starts_at if old is not None and change is False else now
        pct = self.flaps[agent_id].percent
        return AlertInstance(
            labels=labels,
            annotations={"summary": f"agent {agent_id} is flapping ({pct:.0f}% state change)" if change
                         else f"agent {agent_id} has settled ({pct:.0f}% state change)"},
            starts_at=starts, ends_at=None if change else now,
        )

    # Silences and acknowledgements

    def add_silence(self, spec: SilenceSpec, now: float) -> str:
        """Create (or, with a known id, replace) a silence; returns its id."""
        silence = new_silence(spec, now)
        self.silences[silence.id] = silence
        self.codec.put_silence(silence, now)
        return silence.id

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """End a silence now; False if there is no such silence."""
        silence = self.silences.get(silence_id)
        if silence is None:
            return False
        self.silences[silence_id] = silence.expired(now)
        self.codec.put_silence(self.silences[silence_id], now)
        return True

    def list_silences(self, now: float) -> list[tuple[Silence, SilenceState]]:
        """Every silence, with its state at ``now``, newest first."""
        return sorted(((s, s.state(now)) for s in self.silences.values()),
                      key=lambda pair: -pair[0].updated_at)

    def acknowledge(self, fp: str, by: str, comment: str, now: float) -> bool:
        """Hold an alert's escalation until the ack times out; False for an unknown alert."""
        if fp not in self.alerts:
            return False
        self.codec.put_ack(fp, by, comment, now)
        self.acked[fp] = (by, comment, now)
        esc = self.escalations.get(fp)
        if esc is not None:
            self.escalations[fp] = acknowledge(esc, by, comment, now)
            self.codec.put_escalation(self.escalations[fp], now)
        return True

    # Time

    def next_deadline(self) -> float | None:
        """The earliest moment at which :meth:`step` has something to do."""
        times = [g.next_flush for g in self.groups.values()]
        times += [n.next_attempt for n in self.outbox.values() if not n.sending]
        for esc in self.escalations.values():
            policy = self._policies.get(esc.policy)
            when = due_at(policy, esc) if policy else None
            if when is not None:
                times.append(when)
        return min(times, default=None)

    def step(self, now: float) -> None:
        """Flush the groups and take the escalation steps due at ``now``."""
        for group in [g for g in self.groups.values() if g.next_flush <= now]:
            self._flush(group, now)
        for fp, esc in list(self.escalations.items()):
            policy = self._policies.get(esc.policy)
            if policy is not None:
                self._escalate(policy, fp, esc, now)

    def due_notices(self, now: float, durable: Iterable[str] | None = None,
                    busy: Iterable[str] = ()) -> list[Notice]:
        """Notices to attempt now, marked as sending: at most one per integration not ``busy``,
        and (when ``durable`` is given) only those whose ids it holds."""
        allowed = None if durable is None else set(durable)
        taken = set(busy)
        out = []
        for notice in self.outbox.values():
            if notice.sending or notice.next_attempt > now or notice.integration in taken:
                continue
            if allowed is not None and notice.id not in allowed:
                continue
            taken.add(notice.integration)
            notice.sending = True
            notice.attempts += 1
            self.stats.attempts += 1
            self._counter(notice.integration).attempts += 1
            out.append(notice)
        return out

    def delivered(self, notice_id: str, now: float) -> None:
        """An attempt succeeded: log the state it carried; the notice is done."""
        notice = self.outbox.pop(notice_id, None)
        if notice is None:
            return
        key = (notice.integration, notice.group_key)
        self.outstanding.pop(key, None)
        self.nflog[key] = notice.entry(now)
        self.codec.put_log(key, self.nflog[key], now)
        self.codec.drop_notice(notice_id, now)
        self.stats.notices_delivered += 1
        counter = self._counter(notice.integration)
        counter.delivered += 1
        counter.consecutive = 0
        group = self.groups.get(notice.group_key)
        if (group is not None and group.route.resolve_immediately
                and any(a.resolved(now) for a in group.alerts.values())):
            group.next_flush = now  # it resolved while this notice was out: no waiting
        if self.failing(notice.integration, now):  # (also one restored from before a restart)
            self.put(self._receiver_alert(notice.integration, "", now, resolved=True), now)

    def failed(self, notice_id: str, error: str, now: float, *,
               timed_out: bool = False) -> AlertInstance | None:
        """An attempt failed: retry later with backoff; the ReceiverFailing alert when due."""
        notice = self.outbox.get(notice_id)
        if notice is None:
            return None
        counter = self._counter(notice.integration)
        counter.failures += 1
        counter.last_error = error
        if timed_out:
            counter.timeouts += 1
            self.stats.timeouts += 1
        notice.sending = False
        notice.last_error = error
        notice.next_attempt = now + backoff(notice.attempts, self.settings.initial_backoff,
                                            self.settings.max_backoff)
        self.codec.put_notice(notice, now)
        self.stats.failures += 1
        by = self.stats.failures_by_integration
        by[notice.integration] = by.get(notice.integration, 0) + 1
        counter.consecutive += 1
        if counter.consecutive == self.settings.failures_before_alert and not self.failing(
                notice.integration, now):
            return self._receiver_alert(notice.integration, error, now, resolved=False)
        return None

    def give_up(self, notice_id: str, error: str, now: float) -> None:
        """Drop a notice that cannot be delivered (its integration left the configuration)."""
        notice = self.outbox.pop(notice_id, None)
        if notice is None:
            return
        self.outstanding.pop((notice.integration, notice.group_key), None)
        self.codec.drop_notice(notice_id, now)
        counter = self._counter(notice.integration)
        counter.given_up += 1
        counter.last_error = error
        self.stats.given_up += 1

    def failing(self, integration: str, now: float) -> bool:
        """Whether ``integration``'s ReceiverFailing alert fires at ``now``."""
        alert = self.alerts.get(fingerprint(self._receiver_labels(integration)))
        return alert is not None and not alert.resolved(now)

    def receiver_stats(self, now: float) -> list[ReceiverStats]:
        """Every configured integration's counters, in configuration order, then any other
        integration counted (a notice restored for one no longer configured)."""
        ids = list(self._integrations) + sorted(set(self.counters) - set(self._integrations))
        out = []
        for integration in ids:
            c = self.counters.get(integration) or IntegrationCounters()
            integ = self._integrations.get(integration)
            if integ is not None:
                receiver, kind = integ.receiver, str(integ.kind)
            else:  # "<receiver>/<kind>/<index>"
                receiver, _, rest = integration.partition("/")
                kind = rest.partition("/")[0]
            out.append(ReceiverStats(
                integration=integration, receiver=receiver, kind=kind, attempts=c.attempts,
                delivered=c.delivered, failures=c.failures, timeouts=c.timeouts,
                given_up=c.given_up, failing=self.failing(integration, now), last_error=c.last_error,
            ))
        return out

    def restore(self, loaded: Loaded, now: float) -> None:
        """Carry on from the records a previous run stored (see :func:`decode_state`).

        The log and the outbox come back as they were; a notice whose attempt
        was out when the process died is due again (with its id, so a receiver
        can tell a repeat). Alerts are routed again: their groups are rebuilt,
        and the log keeps them from notifying what was already delivered.
        """
        self.silences.update(loaded.silences)
        self.nflog.update(loaded.nflog)
        for notice in loaded.outbox.values():
            notice.sending = False
            self.outbox[notice.id] = notice
            self.outstanding[(notice.integration, notice.group_key)] = notice.id
        self.escalations.update(loaded.escalations)
        for alert in loaded.alerts.values():
            self.put(alert, now)
        self.stats.alerts_received -= len(loaded.alerts)
        self.codec.take()  # what was just loaded is stored already

    def take_changes(self) -> list[Any]:
        """The durable changes since the last call (see :class:`~actors.alerting.state.StateCodec`)."""
        return self.codec.take()

    # Internals

    def _counter(self, integration: str) -> IntegrationCounters:
        counter = self.counters.get(integration)
        if counter is None:
            counter = self.counters[integration] = IntegrationCounters()
        return counter

    def _receiver_labels(self, integration: str) -> dict[str, str]:
        return {"alertname": RECEIVER_FAILING, "agent_id": "*", "swarm_id": self.swarm_id,
                "severity": "warning", "scope": "swarm", "integration": integration}

    def _receiver_alert(self, integration: str, error: str, now: float, *, resolved: bool) -> AlertInstance:
        summary = (f"notifications to {integration} are delivered again" if resolved
                   else f"notifications to {integration} are failing: {error}")
        return AlertInstance(
            labels=self._receiver_labels(integration),
            annotations={"summary": summary[:4096]},
            starts_at=now, ends_at=now if resolved else None,
        )

    def _routes(self, alert: AlertInstance) -> list[Route]:
        """The routes that take ``alert``: the tree's, except that a ReceiverFailing alert the
        tree gives to no integration but the failing one goes to every other receiver."""
        routes = match_routes(self.settings.route, alert.labels)
        failing = alert.labels.get("integration")
        if alert.labels.get("alertname") != RECEIVER_FAILING or failing is None:
            return routes
        receivers = self.settings.receivers
        if any(i.id != failing for r in routes for i in receivers.get(r.receiver, ())):
            return routes
        root = self.settings.route
        fallback = []
        for name, integrations in receivers.items():
            if not any(i.id != failing for i in integrations):
                continue
            route = self._fallback.get(name)
            if route is None:
                route = self._fallback[name] = Route(
                    id=f"receiver-failing.{name}", receiver=name, group_by=("alertname", "integration"),
                    group_wait=root.group_wait, group_interval=root.group_interval,
                    repeat_interval=root.repeat_interval, resolve_immediately=True,
                )
            fallback.append(route)
        return fallback or routes

    def muted(self, alert: AlertInstance, now: float) -> bool:
        """Whether a silence or an inhibition rule mutes ``alert`` at ``now``."""
        return self._muted(alert, now)

    def _muted(self, alert: AlertInstance, now: float) -> bool:
        if any(s.mutes(alert.labels, now) for s in self.silences.values()):
            return True
        return self._inhibited(alert, now)

    def _inhibited(self, alert: AlertInstance, now: float) -> bool:
        rules = self.settings.inhibit_rules
        if self._index is None or self._index_at != now:
            self._index_at = now
            self._index = [dict() for _ in rules]
            for fp, source in self.alerts.items():
                if source.resolved(now):
                    continue
                for i, rule in enumerate(rules):
                    if matches(rule.source, source.labels):
                        key = tuple(source.labels.get(n, "") for n in rule.equal)
                        self._index[i].setdefault(key, set()).add(fp)
        mine = alert.fingerprint
        for i, rule in enumerate(rules):
            if matches(rule.target, alert.labels):
                sources = self._index[i].get(tuple(alert.labels.get(n, "") for n in rule.equal))
                if sources and (len(sources) > 1 or mine not in sources):
                    return True
        return False

    def _flush(self, group: Group, now: float) -> None:
        route = group.route
        group.next_flush = now + route.group_interval
        group.flushed = True
        shown = [a for a in group.alerts.values() if not self._muted(a, now)]
        firing = frozenset(a.fingerprint for a in shown if not a.resolved(now))
        resolved = frozenset(a.fingerprint for a in shown if a.resolved(now))
        skipped = False
        for integ in self.settings.receivers.get(route.receiver, ()):
            key = (integ.id, group.key)
            if key in self.outstanding:
                skipped = True
                continue
            own = [a for a in shown if a.labels.get("integration") != integ.id
                   or a.labels.get("alertname") != RECEIVER_FAILING]  # never about itself
            f = frozenset(a.fingerprint for a in own) & firing
            r = frozenset(a.fingerprint for a in own) & resolved
            if not needs_update(self.nflog.get(key), f, r, send_resolved=integ.send_resolved,
                                repeat_interval=route.repeat_interval, now=now):
                continue
            carried = tuple(a for a in own if integ.send_resolved or a.fingerprint in f)
            self._decide(integ, group.key, group.labels, carried, f, r, now)
        if not skipped:
            for fp in [fp for fp, a in group.alerts.items() if a.resolved(now)]:
                del group.alerts[fp]
                self._forget(fp, now)
        if not group.alerts:
            del self.groups[group.key]

    def _decide(self, integ: Integration, key: str, labels: dict[str, str],
                alerts: tuple[AlertInstance, ...], firing: frozenset[str], resolved: frozenset[str],
                now: float) -> None:
        notice = Notice(
            id=notice_id(integ.id, key, firing, resolved, self.nflog.get((integ.id, key))),
            integration=integ.id, receiver=integ.receiver, group_key=key,
            group_labels=labels, alerts=alerts, firing=firing, resolved=resolved, created_at=now,
            next_attempt=now,
        )
        self.stats.notices_decided += 1
        if not alerts:  # nothing to send (resolved only, without send_resolved): log it
            self.nflog[(integ.id, key)] = notice.entry(now)
            self.codec.put_log((integ.id, key), self.nflog[(integ.id, key)], now)
            return
        self.outbox[notice.id] = notice
        self.outstanding[(integ.id, key)] = notice.id
        self.codec.put_notice(notice, now)

    def _forget(self, fp: str, now: float) -> None:
        """Drop a resolved alert once no group holds it any more."""
        if any(fp in g.alerts for g in self.groups.values()):
            return
        alert = self.alerts.get(fp)
        if alert is not None and alert.resolved(now):
            del self.alerts[fp]
            self._index = None
            self.codec.drop_alert(fp, now)

    def _escalation_for(self, fp: str, alert: AlertInstance, now: float) -> None:
        esc = self.escalations.get(fp)
        if alert.resolved(now):
            if esc is not None:
                del self.escalations[fp]
                self.codec.drop_escalation(fp, now)
            return
        if esc is not None:
            return
        for policy in self.settings.escalation_policies:
            if policy.applies(alert.labels):
                self.escalations[fp] = start(policy, fp, now)
                self.codec.put_escalation(self.escalations[fp], now)
                return

    def _escalate(self, policy: EscalationPolicy, fp: str, esc: Escalation, now: float) -> None:
        alert = self.alerts.get(fp)
        if alert is None or alert.resolved(now):
            return
        taken = advance(policy, esc, now)
        if taken is None:
            return
        esc, receivers, level = taken
        self.escalations[fp] = esc
        self.codec.put_escalation(esc, now)
        if self._muted(alert, now):
            return
        key = f"escalation:{policy.name}:{fp}:{esc.round}.{esc.step}"
        labels: dict[str, str] = {"policy": policy.name, "level": str(level)}
        labels.update((k, alert.labels[k]) for k in ("alertname", "agent_id", "swarm_id"))
        for name in receivers:
            for integ in self.settings.receivers.get(name, ()):
                if (integ.id, key) not in self.nflog and (integ.id, key) not in self.outstanding:
                    self._decide(integ, key, labels, (alert,), frozenset({fp}), frozenset(), now)
