"""Escalation policies and acknowledgements: what Alertmanager leaves to PagerDuty.

A policy is a list of levels, each with receivers and a delay. When an alert
the policy matches starts firing, level 0 is notified; if nobody acknowledges
it within that level's delay, the next level is, and so on. After the last
level the policy starts over from level 0, ``loops`` more times. An
acknowledgement stops the escalation until ``ack_timeout`` (30 min, as
PagerDuty) has passed with the alert still firing: then it re-triggers from
level 0. A resolved alert ends its escalation.

Everything here is a value: :class:`Escalation` is one alert's position, and
:func:`advance` returns the next position and the receivers to notify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from actors.alerting.matcher import Matcher, matches

__all__ = ["Escalation", "EscalationLevel", "EscalationPolicy", "acknowledge", "advance", "start"]


@dataclass(frozen=True)
class EscalationLevel:
    """Who to notify at this level, and how long to wait for an ack before the next."""

    delay: float
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    """Levels for the alerts ``matchers`` select."""

    name: str
    matchers: tuple[Matcher, ...]
    levels: tuple[EscalationLevel, ...]
    loops: int = 0
    ack_timeout: float = 1800.0

    def applies(self, labels: Mapping[str, str]) -> bool:
        """Whether this policy covers an alert with ``labels``."""
        return matches(self.matchers, labels)


@dataclass(frozen=True)
class Escalation:
    """Where one alert is in its policy (wall-clock times, epoch seconds).

    Attributes:
        fingerprint: the alert's.
        policy: the policy's name.
        step: how many levels have been notified so far, loops included.
        round: how many times an expired ack re-triggered it.
        next_at: when the next step is due; None when the policy is exhausted.
        acked_by, ack_comment, acked_at: the acknowledgement in force, if any.
    """

    fingerprint: str
    policy: str
    step: int
    next_at: float | None
    acked_by: str | None = None
    ack_comment: str = ""
    acked_at: float | None = None
    round: int = 0

    def level(self, policy: EscalationPolicy) -> int:
        """The level the next step notifies."""
        return self.step % len(policy.levels)


def start(policy: EscalationPolicy, fingerprint: str, now: float) -> Escalation:
    """A fresh escalation whose first step (level 0) is due now."""
    return Escalation(fingerprint=fingerprint, policy=policy.name, step=0, next_at=now)


def advance(
    policy: EscalationPolicy, esc: Escalation, now: float
) -> tuple[Escalation, tuple[str, ...], int] | None:
    """Take the step due at ``now``: the new position, the receivers, the level.

    An acknowledgement past ``ack_timeout`` is dropped and the escalation starts
    over at level 0. None when nothing is due.
    """
    if esc.acked_at is not None:
        if now < esc.acked_at + policy.ack_timeout:
            return None
        esc = replace(esc, acked_by=None, ack_comment="", acked_at=None, step=0, round=esc.round + 1)
    elif esc.next_at is None or now < esc.next_at:
        return None
    total = len(policy.levels) * (policy.loops + 1)
    if esc.step >= total:
        return None
    level = esc.level(policy)
    spec = policy.levels[level]
    step = esc.step + 1
    next_at = now + spec.delay if step < total else None
    return replace(esc, step=step, next_at=next_at), spec.receivers, level


def acknowledge(esc: Escalation, by: str, comment: str, now: float) -> Escalation:
    """The escalation held by an ack from ``by`` at ``now``."""
    return replace(esc, acked_by=by, ack_comment=comment, acked_at=now)


def due_at(policy: EscalationPolicy, esc: Escalation) -> float | None:
    """When :func:`advance` will next have something to do."""
    if esc.acked_at is not None:
        return esc.acked_at + policy.ack_timeout
    return esc.next_at
