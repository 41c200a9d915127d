"""A manual clock that can hold the coordinator, for tests across packages."""

from __future__ import annotations

import threading

from actors import ManualClock


class CoordinatorHoldingClock(ManualClock):
    """A manual clock that holds the coordinator's thread at its next wall reading (it reads
    the wall clock for each heartbeat), as a coordinator far behind on its inbox is held:
    whatever arrives meanwhile waits in its inbox until :attr:`release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()
        self._armed = False

    def hold_coordinator(self) -> None:
        """Hold the coordinator at its next wall reading, until :attr:`release` is set."""
        self.release.clear()
        self._armed = True

    def time(self) -> float:
        if self._armed and "SwarmCoordinator" in threading.current_thread().name:
            self._armed = False
            self.holding.set()
            self.release.wait(10)
        return super().time()
