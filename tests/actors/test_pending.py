"""Tests for actors/pending.py: what is waiting to be written, each batch counted once."""

from __future__ import annotations

from actors.pending import Backlog, Outbox, pending_writes
from storage import Batch, TaskColumns

_NOW = 1_700_000_000.0


def _batch(rows: int) -> Batch:
    return Batch(tasks=TaskColumns.from_rows(
        [(f"t{i}", "a", 1.0, "success", 0, 0, _NOW, None) for i in range(rows)]))


def test_a_batch_the_writer_took_and_has_not_acknowledged_counts_once() -> None:
    """Taken into the backlog, its Acked not yet heard: 10 rows pending, not 20 (nor 0)."""
    outbox, backlog = Outbox("aggregator", 1000), Backlog(1000)
    backlog.add(outbox.add(_batch(10), None))  # type: ignore[arg-type]
    assert pending_writes(0, outbox, backlog) == 10
    outbox.ack(backlog.taken_through("aggregator"))
    assert pending_writes(0, outbox, backlog) == 10
    backlog.commit(1)
    assert pending_writes(0, outbox, backlog) == 0


def test_batches_no_writer_took_count_beside_the_backlog() -> None:
    """Backlog 10 rows (taken, uncommitted), then 7 and 5 sent to a writer that is gone: 22, plus the buffer."""
    outbox, backlog = Outbox("aggregator", 1000), Backlog(1000)
    backlog.add(outbox.add(_batch(10), None))  # type: ignore[arg-type]
    outbox.add(_batch(7), None)  # type: ignore[arg-type]
    outbox.add(_batch(5), None)  # type: ignore[arg-type]
    assert pending_writes(3, outbox, backlog) == 3 + 10 + 12
    outbox.ack(1)
    assert pending_writes(3, outbox, backlog) == 3 + 10 + 12
    backlog.commit(1)  # committed while its Acked is on its way: no longer pending
    assert pending_writes(0, outbox, backlog) == 12


def test_a_committed_batch_whose_acknowledgement_is_late_is_not_pending() -> None:
    """Taken and committed before the aggregator hears Acked: nothing pending."""
    outbox, backlog = Outbox("aggregator", 1000), Backlog(1000)
    backlog.add(outbox.add(_batch(4), None))  # type: ignore[arg-type]
    backlog.commit(1)
    assert outbox.rows == 4
    assert pending_writes(0, outbox, backlog) == 0
