"""One delivery attempt to one integration: blocking I/O with a timeout, run by a Notifier.

Raises :class:`DeliveryFailed` on any failure (refused, timed out, a non-2xx
answer, an SMTP error); the caller retries with backoff. Every HTTP request
carries the notice's id as ``Idempotency-Key``, the same on every retry, so a
receiver that got a timed-out attempt late can tell the retry is a repeat.
"""

from __future__ import annotations

import email.message
import smtplib
import ssl

import httpx

from actors.alerting.config import Integration
from actors.alerting.nflog import Notice
from actors.alerting.receivers.payload import alertmanager_alerts, email_text, slack_message, webhook_payload

__all__ = ["DeliveryFailed", "deliver"]


class DeliveryFailed(Exception):
    """An attempt did not get through; ``str()`` says why, ``timed_out`` whether it ran out of time.

    A timed-out attempt may still have landed: the receiver can tell the retry
    by its ``Idempotency-Key``.
    """

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


def deliver(integration: Integration, notice: Notice, client: httpx.Client, external_url: str) -> None:
    """Send ``notice`` to ``integration`` once.

    Raises:
        DeliveryFailed: it did not get through (the reason in the message).
    """
    s = integration.settings
    try:
        if integration.kind == "email":
            _email(integration, notice)
            return
        if integration.kind == "webhook":
            body: object = webhook_payload(notice, external_url, int(s.get("max_alerts", 0)))
            url = s["url"]
        elif integration.kind == "slack":
            body, url = slack_message(notice, s.get("channel", "")), s["url"]
        else:
            body, url = alertmanager_alerts(notice), s["url"].rstrip("/") + "/api/v2/alerts"
        reply = client.post(url, json=body, timeout=integration.timeout,
                            headers={"Idempotency-Key": notice.id})
        if not 200 <= reply.status_code < 300:
            raise DeliveryFailed(f"{integration.id}: HTTP {reply.status_code} from {url}")
    except DeliveryFailed:
        raise
    except (httpx.TimeoutException, TimeoutError):  # TimeoutError: smtplib's socket timeout
        raise DeliveryFailed(f"{integration.id}: timed out after {integration.timeout:g} s",
                             timed_out=True) from None
    except (httpx.HTTPError, OSError, smtplib.SMTPException, ValueError) as exc:
        raise DeliveryFailed(f"{integration.id}: {type(exc).__name__}: {exc}") from None


def _email(integration: Integration, notice: Notice) -> None:
    s = integration.settings
    subject, text = email_text(notice)
    msg = email.message.EmailMessage()
    msg["Subject"] = subject
    msg["From"] = s["sender"]
    msg["To"] = s["to"]
    msg["Message-ID"] = f"<{notice.id}@swarmpulse>"
    msg.set_content(text)
    with smtplib.SMTP(s["host"], int(s["port"]), timeout=integration.timeout) as smtp:
        smtp.ehlo()
        if s.get("require_tls", True):
            smtp.starttls(context=ssl.create_default_context(cafile=s.get("ca_file") or None))
            smtp.ehlo()
        if s.get("username"):
            smtp.login(s["username"], s.get("password", ""))
        smtp.send_message(msg)
