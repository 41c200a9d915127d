"""A client being refused (a wrong token, a body past a limit) as an alert of its own.

With alert management on, a refusal with one of :data:`ALARMING` statuses
raises ``ClientRefused`` (labels ``client``, the peer's address, and
``status``), swarm-wide: an instant that resolves :data:`REFUSED_TTL` seconds
after the last refusal, as ``MonitorStall`` does. At most one alert per
(client, status) is raised every :data:`REFUSED_EVERY` seconds of the system's
clock, so a client retrying in a loop costs the router one alert a minute.
The alert is handed to the system from a worker thread: the event loop never
waits on the router.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from starlette.concurrency import run_in_threadpool

from actors import MonitoringDisabled, SwarmSystem
from messages.alerting import AlertInstance

__all__ = ["ALARMING", "REFUSED_EVERY", "REFUSED_TTL", "RefusalAlarm"]

logger = logging.getLogger("swarmpulse.server")

ALARMING: Final = frozenset({401, 413})
"""The statuses that raise ``ClientRefused``: the token, or a body past a limit."""
REFUSED_EVERY: Final = 60.0
"""Seconds between two alerts for the same (client, status)."""
REFUSED_TTL: Final = 300.0
"""Seconds after the last refusal at which the alert resolves."""
_MAX_KEYS: Final = 10_000


class RefusalAlarm:
    """Raises ``ClientRefused`` for refused requests, throttled per (client, status).

    Args:
        system: the system whose alert router hears it.
    """

    def __init__(self, system: SwarmSystem) -> None:
        self.system = system
        self.enabled = True  # until the system says alert management is off
        self._last: dict[tuple[str, int], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def refused(self, client: str, status: int, reason: str) -> None:
        """Note one refusal (called on the event loop; never blocks)."""
        if not self.enabled or status not in ALARMING:
            return
        now = self.system.clock.time()
        key = (client, status)
        if now - self._last.get(key, float("-inf")) < REFUSED_EVERY:
            return
        if len(self._last) >= _MAX_KEYS:
            self._last.clear()
        self._last[key] = now
        alert = AlertInstance(
            labels={"alertname": "ClientRefused", "agent_id": "*", "swarm_id": self.system.config.swarm_id,
                    "severity": "warning", "scope": "swarm", "client": client, "status": str(status)},
            annotations={"summary": f"requests from {client} are refused with {status}: {reason}"[:4096]},
            starts_at=now, ends_at=now + REFUSED_TTL,
        )
        task = asyncio.get_running_loop().create_task(self._send(alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, alert: AlertInstance) -> None:
        try:
            await run_in_threadpool(self.system.send_alert, alert)
        except MonitoringDisabled:
            self.enabled = False
        except Exception:  # stopping, or the router is gone: a refusal alert is not worth a crash
            logger.debug("ClientRefused not raised", exc_info=True)
