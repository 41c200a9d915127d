"""The facade's plumbing: its parts, and the asks, reads and flushes every view uses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pykka

from actors.aggregator import AggregateState
from actors.alerting.protocol import GetReceivers
from actors.analytics.state import AnalystState
from actors.callbacks import CallbackRunner
from actors.channel import TelemetryChannel
from actors.coordinator import Services, SystemConfig
from actors.errors import (
    AgentNotTracked,
    MonitoringDisabled,
    SystemStopped,
    UnknownAgent,
)
from actors.kernel.clock import Clock, TimerHandle
from actors.kernel.runtime import Dispatcher
from actors.pending import Backlog, CountUnacked
from actors.protocol import (
    AgentSnapshot,
    Drain,
    Flush,
    GetHistory,
    GetStatus,
    HealthStatus,
    ReadAgent,
    Snapshot,
    StorageRead,
    SwarmSnapshot,
)
from actors.reporter import ReporterState
from actors.tracker import StallLedger
from actors.writer import WriterStats
from messages import HealthState, InvalidMessage, ReceiverStats, check_id, to_epoch
from storage import AgentRecord, MetricsStorage

ASK_TIMEOUT: Final = 30.0


class Plumbing:
    """What every part of the facade shares: the parts and the ways to ask them."""

    # The parts, made by SwarmSystem.__init__ (facade.py); each owned as its comment there says.
    _config: SystemConfig
    _clock: Clock
    _own_clock: bool
    _closed: bool
    _gc_freeze: bool
    _froze: bool
    _lock: threading.Lock
    _done: set[str]
    _known_lock: threading.Lock
    _phi_agents: set[str]
    _storage: MetricsStorage
    _untracked: dict[str, tuple[AgentSnapshot, AgentRecord]]
    _ledger: StallLedger
    _pending: Backlog
    _services: Services
    _writer_stats: WriterStats
    _aggregate: AggregateState
    _reporter_state: ReporterState
    _analyst_state: AnalystState
    _callbacks: CallbackRunner
    _telemetry: TelemetryChannel
    _dispatcher: Dispatcher
    _coordinator: pykka.ActorRef[Any]
    _alert_router: pykka.ActorRef[Any] | None
    _storage_outage: bool
    _storage_backlog: bool
    _quarantined_seen: int
    _tick: TimerHandle

    def _check_open(self) -> None:
        if self._closed:
            raise SystemStopped("the system has been shut down")

    def _ask_coordinator(self, message: Any, timeout: float = ASK_TIMEOUT) -> Any:
        self._check_open()
        return _resolve(self._coordinator.ask(message, timeout=timeout), timeout)

    def _ask_service(
        self, kind: str, message: Any, timeout: float = ASK_TIMEOUT, *, closing: bool = False
    ) -> Any:
        """Ask a supervised service, waiting out a restart if it is between incarnations.

        Raises:
            SystemStopped: the system is shut down (unless ``closing``: the
                shutdown's own requests).
        """
        if not closing:
            self._check_open()
        for _ in range(50):
            ref = self._services.get(kind)
            try:
                return _resolve(ref.ask(message, timeout=timeout), timeout)
            except pykka.ActorDeadError:
                if kind in self._services.failed:
                    raise
                with self._services.changed:
                    if self._services.get(kind) is ref:
                        self._services.changed.wait(timeout=0.2)
        raise pykka.ActorDeadError(f"the {kind} did not come back")

    def _read(self, request: StorageRead) -> Any:
        """Ask the writer one typed read (it owns the connection)."""
        return self._ask_service("writer", request)

    def _stored_agent(self, agent_id: str, *, flushed: bool = False) -> bool:
        """Whether the database knows the agent (registered once, or named by data).

        Everything recorded before the call is flushed first (unless the caller
        just did), so an agent that only buffered metrics counts as known.
        """
        if not flushed:
            self.flush()
        record: AgentRecord | None = self._read(ReadAgent(agent_id=agent_id))
        return record is not None

    def _tracked(self, agent_ids: Iterable[str]) -> None:
        """These agents are registered: their metrics take the fast path, and they are tracked."""
        ids = list(agent_ids)
        self._telemetry.admit(ids)
        if self._untracked:
            with self._known_lock:
                for agent_id in ids:
                    self._untracked.pop(agent_id, None)


    def _status(self, agent_id: str) -> HealthStatus | None:
        check_id("agent_id", agent_id)
        result = self._ask_tracker(GetStatus(agent_id=agent_id))
        return result if isinstance(result, HealthStatus) else None

    def _ask_tracker(self, message: GetStatus | GetHistory) -> Any:
        """Ask an agent's tracker through the coordinator, waiting out a restart."""
        for _ in range(50):
            try:
                return self._ask_coordinator(message)
            except pykka.ActorDeadError:
                with self._services.changed:
                    self._services.changed.wait(timeout=0.2)
        raise pykka.ActorDeadError(f"the tracker of {message.agent_id!r} did not come back")

    def _not_tracked(self, agent_id: str) -> UnknownAgent:
        """The error for an agent that is not registered: is it known from stored data?"""
        return AgentNotTracked(agent_id) if self._stored_agent(agent_id) else UnknownAgent(agent_id)


    def _live_snapshot(self) -> SwarmSnapshot:
        """The coordinator's snapshot: the tracked agents only."""
        result: SwarmSnapshot = self._ask_coordinator(Snapshot())
        return result


    def _distribution(self, snapshot: SwarmSnapshot) -> dict[str, int]:
        counts = {state.value: 0 for state in HealthState}
        for agent in snapshot.agents:
            if agent.tracked:
                counts[agent.health_state.value] += 1
        return counts


    def _to_analyst(self, message: Any) -> None:
        """Tell the analyst, unless it is between incarnations or given up (then it misses it)."""
        ref = self._services.refs.get("analyst")
        if ref is None or "analyst" in self._services.failed:
            return
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            pass

    def _ask_router(self, message: Any) -> Any:
        self._check_open()
        if self._alert_router is None:
            raise MonitoringDisabled("alert management is off: start_system(alerting=...)")
        return _resolve(self._alert_router.ask(message, timeout=ASK_TIMEOUT), ASK_TIMEOUT)

    def _receiver_stats(self) -> list[ReceiverStats]:
        """The alert router's counters per integration; none with alerting off."""
        if self._alert_router is None:
            return []
        return list(self._ask_router(GetReceivers()))

    def flush(self, timeout: float = ASK_TIMEOUT) -> None:
        """Return once everything recorded before the call is committed to SQLite.

        Raises:
            pykka.Timeout: storage stayed unwritable for ``timeout`` seconds.
        """
        self._check_open()
        self._flush(timeout)

    def _flush(self, timeout: float, *, closing: bool = False) -> None:
        """Drain, then wait for the writer; again while the aggregator waits for acknowledgements.

        The coordinator's Flush reaches the writer after every batch it forwarded
        (the reporter's alerts go that way); the aggregator's batches went straight
        to the writer before its Drain replied. A batch the aggregator could not
        hand over (the writer was restarting) is sent again to the next writer, so
        a flush waits until the aggregator holds nothing unacknowledged.
        """
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self._ask_service("aggregator", Drain(), timeout, closing=closing)
            self._flush_writer(timeout)
            unacked = self._ask_service("aggregator", CountUnacked(), timeout, closing=closing)
            if not unacked or "writer" in self._services.failed or time.monotonic() > deadline:
                return
            if unacked == last:  # no progress: the writer is between incarnations
                with self._services.changed:
                    self._services.changed.wait(timeout=0.05)
            last = unacked

    def _flush_writer(self, timeout: float) -> None:
        for _ in range(50):
            try:
                # not _ask_coordinator: shutdown flushes too, once the system is closed
                _resolve(self._coordinator.ask(Flush(), timeout=timeout), timeout)
                return
            except pykka.ActorDeadError:
                with self._services.changed:
                    self._services.changed.wait(timeout=0.2)
        raise pykka.ActorDeadError("the writer did not come back")


def _resolve(result: Any, timeout: float) -> Any:
    """An actor may answer with a future (it asked another actor without blocking)."""
    while isinstance(result, pykka.Future):
        result = result.get(timeout=timeout)
    return result


def _copy(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pykka never copies a message: copy what the caller handed us.

    The copy is then checked by the message it goes into.
    """
    if metadata is None:
        return {}
    if type(metadata) is dict:
        return dict(metadata)
    if not isinstance(metadata, Mapping):
        raise InvalidMessage("metadata", metadata, "must be a dict")
    try:
        return dict(metadata)
    except Exception as exc:  # a Mapping of the caller's whose methods raise
        raise InvalidMessage("metadata", metadata, f"must be a dict that can be copied ({exc})") from None


MAX_LIMIT: Final = 10_000_000
"""The largest ``limit`` a stored-rows query takes."""


def _limit(value: Any, field: str = "limit") -> int | None:
    """A row limit: None (no limit) or an integer from 0 to :data:`MAX_LIMIT`.

    Raises:
        InvalidMessage: anything else (a bool, a float, a string), named by field.
    """
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_LIMIT:
        raise InvalidMessage(field, value, f"must be None or an integer from 0 to {MAX_LIMIT}")
    return value


def _time(value: Any, field: str) -> float | None:
    """A time argument as epoch seconds (None stays None: that end of a range is open).

    Raises:
        InvalidMessage: the value is not a time in the range of
            :func:`messages.to_epoch` (2000-01-01 to 2200-01-01 UTC); a range past
            it is refused, never clamped.
    """
    return None if value is None else to_epoch(field, value)
