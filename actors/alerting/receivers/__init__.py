"""Receivers: the payloads, and one delivery attempt to webhook, Slack, email or Alertmanager."""

from actors.alerting.receivers.delivery import DeliveryFailed, deliver
from actors.alerting.receivers.payload import (
    alertmanager_alerts,
    email_text,
    slack_message,
    webhook_payload,
)

__all__ = [
    "DeliveryFailed",
    "alertmanager_alerts",
    "deliver",
    "email_text",
    "slack_message",
    "webhook_payload",
]
