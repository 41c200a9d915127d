"""Hostile command-line input: one clear line and exit status 2, or an answer; never a traceback."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.cli import main
from messages import AgentRegistered
from storage import MetricsStorage

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small database the system could have written."""
    path = tmp_path_factory.mktemp("cli") / "swarm.db"
    with MetricsStorage(path) as storage:
        storage.store_agent_events(
            [AgentRegistered(agent_id=a, at=T0, interval_ms=500, failure_threshold=3) for a in "ab"]
        )
        storage.store_batch(
            tasks=[(f"t{i}", "ab"[i % 2], 10.0 + i, "success", 1, 1, T0 + i, None) for i in range(20)]
        )
    return str(path)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


hostile = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=300
) | st.sampled_from(["x'; DROP TABLE task_metrics; --", "-1", "nan", "1e309", "24h", "0", "99999999999999999999"])


@settings(
    max_examples=150, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from(["report", "query", "stats"]),
    option=st.sampled_from(["--agent", "--since", "--limit", "--start", "--format", "--result"]),
    value=hostile,
)
def test_hostile_options_get_an_answer_or_one_line_and_status_2(
    db: str, command: str, option: str, value: str
) -> None:
    """Whatever the value, the CLI answers (0) or refuses in one line (2), with no traceback."""
    code, _out, err = _run([command, "--db", db, option, value])
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.strip(), "a refusal says why"
    with MetricsStorage(db, readonly=True) as storage:
        assert len(storage.query_task_metrics()) == 20  # SQL in a value stayed data


@settings(max_examples=50, deadline=None, derandomize=True)
@given(path=hostile)
def test_hostile_database_paths_are_refused_in_one_line(path: str) -> None:
    """A path that is not our database is one line on stderr and status 2."""
    code, _out, err = _run(["stats", "--db", path or "missing.db"])
    assert code == 2 or (code == 0 and Path(path).is_file())
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def odd_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding what the library once accepted: a millisecond timestamp.

    Written past every check with raw SQL, as an older swarmpulse or another
    program could have: a task, a gauge and an alert at ``time.time() * 1000``.
    """
    path = tmp_path_factory.mktemp("odd") / "odd.db"
    with MetricsStorage(path) as storage:
        storage.store_agent_events(
            [AgentRegistered(agent_id="ms", at=T0, interval_ms=500, failure_threshold=3)])
        storage.store_batch(tasks=[("t-ok", "ms", 5.0, "success", 1, 1, T0, None)])
    millis = time.time() * 1000
    with sqlite3.connect(path) as conn:
        (key,) = conn.execute("SELECT agent_key FROM agents WHERE agent_id = 'ms'").fetchone()
        conn.execute("INSERT INTO task_metrics (task_id, agent_key, duration_ms, result, "
                     "tokens_used, files_changed, timestamp) VALUES ('t-ms', ?, 7.0, 'success', "
                     "0, 0, ?)", (key, millis))
        conn.execute("INSERT INTO agent_metrics (agent_key, metric_type, value, timestamp) "
                     "VALUES (?, 'load', 0.5, ?)", (key, millis))
        conn.execute("INSERT INTO alerts (agent_key, severity, message, at) "
                     "VALUES (?, 'warning', 'late', ?)", (key, millis))
    return str(path)


@pytest.mark.parametrize("argv", [
    ["query"], ["query", "--format", "csv"], ["query", "--format", "json"],
    ["query", "--since", "1h"], ["report"], ["report", "--format", "json"],
    ["report", "--since", "1h"], ["stats"], ["stats", "--by-agent"],
], ids=" ".join)
def test_a_millisecond_timestamp_already_stored_is_shown_not_a_crash(
    odd_db: str, argv: list[str]
) -> None:
    """Every command formats a stored time no calendar holds (year 58888) and exits 0."""
    code, out, err = _run([*argv, "--db", odd_db])
    assert (code, err) == (0, "")
    if argv[0] == "query" and "json" not in argv:
        assert "t-ms" in out and "out of range" in out
    if argv == ["report"]:
        assert "late" in out and "out of range" in out


HOSTILE_ID = "evil\x1b]8;;http://x\x07link\x1b]8;;\x07\x1b[2J\x9b31m\u202etxt.exe\u2066\x7f"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\x7f")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database whose agent id holds OSC 8, CSI, C1, DEL and bidi overrides (raw SQL)."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.db"
    with MetricsStorage(path) as storage:
        storage.store_agent_events(
            [AgentRegistered(agent_id="plain", at=T0, interval_ms=500, failure_threshold=3)])
        storage.store_batch(tasks=[("t1", "plain", 5.0, "success", 1, 1, T0, None)])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE agents SET agent_id = ?", (HOSTILE_ID,))
        conn.execute("UPDATE task_metrics SET task_id = ?", (HOSTILE_ID,))
    return str(path)


@pytest.mark.parametrize("argv", [["stats", "--by-agent"], ["query"], ["stats"]], ids=" ".join)
def test_tables_neutralise_control_and_bidi_characters(hostile_db: str, argv: list[str]) -> None:
    """A table is for a terminal: ESC/OSC/CSI, C1, DEL and bidi controls show as escapes."""
    code, out, err = _run([*argv, "--db", hostile_db])
    assert code == 0, err
    assert not [c for c in RAW if c in out]
    if argv != ["stats"]:
        assert "evil\\u001b]8;;http://x\\u0007link" in out and "\\u202etxt.exe\\u2066" in out


_ON_A_TERMINAL = """
import os, pty, subprocess, sys
leader, follower = pty.openpty()
proc = subprocess.Popen([sys.executable, "-m", "demo", *sys.argv[1:]], stdout=follower,
                        stderr=subprocess.PIPE)
os.close(follower)
chunks = []
while True:
    try:
        chunk = os.read(leader, 65536)
    except OSError:
        break
    if not chunk:
        break
    chunks.append(chunk)
proc.wait()
sys.stdout.buffer.write(b"".join(chunks))
sys.exit(proc.returncode)
"""


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_a_report_printed_to_a_terminal_is_neutralised(hostile_db: str, fmt: str) -> None:
    """On a TTY the report holds no raw control or bidi character; piped, the JSON is verbatim
    (the Markdown shows bidi controls as escapes wherever it goes)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = ["report", "--db", hostile_db, "--format", fmt]
    shown = subprocess.run([sys.executable, "-c", _ON_A_TERMINAL, *argv], env=env,
                           capture_output=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert not [c for c in RAW if c in text]
    assert "\\u202etxt.exe" in text
    piped = subprocess.run([sys.executable, "-m", "demo", *argv], env=env, capture_output=True,
                           timeout=60)
    assert ("\u202etxt.exe" in piped.stdout.decode()) is (fmt == "json")
    if fmt == "json":  # the TTY's escapes are JSON escapes: it still decodes, to the id
        assert json.loads(text)["agents"][0]["agent_id"] == HOSTILE_ID


def test_an_error_line_neutralises_what_it_quotes(hostile_db: str) -> None:
    """An unknown agent's error lists the known ids: as escapes, on one line."""
    code, out, err = _run(["stats", "--db", hostile_db, "--agent", "nobody\u202e"])
    assert code == 2 and out == ""
    assert not [c for c in RAW if c in err] and len(err.strip().splitlines()) == 1
    assert "known agents: evil\\u001b]8;;" in err
