"""The storage writer: owns the write connection and commits pending writes in batches."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import pykka

from actors.alerting.protocol import AlertStateFailed, AlertStateStored, StoreAlertState
from actors.allocator import TRIM_AFTER_ROWS, trim
from actors.clock import Clock, TimerHandle
from actors.pending import KINDS, PendingWrites
from actors.supervision import SupervisedActor, failed
from messages import Crash
from messages.requests import Flush, Query, Wake
from storage import MetricsStorage, StorageError, TaskColumns, TaskSummary

__all__ = ["StorageWriter", "WriterStats"]

logger = logging.getLogger("swarmpulse.writer")

READS: Final = frozenset(
    {
        "query_task_metrics",
        "query_agent_metrics",
        "query_swarm_metrics",
        "query_health_events",
        "query_alerts",
        "task_stats",
        "agent_uptime",
        "agents_uptime",
        "agents",
        "apply_retention",
        "load_alert_state",
    }
)


@dataclass(slots=True)
class WriterStats:
    """What the writer has done; outlives any one writer."""

    batches: int = 0
    rows: int = 0
    failures: int = 0
    last_error: str | None = None
    backoff: float = 0.0
    retry: TimerHandle | None = None
    since_trim: int = 0  # rows written since the last trim


class StorageWriter(SupervisedActor):
    """Commits pending writes to SQLite, one transaction per batch, retrying with backoff.

    Accepts :class:`Wake` (write what is pending), :class:`Flush` (reply None,
    or a future set once everything accepted so far is committed),
    :class:`Query` (a read method of :class:`storage.MetricsStorage` by name),
    and :class:`Crash`. A batch leaves the pending queue only after its
    commit, so a crash or an outage never loses or doubles a row.
    """

    kind = "writer"
    min_backoff: Final = 0.05
    max_backoff: Final = 5.0

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any] | None,
        storage: MetricsStorage,
        pending: PendingWrites,
        clock: Clock,
        stats: WriterStats,
        batch_size: int = 50_000,
    ) -> None:
        super().__init__(supervisor=supervisor)
        self.storage = storage
        self.pending = pending
        self.clock = clock
        self.stats = stats
        self.batch_size = batch_size

    def on_start(self) -> None:
        """Write whatever was left pending by an earlier incarnation."""
        self._write()

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case Wake():
                if self.stats.retry is None:
                    self._write()
            case Flush():
                self._write()
                return self.pending.wait_for_all()
            case Query(method=str() as method, kwargs=dict() as kwargs) if method in READS:
                try:
                    return getattr(self.storage, method)(**kwargs)
                except Exception as exc:  # a bad request, or storage refusing it: for the asker
                    return failed(exc)
            # --- alerting (issue 13): the alert router's durable state, one transaction each
            case StoreAlertState(changes=changes, reply_to=reply_to, token=token):
                self._store_alert_state(changes, reply_to, token)
            # --- end alerting
            case Crash(reason=reason):
                raise RuntimeError(f"writer: {reason}")
            case _:
                self.unknown(message)
        return None

    def _write(self) -> None:
        stats = self.stats
        while True:
            batch = self.pending.peek(self.batch_size)
            if not batch:
                return
            grouped: dict[str, list[Any]] = {kind: [] for kind in KINDS}
            tasks: list[TaskColumns] = []
            rollups: dict[tuple[str, int], TaskSummary] | None = {}
            rows = 0
            for _seq, kind, item, weight in batch:
                rows += weight
                if kind == "tasks":
                    tasks.append(item.columns)
                    if item.rollups is None or rollups is None:
                        rollups = None
                    else:
                        _merge_into(rollups, item.rollups)
                else:
                    grouped[kind].append(item)
            del grouped["tasks"]
            try:
                self.storage.store_batch(
                    tasks=TaskColumns.concat(tasks), **grouped, task_rollups=rollups
                )
            except StorageError as exc:
                self._write_failed(exc)
                return
            self.pending.commit_through(batch[-1][0])
            stats.batches += 1
            stats.rows += rows
            stats.since_trim += rows
            if stats.since_trim >= TRIM_AFTER_ROWS and not len(self.pending):
                stats.since_trim = 0
                trim()  # a burst has drained: give its memory back
            if stats.backoff:
                logger.warning("storage is writable again; %d items pending", len(self.pending))
            stats.backoff = 0.0

    def _store_alert_state(self, changes: list[Any], reply_to: Any, token: int) -> None:
        """Commit the router's changes and tell it; on failure it keeps them and retries."""
        try:
            self.storage.store_alert_state(changes)
            reply: Any = AlertStateStored(token=token)
        except Exception as exc:  # whatever it was, the router must hear (it waits for an answer)
            reply = AlertStateFailed(token=token, error=f"{type(exc).__name__}: {exc}")
        try:
            reply_to.tell(reply)
        except pykka.ActorDeadError:
            pass

    def _write_failed(self, exc: StorageError) -> None:
        stats = self.stats
        stats.failures += 1
        stats.last_error = str(exc)
        stats.backoff = min(self.max_backoff, max(self.min_backoff, stats.backoff * 2))
        logger.warning(
            "storage write failed (%s); %d items kept pending, retrying in %.2f s",
            exc, len(self.pending), stats.backoff,
        )
        ref = self.actor_ref

        def retry() -> None:
            stats.retry = None
            if ref.is_alive():
                try:
                    ref.tell(Wake())
                except pykka.ActorDeadError:
                    pass

        stats.retry = self.clock.call_later(stats.backoff, retry)


def _merge_into(
    total: dict[tuple[str, int], TaskSummary], more: dict[tuple[str, int], TaskSummary]
) -> None:
    """Add ``more`` into ``total`` without changing any summary either holds."""
    for key, summary in more.items():
        found = total.get(key)
        if found is None:
            total[key] = summary
        else:
            combined = TaskSummary()
            combined.merge(found)
            combined.merge(summary)
            total[key] = combined
