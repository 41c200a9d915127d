"""The alert router's private requests and replies (between actors of this process)."""

from __future__ import annotations

from typing import Any

import msgspec

from actors.alerting.config import Integration
from actors.alerting.nflog import Notice

__all__ = [
    "AlertStateFailed",
    "AlertStateStored",
    "BurstOver",
    "Delivered",
    "DeliveryError",
    "GetAlerting",
    "GetReceivers",
    "ListSilences",
    "Notify",
    "Sample",
    "StoreAlertState",
    "TaskOutcomes",
    "Tick",
]


class _Private(msgspec.Struct, frozen=True, kw_only=True):
    """Never crosses the wire."""


class Tick(_Private, frozen=True, kw_only=True):
    """Time to look at the engine's deadlines."""


class BurstOver(_Private, frozen=True, kw_only=True):
    """Time to see whether the burst of transitions and alerts held back is over."""


class Sample(_Private, frozen=True, kw_only=True):
    """Time to sample every tracked agent's state (flapping) and evaluate the rules."""


class TaskOutcomes(_Private, frozen=True, kw_only=True):
    """From the aggregator, of one batch: ``counts`` ``{(agent_id, minute_start): (tasks, failures)}``
    and, when the p95 rule is on, ``durations`` ``{(agent_id, kind, minute_start): [ms, ...]}``
    (kind ``""`` unless the rule is per kind)."""

    counts: dict[tuple[str, int], tuple[int, int]]
    durations: dict[tuple[str, str, int], list[float]] = {}


class Notify(_Private, frozen=True, kw_only=True):
    """To a Notifier: deliver this notice once and say how it went."""

    notice: Notice
    integration: Integration
    external_url: str


class Delivered(_Private, frozen=True, kw_only=True):
    """From a Notifier: the attempt got through."""

    notice_id: str


class DeliveryError(_Private, frozen=True, kw_only=True):
    """From a Notifier: the attempt failed, and why (``timed_out``: it ran out of time)."""

    notice_id: str
    error: str
    timed_out: bool = False


class StoreAlertState(_Private, frozen=True, kw_only=True):
    """To the storage writer: apply ``changes`` in one transaction, then tell ``reply_to``."""

    changes: list[Any]
    reply_to: Any
    token: int


class AlertStateStored(_Private, frozen=True, kw_only=True):
    """From the writer: batch ``token`` is committed."""

    token: int


class AlertStateFailed(_Private, frozen=True, kw_only=True):
    """From the writer: batch ``token`` was refused; nothing of it stored."""

    token: int
    error: str


class ListSilences(_Private, frozen=True, kw_only=True):
    """Reply: a list of (SilenceSpec, state) for every silence."""


class GetAlerting(_Private, frozen=True, kw_only=True):
    """Reply: a dict of the router's counters and state sizes."""


class GetReceivers(_Private, frozen=True, kw_only=True):
    """Reply: a list of :class:`messages.ReceiverStats`, one per integration."""


class ListAlerts(_Private, frozen=True, kw_only=True):
    """Reply: the router's alerts (firing first, newest first), at most ``limit``."""

    limit: int = 500
