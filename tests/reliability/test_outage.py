"""Promise 2: while storage is unwritable, recording never blocks, the writer retries
with backoff, and afterwards every metric is stored exactly once (or, past the
``max_pending`` bound, the oldest are dropped and counted, never silently).

Each fault is real: another connection's exclusive lock, a full filesystem, the
writer's own connection made read-only or capped in size by SQLite.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actors import ManualClock, SwarmSystem, start_system
from actors.testing import parts
from tests.reliability.conftest import (
    FAILED,
    WAIT,
    LogWatch,
    read_only,
    stored_task_ids,
    stored_tasks,
    writable,
    writer_barrier,
    writer_connection,
)

MIN_OUTAGE = 3.0  # seconds of real time each real-clock outage lasts at least
SLOWEST_CALL = 1.0  # no record call may take longer (loose on purpose)


class Load:
    """Threads recording task metrics at a steady pace, timing every call."""

    def __init__(self, system: SwarmSystem, threads: int = 2, per_tick: int = 50) -> None:
        self.system = system
        self.per_tick = per_tick
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = [0] * threads
        self.slowest = 0.0
        self.errors: list[BaseException] = []
        self.progress = threading.Condition()
        self.threads = [
            threading.Thread(target=self._run, args=(k,), name=f"load-{k}") for k in range(threads)
        ]

    @property
    def recorded(self) -> int:
        return sum(self.counts)

    def _run(self, k: int) -> None:
        record = self.system.record_task_metric
        clock = time.perf_counter
        n = 0
        slowest = 0.0
        try:
            while not self.stop.is_set():
                for _ in range(self.per_tick):
                    began = clock()
                    record(f"load-{k}-{n}", f"agent-{k}", 5.0, "success", 1, 0)
                    slowest = max(slowest, clock() - began)
                    n += 1
                with self.progress:
                    self.counts[k] = n
                    self.slowest = max(self.slowest, slowest)
                    self.progress.notify_all()
                self.stop.wait(0.005)  # pacing the generator, not waiting for a result
        except BaseException as exc:  # pragma: no cover - asserted by the test
            self.errors.append(exc)

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()  # also when the test failed: never leave a generator running
        for thread in self.threads:
            thread.join(timeout=WAIT)

    def wait_for_more(self, count: int) -> None:
        """Block until ``count`` more metrics than now have been recorded."""
        with self.progress:
            target = self.recorded + count
            assert self.progress.wait_for(lambda: self.recorded >= target, timeout=WAIT)

    def finish(self) -> int:
        """Stop the threads; return how many metrics they recorded in total."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=WAIT)
        assert not any(thread.is_alive() for thread in self.threads)
        assert not self.errors, self.errors
        return self.recorded


def _check_recovered(
    system: SwarmSystem, db_path: str, load: Load, outage: str
) -> dict[str, object]:
    """After the outage: the caller never waited, the writer retried, nothing lost or doubled."""
    recorded = load.finish()
    system.flush()
    stats: dict[str, object] = system.get_monitoring_stats()["metrics_collector"]
    assert load.slowest < SLOWEST_CALL, f"a record call took {load.slowest:.3f} s"
    assert isinstance(stats["write_failures"], int) and stats["write_failures"] > 0
    assert stats["dropped"] == 0
    assert stats["pending_writes"] == 0
    assert stored_tasks(db_path) == (recorded, recorded)
    print(f"\n{outage}: {stats['write_failures']} failed writes retried, {recorded} metrics "
          f"recorded and stored once, slowest record call {load.slowest * 1000:.1f} ms")
    return stats


def _manual_outage(
    system: SwarmSystem,
    clock: ManualClock,
    log: LogWatch,
    *,
    begin: Callable[[sqlite3.Connection], None],
    end: Callable[[sqlite3.Connection], None],
    load: Callable[[], None],
    retries: int = 6,
) -> list[float]:
    """Make storage unwritable, apply ``load``, let the writer retry ``retries`` times, heal it.

    Returns the backoff delays the writer scheduled, in order.
    """
    system.flush()
    begin(writer_connection(system))  # idle: nothing pending, nothing registered
    load()
    log.wait_for(FAILED)
    delays: list[float] = []
    for attempt in range(1, retries + 1):
        writer_barrier(system)  # the failed attempt has scheduled its retry
        assert parts(system).writer_stats.retry is not None
        assert parts(system).writer_stats.failures == attempt
        delays.append(parts(system).writer_stats.backoff)
        if attempt == retries:
            end(writer_connection(system))  # idle: only our advance can make it retry
        clock.advance(parts(system).writer_stats.backoff)
        if attempt < retries:
            log.wait_for(FAILED, count=attempt + 1)
    return delays


# (a) a lock held by another connection


def test_a_locked_database_delays_writes_and_loses_nothing(db_path: str) -> None:
    """Another connection's exclusive lock for seconds: callers never wait, all stored once."""
    with LogWatch("swarmpulse.writer") as log, start_system(db_path) as system, Load(system) as load:
        load.start().wait_for_more(2000)
        blocker = sqlite3.connect(db_path, timeout=WAIT, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")  # waits for the writer's batch in flight
            began = time.monotonic()
            log.wait_for(FAILED)  # the writer gave up after its busy timeout, and will retry
            load.stop.wait(max(0.0, MIN_OUTAGE - (time.monotonic() - began)))
            load.wait_for_more(2000)
        finally:
            if blocker.in_transaction:
                blocker.execute("ROLLBACK")
            blocker.close()
        outage = time.monotonic() - began
        load.wait_for_more(2000)
        stats = _check_recovered(system, db_path, load, f"locked for {outage:.1f} s")
        assert "locked" in str(stats["last_write_error"])


# (b) disk full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 MiB tmpfs mounted for the test (needs root and CAP_SYS_ADMIN)."""
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small filesystem needs root and mount(8)")
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=64m", "swarmpulse-test", str(where)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): "
                    f"{done.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)  # still busy: detach it


def _fill(path: Path) -> int:
    """Write zeros to ``path`` until the filesystem is full; return the bytes written."""
    written = 0
    block = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as filler:
        while True:
            try:
                written += filler.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                block = block[: len(block) // 2]
                if not block:
                    return written


def test_a_full_disk_delays_writes_and_loses_nothing(small_disk: Path) -> None:
    """A real filesystem that runs out of space, then gets space back: all stored once."""
    db_path = str(small_disk / "swarm.db")
    with LogWatch("swarmpulse.writer") as log, start_system(db_path) as system, Load(system) as load:
        load.start().wait_for_more(2000)
        filler = small_disk / "filler"
        began = time.monotonic()
        _fill(filler)
        try:
            log.wait_for(FAILED)
            load.stop.wait(max(0.0, MIN_OUTAGE - (time.monotonic() - began)))
            load.wait_for_more(2000)
        finally:
            filler.unlink()
        outage = time.monotonic() - began
        load.wait_for_more(2000)
        stats = _check_recovered(system, db_path, load, f"disk full for {outage:.1f} s")
        assert "full" in str(stats["last_write_error"])
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


def test_a_size_capped_database_delays_writes_and_loses_nothing(db_path: str) -> None:
    """The writer's connection capped at its current size (SQLITE_FULL), then uncapped."""
    clock = ManualClock()
    with LogWatch("swarmpulse.writer") as log, start_system(db_path, clock=clock) as system, \
            Load(system) as running:
        cap: list[int] = []

        def begin(conn: sqlite3.Connection) -> None:
            cap.append(conn.execute("PRAGMA max_page_count").fetchone()[0])
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")

        def end(conn: sqlite3.Connection) -> None:
            conn.execute(f"PRAGMA max_page_count = {cap[0]}")

        def load() -> None:
            running.start().wait_for_more(5000)

        delays = _manual_outage(system, clock, log, begin=begin, end=end, load=load)
        running.wait_for_more(2000)
        stats = _check_recovered(
            system, db_path, running, f"size-capped for {sum(delays):.2f} s of monitor time"
        )
        assert "full" in str(stats["last_write_error"])
        assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6]
    clock.close()


# (c) read-only


def test_aread_only_database_delays_writes_and_loses_nothing(db_path: str) -> None:
    """The writer's connection turned read-only (PRAGMA query_only), then writable again."""
    clock = ManualClock()
    with LogWatch("swarmpulse.writer") as log, start_system(db_path, clock=clock) as system, \
            Load(system) as running:
        def load() -> None:
            running.start().wait_for_more(5000)

        delays = _manual_outage(
            system, clock, log, begin=read_only, end=writable, load=load, retries=8
        )
        running.wait_for_more(2000)
        stats = _check_recovered(
            system, db_path, running, f"read-only for {sum(delays):.2f} s of monitor time"
        )
        assert "readonly" in str(stats["last_write_error"])
        # backoff doubles from 50 ms and is capped at 5 s
        assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    clock.close()


# beyond the bound


def test_past_max_pending_the_oldest_are_dropped_and_counted(db_path: str) -> None:
    """With max_pending=1000, 5000 metrics during an outage: the newest (at most 1000) are
    stored, the oldest are counted as dropped, and stored + dropped == recorded."""
    clock = ManualClock()
    recorded = [f"task-{n}" for n in range(5000)]
    with LogWatch("swarmpulse.writer") as log, start_system(
        db_path, clock=clock, max_pending=1000
    ) as system:

        def load() -> None:
            for first in range(0, len(recorded), 250):
                for task_id in recorded[first : first + 250]:
                    system.record_task_metric(task_id, "agent", 1.0, "success")
                system.get_task_stats()  # drains the buffer into the pending writes

        _manual_outage(system, clock, log, begin=read_only, end=writable, load=load, retries=3)
        system.flush()
        stats = system.get_monitoring_stats()["metrics_collector"]
        stored = stored_task_ids(db_path)
    clock.close()
    assert stats["dropped"] >= len(recorded) - 1000
    assert len(stored) + stats["dropped"] == len(recorded)
    assert 0 < len(stored) <= 1000
    assert stored == recorded[len(recorded) - len(stored) :]  # the oldest went, in order
    print(f"max_pending=1000: {len(recorded)} recorded during the outage, {len(stored)} stored, "
          f"{stats['dropped']} dropped and counted")
