"""Tests for storage/rollup.py: the rollup tables always summarise exactly the task rows."""

from __future__ import annotations

import math
import random
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from storage import MetricsStorage, StorageError, TaskColumns, TaskRow, TaskSummary
from storage.rollup import SUMMARY_PAYS_AT, SWARM_KEY, group_by_minute, summaries_pay, summarise

from .builders import T0, row


def stored_buckets(path: Path) -> dict[tuple[str, int, str], TaskSummary]:
    """Every rollup row of a file: (table, bucket_start, agent id or '*') -> summary."""
    conn = sqlite3.connect(path)
    names = dict(conn.execute("SELECT agent_key, agent_id FROM agents"))
    names[SWARM_KEY] = "*"
    found = {}
    for table in ("task_rollup_minute", "task_rollup_hour"):
        for start, key, count, blob in conn.execute(
            f"SELECT bucket_start, agent_key, task_count, summary FROM {table}"
        ):
            summary = TaskSummary.from_bytes(blob)
            assert summary.count == count
            found[(table, start, names[key])] = summary
    conn.close()
    return found


def expected_buckets(rows: list[TaskRow]) -> dict[tuple[str, int, str], TaskSummary]:
    """What the rollups must hold for these rows, summarised one row at a time."""
    buckets: dict[tuple[str, int, str], TaskSummary] = defaultdict(TaskSummary)
    for r in rows:
        minute = int(r[6] // 60) * 60
        hour = int(r[6] // 3600) * 3600
        for bucket in (
            ("task_rollup_minute", minute, r[1]),
            ("task_rollup_minute", minute, "*"),
            ("task_rollup_hour", hour, r[1]),
            ("task_rollup_hour", hour, "*"),
        ):
            buckets[bucket].add(r[2], r[3], r[4], r[5])
    return dict(buckets)


def assert_rollups_match(path: Path, rows: list[TaskRow]) -> None:
    """The stored buckets are exactly those of the rows (sums to float rounding)."""
    stored, expected = stored_buckets(path), expected_buckets(rows)
    assert stored.keys() == expected.keys()
    for bucket, summary in expected.items():
        got = stored[bucket]
        assert (got.count, got.tokens, got.files, got.results) == (
            summary.count,
            summary.tokens,
            summary.files,
            summary.results,
        ), bucket
        assert (got.min_ms, got.max_ms, got.histogram) == (
            summary.min_ms,
            summary.max_ms,
            summary.histogram,
        ), bucket
        assert math.isclose(got.total_ms, summary.total_ms, rel_tol=1e-12), bucket


def random_rows(n: int, seed: int, span: float = 3 * 3600, agents: int = 5) -> list[TaskRow]:
    """n rows from a few agents over a few hours, in random order, some exactly on boundaries."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if i % 10 == 0:
            timestamp = T0 + 60.0 * rng.randrange(int(span // 60))
        else:
            timestamp = T0 + rng.random() * span
        rows.append(
            row(
                f"t{i}",
                f"a{rng.randrange(agents)}",
                rng.lognormvariate(3.0, 1.5) if i % 50 else 0.0,
                rng.choice(["success", "failure", "cancelled"]),
                rng.randrange(100),
                rng.randrange(4),
                timestamp,
            )
        )
    return rows


@pytest.mark.parametrize("batch", [1, 7, 100, 1_000])
@pytest.mark.parametrize("ordered", [True, False])
def test_rollups_equal_the_rows_whatever_the_batching(
    db_path: Path, batch: int, ordered: bool
) -> None:
    """In time order or not, in any batch size, every bucket summarises exactly its rows."""
    rows = random_rows(1_000, seed=batch)
    if ordered:
        rows.sort(key=lambda r: r[6])
    with MetricsStorage(db_path) as storage:
        for i in range(0, len(rows), batch):
            storage.store_batch(tasks=rows[i : i + batch])
    assert_rollups_match(db_path, rows)


def test_dense_batches_into_the_same_buckets_stay_exact(db_path: Path) -> None:
    """Many batches landing in the same minute (a live writer) merge into the same rows."""
    rng = random.Random(3)
    rows = [
        row(f"t{i}", f"a{i % 4}", rng.random() * 100, "success", 1, 1, T0 + 30 + i * 0.001)
        for i in range(5_000)
    ]
    with MetricsStorage(db_path) as storage:
        for i in range(0, len(rows), 250):
            storage.store_batch(tasks=rows[i : i + 250])
    assert_rollups_match(db_path, rows)


def test_a_rolled_back_batch_leaves_no_trace_in_later_rollups(db_path: Path) -> None:
    """A failed batch into the same buckets, then a good one: the rollups match the rows."""
    rows = random_rows(300, seed=1, span=120)
    with MetricsStorage(db_path) as storage:
        storage.store_batch(tasks=rows[:100])
        with pytest.raises(StorageError):
            bad = row("bad", result=None)  # type: ignore[arg-type]
            storage.store_batch(tasks=[*rows[100:200], bad])
        storage.store_batch(tasks=rows[200:])
    assert_rollups_match(db_path, rows[:100] + rows[200:])


def test_two_writers_on_one_file_keep_the_rollups_exact(db_path: Path) -> None:
    """Writers interleaving into the same buckets each see the other's work."""
    rows = random_rows(600, seed=2, span=300)
    first, second = MetricsStorage(db_path), MetricsStorage(db_path)
    with first, second:
        for i in range(0, len(rows), 100):
            (first if i // 100 % 2 else second).store_batch(tasks=rows[i : i + 100])
    assert_rollups_match(db_path, rows)


def test_rebuilding_gives_the_same_rollups(db_path: Path) -> None:
    """rebuild_rollups recomputes buckets equal to the incremental ones."""
    rows = random_rows(800, seed=4)
    with MetricsStorage(db_path) as storage:
        for i in range(0, len(rows), 64):
            storage.store_batch(tasks=rows[i : i + 64])
        assert storage.rebuild_rollups() == len(rows)
        storage.store_batch(tasks=rows[:10])  # and writing after a rebuild still adds up
    assert_rollups_match(db_path, rows + rows[:10])


def test_rows_group_by_agent_and_exact_minute() -> None:
    """A row just before a minute boundary belongs to the earlier minute."""
    before = math.nextafter(T0 + 60.0, 0.0)  # the float just below T0 + 60
    groups = group_by_minute([1, 1, 2, 1], [T0 + 59.5, before, T0 + 1, T0 + 60.0])
    minute = int(T0 // 60) * 60
    assert groups == {(1, minute): [0, 1], (2, minute): [2], (1, minute + 60): [3]}


def test_summaries_made_by_a_caller_give_the_same_rollups_as_the_storage_s_own(
    tmp_path: Path,
) -> None:
    """The one summariser: rows stored with summaries from group_by_minute + summarise (the
    aggregator's path) leave exactly the rollups the storage makes from the rows alone."""
    rows = random_rows(3000, seed=11, span=2 * 3600, agents=4)
    with_summaries, alone = tmp_path / "given.db", tmp_path / "alone.db"
    with MetricsStorage(with_summaries) as given, MetricsStorage(alone) as plain:
        for i in range(0, len(rows), 500):
            part = rows[i : i + 500]
            columns = TaskColumns.from_rows(part)
            groups = group_by_minute(columns.agent_ids, columns.timestamps)
            summaries = summarise(
                groups, (columns.durations, columns.results, columns.tokens, columns.files)
            )
            assert all(start % 60 == 0 for _, start in summaries)  # keyed (agent, minute_start)
            given.store_batch(tasks=columns, task_rollups=summaries)
            plain.store_batch(tasks=part)
    given_buckets, own_buckets = stored_buckets(with_summaries), stored_buckets(alone)
    assert given_buckets.keys() == own_buckets.keys()
    for bucket, summary in given_buckets.items():  # (sums may differ in the last bit)
        mine, theirs = dict(summary.to_stats()), dict(own_buckets[bucket].to_stats())
        assert mine.pop("results_breakdown") == theirs.pop("results_breakdown")
        assert mine == pytest.approx(theirs)
    assert_rollups_match(with_summaries, rows)


def test_summaries_pay_from_sixteen_rows_a_group() -> None:
    """One threshold for every level: a single group always, else 16 rows a group on average."""
    assert summaries_pay(1, 1)
    assert summaries_pay(SUMMARY_PAYS_AT * 10, 10)
    assert not summaries_pay(SUMMARY_PAYS_AT * 10 - 1, 10)


def test_a_caller_s_summaries_are_only_read_even_when_their_buckets_are_new(
    tmp_path: Path,
) -> None:
    """Summaries handed with rows are never changed, so a batch stored again (a redelivery
    to a new writer, say) stores the same counts: the new buckets are copies, not them."""
    rows = random_rows(600, seed=5, span=3 * 60, agents=3)
    path = tmp_path / "given.db"
    with MetricsStorage(path) as storage:
        kept = []
        for i in range(0, len(rows), 200):
            columns = TaskColumns.from_rows(rows[i : i + 200])
            groups = group_by_minute(columns.agent_ids, columns.timestamps)
            summaries = summarise(
                groups, (columns.durations, columns.results, columns.tokens, columns.files)
            )
            before = {key: s.to_bytes() for key, s in summaries.items()}
            storage.store_batch(tasks=columns, task_rollups=summaries)
            kept.append((summaries, before))
        for summaries, before in kept:  # later batches merged into the same buckets
            assert {key: s.to_bytes() for key, s in summaries.items()} == before
    assert_rollups_match(path, rows)
