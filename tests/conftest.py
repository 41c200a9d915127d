"""Shared fixtures: every test must leave no actor and no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest


@pytest.fixture(autouse=True)
def no_leftover_actors_or_threads() -> Iterator[None]:
    """Fail a test that leaves a Pykka actor or a thread running."""
    before = set(threading.enumerate())
    yield
    leftover_actors = pykka.ActorRegistry.get_all()
    pykka.ActorRegistry.stop_all(block=True, timeout=10)
    leftover_threads: list[threading.Thread] = []
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)
        if thread.is_alive():
            leftover_threads.append(thread)
    assert not leftover_actors, f"actors left running: {leftover_actors}"
    assert not leftover_threads, f"threads left running: {leftover_threads}"
