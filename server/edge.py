"""What every endpoint shares: the system it serves, the limits, the event hub, the key cache."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from actors import SwarmSystem
from server.bridge import AskBridge
from server.events import EventHub
from server.heartbeats import HeartbeatSender
from server.idempotency import IdempotencyCache
from server.limits import Limits
from server.refusals import RefusalAlarm

__all__ = ["Edge", "edge_of"]


@dataclass(slots=True)
class Edge:
    """The server's state, kept on the app as ``app.state.edge``.

    Attributes:
        system: the running actor system the endpoints talk to.
        limits: the bounds the server keeps.
        hub: the SSE fan-out of the system's events.
        idempotency: answers remembered by ``Idempotency-Key``.
        bridge: asks the coordinator from the loop (set while the server runs).
        beats: sends heartbeats to the coordinator (set while the server runs).
        refusals: raises ``ClientRefused`` for refused clients (set by ``create_app``).
    """

    system: SwarmSystem
    limits: Limits
    hub: EventHub
    idempotency: IdempotencyCache
    bridge: AskBridge | None = None
    beats: HeartbeatSender | None = None
    refusals: RefusalAlarm | None = None


def edge_of(request: Request) -> Edge:
    """The :class:`Edge` of the app that received the request."""
    edge: Edge = request.app.state.edge
    return edge
