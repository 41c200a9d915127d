"""The engine's durable records: what changed, encoded for ``storage.alertstate``, and back.

Each record is JSON (msgspec) in one of the keyed tables of
:mod:`storage.alertstate`. Changes are collected by key, so a record changed
twice before a write is written once, with its last value.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

import msgspec

from actors.alerting.escalation import Escalation
from actors.alerting.nflog import LogEntry, Notice
from actors.alerting.silence import Silence, new_silence
from messages.alerting import AlertInstance, SilenceSpec
from storage.alertstate import AlertStateChange

__all__ = ["Loaded", "StateCodec", "decode_state"]

_ENC: Final = msgspec.json.Encoder()
_SEP: Final = "|"


class _Ack(msgspec.Struct, frozen=True):
    by: str
    comment: str
    at: float


class _SilenceRecord(msgspec.Struct, frozen=True):
    spec: SilenceSpec
    updated_at: float


class StateCodec:
    """Collects changed records; :meth:`take` hands them over once."""

    def __init__(self) -> None:
        # encoded only when taken: a record changed often in a burst is encoded once
        self._changes: dict[tuple[str, str], tuple[Any, float]] = {}

    def _set(self, table: str, key: str, body: Any, at: float) -> None:
        self._changes[(table, key)] = (body, at)

    def put_alert(self, fp: str, alert: AlertInstance, at: float) -> None:
        self._set("alert_active", fp, alert, at)

    def drop_alert(self, fp: str, at: float) -> None:
        self._set("alert_active", fp, None, at)

    def put_silence(self, silence: Silence, at: float) -> None:
        self._set("alert_silences", silence.id, _SilenceRecord(silence.spec(), silence.updated_at), at)

    def put_ack(self, fp: str, by: str, comment: str, at: float) -> None:
        self._set("alert_acks", fp, _Ack(by, comment, at), at)

    def put_log(self, key: tuple[str, str], entry: LogEntry, at: float) -> None:
        self._set("alert_nflog", _SEP.join(key), entry, at)

    def put_notice(self, notice: Notice, at: float) -> None:
        self._set("alert_outbox", notice.id, notice, at)

    def drop_notice(self, notice_id: str, at: float) -> None:
        self._set("alert_outbox", notice_id, None, at)

    def put_escalation(self, esc: Escalation, at: float) -> None:
        self._set("alert_escalations", esc.fingerprint, asdict(esc), at)

    def drop_escalation(self, fp: str, at: float) -> None:
        self._set("alert_escalations", fp, None, at)

    def take(self) -> list[AlertStateChange]:
        """Every change since the last call, in the order first made."""
        changes, self._changes = self._changes, {}
        return [
            AlertStateChange(table, key, None if body is None else _ENC.encode(body).decode(), at)
            for (table, key), (body, at) in changes.items()
        ]

    def __len__(self) -> int:
        return len(self._changes)


class Loaded(msgspec.Struct):
    """Records read back from storage."""

    alerts: dict[str, AlertInstance]
    silences: dict[str, Silence]
    acks: dict[str, tuple[str, str, float]]
    nflog: dict[tuple[str, str], LogEntry]
    outbox: dict[str, Notice]
    escalations: dict[str, Escalation]


def decode_state(tables: dict[str, dict[str, str]]) -> Loaded:
    """Decode what ``MetricsStorage.load_alert_state`` returned."""
    dec = msgspec.json.decode
    silences = {}
    for key, body in tables.get("alert_silences", {}).items():
        rec = dec(body, type=_SilenceRecord)
        silence = new_silence(rec.spec, rec.updated_at)
        silences[key] = silence
    acks = {}
    for key, body in tables.get("alert_acks", {}).items():
        ack = dec(body, type=_Ack)
        acks[key] = (ack.by, ack.comment, ack.at)
    nflog = {}
    for key, body in tables.get("alert_nflog", {}).items():
        integration, _, group = key.partition(_SEP)
        nflog[(integration, group)] = dec(body, type=LogEntry)
    return Loaded(
        alerts={k: dec(v, type=AlertInstance) for k, v in tables.get("alert_active", {}).items()},
        silences=silences, acks=acks, nflog=nflog,
        outbox={k: dec(v, type=Notice) for k, v in tables.get("alert_outbox", {}).items()},
        escalations={k: msgspec.convert(dec(v), Escalation) for k, v in tables.get("alert_escalations", {}).items()},
    )
