"""What each receiver sends: Alertmanager's webhook v4, Slack blocks, an email's text.

All three are built from one :class:`~actors.alerting.nflog.Notice`, so a
group reads the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from actors.alerting.nflog import Notice
from messages.alerting import AlertInstance

__all__ = ["alertmanager_alerts", "email_text", "slack_message", "status_of", "webhook_payload"]

_ZERO = "0001-01-01T00:00:00Z"  # Go's zero time: how Alertmanager shows "no end"


def rfc3339(epoch: float | None) -> str:
    """UTC time as Alertmanager writes it (the zero time for None)."""
    if epoch is None:
        return _ZERO
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(alert: AlertInstance, notice: Notice) -> str:
    return "firing" if alert.fingerprint in notice.firing else "resolved"


def status_of(notice: Notice) -> str:
    """``firing`` if any alert of the notice fires, else ``resolved``."""
    return "firing" if notice.firing else "resolved"


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def webhook_payload(notice: Notice, external_url: str, max_alerts: int = 0) -> dict[str, Any]:
    """Alertmanager's webhook body, version "4", field for field."""
    alerts = list(notice.alerts)
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": notice.group_key,
        "truncatedAlerts": truncated,
        "status": status_of(notice),
        "receiver": notice.receiver,
        "groupLabels": dict(notice.group_labels),
        "commonLabels": _common([a.labels for a in notice.alerts]),
        "commonAnnotations": _common([a.annotations for a in notice.alerts]),
        "externalURL": external_url,
        "alerts": [
            {
                "status": _status(a, notice),
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at if _status(a, notice) == "resolved" else None),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in alerts
        ],
    }


def _line(alert: AlertInstance, notice: Notice) -> str:
    labels = alert.labels
    summary = alert.annotations.get("summary", "")
    return f"[{_status(alert, notice).upper()}] {labels['alertname']} {labels['agent_id']}: {summary}"


def _title(notice: Notice) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(notice.group_labels.items()))
    count = len(notice.firing) if notice.firing else len(notice.resolved)
    return f"[{status_of(notice).upper()}:{count}] {shown}"


def slack_message(notice: Notice, channel: str = "", limit: int = 20) -> dict[str, Any]:
    """One Slack message per group: blocks, and the fallback ``text``."""
    lines = [_line(a, notice) for a in notice.alerts]
    shown = lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])
    message: dict[str, Any] = {
        "text": _title(notice),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _title(notice)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown)[:3000]}},
        ],
    }
    if channel:
        message["channel"] = channel
    return message


def email_text(notice: Notice) -> tuple[str, str]:
    """The subject and plain-text body of a notice."""
    body = [_title(notice), ""]
    for a in notice.alerts:
        body.append(_line(a, notice))
        body.append(f"  labels: {', '.join(f'{k}={v}' for k, v in sorted(a.labels.items()))}")
        body.append(f"  started: {rfc3339(a.starts_at)}")
        if _status(a, notice) == "resolved":
            body.append(f"  ended: {rfc3339(a.ends_at)}")
        body.append(f"  fingerprint: {a.fingerprint}")
    return _title(notice), "\n".join(body) + "\n"


def alertmanager_alerts(notice: Notice) -> list[dict[str, Any]]:
    """The body of Alertmanager's ``POST /api/v2/alerts`` (postable alerts)."""
    out = []
    for a in notice.alerts:
        item: dict[str, Any] = {"labels": dict(a.labels), "annotations": dict(a.annotations),
                                "startsAt": rfc3339(a.starts_at)}
        if a.generator_url:
            item["generatorURL"] = a.generator_url
        if _status(a, notice) == "resolved" and a.ends_at is not None:
            item["endsAt"] = rfc3339(a.ends_at)
        out.append(item)
    return out
