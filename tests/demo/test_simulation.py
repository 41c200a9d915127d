"""The demo run end to end, on the real clock: faults, supervision, storage and reports."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import msgspec
import pytest

from demo.frame import Frame
from demo.live import RunInfo
from demo.simulation import RunOptions, RunResult, run
from messages import HealthChanged, HealthReport
from storage import MetricsStorage


class RecordingView:
    """A view that keeps what it is shown, and can end the run once it has seen enough."""

    def __init__(self, stop_after: float | None = None) -> None:
        self.events: list[HealthChanged] = []
        self.notes: list[tuple[str, str]] = []
        self.frames = 0
        self.last: Frame | None = None
        self.stop = threading.Event()
        self._stop_after = stop_after
        self._lock = threading.Lock()

    def start(self, info: RunInfo) -> None:
        """Nothing to prepare."""

    def health_changed(self, event: HealthChanged) -> None:
        """Keep the transition."""
        with self._lock:
            self.events.append(event)

    def note(self, elapsed: float, kind: str, text: str) -> None:
        """Keep the note."""
        with self._lock:
            self.notes.append((kind, text))

    def frame(self, frame: Frame) -> None:
        """Count frames; end the run early when asked to."""
        self.frames += 1
        self.last = frame
        if self._stop_after is not None and frame.elapsed >= self._stop_after:
            self.stop.set()

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, RecordingView, Path]:
    """The default run, 20 s of 12 agents with 500 ms heartbeats, shared by this module's tests.

    Every fault has shown by 13 s (see FaultPlan.complete_by); the slow agent's first
    slow task (at most 9 s, begun by 5.3 s) and the hung task (15 s, begun by 2.3 s)
    have finished by 17.3 s; 500 ms leaves a busy CI machine 250 ms of scheduling
    slack per beat before a false DEGRADED.
    """
    folder = tmp_path_factory.mktemp("run")
    view = RecordingView()
    options = RunOptions(agents=12, duration=20.0, interval_ms=500, seed=7,
                         db_path=str(folder / "metrics.db"),
                         report_path=str(folder / "report.json"))
    return run(options, view), view, folder


def _without_blips(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop HEALTHY -> DEGRADED -> HEALTHY blips.

    On an overloaded machine a beat can reach a tracker a little after its
    deadline (a CPU-starved process); the scripted faults go further than
    DEGRADED, so a blip is never one of them.
    """
    kept: list[tuple[str, str]] = []
    for pair in pairs:
        if pair == ("degraded", "healthy") and kept and kept[-1] == ("healthy", "degraded"):
            kept.pop()
        else:
            kept.append(pair)
    return kept


def _stored_transitions(result: RunResult) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    with MetricsStorage(result.db_path, readonly=True, create=False) as storage:
        for event in storage.query_health_events():
            found.setdefault(event.agent_id, []).append((event.previous.value, event.current.value))
    return found


def test_every_health_state_appears_in_a_default_shaped_run(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """The silent agent goes DEGRADED, CRITICAL, FAILED and stays so; the stalled one recovers."""
    result, view, _ = finished
    assert result.plan.complete_by <= 20.0
    stored = _stored_transitions(result)
    silent, stalled = result.plan.agent("silence"), result.plan.agent("stall")
    assert silent is not None and stalled is not None
    assert _without_blips(stored[silent]) == [("healthy", "degraded"), ("degraded", "critical"),
                                              ("critical", "failed")]
    assert _without_blips(stored[stalled]) == [("healthy", "degraded"), ("degraded", "critical"),
                                               ("critical", "healthy")]
    assert {current for pairs in stored.values() for _, current in pairs} == {
        "healthy", "degraded", "critical", "failed"}
    seen = sorted((e.agent_id, e.previous.value, e.current.value) for e in view.events)
    assert seen == sorted((a, p, c) for a, pairs in stored.items() for p, c in pairs)


def test_the_crashed_tracker_is_restarted_with_its_state(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """One restart; the heartbeat count carried on from before the crash; health untouched."""
    result, view, _ = finished
    crashed = result.plan.agent("crash")
    assert crashed is not None
    assert result.tracker_restarts == 1
    assert result.crash_heartbeats_before is not None and result.crash_heartbeats_before > 0
    assert result.crash_heartbeats_counted == result.crash_heartbeats_sent
    assert result.crash_heartbeats_sent is not None
    assert result.crash_heartbeats_sent > result.crash_heartbeats_before
    assert _without_blips(_stored_transitions(result).get(crashed, [])) == []
    assert any(kind == "RESTART" and crashed in text for kind, text in view.notes)


def test_the_database_holds_every_recorded_metric(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """What the agents recorded is exactly what SQLite holds."""
    result, _, _ = finished
    assert result.recorded_tasks > 0
    assert result.stored_tasks == result.recorded_tasks
    assert result.stored_agent_metrics == result.recorded_agent_metrics
    assert result.stored_swarm_metrics == result.recorded_swarm_metrics > 0
    with MetricsStorage(result.db_path, readonly=True, create=False) as storage:
        assert len(storage.query_task_metrics()) == result.recorded_tasks


def test_the_reports_name_the_failed_agent(finished: tuple[RunResult, RecordingView, Path]) -> None:
    """The Markdown lists it as failed; the JSON report file says so too."""
    result, _, folder = finished
    silent = result.plan.agent("silence")
    assert silent is not None
    assert f"| {silent} | failed |" in result.markdown
    assert "## Health distribution" in result.markdown
    report = msgspec.json.decode(Path(result.report_path).read_bytes(), type=HealthReport)
    states = {a.agent_id: a.health_state for a in report.agents}
    phi = result.plan.agent("phi")
    assert states[silent] == states[phi] == "failed"
    assert sorted(s for a, s in states.items() if a not in (silent, phi)) == ["healthy"] * 10
    assert report.health_distribution == {"healthy": 10, "degraded": 0, "critical": 0, "failed": 2}
    assert Path(result.report_path).parent == folder
    assert json.loads(Path(result.report_path).read_text())["swarm_id"] == "demo-swarm"


def test_a_stopped_run_still_flushes_and_writes_its_report(tmp_path: Path) -> None:
    """Stopping early (what Ctrl-C does) ends the run cleanly with the report written."""
    view = RecordingView(stop_after=1.0)
    options = RunOptions(agents=3, duration=60.0, interval_ms=200, seed=3,
                         db_path=str(tmp_path / "m.db"), report_path=str(tmp_path / "r.json"))
    result = run(options, view, stop=view.stop)
    assert result.interrupted
    assert 1.0 <= result.elapsed < 10.0
    assert result.stored_tasks == result.recorded_tasks
    report = msgspec.json.decode(Path(result.report_path).read_bytes(), type=HealthReport)
    assert report.agent_count == 3


def test_the_live_view_and_the_summary_count_the_same_metrics_stored(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """The last frame's "metrics stored", tasks and p95 are the summary's and the report's."""
    result, view, _ = finished
    assert view.last is not None
    stored = result.stored_tasks + result.stored_agent_metrics + result.stored_swarm_metrics
    assert view.last.stored == stored
    assert view.last.tasks == result.report.task_stats["total_tasks"] == result.stored_tasks
    assert view.last.p95_ms == result.report.task_stats["p95_duration_ms"]
    assert {r.agent_id: (r.tasks, r.success_rate, r.p95_ms) for r in view.last.agents} == {
        a.agent_id: (a.tasks_completed, a.success_rate, a.p95_duration_ms)
        for a in result.report.agents}


def _alerts_named(result: RunResult, name: str) -> list[str]:
    return [a.agent_id for a in result.report.alerts if a.metadata.get("alertname") == name]


def test_the_hung_task_is_reported_stuck_then_finished(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """Past the stuck limit the hung task raises TaskStuck, then TaskStuckFinished; its agent stays healthy."""
    result, view, _ = finished
    hung = result.plan.agent("stuck")
    assert hung is not None
    assert hung in _alerts_named(result, "TaskStuck")
    assert hung in _alerts_named(result, "TaskStuckFinished")
    assert any(kind == "STUCK" and f"of {hung} has run" in text for kind, text in view.notes)
    assert any(kind == "UNSTUCK" and hung in text for kind, text in view.notes)
    assert "past its limit of 10.0 s" in result.markdown
    assert _without_blips(_stored_transitions(result).get(hung, [])) == []  # busy is not dead


def test_the_slow_agent_is_found_slowest_of_its_peers(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """The analyst's finding names the slowed agent, with its p95 against its peers', in the report."""
    result, view, _ = finished
    slow = result.plan.agent("slow")
    assert slow is not None
    found = [f for f in result.report.findings if f.startswith(f"{slow} is the slowest of its")]
    assert len(found) == 1 and "its p95 is" in found[0]
    assert f"- {found[0]}" in result.markdown.split("## Findings", 1)[1]
    assert ("FINDING", found[0]) in view.notes


def test_the_phi_agent_is_convicted_by_phi_sooner_than_the_fixed_thresholds(
    finished: tuple[RunResult, RecordingView, Path],
) -> None:
    """Phi accrual FAILS the phi agent before 3 intervals of silence; its phi is shown and reported."""
    result, view, _ = finished
    phi_agent = result.plan.agent("phi")
    assert phi_agent is not None
    assert _stored_transitions(result)[phi_agent][-1] == ("critical", "failed")
    assert result.phi_silent_s is not None and result.phi_silent_s < 3 * 0.5
    assert result.phi_value is not None and result.phi_value >= 8.0
    assert any(kind == "PHI" and text.startswith(f"{phi_agent} FAILED by phi accrual")
               for kind, text in view.notes)
    reported = {a.agent_id: a.phi for a in result.report.agents}
    assert reported[phi_agent] is not None and reported[phi_agent] >= 8.0
    assert reported[result.plan.agent("silence")] is None  # the fixed thresholds: no phi
    assert f"| {phi_agent} | failed | " in result.markdown
    assert "| Agent | State | Heartbeat age | Phi |" in result.markdown
