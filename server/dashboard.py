"""The dashboard: one HTML shell for every page, and its script and style, from the package.

The shell holds no data: the script asks the API for everything, with the token
the page was given (``/#token=...``, which a browser never sends to a server, or the
login prompt), and listens to ``/v1/events``. So the shell and its assets are served
without the token, and a page without the token shows only the prompt.

No CDN and no build step: the files in ``server/static`` are the whole dashboard,
charts included (a small SVG script of our own: a sparkline, a banded timeline and
a line chart are all it draws, and a library would be a larger file to vet and pin
than the code it would replace).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS", "PAGES", "dashboard_routes", "is_public"]

ASSETS: Final = Path(__file__).resolve().parent / "static"
"""Where the dashboard's files are."""

PAGES: Final = ("/", "/alerts")
"""Paths of the shell (besides ``/agents/{agent_id}``)."""

_SECURITY: Final = {
    # the page loads only its own files and talks only to its own origin
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def is_public(path: str) -> bool:
    """Whether ``path`` is the dashboard's shell or one of its assets (served without the token)."""
    return path in PAGES or path.startswith("/agents/") or path.startswith("/static/")


async def shell(request: Request) -> Response:
    """The HTML shell of every dashboard page."""
    return FileResponse(ASSETS / "index.html", media_type="text/html; charset=utf-8",
                        headers=_SECURITY)


def dashboard_routes() -> list[BaseRoute]:
    """The routes to add to the app: the pages and ``/static``."""
    return [
        Route("/", shell, methods=["GET"]),
        Route("/alerts", shell, methods=["GET"]),
        Route("/agents/{agent_id:path}", shell, methods=["GET"]),
        Mount("/static", StaticFiles(directory=ASSETS), name="static"),
    ]
