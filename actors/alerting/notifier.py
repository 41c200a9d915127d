"""The Notifier: one per integration, doing the blocking I/O off the router's thread."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pykka

from actors.alerting.protocol import Delivered, DeliveryError, Notify
from actors.alerting.receivers import DeliveryFailed, deliver

__all__ = ["Notifier"]

logger = logging.getLogger("swarmpulse.notifier")


class Notifier(pykka.ThreadingActor):
    """Delivers notices to one integration, one attempt per :class:`Notify`.

    Accepts :class:`Notify`; tells the router :class:`Delivered` or
    :class:`DeliveryError`. Every attempt has the integration's timeout, so a
    dead receiver holds only its own notifier. Its thread is a daemon: a
    shutdown never waits on a receiver longer than the system's grace.
    """

    use_daemon_thread = True

    def __init__(self, router: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.router = router
        self.client = httpx.Client()
        self.unknown_messages = 0

    def on_stop(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Notify(notice=notice, integration=integration, external_url=url):
                try:
                    deliver(integration, notice, self.client, url)
                    reply: Any = Delivered(notice_id=notice.id)
                except DeliveryFailed as exc:
                    logger.warning("delivery failed: %s", exc)
                    reply = DeliveryError(notice_id=notice.id, error=str(exc), timed_out=exc.timed_out)
                except Exception as exc:  # a bug in a payload builder must not kill the notifier
                    logger.exception("delivery to %s raised", integration.id)
                    reply = DeliveryError(notice_id=notice.id, error=f"{type(exc).__name__}: {exc}")
                try:
                    self.router.tell(reply)
                except pykka.ActorDeadError:
                    pass
            case _:
                self.unknown_messages += 1
                logger.warning("notifier ignored %r", message)
        return None
