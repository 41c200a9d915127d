"""The HTTP edge: agents in other processes report in; the API and the event stream read out.

Nothing below (``actors``, ``storage``, ``messages``) imports this package.
"""

from server.app import create_app, routes
from server.errors import InsecureBind, RequestRefused
from server.limits import Limits
from server.serving import ServerHandle, serve

__all__ = ["InsecureBind", "Limits", "RequestRefused", "ServerHandle", "create_app", "routes", "serve"]
