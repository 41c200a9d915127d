"""The HTTP edge: agents in other processes report in; the API and the event stream read out.

Nothing below (``actors``, ``storage``, ``messages``) imports this package.
The names below load on first use (PEP 562), so that ``server.client``, which
agent processes import, does not drag in the app and the actor system.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.app import create_app, routes
    from server.errors import BadToken, InsecureBind, RequestRefused
    from server.limits import Limits
    from server.serving import ServerHandle, serve

__all__ = [
    "BadToken", "InsecureBind", "Limits", "RequestRefused", "ServerHandle", "create_app", "routes", "serve",
]

_HOMES = {
    "create_app": "server.app",
    "routes": "server.app",
    "BadToken": "server.errors",
    "InsecureBind": "server.errors",
    "RequestRefused": "server.errors",
    "Limits": "server.limits",
    "ServerHandle": "server.serving",
    "serve": "server.serving",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'server' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
