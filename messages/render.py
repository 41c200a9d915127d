"""Rendering a :class:`HealthReport` as Markdown or JSON: pure functions, no actor needed.

The in-process report (``SwarmSystem.generate_report``) and the command
line's report of a stored database both render through here, so a figure
reads the same in each. Agent ids, metadata and alert texts are user data:
the Markdown escapes them only where Markdown or HTML would act on them
(:func:`messages.text.escape_markdown`), and the JSON is always valid JSON.
Where there is nothing yet (no agent, no task, no gauge) the Markdown says
so instead of showing zeros that read as bad results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from messages.enums import HealthState
from messages.report import AgentReport, HealthReport
from messages.text import escape_markdown, format_utc

__all__ = [
    "NOTHING",
    "bar",
    "format_ms",
    "format_rate",
    "render_json",
    "render_markdown",
    "sparkline",
    "task_lines",
]

NOTHING: Final = "-"
"""What a figure of no data shows (a rate or a percentile of zero tasks)."""

_SPARKS: Final = "▁▂▃▄▅▆▇█"
_json = msgspec.json.Encoder()


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


def format_rate(rate: float, tasks: int, digits: int = 1) -> str:
    """A success or error rate in percent, or :data:`NOTHING` when there is no task."""
    return NOTHING if tasks <= 0 else f"{rate:.{digits}f}%"


def format_ms(value: float, tasks: int, digits: int = 0) -> str:
    """A duration figure in ms, or :data:`NOTHING` when there is no task."""
    return NOTHING if tasks <= 0 else f"{value:.{digits}f}"


def render_json(report: HealthReport) -> str:
    """The report as JSON text (valid JSON whatever the agent ids hold)."""
    return _json.encode(report).decode()


def _gauge_value(value: float) -> str:
    return f"{value:.6g}"


def _health(report: HealthReport) -> list[str]:
    lines = ["## Health distribution", ""]
    total = sum(report.health_distribution.values())
    if not report.agents and total == 0:
        return [*lines, "No agents yet.", ""]
    lines.append("```")
    for state in HealthState:
        count = report.health_distribution.get(state.value, 0)
        lines.append(f"{state.value:<9} |{bar(count, total)}| {count}")
    return [*lines, "```", ""]


def _unhealthy(report: HealthReport) -> list[str]:
    e = escape_markdown
    lines = ["## Unhealthy agents", ""]
    if not report.agents:
        return [*lines, "No agents yet.", ""]
    unhealthy = [a for a in report.agents if a.health_state != HealthState.HEALTHY.value]
    if not unhealthy:
        return [*lines, f"None: all {len(report.agents)} agents are healthy.", ""]
    phi = any(a.phi is not None for a in unhealthy)  # a column only where phi judges someone
    lines += ["| Agent | State | Heartbeat age |" + (" Phi |" if phi else ""),
              "|---|---|---|" + ("---|" if phi else "")]
    for agent in sorted(unhealthy, key=lambda a: -HealthState(a.health_state).severity):
        age = "n/a" if agent.heartbeat_age_ms is None else f"{agent.heartbeat_age_ms / 1000:.1f} s"
        row = f"| {e(agent.agent_id)} | {agent.health_state} | {age} |"
        if phi:
            row += " - |" if agent.phi is None else f" {agent.phi:.1f} |"
        lines.append(row)
    return [*lines, ""]


def _alerts(report: HealthReport) -> list[str]:
    e = escape_markdown
    lines = ["## Recent alerts", ""]
    if not report.alerts:
        return [*lines, "None.", ""]
    for alert in report.alerts[-20:]:
        lines.append(f"- {format_utc(alert.at)} UTC **{alert.severity.value}** "
                     f"{e(alert.agent_id)}: {e(alert.message)}")
    return [*lines, ""]


def _receivers(report: HealthReport) -> list[str]:
    """Notifications by integration; no section with alert management off."""
    if not report.receivers:
        return []
    e = escape_markdown
    lines = ["## Receivers", "",
             "| Integration | State | Attempts | Delivered | Failed | Timed out | Given up | Last error |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report.receivers:
        state = "FAILING" if r.failing else "ok"
        lines.append(f"| {e(r.integration)} | {state} | {r.attempts} | {r.delivered} | {r.failures} "
                     f"| {r.timeouts} | {r.given_up} | {e(r.last_error) if r.last_error else NOTHING} |")
    return [*lines, ""]


def _agent_row(agent: AgentReport) -> str:
    tasks = agent.tasks_completed
    return (
        f"| {escape_markdown(agent.agent_id)} | {agent.health_state} | {_uptime(agent.uptime_pct)} "
        f"| {tasks} | {format_rate(agent.success_rate, tasks)} "
        f"| {format_ms(agent.p95_duration_ms, tasks)} | {sparkline(agent.duration_series)} "
        f"| {sparkline([float(v) for v in agent.throughput_series])} |"
    )


def _agents(report: HealthReport) -> list[str]:
    lines = ["## Agents", ""]
    if not report.agents:
        return [*lines, "No agents yet.", ""]
    lines += [
        "| Agent | State | Uptime | Tasks | Success | p95 ms | Duration | Throughput |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_agent_row(agent) for agent in report.agents]
    return [*lines, ""]


def _gauges(report: HealthReport) -> list[str]:
    e = escape_markdown
    lines = ["## Gauges", ""]
    rows = [("swarm", gauge) for gauge in report.swarm_gauges]
    rows += [(agent.agent_id, gauge) for agent in report.agents for gauge in agent.gauges]
    if not rows:
        return [*lines, "None recorded yet.", ""]
    lines += ["| Of | Gauge | Latest | At (UTC) |", "|---|---|---|---|"]
    for owner, gauge in rows:
        lines.append(f"| {e(owner)} | {e(gauge.metric_type)} | {_gauge_value(gauge.value)} "
                     f"| {format_utc(gauge.timestamp)} |")
    return [*lines, ""]


def _stuck(report: HealthReport) -> list[str]:
    """The stuck tasks as a table; no section when none is stuck."""
    if not report.stuck_tasks:
        return []
    e = escape_markdown
    lines = ["## Stuck tasks", "", "| Agent | Task | Kind | Running | Limit |", "|---|---|---|---|---|"]
    for task in report.stuck_tasks:
        limit = task.get("limit_s")
        lines.append(f"| {e(str(task.get('agent_id', '')))} | {e(str(task.get('task_id', '')))} "
                     f"| {e(str(task.get('kind', '')))} | {float(task.get('running_s', 0.0)):.1f} s "
                     f"| {'-' if limit is None else f'{float(limit):.1f} s'} |")
    return [*lines, ""]


def _cost_line(report: HealthReport) -> list[str]:
    """The swarm's cost, where tasks were priced."""
    cost = report.cost
    priced = int(cost.get("priced_tasks", 0) or 0)
    if not priced:
        return []
    return [f"- Cost: {float(cost.get('total', 0.0)):.4f} {escape_markdown(str(cost.get('currency', '')))} "
            f"({priced} priced tasks, {int(cost.get('unpriced_tasks', 0) or 0)} without a price)"]


def _findings(report: HealthReport) -> list[str]:
    """The analyst's findings as a list; no section when it has found nothing."""
    if not report.findings:
        return []
    return ["## Findings", "", *(f"- {escape_markdown(text)}" for text in report.findings), ""]


def task_lines(stats: Mapping[str, Any]) -> list[str]:
    """The task statistics as Markdown list items (one line saying so when there is no task)."""
    total = int(stats.get("total_tasks", 0) or 0)
    if total <= 0:
        return ["No tasks recorded yet."]
    lines = [
        f"- Total tasks: {total}",
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
    return lines


def render_markdown(report: HealthReport) -> str:
    """The report as Markdown: summary, health bars, unhealthy agents, alerts, receivers (with
    alert management on), agents, gauges, findings, tasks."""
    e = escape_markdown
    lines = [
        f"# Swarm health report: {e(report.swarm_id)}",
        "",
        f"- Generated: {format_utc(report.timestamp)} UTC",
        f"- Topology: {e(report.topology_type)}",
        f"- Agents: {report.agent_count}",
        *_cost_line(report),
        "",
        *_health(report),
        *_unhealthy(report),
        *_alerts(report),
        *_receivers(report),
        *_stuck(report),
        *_agents(report),
        *_gauges(report),
        *_findings(report),
        "## Task statistics",
        "",
        *task_lines(report.task_stats),
    ]
    return "\n".join(lines) + "\n"


def _uptime(pct: float | None) -> str:
    """An uptime cell: a percentage, or "-" for an agent that was never tracked."""
    return "-" if pct is None else f"{pct:.1f}%"
