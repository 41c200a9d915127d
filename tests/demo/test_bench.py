"""The benchmark runs end to end and reports every figure; nothing here checks speed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from demo import bench
from demo.bench import dashboard as bench_dashboard
from demo.bench.support import MODES, GroupResult, Sizes


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# every group runs, each in a fresh process: about 40 s alone, past 90 s on a loaded machine;
# the limit catches a hang, it is no speed assertion
@pytest.mark.timeout(300)
def test_smoke_run_writes_every_figure_and_the_machine_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The smallest run exits 0 and its JSON holds every figure as a number, plus the machine."""
    out = tmp_path / "bench.json"

    status = bench.main(["--smoke", "--json", str(out)])

    assert status == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    has_prometheus = importlib.util.find_spec("prometheus_client") is not None
    has_browser = bench_dashboard._browser_missing() is None
    for key, *_ in bench.FIGURES:
        if key in bench.OPTIONAL and not has_prometheus:
            assert report[key] is None, key
        elif key in bench.NEEDS_BROWSER and not has_browser:
            assert report[key] is None, key
        else:
            assert _is_number(report[key]), f"{key} = {report[key]!r}"
    machine = report["machine"]
    assert _is_number(machine["cpu_count"])
    assert machine["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert machine["platform"]
    assert machine["quick"] is True
    assert machine["sizes"]["swarm_agents"] == MODES["smoke"].swarm_agents
    table = capsys.readouterr().out
    assert "figure" in table and "met?" in table
    assert "persist_per_s" in table


def test_without_prometheus_only_its_figures_are_null(monkeypatch: pytest.MonkeyPatch) -> None:
    """With prometheus_client unimportable, its two figures are None and the rest are measured."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)

    result = bench.run_group("latency", MODES["smoke"])

    assert result.figures["prometheus_observe_us_p50"] is None
    assert result.figures["record_vs_prometheus"] is None
    for key in ("record_us_p50", "record_us_p99", "agent_record_us_p50", "pykka_tell_us_p50",
                "timer_overhead_us"):
        assert _is_number(result.figures[key]), key
    assert "missing" in result.details["prometheus_client"]


def test_a_failing_group_makes_the_run_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A group that raises gives exit status 1 and null figures, the others still run."""

    def broken(sizes: Sizes, workdir: str) -> GroupResult:
        raise RuntimeError("broken on purpose")

    def fine(sizes: Sizes, workdir: str) -> GroupResult:
        return GroupResult(figures={"percentile_rel_error_max": 0.001})

    monkeypatch.setitem(bench.GROUPS, "persist", broken)
    monkeypatch.setitem(bench.GROUPS, "accuracy", fine)
    out = tmp_path / "bench.json"

    status = bench.main(
        ["--smoke", "--in-process", "--only", "persist", "--only", "accuracy", "--json", str(out)]
    )

    assert status == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["persist_per_s"] is None
    assert report["percentile_rel_error_max"] == 0.001
    assert report["machine"]["failed_groups"] == ["persist"]


def test_table_says_which_targets_were_met() -> None:
    """Each row shows its target and yes, NO, context or skipped."""
    figures: dict[str, float | None] = {
        "record_us_p50": 0.5,
        "persist_per_s": 50_000.0,
        "timer_overhead_us": 0.07,
        "prometheus_observe_us_p50": None,
    }
    table = bench.render_table(figures, MODES["full"])

    rows = {line.split()[0]: line for line in table.splitlines()}

    assert rows["record_us_p50"].endswith("yes")
    assert rows["persist_per_s"].endswith("NO")
    assert ">= 70,000 /s" in rows["persist_per_s"]
    assert rows["timer_overhead_us"].endswith("context")
    assert rows["prometheus_observe_us_p50"].endswith("skipped")


@pytest.mark.parametrize("where", ["missing folder", "a folder", "unwritable"])
def test_a_bad_json_path_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """A --json path that cannot be written: exit 2, one line, and no group has run."""
    path = {"missing folder": str(tmp_path / "no" / "out.json"), "a folder": str(tmp_path),
            "unwritable": "/sys/swarmpulse-bench.json"}[where]
    assert bench.main(["--smoke", "--json", path]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"python -m demo bench: error: cannot write --json {path}: ")


def test_the_cli_group_times_the_real_commands_on_a_generated_file() -> None:
    """The cli group runs report, --format json, --since 1h and stats --by-agent in
    subprocesses on its own file, and reports the worst time and peak memory."""
    result = bench.run_group("cli", MODES["smoke"])
    assert set(result.details["commands"]) == {"report", "report_json", "report_since_1h",
                                               "stats_by_agent"}
    assert result.figures["cli_report_s_1m"] == max(
        c["s"] for c in result.details["commands"].values())
    assert _is_number(result.figures["cli_report_mb_1m"]) and result.figures["cli_report_mb_1m"] > 0
    assert "not 1,000,000" in result.details["note"]
