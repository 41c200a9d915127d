"""Rendering a :class:`HealthReport` as Markdown or JSON; pure functions.

Agent ids, metadata and alert texts are user data: the Markdown escapes them
so an id cannot inject Markdown or HTML, and the JSON is always valid JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Final

import msgspec

from messages import HealthReport, HealthState

__all__ = ["bar", "escape_markdown", "render_json", "render_markdown", "sparkline"]

_SPARKS: Final = "▁▂▃▄▅▆▇█"
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")
_json = msgspec.json.Encoder()


def escape_markdown(text: str) -> str:
    """Escape Markdown and HTML syntax, and flatten line breaks and control characters."""
    flat = "".join(" " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029") else c
                   for c in text)
    return _SPECIAL.sub(r"\\\1", flat)


def bar(count: int, total: int, width: int = 20) -> str:
    """An ASCII bar of ``width`` cells: ``█`` for the share, spaces for the rest."""
    filled = 0 if total <= 0 else round(width * count / total)
    return "█" * filled + " " * (width - filled)


def sparkline(values: Sequence[float]) -> str:
    """A sparkline (▁ to █) scaled from the smallest value to the largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return _SPARKS[0] * len(values) if high == 0 else _SPARKS[3] * len(values)
    return "".join(_SPARKS[min(7, int((v - low) / span * 8))] for v in values)


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_json(report: HealthReport) -> str:
    """The report as JSON text (valid JSON whatever the agent ids hold)."""
    return _json.encode(report).decode()


def render_markdown(report: HealthReport) -> str:
    """The report as Markdown: summary, health bars, unhealthy agents, alerts, uptime, tasks."""
    e = escape_markdown
    lines = [
        f"# Swarm health report: {e(report.swarm_id)}",
        "",
        f"- Generated: {_utc(report.timestamp)}",
        f"- Topology: {e(report.topology_type)}",
        f"- Agents: {report.agent_count}",
        "",
        "## Health distribution",
        "",
        "```",
    ]
    total = sum(report.health_distribution.values())
    for state in HealthState:
        count = report.health_distribution.get(state.value, 0)
        lines.append(f"{state.value:<9} |{bar(count, total)}| {count}")
    lines += ["```", "", "## Unhealthy agents", ""]
    unhealthy = [a for a in report.agents if a.health_state != HealthState.HEALTHY.value]
    if unhealthy:
        lines += ["| Agent | State | Heartbeat age |", "|---|---|---|"]
        for agent in sorted(unhealthy, key=lambda a: -HealthState(a.health_state).severity):
            age = "n/a" if agent.heartbeat_age_ms is None else f"{agent.heartbeat_age_ms / 1000:.1f} s"
            lines.append(f"| {e(agent.agent_id)} | {agent.health_state} | {age} |")
    else:
        lines.append("None: every agent is healthy.")
    lines += ["", "## Recent alerts", ""]
    if report.alerts:
        for alert in report.alerts[-20:]:
            lines.append(
                f"- {_utc(alert.at)} **{alert.severity.value}** {e(alert.agent_id)}: {e(alert.message)}"
            )
    else:
        lines.append("None.")
    lines += [
        "",
        "## Agents",
        "",
        "| Agent | State | Uptime | Tasks | Success | p95 ms | Duration | Throughput |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for agent in report.agents:
        lines.append(
            f"| {e(agent.agent_id)} | {agent.health_state} | {_uptime(agent.uptime_pct)} "
            f"| {agent.tasks_completed} | {agent.success_rate:.1f}% "
            f"| {agent.p95_duration_ms:.0f} | {sparkline(agent.duration_series)} "
            f"| {sparkline([float(v) for v in agent.throughput_series])} |"
        )
    stats = report.task_stats
    lines += ["", "## Task statistics", ""]
    lines += [
        f"- Total tasks: {stats.get('total_tasks', 0)}",
        f"- Success rate: {stats.get('success_rate', 0.0):.1f}% "
        f"(error rate {stats.get('error_rate', 0.0):.1f}%)",
        f"- Duration ms: avg {stats.get('avg_duration_ms', 0.0):.1f}, "
        f"median {stats.get('median_duration_ms', 0.0):.1f}, "
        f"p95 {stats.get('p95_duration_ms', 0.0):.1f}, p99 {stats.get('p99_duration_ms', 0.0):.1f}, "
        f"min {stats.get('min_duration_ms', 0.0):.1f}, max {stats.get('max_duration_ms', 0.0):.1f}",
        f"- Tokens: {stats.get('total_tokens', 0)}; files changed: {stats.get('total_files_changed', 0)}",
    ]
    breakdown = stats.get("results_breakdown", {})
    if breakdown:
        lines.append("- Results: " + ", ".join(f"{k} {v}" for k, v in breakdown.items()))
    return "\n".join(lines) + "\n"


def _uptime(pct: float | None) -> str:
    """An uptime cell: a percentage, or "-" for an agent that was never tracked."""
    return "-" if pct is None else f"{pct:.1f}%"
