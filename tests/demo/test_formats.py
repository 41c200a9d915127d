"""Task metrics and statistics as a table, CSV and JSON."""

from __future__ import annotations

import csv
import io

import msgspec

from demo.formats import stats_table, tasks_csv, tasks_json, tasks_table, utc
from messages import TaskMetric, TaskResult

TASKS = [
    TaskMetric(task_id="T-1", agent_id="a", duration_ms=1234.5, result=TaskResult.SUCCESS,
               tokens_used=10, files_changed=2, timestamp=1_700_000_000.25,
               metadata={"role": "tester"}),
    TaskMetric(task_id="T-2", agent_id="b, \"quoted\"", duration_ms=5.0,
               result=TaskResult.FAILURE, timestamp=1_700_000_001.0),
]


def test_times_are_shown_in_utc_to_the_millisecond() -> None:
    """Epoch seconds read as a UTC time."""
    assert utc(1_700_000_000.25) == "2023-11-14 22:13:20.250"


def test_the_table_has_a_header_and_a_line_per_task() -> None:
    """Columns line up; each task is one line."""
    lines = tasks_table(TASKS).splitlines()
    assert lines[0].split()[:3] == ["Time", "(UTC)", "Agent"]
    assert len(lines) == 4
    assert "1234.5" in lines[2] and "success" in lines[2]
    assert tasks_table([]) == "No task metrics match."


def test_csv_round_trips_through_a_csv_reader() -> None:
    """Agent ids with commas and quotes survive; metadata is JSON text."""
    rows = list(csv.DictReader(io.StringIO(tasks_csv(TASKS))))
    assert [r["agent_id"] for r in rows] == ["a", "b, \"quoted\""]
    assert rows[0]["metadata"] == '{"role": "tester"}'
    assert float(rows[0]["duration_ms"]) == 1234.5


def test_json_decodes_back_into_task_metrics() -> None:
    """The JSON is the protocol's encoding of each task."""
    assert msgspec.json.decode(tasks_json(TASKS), type=list[TaskMetric]) == TASKS


def test_the_stats_table_shows_a_row_per_key() -> None:
    """One row per agent, with the non-zero results spelled out."""
    stats = {"total_tasks": 2, "success_rate": 50.0, "error_rate": 50.0, "avg_duration_ms": 10.0,
             "median_duration_ms": 5.0, "p95_duration_ms": 15.0, "p99_duration_ms": 15.0,
             "max_duration_ms": 15.0, "total_tokens": 7, "total_files_changed": 1,
             "results_breakdown": {"success": 1, "failure": 1, "timeout": 0}}
    lines = stats_table({"alpha": stats, "beta": stats}).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("alpha") and lines[2].endswith("success 1, failure 1")
