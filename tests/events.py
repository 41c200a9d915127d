"""Health events collected from alert callbacks, for tests to wait on."""

from __future__ import annotations

import threading

from messages import HealthChanged

__all__ = ["EventLog"]


class EventLog:
    """Collects HealthChanged events from alert callbacks, for waiting on."""

    def __init__(self) -> None:
        self.events: list[HealthChanged] = []
        self.changed = threading.Condition()

    def __call__(self, event: HealthChanged) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[HealthChanged]:
        """Block until ``count`` events arrived; return them all."""
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= count, timeout=timeout), (
                f"only {len(self.events)} of {count} events arrived: {self.events}"
            )
            return list(self.events)

    def transitions(self, agent_id: str) -> list[tuple[str, str]]:
        """(previous, current) pairs seen for one agent, in order."""
        with self.changed:
            return [(e.previous.value, e.current.value) for e in self.events
                    if e.agent_id == agent_id]
