"""The command line through its real entry points: each command, and each mistake a user can make."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import msgspec
import pytest

from demo.cli import main
from messages import HealthReport, TaskMetric
from storage import MetricsStorage

ROOT = Path(__file__).resolve().parents[2]
KNOWN_RANGE = ["--start", "2023-11-14T22:13:20", "--end", "2023-11-14T22:13:30"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run a command that must fail as a user mistake; return its one error line."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


# report


def test_report_prints_markdown_from_the_database_alone(
    capsys: pytest.CaptureFixture[str], known_db: str
) -> None:
    """Health bars, the failed agent, alerts and per-agent sparklines, with no swarm running."""
    out, _ = _ok(capsys, ["report", "--db", known_db])
    assert out.startswith("# Swarm health report: known-swarm")
    assert "failed    |███████" in out
    assert "| gamma | failed | n/a |" in out
    assert "agent gamma is failed" in out
    alpha = next(line for line in out.splitlines() if line.startswith("| alpha | healthy | 100.0%"))
    assert "| 4 | 75.0% |" in alpha and any(c in alpha for c in "▁▂▃▄▅▆▇█")


def test_report_json_follows_the_report_schema(
    capsys: pytest.CaptureFixture[str], known_db: str
) -> None:
    """The JSON decodes as a HealthReport; --agent keeps one agent."""
    out, _ = _ok(capsys, ["report", "--db", known_db, "--format", "json", "--agent", "gamma"])
    report = msgspec.json.decode(out, type=HealthReport)
    assert [(a.agent_id, a.health_state) for a in report.agents] == [("gamma", "failed")]
    assert report.agents[0].uptime_pct == pytest.approx(30.0)


def test_report_of_a_time_range(capsys: pytest.CaptureFixture[str], known_db: str) -> None:
    """--start/--end select the stored history of that window."""
    out, _ = _ok(capsys, ["report", "--db", known_db, "--format", "json",
                          "--start", "2023-11-14T22:13:20", "--end", "2023-11-14T22:13:23.5"])
    report = msgspec.json.decode(out, type=HealthReport)
    assert {a.agent_id: a.health_state for a in report.agents}["beta"] == "degraded"
    assert report.task_stats["total_tasks"] == 3


# query


def test_query_lists_stored_tasks_oldest_first(
    capsys: pytest.CaptureFixture[str], known_db: str
) -> None:
    """A table of every task, one a line."""
    out, _ = _ok(capsys, ["query", "--db", known_db])
    lines = out.splitlines()
    assert len(lines) == 2 + 6
    assert [line.split()[3] for line in lines[2:]] == ["a2", "a4", "a6", "a8", "b10", "b12"]


def test_query_filters_by_agent_result_and_time(
    capsys: pytest.CaptureFixture[str], known_db: str
) -> None:
    """--result failure finds the one failure; --agent and --since narrow it further."""
    out, _ = _ok(capsys, ["query", "--db", known_db, "--result", "failure", "--format", "json"])
    tasks = msgspec.json.decode(out, type=list[TaskMetric])
    assert [(t.task_id, t.agent_id, t.duration_ms) for t in tasks] == [("a6", "alpha", 300.0)]
    out, _ = _ok(capsys, ["query", "--db", known_db, "--agent", "beta", "--format", "csv"])
    assert [line.split(",")[3] for line in out.splitlines()] == ["task_id", "b10", "b12"]
    out, _ = _ok(capsys, ["query", "--db", known_db, "--since", "1h"])
    assert out.strip() == "No task metrics match."


def test_query_limit_keeps_the_oldest_and_says_so(
    capsys: pytest.CaptureFixture[str], known_db: str
) -> None:
    """--limit 2 prints 2 tasks and notes on stderr that there are more; 0 means all."""
    out, err = _ok(capsys, ["query", "--db", known_db, "--limit", "2", "--format", "csv"])
    assert len(out.splitlines()) == 3
    assert "--limit 0" in err
    out, err = _ok(capsys, ["query", "--db", known_db, "--limit", "0", "--format", "csv"])
    assert len(out.splitlines()) == 7 and err == ""


# stats


def test_stats_of_the_whole_swarm(capsys: pytest.CaptureFixture[str], known_db: str) -> None:
    """One row: 6 tasks, 4 successes."""
    out, _ = _ok(capsys, ["stats", "--db", known_db])
    row = out.splitlines()[2].split()
    assert row[:4] == ["all", "agents", "6", "66.7"]


def test_stats_by_agent_as_json(capsys: pytest.CaptureFixture[str], known_db: str) -> None:
    """--by-agent gives each agent's statistics; an agent with no task has zeros."""
    out, _ = _ok(capsys, ["stats", "--db", known_db, "--by-agent", "--format", "json", *KNOWN_RANGE])
    stats = json.loads(out)
    assert sorted(stats) == ["alpha", "beta", "gamma"]
    assert (stats["alpha"]["total_tasks"], stats["alpha"]["success_rate"]) == (4, 75.0)
    assert stats["beta"]["results_breakdown"]["timeout"] == 1
    assert stats["gamma"]["total_tasks"] == 0


# run and bench


def test_run_appends_to_an_existing_database_and_says_where_everything_is(
    capsys: pytest.CaptureFixture[str], known_copy: str, tmp_path: Path
) -> None:
    """With no command it runs the demo; --quiet prints only the two paths."""
    report = tmp_path / "r.json"
    out, _ = _ok(capsys, ["--quiet", "--agents", "3", "--duration", "1.5", "--interval-ms", "200",
                          "--seed", "3", "--db", known_copy, "--report", str(report)])
    assert out.splitlines() == [
        f"Database: {known_copy} (appended: it already held 6 task metrics)",
        f"JSON report: {report}",
    ]
    assert msgspec.json.decode(report.read_bytes(), type=HealthReport).agent_count == 3
    with MetricsStorage(known_copy, readonly=True, create=False) as storage:
        assert "gamma" in storage.agent_ids() and "backend-1" in storage.agent_ids()


def test_bench_is_handed_its_arguments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench ARGS` calls demo.bench.main(ARGS) and exits with its status."""
    seen: list[list[str]] = []

    def bench_main(argv: list[str]) -> int:
        seen.append(argv)
        return 3

    fake = types.ModuleType("demo.bench")
    fake.main = bench_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "demo.bench", fake)
    assert main(["bench", "--quick", "--agents", "5"]) == 3
    assert seen == [["--quick", "--agents", "5"]]


def test_bench_missing_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without demo/bench.py the command says so and exits 2."""
    monkeypatch.setitem(sys.modules, "demo.bench", None)
    err = _fails(capsys, ["bench", "--help"])
    assert "no benchmark" in err


# mistakes


@pytest.mark.parametrize("command", ["report", "query", "stats"])
def test_a_missing_database_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    """No such file: said plainly, and nothing is created."""
    missing = tmp_path / "nope.db"
    assert "no such file" in _fails(capsys, [command, "--db", str(missing)])
    assert not missing.exists()


@pytest.mark.parametrize("command", ["report", "query", "stats", "run"])
def test_a_text_file_is_not_our_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    """A file that is not SQLite is refused and left untouched."""
    text = tmp_path / "notes.db"
    text.write_text("just some notes\n")
    err = _fails(capsys, [command, "--db", str(text), "--report", str(tmp_path / "r.json")]
                 if command == "run" else [command, "--db", str(text)])
    assert "not a swarmpulse metrics database" in err and "not a SQLite database" in err
    assert text.read_text() == "just some notes\n"


def test_another_programs_sqlite_database_is_not_ours(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A SQLite file with someone else's tables is refused."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    assert "not a swarmpulse metrics database" in _fails(capsys, ["stats", "--db", str(other)])


def test_a_newer_schema_asks_for_an_upgrade(
    capsys: pytest.CaptureFixture[str], known_copy: str
) -> None:
    """A database written by a newer swarmpulse is refused, not misread."""
    conn = sqlite3.connect(known_copy)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    err = _fails(capsys, ["report", "--db", known_copy])
    assert "schema version 99" in err and "upgrade swarmpulse" in err


@pytest.mark.parametrize("command", ["report", "query", "stats"])
def test_a_bad_time_expression_is_one_line(
    capsys: pytest.CaptureFixture[str], known_db: str, command: str
) -> None:
    """--since yesterday names the option and the forms it takes."""
    err = _fails(capsys, [command, "--db", known_db, "--since", "yesterday"])
    assert "bad time expression 'yesterday' for --since" in err and "24h" in err


@pytest.mark.parametrize("command", ["report", "query", "stats"])
def test_an_unknown_agent_is_one_line(
    capsys: pytest.CaptureFixture[str], known_db: str, command: str
) -> None:
    """--agent nobody lists the agents there are."""
    err = _fails(capsys, [command, "--db", known_db, "--agent", "nobody"])
    assert "no agent 'nobody'" in err and "alpha, beta, gamma" in err


@pytest.mark.parametrize("limit", ["-1", "ten", "1.5"])
def test_a_bad_limit_is_one_line(
    capsys: pytest.CaptureFixture[str], known_db: str, limit: str
) -> None:
    """--limit takes a whole number >= 0."""
    err = _fails(capsys, ["query", "--db", known_db, "--limit", limit])
    assert "--limit" in err and "whole number >= 0" in err


@pytest.mark.parametrize(
    "argv",
    [["--agents", "0"], ["--duration", "soon"], ["--interval-ms", "5"], ["report", "--format", "xml"],
     ["frobnicate"], ["query", "--bogus"], ["run", "--report", "/nonexistent/dir/r.json"]],
)
def test_other_bad_options_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Bad values, unknown commands and options, an unwritable report: one line, exit 2."""
    _fails(capsys, argv)


# the real process


def test_help_from_python_m_demo_lists_commands_and_options() -> None:
    """`python -m demo --help` explains the run's options and names every command."""
    done = subprocess.run([sys.executable, "-m", "demo", "--help"], capture_output=True,
                          text=True, env=_env(), timeout=60)
    assert done.returncode == 0
    for word in ("--agents", "--duration", "--interval-ms", "--seed", "--db", "--report",
                 "--no-live", "--quiet", "report", "query", "stats", "bench", "python -m demo"):
        assert word in done.stdout


def test_an_error_from_python_m_demo_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A missing database: exit 2, one line on stderr, no traceback."""
    done = subprocess.run([sys.executable, "-m", "demo", "query", "--db", str(tmp_path / "x.db")],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m demo: error: {tmp_path / 'x.db'}: no such file "
        "(run `python -m demo` to make a database)"
    ]


@pytest.mark.parametrize(("sig", "status", "said"), [
    (signal.SIGINT, 130, "interrupted by SIGINT (Ctrl-C)"),
    (signal.SIGTERM, 143, "terminated by SIGTERM"),
], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_cleanly_and_sets_the_exit_status(
    tmp_path: Path, sig: signal.Signals, status: int, said: str
) -> None:
    """SIGINT mid-run: every metric stored, the Markdown printed, the JSON written, then exit
    status 130 said on stderr; SIGTERM the same with 143."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo", "run", "--agents", "3", "--duration", "60",
         "--interval-ms", "200", "--seed", "1"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # not a terminal: plain log lines
        assert "START" in first
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"python -m demo: {said}: stopped cleanly, every metric stored and the report "
        f"written; exit status {status}")
    assert "interrupted: stopping cleanly" in out
    assert "# Swarm health report: demo-swarm" in out
    assert ("stopped by Ctrl-C" if sig == signal.SIGINT else "stopped by SIGTERM") in out
    assert (tmp_path / "swarm_report.json").exists() and (tmp_path / "swarm_metrics.db").exists()


_SIGNAL_DURING = """
import os, signal, sys
import demo.cli

def command(args):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    signal.pause()  # the signal arrives while the command runs
    return 0

demo.cli._COMMANDS["stats"] = command
sys.exit(demo.cli.main(["stats"], prog="swarmpulse"))
"""


@pytest.mark.parametrize(("name", "status", "said"), [
    ("SIGINT", 130, "interrupted by SIGINT (Ctrl-C)"),
    ("SIGTERM", 143, "terminated by SIGTERM"),
])
def test_a_signal_during_a_reading_command_sets_the_exit_status(
    tmp_path: Path, name: str, status: int, said: str
) -> None:
    """Ctrl-C or SIGTERM while report/query/stats runs: one line saying so, 130 or 143."""
    done = subprocess.run([sys.executable, "-c", _SIGNAL_DURING, name], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == status, done.stderr
    assert done.stderr.strip().splitlines() == [f"swarmpulse: {said}; exit status {status}"]


_NO_ACTORS = """
import sys
from demo.cli import main
for argv in (["report"], ["report", "--format", "json"], ["query", "--format", "csv"],
             ["stats", "--by-agent"]):
    assert main([*argv, "--db", sys.argv[1]]) == 0, argv
heavy = ("actors", "pykka", "server", "httpx", "starlette", "uvicorn", "rich")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
print("loaded:", loaded, file=sys.stderr)
sys.exit(1 if loaded else 0)
"""


def test_the_commands_that_read_a_database_never_import_the_actor_system(known_db: str) -> None:
    """report, query and stats render from storage and messages alone: no actors, no pykka,
    and nothing of the HTTP edge (server, httpx, starlette, uvicorn) or of rich."""
    done = subprocess.run([sys.executable, "-c", _NO_ACTORS, known_db], env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "# Swarm health report: known-swarm" in done.stdout


def test_paths_with_a_tilde_mean_home(
    capsys: pytest.CaptureFixture[str], known_db: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--db ~/x.db reads the file x.db of the home folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "x.db").write_bytes(Path(known_db).read_bytes())
    out, _ = _ok(capsys, ["stats", "--db", "~/x.db", "--format", "json"])
    assert json.loads(out)["total_tasks"] == 6


def test_start_system_expands_a_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """start_system('~/s.db') writes the home folder's s.db."""
    from actors import start_system

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with start_system("~/s.db") as system:
        system.record_task_metric("t", "a", 1.0, "success")
        system.flush()
    with MetricsStorage(tmp_path / "s.db", readonly=True) as storage:
        assert len(storage.query_task_metrics()) == 1


def test_an_empty_database_reads_as_nothing_yet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No agent and no task: the report and stats say so, not 0% success or 'all healthy'."""
    from actors import start_system

    path = str(tmp_path / "empty.db")
    start_system(path).shutdown()
    out, _ = _ok(capsys, ["report", "--db", path])
    assert "No agents yet." in out and "No tasks recorded yet." in out
    assert "Success rate" not in out and "healthy." not in out and "0.0%" not in out
    out, _ = _ok(capsys, ["stats", "--db", path])
    assert "no tasks yet" in out and "0.0" not in out


def test_an_agent_without_tasks_shows_no_rates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An agent registered and beating but with no task: '-' for its success and p95."""
    from actors import ManualClock, start_system

    path = str(tmp_path / "idle.db")
    clock = ManualClock(start=1_700_000_000.0)
    with start_system(path, clock=clock) as system:
        system.register_agent("idle-1")
        clock.advance(0.5)
    clock.close()
    out, _ = _ok(capsys, ["report", "--db", path])
    assert "| idle-1 | healthy | 100.0% | 0 | - | - |" in out
    assert "None: all 1 agents are healthy." in out
    out, _ = _ok(capsys, ["stats", "--by-agent", "--db", path])
    idle = next(line for line in out.splitlines() if line.startswith("idle-1"))
    assert idle.split()[1:4] == ["0", "-", "-"] and "no tasks yet" in idle
