"""Answers encoded once, the same way everywhere: JSON by msgspec, errors as one line."""

from __future__ import annotations

from typing import Any, Final

import msgspec
from starlette.responses import Response

__all__ = ["encode_json", "error_response", "json_response"]

_JSON: Final = msgspec.json.Encoder()
encode_json: Final = _JSON.encode
"""msgspec's JSON encoding of any answer (structs, enums, dicts)."""


def json_response(content: Any, status: int = 200) -> Response:
    """``content`` encoded by msgspec as JSON."""
    return Response(_JSON.encode(content), status, media_type="application/json")


def error_response(status: int, reason: str, field: str | None = None) -> Response:
    """``{"error": reason, "field": field}``: one line, never a traceback or a path."""
    body: dict[str, Any] = {"error": reason}
    if field is not None:
        body["field"] = field
    return json_response(body, status)
