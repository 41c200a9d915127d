"""Helpers for the reliability tests: real files, real child processes, real logs.

Nothing here waits by sleeping: child output is read by a thread into a queue
(read with a timeout), log records and health transitions wake conditions.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import SwarmSystem
from actors.protocol import GetRecentAlerts, ReadAgents, StorageRead
from actors.testing import parts, wait_for_callbacks
from messages import HealthChanged

REPO_ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0  # the longest any single wait may take before the test fails


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """A fresh SQLite file in the test's own temporary folder."""
    return str(tmp_path / "swarm.db")


def stored_tasks(db_path: str) -> tuple[int, int]:
    """(rows, distinct task ids) in task_metrics, read from the file with plain sqlite3."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT task_id) FROM task_metrics"
        ).fetchone()
    finally:
        conn.close()
    return int(rows), int(distinct)


def stored_task_ids(db_path: str) -> list[str]:
    """Every stored task id, in insertion order."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT task_id FROM task_metrics ORDER BY id")]
    finally:
        conn.close()


def read(system: SwarmSystem, request: StorageRead) -> list[Any]:
    """What the storage answers to a typed read, run by the writer on its own thread."""
    rows = system.writer.ask(request, timeout=WAIT)
    assert isinstance(rows, list), rows
    return rows


FAILED = "storage write failed"  # what the writer logs when a write fails


def writer_connection(system: SwarmSystem) -> sqlite3.Connection:
    """The writer's own SQLite connection, for a per-connection PRAGMA.

    The connection belongs to the writer's thread. Reading actors/writer.py: the
    writer touches it only while handling a message with something pending, a
    Flush, a read, or on start. So the test touches it only (1) after a flush
    with nothing recorded since and nothing registered, or (2) while a retry is
    scheduled on a ManualClock that the test alone advances (Wake is ignored
    then) and the test sends no Flush or read: both times the writer is idle.
    """
    conn = getattr(parts(system).storage, "_conn", None)
    assert isinstance(conn, sqlite3.Connection), "storage keeps its connection in _conn"
    return conn


def writer_barrier(system: SwarmSystem) -> None:
    """Return once the writer has handled everything sent to it before (a read queues behind)."""
    system.writer.ask(ReadAgents(), timeout=WAIT)


def read_only(conn: sqlite3.Connection) -> None:
    """Make the writer's connection refuse writes (SQLITE_READONLY), as a read-only file does."""
    conn.execute("PRAGMA query_only = ON")


def writable(conn: sqlite3.Connection) -> None:
    """Let the writer's connection write again."""
    conn.execute("PRAGMA query_only = OFF")


class LogWatch(logging.Handler):
    """Collects the records of one logger and lets a test wait for a matching one."""

    def __init__(self, logger_name: str) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()
        self._logger = logging.getLogger(logger_name)

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def matching(self, text: str) -> list[logging.LogRecord]:
        """Records whose unformatted message contains ``text``."""
        with self.changed:
            return [r for r in self.records if text in r.msg]

    def wait_for(self, text: str, count: int = 1, timeout: float = WAIT) -> list[logging.LogRecord]:
        """Block until ``count`` records containing ``text`` were logged; return them."""
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.matching(text)) >= count, timeout=timeout)
        assert ok, f"no {count} log records with {text!r} within {timeout} s"
        return self.matching(text)

    def __enter__(self) -> LogWatch:
        self._old_level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._old_level)


def settle(system: SwarmSystem) -> None:
    """Return once every transition emitted so far has reached the alert callbacks.

    Trackers tell the coordinator, which tells the reporter: an ask to each, in that
    order, queues behind what they were told before.
    """
    system.snapshot()
    system.reporter.ask(GetRecentAlerts(), timeout=WAIT)
    assert wait_for_callbacks(system, timeout=WAIT)  # callbacks run on threads of their own


class Transitions:
    """Every HealthChanged the reporter hands to alert callbacks, in arrival order."""

    def __init__(self) -> None:
        self.events: list[HealthChanged] = []
        self.changed = threading.Condition()

    def __call__(self, event: HealthChanged) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def of(self, agent_id: str) -> list[tuple[str, str]]:
        """(previous, current) pairs of one agent, in order."""
        with self.changed:
            return [(e.previous.value, e.current.value) for e in self.events if e.agent_id == agent_id]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        """Block until ``predicate()`` holds (checked on every new event)."""
        with self.changed:
            assert self.changed.wait_for(predicate, timeout=timeout), (
                f"condition not met within {timeout} s; events: {self.events}"
            )


class Child:
    """A Python child process running ``script``; its stdout is read as JSON lines.

    A reader thread puts each decoded line in a queue, so the parent waits
    with timeouts and never blocks on a pipe.
    """

    def __init__(self, script: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(REPO_ROOT),
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, name="child-stdout", daemon=True)
        self._errors = threading.Thread(target=self._read_errors, name="child-stderr", daemon=True)
        self._reader.start()
        self._errors.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line:
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def next(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next JSON line; fails the test on timeout or if the child ended."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the child printed nothing for {timeout} s; stderr: {''.join(self.stderr)}")
        if line is None:
            self.proc.wait(timeout=WAIT)
            pytest.fail(f"the child ended (rc {self.proc.returncode}); stderr: {''.join(self.stderr)}")
        return line

    def next_of(self, kind: str, timeout: float = WAIT) -> dict[str, Any]:
        """The next line whose ``kind`` is ``kind`` (other lines are skipped)."""
        while True:
            line = self.next(timeout)
            if line.get("kind") == kind:
                return line

    def send(self, text: str) -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def signal(self, signum: int) -> None:
        """Send a signal to the child."""
        os.kill(self.proc.pid, signum)

    def finish(self, timeout: float = WAIT) -> list[dict[str, Any]]:
        """Wait for the child to exit and return the lines it printed since the last read."""
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        self._errors.join(timeout=timeout)
        rest: list[dict[str, Any]] = []
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                return rest
            rest.append(line)

    def close(self) -> None:
        """Kill the child if it still runs, and reap it and the reader threads."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()
        self.proc.wait(timeout=WAIT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self._reader.join(timeout=WAIT)
        self._errors.join(timeout=WAIT)


@pytest.fixture
def child() -> Iterator[Callable[..., Child]]:
    """Start child processes; every one is killed and reaped after the test."""
    started: list[Child] = []

    def start(script: str, *args: str) -> Child:
        process = Child(script, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


def rss_mb() -> float:
    """This process's resident set size in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")
