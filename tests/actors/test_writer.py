"""Tests for actors/writer.py: the writer alone (with fakes of its senders) and through
the facade. A batch it is sent is stored once, acknowledged, and never a reason to die."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pykka
import pytest

from actors import ManualClock, SwarmSystem
from actors.pending import Acked, Backlog, WriteBatch
from actors.protocol import Flush, ReadAgents, ReadQuarantine
from actors.writer import StorageWriter, WriterStats
from messages import MetricBatch, TaskMetric, TaskResult
from storage import Batch, MetricsStorage, Quarantined, TaskColumns, TaskRow, decode_payload
from tests.actors.fakes import WAIT, Inbox, next_of

HUGE = 9.3e18  # epoch seconds whose minute bucket overflows SQLite's 64-bit integer


def _task(task_id: str, clock: ManualClock, agent: str = "worker") -> TaskMetric:
    return TaskMetric(task_id=task_id, agent_id=agent, duration_ms=5.0, result=TaskResult.SUCCESS,
                      timestamp=clock.time())


def _count(db_path: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM task_metrics").fetchone()[0])
    finally:
        conn.close()


def test_a_row_whose_rollup_overflows_is_quarantined_and_storage_carries_on(
    system: SwarmSystem, clock: ManualClock, db_path: str
) -> None:
    """A metric stamped 9.3e18 s among 102 good ones: the 102 are stored, it is kept in
    quarantine with its error, counted, and the writer never crashes."""
    hostile = _task("hostile", clock)
    msgspec.structs.force_setattr(hostile, "timestamp", HUGE)  # past any validation
    batch = [
        *(_task(f"before-{i}", clock) for i in range(50)),
        hostile,
        *(_task(f"after-{i}", clock) for i in range(52)),
    ]
    system.aggregator.tell(MetricBatch(metrics=batch))  # one batch, as the aggregator tells it
    system.flush()
    assert _count(db_path) == 102
    stats = system.get_monitoring_stats()
    assert stats["metrics_collector"]["quarantined"] == 1
    assert stats["metrics_collector"]["stored"] == 102
    assert "OverflowError" in stats["metrics_collector"]["last_quarantine_error"]
    assert stats["supervision"]["failed_services"] == []
    assert stats["supervision"]["service_restarts"]["writer"] == 0
    (kept,) = system.writer.ask(ReadQuarantine(), timeout=WAIT) or []
    assert isinstance(kept, Quarantined) and kept.kind == "tasks"
    assert decode_payload(kept)[:2] == ["hostile", "worker"]
    assert decode_payload(kept)[6] == HUGE
    system.record_task_metric("later", "worker", 5.0, "success")
    system.flush()
    assert _count(db_path) == 103  # and storage still takes metrics


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[pykka.ActorRef[Any], MetricsStorage, Backlog]]:
    """A StorageWriter alone on a real file, with no supervisor."""
    storage = MetricsStorage(tmp_path / "w.db")
    clock = ManualClock()
    backlog = Backlog(1000)
    ref = StorageWriter.start(
        supervisor=None, storage=storage, backlog=backlog, clock=clock, stats=WriterStats()
    )
    yield ref, storage, backlog
    ref.stop()
    clock.close()
    storage.close()


def _batch(first: int, n: int) -> Batch:
    rows = [TaskRow(f"t{i}", "a", 1.0, "success", 0, 0, 1_700_000_000.0 + i, None)
            for i in range(first, first + n)]
    return Batch(tasks=TaskColumns.from_rows(rows))


def test_a_redelivered_batch_is_stored_once_and_acknowledged_again(
    writer: tuple[pykka.ActorRef[Any], MetricsStorage, Backlog],
) -> None:
    """The same numbered batch sent twice (a sender's redelivery), before and after its
    commit: its rows are stored once, and each copy after the commit is acknowledged."""
    ref, storage, _ = writer
    sender, inbox = Inbox.open()
    try:
        first = WriteBatch(sender="s", seq=1, batch=_batch(0, 10), reply_to=sender)
        second = WriteBatch(sender="s", seq=2, batch=_batch(10, 5), reply_to=sender)
        ref.tell(first)
        ref.tell(first)
        ref.tell(second)
        ref.ask(Flush(), timeout=WAIT)
        acks = [next_of(inbox, Acked)]
        while acks[-1].through < 2:
            acks.append(next_of(inbox, Acked))
        ref.tell(first)  # long after its commit
        assert next_of(inbox, Acked) == Acked(through=2)
        ref.ask(Flush(), timeout=WAIT)
        tasks = [m.task_id for m in storage.query_task_metrics()]
        assert sorted(tasks) == sorted(f"t{i}" for i in range(15))
    finally:
        sender.stop()


def test_past_its_bound_the_writer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    """A writer that cannot write (read-only) and is sent 3 batches of 600 rows with a bound
    of 1000: each is acknowledged as taken, the oldest two are dropped and counted."""
    storage = MetricsStorage(tmp_path / "w.db")
    conn = storage._conn
    assert conn is not None
    conn.execute("PRAGMA query_only = ON")
    clock = ManualClock()
    backlog = Backlog(1000)
    ref = StorageWriter.start(
        supervisor=None, storage=storage, backlog=backlog, clock=clock, stats=WriterStats()
    )
    sender, inbox = Inbox.open()
    try:
        for seq in (1, 2, 3):
            ref.tell(WriteBatch(sender="s", seq=seq, batch=_batch(seq * 1000, 600), reply_to=sender))
        assert [next_of(inbox, Acked).through for _ in range(3)] == [1, 2, 3]
        ref.ask(ReadAgents(), timeout=WAIT)  # a barrier: handled after the three
        assert backlog.dropped == 1200 and len(backlog) == 600
    finally:
        sender.stop()
        ref.stop()
        clock.close()
        storage.close()
