"""Promise 3: SIGKILL while recording leaves a sound database that lost at most the
last flush interval(s) of metrics.

The bound tested: at every moment the child reported (every 20 ms), everything it
had recorded at least ``flush_interval + WRITE_ALLOWANCE`` earlier was committed;
at the kill, every commit it had reported is in the file, the loss is exactly a
tail of what was recorded, and nothing is stored twice. The rate is low enough
(1,000/s) that only the periodic drain, not a full batch, brings metrics to the
writer: so the bound is the flush interval's, plus a write.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage import MetricsStorage
from tests.reliability.conftest import Child

FLUSH_INTERVAL = 0.1  # start_system's default: the periodic drain
WRITE_ALLOWANCE = 1.0  # the time one write may take on a slow, busy machine
RATE = 1_000  # metrics per second the child records, in ticks of 10 ms
KILL_AFTER = 3_000  # recorded metrics before the kill (about 3 s)

CHILD = """
import json, sys, threading, time
from actors import start_system
from actors.testing import parts

system = start_system(sys.argv[1], flush_interval=float(sys.argv[2]))
rate = int(sys.argv[3])
record = system.record_task_metric
per_tick, n, last = rate // 100, 0, 0.0
pace = threading.Event()
next_tick = time.monotonic()
while True:
    for _ in range(per_tick):
        record(f"t{n}", f"agent-{n % 50}", 1.0, "success")
        n += 1
    now = time.monotonic()
    if now - last >= 0.02:
        # "committed": what the writer has committed to SQLite so far
        print(json.dumps({"t": now, "recorded": n, "committed": parts(system).backlog.committed}),
              flush=True)
        last = now
    next_tick += 0.01
    pace.wait(max(0.0, next_tick - time.monotonic()))
"""


def _recorded_by(lines: list[dict[str, Any]], moment: float) -> int:
    """How many the child had recorded by ``moment`` (by its last report until then)."""
    return max((int(line["recorded"]) for line in lines if line["t"] <= moment), default=0)


def test_sigkill_while_recording_loses_at_most_the_last_flush_interval(
    tmp_path: Path, child: Callable[..., Child]
) -> None:
    """A killed process leaves a database that passes integrity_check and holds all but a tail."""
    db_path = str(tmp_path / "killed.db")
    process = child(CHILD, db_path, str(FLUSH_INTERVAL), str(RATE))
    lines = [process.next()]
    while lines[-1]["recorded"] < KILL_AFTER:
        lines.append(process.next())
    killed_at = time.monotonic()
    process.signal(signal.SIGKILL)
    process.proc.wait(timeout=30)
    assert process.proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(db_path)  # opening recovers the WAL, as any later reader would
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = [row[0] for row in conn.execute("SELECT task_id FROM task_metrics ORDER BY id")]
    finally:
        conn.close()

    stored = len(ids)
    with MetricsStorage(db_path) as storage:  # our own reader accepts it; rollups match the rows
        assert storage.task_stats()["total_tasks"] == stored
    assert ids == [f"t{n}" for n in range(stored)]  # a prefix: nothing doubled, only a tail lost
    assert stored >= lines[-1]["committed"]  # every commit the child saw survived the kill
    window = FLUSH_INTERVAL + WRITE_ALLOWANCE
    lags = []
    for line in lines:  # while it ran: committed never lagged recorded by more than the bound
        due = _recorded_by(lines, line["t"] - window)
        assert line["committed"] >= due, f"at {line}: {due} recorded over {window} s before"
        caught_up = [later["t"] for later in lines if later["committed"] >= line["recorded"]]
        if caught_up:
            lags.append(caught_up[0] - line["t"])
    assert stored >= _recorded_by(lines, killed_at - window)  # and at the kill
    recorded_at_kill = lines[-1]["recorded"]
    print(
        f"hard kill at {recorded_at_kill}+ recorded ({RATE}/s): stored {stored}, lost <= "
        f"{recorded_at_kill - stored} ({(recorded_at_kill - stored) / RATE:.3f} s of metrics); "
        f"recorded-to-committed lag max {max(lags):.3f} s (bound {window:.1f} s)"
    )
