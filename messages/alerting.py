"""Alert management on the wire: alert instances, silences, acknowledgements.

An :class:`AlertInstance` is Alertmanager's alert: labels (at least
``alertname``, ``agent_id``, ``swarm_id`` and ``severity``), annotations,
``starts_at`` and ``ends_at`` (UTC epoch seconds). Its identity is
:func:`fingerprint` of its labels, computed exactly as Prometheus does
(``model.LabelSet.Fingerprint``): 64-bit FNV-1a over the label names in sorted
order, each name and each value followed by the byte 0xff, shown as 16 hex
digits. The same labels give the same fingerprint here and in Alertmanager.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Final

import msgspec

from messages.base import Message
from messages.constraints import MAX_ID_LENGTH, check_id
from messages.errors import InvalidMessage

__all__ = [
    "REQUIRED_LABELS",
    "Acknowledge",
    "AlertInstance",
    "ExpireSilence",
    "SilenceMatcher",
    "SilenceSpec",
    "fingerprint",
]

REQUIRED_LABELS: Final = ("alertname", "agent_id", "swarm_id", "severity")
"""Labels every alert carries (``agent_id`` is ``*`` for the swarm as a whole)."""
MAX_LABELS: Final = 64
MAX_LABEL_VALUE: Final = 4096
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_FNV_OFFSET: Final = 14695981039346656037
_FNV_PRIME: Final = 1099511628211
_MASK: Final = 2**64 - 1

Labels = dict[str, str]
Fingerprint = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{16}$")]


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus' fingerprint of a label set: FNV-1a 64 over sorted pairs, 16 hex digits.

    Cached by label set (an alert's fingerprint is asked for at every flush).

    Example:
        >>> fingerprint({})
        'cbf29ce484222325'
    """
    return _fingerprint(tuple(sorted(labels.items())))


@functools.lru_cache(maxsize=65536)
def _fingerprint(pairs: tuple[tuple[str, str], ...]) -> str:
    h = _FNV_OFFSET
    for name, value in pairs:
        for part in (name, value):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def check_labels(field: str, labels: object, *, required: tuple[str, ...] = ()) -> None:
    """Raise InvalidMessage unless ``labels`` is a dict of valid names to strings."""
    if type(labels) is not dict:
        raise InvalidMessage(field, labels, "must be a dict of label name to string")
    if len(labels) > MAX_LABELS:
        raise InvalidMessage(field, len(labels), f"at most {MAX_LABELS} labels")
    good = _GOOD_NAMES
    for name, value in labels.items():
        if name not in good:
            if not isinstance(name, str) or not _LABEL_NAME.match(name):
                raise InvalidMessage(f"{field}.{name}", name, "a label name is [a-zA-Z_][a-zA-Z0-9_]*")
            if len(good) < 4096:
                good.add(name)
        if type(value) is not str or len(value) > MAX_LABEL_VALUE:
            raise InvalidMessage(f"{field}.{name}", value, f"must be a string of at most {MAX_LABEL_VALUE} characters")
    for name in required:
        if not labels.get(name):
            raise InvalidMessage(f"{field}.{name}", labels.get(name), "this label is required")


_GOOD_NAMES: set[str] = set()  # label names already checked (a few dozen in practice)


def _check_time(field: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) not in (int, float) or not 0 <= value < math.inf:  # type: ignore[operator]
        raise InvalidMessage(field, value, "must be epoch seconds (a finite number >= 0)")


class AlertInstance(Message, tag="alert_instance", kw_only=True, frozen=True):
    """One alert, as Alertmanager has it.

    ``ends_at`` None means firing until further notice; an ``ends_at`` at or
    before "now" means resolved.
    """

    labels: dict[str, str]
    starts_at: float
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    ends_at: float | None = None
    generator_url: str = ""

    def __post_init__(self) -> None:
        check_labels("labels", self.labels, required=REQUIRED_LABELS)
        check_labels("annotations", self.annotations)
        _check_time("starts_at", self.starts_at)
        _check_time("ends_at", self.ends_at, optional=True)

    @property
    def fingerprint(self) -> str:
        """:func:`fingerprint` of the labels."""
        return fingerprint(self.labels)

    def resolved(self, now: float) -> bool:
        """Whether the alert has ended by wall time ``now``."""
        return self.ends_at is not None and self.ends_at <= now


class SilenceMatcher(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One matcher of an Alertmanager v2 silence (``isEqual`` false means ``!=`` / ``!~``)."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True


class SilenceSpec(Message, tag="silence", kw_only=True, frozen=True):
    """A silence to create (``silence_id`` empty) or replace (its id given)."""

    matchers: list[SilenceMatcher]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    silence_id: str = ""

    def __post_init__(self) -> None:
        if not self.matchers:
            raise InvalidMessage("matchers", self.matchers, "a silence needs at least one matcher")
        for i, m in enumerate(self.matchers):
            if not _LABEL_NAME.match(m.name):
                raise InvalidMessage(f"matchers[{i}].name", m.name, "a label name is [a-zA-Z_][a-zA-Z0-9_]*")
        _check_time("starts_at", self.starts_at)
        _check_time("ends_at", self.ends_at)
        if self.ends_at < self.starts_at:  # equal: one expired at once (as expiring leaves it)
            raise InvalidMessage("ends_at", self.ends_at, "must not be before starts_at")
        check_id("created_by", self.created_by)
        if not self.comment:
            raise InvalidMessage("comment", self.comment, "a silence needs a comment")
        if len(self.silence_id) > MAX_ID_LENGTH:
            raise InvalidMessage("silence_id", self.silence_id, "too long")


class ExpireSilence(Message, tag="expire_silence", kw_only=True, frozen=True):
    """Expire a silence now (Alertmanager's ``DELETE /api/v2/silence/{id}``)."""

    silence_id: str


class Acknowledge(Message, tag="acknowledge", kw_only=True, frozen=True):
    """Someone has seen an alert: escalation stops until the ack times out."""

    fingerprint: Fingerprint
    by: str
    comment: str = ""

    def __post_init__(self) -> None:
        if not re.match(r"^[0-9a-f]{16}$", self.fingerprint):
            raise InvalidMessage("fingerprint", self.fingerprint, "must be 16 hex digits")
        check_id("by", self.by)
