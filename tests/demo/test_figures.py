"""One definition per figure: the same stored data reads the same in every view."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from actors import ManualClock, start_system
from demo.cli import main
from demo.frame import capture
from demo.stored import stored_metrics
from storage import MetricsStorage


def _cli(argv: list[str]) -> dict:  # type: ignore[type-arg]
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_every_view_shows_the_same_numbers(tmp_path: Path) -> None:
    """The in-process report, the live view's frame, the CLI's report and its stats agree on
    tasks, success rate, p95 and tokens, for the swarm and for each agent (the two reports on
    the sparklines too); the frame's metrics stored count is the one the run's summary uses."""
    path = str(tmp_path / "same.db")
    clock = ManualClock(start=1_700_000_000.0)
    system = start_system(path, clock=clock)
    try:
        for agent in ("a", "b"):
            system.register_agent(agent)
        # durations where a log histogram and the exact values differ (1401.15 vs 1400)
        for i, duration in enumerate((1000.0, 1200.0, 1400.0, 1600.0, 1800.0, 2793.5, 2807.3)):
            system.record_task_metric(f"a{i}", "a", duration, "success" if i % 3 else "failure",
                                      tokens_used=10 * i)
        system.record_task_metric("b0", "b", 333.3, "timeout", tokens_used=7)
        system.record_agent_metric("a", "queue", 2.0)
        system.record_swarm_metric("topology_health", 1.0)
        clock.advance(0.5)
        in_process = json.loads(system.generate_report("json"))
        with MetricsStorage(path, readonly=True) as reader:
            frame = capture(system, 0.5, 1.0, reader)
            counted = stored_metrics(reader)
    finally:
        system.shutdown()
        clock.close()
    cli_report = _cli(["report", "--db", path, "--format", "json"])
    cli_stats = _cli(["stats", "--db", path, "--format", "json"])
    cli_by_agent = _cli(["stats", "--by-agent", "--db", path, "--format", "json"])

    swarm = ("total_tasks", "success_rate", "p95_duration_ms", "median_duration_ms", "total_tokens")
    expected = tuple(in_process["task_stats"][key] for key in swarm)
    assert expected[0] == 8
    assert tuple(cli_report["task_stats"][key] for key in swarm) == expected
    assert tuple(cli_stats[key] for key in swarm) == expected
    assert (frame.tasks, frame.success_rate, frame.p95_ms, frame.tokens) == (
        expected[0], expected[1], expected[2], expected[4])

    def agents(report: dict) -> dict:  # type: ignore[type-arg]
        return {a["agent_id"]: (a["tasks_completed"], a["success_rate"], a["p95_duration_ms"],
                                a["total_tokens"]) for a in report["agents"]}

    assert agents(in_process) == agents(cli_report)
    sparklines = [{a["agent_id"]: (a["duration_series"], a["throughput_series"])
                   for a in report["agents"]} for report in (in_process, cli_report)]
    assert sparklines[0] == sparklines[1] and sum(sparklines[0]["a"][1]) == 7
    assert {r.agent_id: (r.tasks, r.success_rate, r.p95_ms) for r in frame.agents} == {
        k: v[:3] for k, v in agents(in_process).items()}
    assert {k: (v["total_tasks"], v["success_rate"], v["p95_duration_ms"], v["total_tokens"])
            for k, v in cli_by_agent.items()} == agents(in_process)
    assert frame.stored == counted == 8 + 1 + 1
