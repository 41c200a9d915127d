"""Reading a server-sent event stream in tests: frames parsed as the browser's EventSource does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Frame:
    """One event, or a comment (a keep-alive ping) when ``comment`` is set."""

    event: str | None = None
    id: str | None = None
    data: str = ""
    comment: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """The data as JSON."""
        return json.loads(self.data)


def frames(response: httpx.Response) -> Iterator[Frame]:
    """The frames of a streaming response, as they arrive."""
    current = Frame()
    for line in response.iter_lines():
        if line == "":
            if current != Frame():
                yield current
            current = Frame()
        elif line.startswith(":"):
            yield Frame(comment=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                current.data = value if not current.data else f"{current.data}\n{value}"
            elif name == "event":
                current.event = value
            elif name == "id":
                current.id = value
            elif name == "retry":
                current.retry = int(value)


def read_until(stream: Iterator[Frame], done: Callable[[list[Frame]], bool]) -> list[Frame]:
    """Frames until ``done(frames so far)`` holds (the client's read timeout bounds the wait)."""
    seen: list[Frame] = []
    for frame in stream:
        seen.append(frame)
        if done(seen):
            return seen
    raise AssertionError(f"the stream ended first: {seen}")


def events(seen: list[Frame], name: str) -> list[Frame]:
    """The frames of one event type."""
    return [f for f in seen if f.event == name]
