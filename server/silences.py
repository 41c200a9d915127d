"""Alert management endpoints: Alertmanager's v2 silences, and acknowledgements.

``POST /v1/silences`` takes Alertmanager's ``PostableSilence`` body
(``matchers`` of ``name``, ``value``, ``isRegex``, ``isEqual``; ``startsAt``
and ``endsAt`` as RFC 3339 times or epoch seconds; ``createdBy``, ``comment``;
``id`` to replace one) and answers ``{"silenceID": ...}``, so tools written for
Alertmanager can drive it. ``GET /v1/silences`` lists them in Alertmanager's
``GettableSilence`` form, ``DELETE /v1/silences/{id}`` expires one, and
``POST /v1/alerts/{fingerprint}/ack`` (``{"by": ..., "comment": ...}``)
acknowledges an alert. Without ``start_system(alerting=...)`` they answer 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from actors import MonitoringDisabled
from actors.alerting.receivers.payload import rfc3339
from messages import InvalidMessage
from messages.alerting import SilenceMatcher, SilenceSpec
from server.edge import edge_of
from server.errors import RequestRefused
from server.responses import json_response
from server.limits import read_body

__all__ = [
    "delete_silence", "get_active_alerts", "get_silences", "post_ack", "post_silence"]

_JSON = msgspec.json.Decoder()


class _PostableSilence(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    matchers: list[SilenceMatcher]
    starts_at: str | float
    ends_at: str | float
    created_by: str
    comment: str
    id: str = ""


class _Ack(msgspec.Struct, forbid_unknown_fields=True):
    by: str
    comment: str = ""


def _epoch(field: str, value: str | float) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RequestRefused(400, f"{field}: expected an RFC 3339 time such as "
                                  "2024-05-01T12:00:00Z", field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


async def _body(request: Request, kind: type[Any]) -> Any:
    data = await read_body(request, edge_of(request).limits.max_body_bytes)
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise RequestRefused(400, f"body: {exc}", "body") from None
    except msgspec.DecodeError as exc:
        raise RequestRefused(400, f"the body is not valid JSON: {exc}", "body") from None


def _off(exc: MonitoringDisabled) -> RequestRefused:
    return RequestRefused(404, "alert management is off (start the system with alerting=...)")


async def post_silence(request: Request) -> Response:
    """``POST /v1/silences``: create (or with ``id``, replace) a silence."""
    body: _PostableSilence = await _body(request, _PostableSilence)
    try:
        spec = SilenceSpec(matchers=body.matchers, starts_at=_epoch("startsAt", body.starts_at),
                           ends_at=_epoch("endsAt", body.ends_at), created_by=body.created_by,
                           comment=body.comment, silence_id=body.id)
    except InvalidMessage as exc:
        raise RequestRefused(400, f"{exc.field}: {exc.reason}", exc.field) from None
    try:
        silence_id = await run_in_threadpool(edge_of(request).system.add_silence, spec)
    except MonitoringDisabled as exc:
        raise _off(exc) from None
    return json_response({"silenceID": silence_id})


async def get_silences(request: Request) -> Response:
    """``GET /v1/silences``: every silence, as Alertmanager's GettableSilence."""
    try:
        listed = await run_in_threadpool(edge_of(request).system.list_silences)
    except MonitoringDisabled as exc:
        raise _off(exc) from None
    return json_response([
        {
            "id": spec.silence_id, "status": {"state": state},
            "matchers": [{"name": m.name, "value": m.value, "isRegex": m.is_regex,
                          "isEqual": m.is_equal} for m in spec.matchers],
            "startsAt": rfc3339(spec.starts_at), "endsAt": rfc3339(spec.ends_at),
            "createdBy": spec.created_by, "comment": spec.comment,
        }
        for spec, state in listed
    ])


async def delete_silence(request: Request) -> Response:
    """``DELETE /v1/silences/{silence_id}``: expire it now; 404 when unknown."""
    silence_id = request.path_params["silence_id"]
    try:
        found = await run_in_threadpool(edge_of(request).system.expire_silence, silence_id)
    except MonitoringDisabled as exc:
        raise _off(exc) from None
    if not found:
        raise RequestRefused(404, f"no silence {silence_id!r}", "silence_id")
    return json_response({"silenceID": silence_id, "expired": True})


async def post_ack(request: Request) -> Response:
    """``POST /v1/alerts/{fingerprint}/ack``: acknowledge an alert; 404 when unknown."""
    fingerprint = request.path_params["fingerprint"]
    body: _Ack = await _body(request, _Ack)
    try:
        found = await run_in_threadpool(
            edge_of(request).system.acknowledge_alert, fingerprint, body.by, body.comment)
    except MonitoringDisabled as exc:
        raise _off(exc) from None
    except InvalidMessage as exc:
        raise RequestRefused(400, f"{exc.field}: {exc.reason}", exc.field) from None
    if not found:
        raise RequestRefused(404, f"no active alert with fingerprint {fingerprint}", "fingerprint")
    return json_response({"fingerprint": fingerprint, "acknowledged": True, "by": body.by})


async def get_active_alerts(request: Request) -> Response:
    """``GET /v1/alerts/active``: the alert router's alerts (firing first), with fingerprints."""
    try:
        listed = await run_in_threadpool(edge_of(request).system.list_alerts)
    except MonitoringDisabled as exc:
        raise _off(exc) from None
    return json_response({"alerts": [
        {**alert, "startsAt": rfc3339(alert["startsAt"]),
         "endsAt": None if alert["endsAt"] is None else rfc3339(alert["endsAt"])}
        for alert in listed
    ]})
