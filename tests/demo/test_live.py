"""What a run shows: the live table, the plain log lines, and the system's warnings."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from demo.frame import AgentRow, Frame
from demo.live import LiveView, LogView, RunInfo, relay_logs
from messages import HealthChanged, HealthState

INFO = RunInfo(agents=2, duration=20.0, interval_ms=500, seed=42, db_path="m.db",
               started_at=1_700_000_000.0)


def _frame(elapsed: float) -> Frame:
    rows = [
        AgentRow(agent_id="backend-1", state=HealthState.HEALTHY, heartbeat_age_ms=120.0, tasks=7,
                 success_rate=85.7, p95_ms=2100.0, duration_series=[100.0, 800.0, 400.0],
                 throughput_series=[1, 3, 3]),
        AgentRow(agent_id="tester-1", state=HealthState.FAILED, heartbeat_age_ms=6200.0, tasks=2,
                 success_rate=50.0, p95_ms=900.0),
    ]
    return Frame(elapsed=elapsed, duration=20.0, agents=rows, tasks=9, success_rate=77.8,
                 p95_ms=2000.0, tokens=12_345, stored=30, heartbeats=80, tracker_restarts=1,
                 distribution={"healthy": 1, "degraded": 0, "critical": 0, "failed": 1})


def _event(current: HealthState, previous: HealthState, age_ms: float) -> HealthChanged:
    return HealthChanged(agent_id="tester-1", previous=previous, current=current,
                         at=1_700_000_003.5, heartbeat_age_ms=age_ms)


def test_log_lines_say_when_who_and_what() -> None:
    """One line per transition and fault, with the time into the run and the alert level."""
    out = io.StringIO()
    view = LogView(out)
    view.start(INFO)
    view.health_changed(_event(HealthState.DEGRADED, HealthState.HEALTHY, 500.0))
    view.health_changed(_event(HealthState.HEALTHY, HealthState.CRITICAL, 0.0))
    view.note(5.0, "FAULT", "tester-1 dies")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[+  0.00s] START") and "seed 42" in lines[0]
    assert lines[1] == "[+  3.50s] WARNING  tester-1 healthy -> degraded: silent for 0.50 s"
    assert lines[2] == "[+  3.50s] INFO     tester-1 recovered (critical -> healthy)"
    assert lines[3] == "[+  5.00s] FAULT    tester-1 dies"


def test_a_status_line_comes_every_five_seconds() -> None:
    """Frames come 4 times a second; the log gets a status line every 5 s only."""
    out = io.StringIO()
    view = LogView(out)
    view.start(INFO)
    for quarter in range(45):
        view.frame(_frame(quarter / 4))
    status = [line for line in out.getvalue().splitlines() if "STATUS" in line]
    assert len(status) == 2
    assert "9 tasks, 77.8% success" in status[0] and "1 failed" in status[0]


def test_the_live_view_shows_agents_totals_and_alerts() -> None:
    """The table has each agent's state, age, tasks, success, p95 and sparkline."""
    console = Console(record=True, width=100, force_terminal=True, file=io.StringIO())
    view = LiveView(console)
    view.start(INFO)
    view.health_changed(_event(HealthState.FAILED, HealthState.CRITICAL, 1500.0))
    view.note(7.0, "FAULT", "backend-1: its heartbeat tracker crashes")
    view.frame(_frame(12.0))
    view.close()
    text = console.export_text()
    assert "12.0/20 s" in text
    assert "backend-1" in text and "healthy" in text and "2100" in text and "▁█▄" in text
    assert "tester-1" in text and "failed" in text and "6.2 s" in text
    assert "9 tasks, 77.8% ok" in text and "1 restart" in text
    assert "tester-1 critical -> failed: silent for 1.50 s" in text
    assert "its heartbeat tracker crashes" in text


def test_system_warnings_become_single_notes_while_a_run_lasts() -> None:
    """A warning logged during the run is one note (no traceback); afterwards, not relayed."""
    out = io.StringIO()
    view = LogView(out)
    logger = logging.getLogger("swarmpulse.coordinator")
    with relay_logs(view, started=0.0):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("tracker x failed: %s", "RuntimeError('boom')")
        logging.getLogger("pykka").error("Unhandled exception in HeartbeatTracker")
    logger.warning("after the run")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("LOG      error coordinator: tracker x failed: RuntimeError('boom')")


def test_ids_and_notes_cannot_drive_the_terminal() -> None:
    """ESC/OSC sequences and bidi overrides from ids and notes are shown as escapes."""
    hostile = "x\u202eexe.txt\u2066"
    out = io.StringIO()
    console = Console(width=120, force_terminal=True, file=out)
    view = LiveView(console)
    view.start(INFO)
    view.health_changed(HealthChanged(agent_id=hostile, previous=HealthState.HEALTHY,
                                      current=HealthState.DEGRADED, at=INFO.started_at + 1,
                                      heartbeat_age_ms=600.0))
    view.note(1.0, "LOG", "warning: \x1b]8;;http://evil\x07click\x1b]8;;\x07 \x9b2J")
    row = AgentRow(agent_id="bad\x1b[2Jid\u202e", state=HealthState.HEALTHY,
                   heartbeat_age_ms=1.0, tasks=1, success_rate=100.0, p95_ms=5.0)
    view.frame(Frame(elapsed=1.0, duration=20.0, agents=[row], tasks=1, success_rate=100.0,
                     p95_ms=5.0, tokens=0, stored=1, heartbeats=1, tracker_restarts=0,
                     distribution={"healthy": 1}))
    view.close()
    drawn = out.getvalue()
    for raw in ("\u202e", "\u2066", "\x1b]8;;http://evil", "\x1b[2J", "\x9b"):
        assert raw not in drawn, repr(raw)
    assert "\\u202eexe.txt" in drawn and "\\u001b]8;;http://evil" in drawn
    lines = io.StringIO()
    log = LogView(lines)
    log.start(INFO)
    log.note(1.0, "LOG", "a\x1b[31mred\u202e")
    assert "\x1b" not in lines.getvalue() and "\u202e" not in lines.getvalue()
    assert "a\\u001b[31mred\\u202e" in lines.getvalue()


def test_nothing_yet_reads_as_nothing_yet() -> None:
    """No agent, no task: the view says so instead of 0% ok and p95 0."""
    console = Console(record=True, width=100, force_terminal=True, file=io.StringIO())
    view = LiveView(console)
    view.start(INFO)
    view.frame(Frame(elapsed=0.5, duration=20.0, agents=[], tasks=0, success_rate=0.0, p95_ms=0.0,
                     tokens=0, stored=0, heartbeats=0, tracker_restarts=0, distribution={}))
    idle = AgentRow(agent_id="idle-1", state=HealthState.HEALTHY, heartbeat_age_ms=10.0, tasks=0,
                    success_rate=0.0, p95_ms=0.0)
    view.frame(Frame(elapsed=1.0, duration=20.0, agents=[idle], tasks=0, success_rate=0.0,
                     p95_ms=0.0, tokens=0, stored=0, heartbeats=1, tracker_restarts=0,
                     distribution={"healthy": 1}))
    first = console.export_text(clear=False)
    view.close()
    text = console.export_text()
    assert "No agents yet." in first or "No agents yet." in text
    assert "% ok" not in text and "p95 0" not in text
    assert "no tasks yet" in text
    idle_line = next(line for line in text.splitlines() if line.startswith("idle-1"))
    assert idle_line.split()[4:7] == ["0", "-", "-"]  # tasks, OK %, p95 (after "10.0 s")
    out = io.StringIO()
    log = LogView(out)
    log.start(INFO)
    log.frame(Frame(elapsed=5.0, duration=20.0, agents=[], tasks=0, success_rate=0.0, p95_ms=0.0,
                    tokens=0, stored=0, heartbeats=0, tracker_restarts=0, distribution={}))
    assert "no tasks yet; agents: none yet" in out.getvalue()
    assert "0.0%" not in out.getvalue()
