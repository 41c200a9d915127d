"""Task metrics and statistics as text: an aligned table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from messages import TaskMetric, for_terminal, format_utc
from messages.render import NOTHING

__all__ = ["stats_json", "stats_table", "tasks_csv", "tasks_json", "tasks_table", "utc"]

_CSV_FIELDS = ("timestamp", "time_utc", "agent_id", "task_id", "result", "duration_ms",
               "tokens_used", "files_changed", "metadata")
_STAT_COLUMNS = (
    ("Tasks", "total_tasks", "{:d}"),
    ("OK %", "success_rate", "{:.1f}"),
    ("Err %", "error_rate", "{:.1f}"),
    ("Avg ms", "avg_duration_ms", "{:.1f}"),
    ("p50 ms", "median_duration_ms", "{:.1f}"),
    ("p95 ms", "p95_duration_ms", "{:.1f}"),
    ("p99 ms", "p99_duration_ms", "{:.1f}"),
    ("Max ms", "max_duration_ms", "{:.1f}"),
    ("Tokens", "total_tokens", "{:d}"),
    ("Files", "total_files_changed", "{:d}"),
)
_COUNTS = frozenset({"total_tasks", "total_tokens", "total_files_changed"})


def utc(timestamp: float) -> str:
    """Epoch seconds as ``2024-05-01 12:00:00.123`` (UTC); any stored value, never raising."""
    return format_utc(timestamp, millis=True)


def _align(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """An aligned table; every cell made safe for a terminal (a table is for one)."""
    rows = [[for_terminal(cell) for cell in row] for row in rows]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def tasks_table(tasks: Sequence[TaskMetric]) -> str:
    """An aligned text table, one task a line, oldest first."""
    if not tasks:
        return "No task metrics match."
    header = ("Time (UTC)", "Agent", "Task", "Result", "Duration ms", "Tokens", "Files")
    rows = [
        (utc(t.timestamp), t.agent_id, t.task_id, t.result.value, f"{t.duration_ms:.1f}",
         str(t.tokens_used), str(t.files_changed))
        for t in tasks
    ]
    return _align(header, rows, right={4, 5, 6})


def tasks_csv(tasks: Sequence[TaskMetric]) -> str:
    """CSV with a header line; metadata as JSON text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for t in tasks:
        writer.writerow((
            f"{t.timestamp:.6f}", utc(t.timestamp), t.agent_id, t.task_id, t.result.value,
            f"{t.duration_ms:.3f}", t.tokens_used, t.files_changed,
            json.dumps(t.metadata, sort_keys=True) if t.metadata else "",
        ))
    return out.getvalue().rstrip("\n")


def tasks_json(tasks: Sequence[TaskMetric]) -> str:
    """A JSON array of task metrics in the protocol's encoding (``msgspec`` decodes it back)."""
    return json.dumps(msgspec.to_builtins(list(tasks)), indent=2)


def stats_table(stats: Mapping[str, Mapping[str, Any]]) -> str:
    """Task statistics as an aligned table, one row per key (an agent, or ``all agents``)."""
    header = ("Agent", *(title for title, _, _ in _STAT_COLUMNS), "Results")
    rows: list[tuple[str, ...]] = []
    for name, s in stats.items():
        breakdown = ", ".join(f"{k} {v}" for k, v in s.get("results_breakdown", {}).items() if v)
        if not s.get("total_tasks"):  # nothing yet: no rate or duration to show
            figures = ["0" if key in _COUNTS else NOTHING for _, key, _ in _STAT_COLUMNS]
            rows.append((name, *figures, "no tasks yet"))
            continue
        rows.append((name, *(fmt.format(s[key]) for _, key, fmt in _STAT_COLUMNS), breakdown))
    return _align(header, rows, right=set(range(1, len(_STAT_COLUMNS) + 1)))


def stats_json(stats: Mapping[str, Any]) -> str:
    """Statistics as indented JSON."""
    return json.dumps(stats, indent=2)
