"""The notification log and the outbox: what each integration was told about each group.

Keyed by (integration, group key), as Alertmanager's nflog. :func:`needs_update`
is Alertmanager's ``DedupStage.needsUpdate``. What Alertmanager lacks: a
notice, once decided, is a record of its own (:class:`Notice`, in the outbox)
that is retried with the same id and the same content until delivered, and
while it is outstanding no second notice for that (integration, group) is
decided. A late success of a timed-out attempt therefore cannot lead to a
second notice of the same state; the log is written when the notice is
delivered.
"""

from __future__ import annotations

import uuid
from typing import Final

import msgspec

from messages.alerting import AlertInstance

__all__ = ["LogEntry", "Notice", "backoff", "needs_update", "notice_id"]

_NAMESPACE: Final = uuid.UUID("5b2f1d4e-8c1a-4f7e-9a57-0d3c6e2b9f10")


class LogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """The last delivered state of one group to one integration (wall time ``at``)."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


class Notice(msgspec.Struct, kw_only=True):
    """One notification decided for one integration; the unit of delivery and retry.

    Attributes:
        id: :func:`notice_id` of the decision: stored with the notice, the same on every
            retry and after a restart (sent as ``Idempotency-Key``).
        integration: e.g. ``"team/webhook/0"``.
        receiver: the receiver's name.
        group_key: the group (or ``escalation:...`` for an escalation step).
        group_labels: the labels that name the group.
        alerts: what the notice carries (resolved ones only with send_resolved).
        firing, resolved: the fingerprints the log records once it is delivered.
        created_at: when it was decided.
        attempts: deliveries tried so far.
        next_attempt: when the next try is due.
        sending: an attempt is out and not yet answered.
        last_error: the last attempt's failure.
    """

    id: str
    integration: str
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: tuple[AlertInstance, ...]
    firing: frozenset[str]
    resolved: frozenset[str]
    created_at: float
    attempts: int = 0
    next_attempt: float = 0.0
    sending: bool = False
    last_error: str = ""

    def entry(self, now: float) -> LogEntry:
        """What the log holds once this notice is delivered at ``now``."""
        return LogEntry(firing=self.firing, resolved=self.resolved, at=now)


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Whether a group in this state must be notified, given the last delivered entry.

    Alertmanager's rules: never notified, notify if anything fires; new firing
    alerts, notify; everything resolved, notify if the receiver knew of firing
    ones (regardless of send_resolved, to clear the log); newly resolved ones
    with send_resolved, notify; otherwise only once ``repeat_interval`` passed.
    """
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.at <= now - repeat_interval


def notice_id(integration: str, group_key: str, firing: frozenset[str], resolved: frozenset[str],
              previous: LogEntry | None) -> str:
    """The id of a notice: a UUID (version 5) of what it says, to whom, after what.

    Derived from the integration, the group, the firing and resolved
    fingerprints and the log entry it follows (its time; none for a group
    never notified), all durable: the same decision always gets the same id,
    even one made again after a crash, and a repeat of an unchanged group
    (after ``repeat_interval``) gets a new one, as it follows a newer entry.
    """
    after = "-" if previous is None else repr(previous.at)
    text = "\x1f".join((integration, group_key, ",".join(sorted(firing)), ",".join(sorted(resolved)), after))
    return str(uuid.uuid5(_NAMESPACE, text))


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """Seconds before retry number ``attempts`` (1, 2, ...): doubling from ``initial``."""
    return float(min(maximum, initial * 2.0 ** max(0, attempts - 1)))
