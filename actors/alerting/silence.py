"""Silences, as Alertmanager has them: matchers, a time window, who and why.

A silence is *pending* before ``starts_at``, *active* until ``ends_at``, then
*expired*. Expiring an active silence sets its end to now; expiring a pending
one makes it start and end now, so it never was active.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from actors.alerting.matcher import Matcher, matches
from messages.alerting import SilenceSpec

__all__ = ["Silence", "SilenceState", "new_silence"]


class SilenceState(enum.StrEnum):
    """Where a silence is in its window."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    """A silence with its matchers compiled; wall-clock times in epoch seconds."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state(self, now: float) -> SilenceState:
        """Pending, active or expired at ``now``."""
        if now < self.starts_at:
            return SilenceState.PENDING
        if now < self.ends_at:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether it is active at ``now`` and matches ``labels``."""
        return self.starts_at <= now < self.ends_at and matches(self.matchers, labels)

    def expired(self, now: float) -> Silence:
        """This silence ended at ``now`` (unchanged if it already has)."""
        if self.state(now) is SilenceState.EXPIRED:
            return self
        if self.state(now) is SilenceState.PENDING:
            return replace(self, starts_at=now, ends_at=now, updated_at=now)
        return replace(self, ends_at=now, updated_at=now)

    def spec(self) -> SilenceSpec:
        """The wire form (Alertmanager's v2 silence body)."""
        return SilenceSpec(
            matchers=[m.to_silence() for m in self.matchers], starts_at=self.starts_at,
            ends_at=self.ends_at, created_by=self.created_by, comment=self.comment,
            silence_id=self.id,
        )


def new_silence(spec: SilenceSpec, now: float) -> Silence:
    """Compile a silence body (a fresh uuid4 id unless the body names one).

    Raises:
        InvalidMessage: a matcher's regex does not compile.
    """
    matchers = tuple(
        Matcher.from_silence(m, f"matchers[{i}].value") for i, m in enumerate(spec.matchers)
    )
    return Silence(
        id=spec.silence_id or str(uuid.uuid4()), matchers=matchers, starts_at=spec.starts_at,
        ends_at=spec.ends_at, created_by=spec.created_by, comment=spec.comment, updated_at=now,
    )
