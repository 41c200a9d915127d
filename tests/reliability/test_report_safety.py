"""Promise 8: agent ids are user data; the Markdown report shows them as literal text
(no Markdown or HTML gets through), and the JSON report is always valid JSON.

The Markdown is checked the way a reader sees it: parsed by a CommonMark parser
with tables (markdown-it-py, which rich depends on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import ManualClock, SwarmSystem, start_system
from messages import (
    AgentReport,
    Alert,
    AlertSeverity,
    Gauge,
    HealthReport,
    InvalidMessage,
    escape_markdown,
    render_markdown,
)

markdown_it = pytest.importorskip("markdown_it")

SWARM_ID = "<img src=x onerror=alert(1)>|**swarm**|# [x](javascript:alert(1))"
SPECIALS = "<>*_[]()#|`\\!{}+-.~&=:;'\"/ \u2028\u2029"
# valid ids built to inject: Markdown and HTML punctuation, line separators, letters
hostile_ids = st.one_of(
    st.text(st.sampled_from(SPECIALS + "abcXY09é中🙂"), min_size=1, max_size=40),
    st.sampled_from([
        "<script>alert(1)</script>", "**bold**", "_em_", "`code`", "[link](http://x)",
        "![img](http://x/a.png)", "# heading", "| a | b |", "&lt;&amp;&#60;", "<!-- c -->",
        "a\u2028# b", "x\u2029> quote", "\\|", "~~s~~", "<http://auto.link>", "---",
    ]),
)
LINE_BREAKS = ["\n", "\r", "\r\n", "\x85", "\x0b", "\x0c"]
FORBIDDEN = {"html_inline", "html_block", "em_open", "link_open", "image", "code_inline",
             "s_open", "blockquote_open", "hr", "code_block"}
HEADINGS = {"Health distribution", "Unhealthy agents", "Recent alerts", "Agents", "Gauges",
            "Task statistics"}


def _display(agent_id: str) -> str:
    """What a reader should see: the id, with line separators shown as spaces."""
    return "".join(" " if c in "\u2028\u2029" else c for c in agent_id)


def _inline_text(token: Any) -> str:
    return "".join(child.content for child in token.children or [] if child.type == "text")


def _table_rows(tokens: list[Any]) -> list[list[Any]]:
    """Every table row as its list of inline (cell) tokens."""
    rows: list[list[Any]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows and token.level >= 4:
            rows[-1].append(token)
    return rows


@pytest.fixture
def system() -> Iterator[tuple[SwarmSystem, ManualClock]]:
    """A system with a hostile swarm id, on a manual clock (agents DEGRADED after 1 s)."""
    clock = ManualClock()
    swarm = start_system(None, swarm_id=SWARM_ID, clock=clock, heartbeat_interval_ms=1000)
    yield swarm, clock
    swarm.shutdown()
    clock.close()


def test_hostile_agent_ids_render_as_literal_text(system: tuple[SwarmSystem, ManualClock]) -> None:
    """An id full of Markdown and HTML shows as itself in every table and alert, injects
    no element, breaks no table row; the JSON report parses and holds the id verbatim."""
    swarm, clock = system
    parser = markdown_it.MarkdownIt("commonmark").enable("table")

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(agent_id=hostile_ids)
    def hostile(agent_id: str) -> None:
        assert swarm.register_agent(agent_id, {"note": agent_id})
        swarm.record_task_metric(agent_id, agent_id, 12.0, "success")
        clock.advance(1.5)  # DEGRADED: in the unhealthy table and in an alert
        try:
            markdown = swarm.generate_report("markdown")
            data = json.loads(swarm.generate_report("json"))
        finally:
            swarm.unregister_agent(agent_id)

        tokens = parser.parse(markdown)
        everything = [t for t in tokens] + [c for t in tokens for c in t.children or []]
        assert not FORBIDDEN & {t.type for t in everything}
        assert [t.type for t in tokens].count("fence") == 1  # the health bars, nothing else
        headings = [_inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
        assert headings[0] == f"Swarm health report: {SWARM_ID}"
        assert set(headings[1:]) == HEADINGS
        for row in _table_rows(tokens):
            assert len(row) in (3, 8), f"a table row was broken: {[t.content for t in row]}"
        cells = [_inline_text(row[0]) for row in _table_rows(tokens)]
        assert cells.count(_display(agent_id).strip(" ")) == 2  # unhealthy table, agents table
        shown = f" {_display(agent_id)}: agent {_display(agent_id)} is degraded: no heartbeat"
        alerts = [t for t in tokens if t.type == "inline" and shown in _inline_text(t)]
        assert alerts, f"no alert shows {shown!r}"
        for alert in alerts:  # only the severity is bold: the id added no emphasis
            assert [c.type for c in alert.children].count("strong_open") == 1
        for separator in "\u2028\u2029":
            assert separator not in markdown

        assert data["swarm_id"] == SWARM_ID
        assert [a["agent_id"] for a in data["agents"]] == [agent_id]
        assert any(a["agent_id"] == agent_id for a in data["alerts"])

    hostile()


@pytest.mark.parametrize("line_break", LINE_BREAKS, ids=repr)
def test_ids_with_line_breaks_are_refused_by_name(
    system: tuple[SwarmSystem, ManualClock], line_break: str
) -> None:
    """A newline (or any control character) in an id is refused naming agent_id."""
    swarm, _ = system
    with pytest.raises(InvalidMessage) as refused:
        swarm.register_agent(f"a{line_break}# injected")
    assert refused.value.field == "agent_id"
    assert swarm.register_agent("a\u2028b")  # a line separator is allowed, and shown as a space
    assert "a b" in swarm.generate_report("markdown")


def test_plain_ids_and_numbers_read_verbatim(tmp_path: Any) -> None:
    """Ids such as backend-1, acc-swarm and under_score, and times such as 1.0 s, are not
    escaped: the raw Markdown is what a terminal shows and what people grep."""
    clock = ManualClock()
    swarm = start_system(str(tmp_path / "plain.db"), swarm_id="acc-swarm", clock=clock,
                         heartbeat_interval_ms=1000)
    try:
        for agent_id in ("backend-1", "under_score", "v2.0"):
            swarm.register_agent(agent_id)
        swarm.record_task_metric("t-1", "backend-1", 12.5, "success")
        clock.advance(1.5)
        markdown = swarm.generate_report("markdown")
    finally:
        swarm.shutdown()
        clock.close()
    assert markdown.startswith("# Swarm health report: acc-swarm\n")
    for plain in ("| backend-1 |", "| under_score |", "| v2.0 |", "no heartbeat for 1.0 s"):
        assert plain in markdown, plain
    assert "\\-" not in markdown and "\\." not in markdown and "\\_" not in markdown


# Any text at all, weighted towards what Markdown and HTML act on.
any_text = st.text(
    st.one_of(st.sampled_from(SPECIALS + "\t\x1b\u202e\u2066 "), st.characters(exclude_categories=["Cs"])),
    min_size=1, max_size=30,
)


def _visible(text: str) -> str:
    """What a reader should see of user text: separators and controls as spaces, bidi shown."""
    flat = "".join(" " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029") else c
                   for c in text)
    for c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        flat = flat.replace(c, f"\\u{ord(c):04x}")
    return flat


@settings(max_examples=200, deadline=None, database=None)
@given(agent_id=any_text, message=any_text, gauge=any_text, swarm_id=any_text)
def test_any_text_in_a_cell_stays_in_its_cell(agent_id: str, message: str, gauge: str,
                                                swarm_id: str) -> None:
    """Whatever user text a rendered report holds, it cannot break a table, open a link,
    an image, an HTML tag or a code span, nor start a heading or a list; it reads as itself."""
    parser = markdown_it.MarkdownIt("commonmark").enable("table")
    agent = AgentReport(agent_id="x", health_state="degraded", heartbeat_age_ms=1500.0,
                        uptime_pct=100.0, tasks_completed=1, success_rate=100.0,
                        avg_duration_ms=1.0, p95_duration_ms=1.0, total_tokens=0,
                        gauges=[Gauge(metric_type=gauge, value=1.0, timestamp=1e9)])
    alert = Alert(agent_id="x", severity=AlertSeverity.WARNING, message="m", at=1e9)
    report = HealthReport(swarm_id="s", timestamp=1e9, topology_type="mesh", agent_count=1,
                          health_distribution={"degraded": 1}, agents=[agent],
                          task_stats={"total_tasks": 1}, alerts=[alert])
    # Ids are checked at the door, but a database may hold anything: set the text as a read
    # of another program's file would, past the checks.
    for struct, field, value in ((agent, "agent_id", agent_id), (alert, "agent_id", agent_id),
                                 (alert, "message", message), (report, "swarm_id", swarm_id)):
        msgspec.structs.force_setattr(struct, field, value)
    markdown = render_markdown(report)

    tokens = parser.parse(markdown)
    everything = [*tokens, *(c for t in tokens for c in t.children or [])]
    assert not FORBIDDEN & {t.type for t in everything}, markdown
    headings = [_inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    # the parser trims a heading's edges of any whitespace (U+00A0 too): so does the expectation
    assert headings == [f"Swarm health report: {_visible(swarm_id)}".strip(), "Health distribution",
                        "Unhealthy agents", "Recent alerts", "Agents", "Gauges", "Task statistics"]
    assert [t.type for t in tokens].count("bullet_list_open") == 3  # summary, alerts, tasks
    assert [t.type for t in tokens].count("list_item_open") == 3 + 1 + 4
    assert "ordered_list_open" not in {t.type for t in tokens}
    rows = _table_rows(tokens)
    assert [len(r) for r in rows] == [3, 3, 8, 8, 4, 4]
    assert _inline_text(rows[1][0]).strip() == _visible(agent_id).strip()  # unhealthy agents
    assert _inline_text(rows[3][0]).strip() == _visible(agent_id).strip()  # agents
    assert _inline_text(rows[5][0]).strip() == _visible(agent_id).strip()  # gauges: whose
    assert _inline_text(rows[5][1]).strip() == _visible(gauge).strip()  # gauges: which
    shown = f"{_visible(agent_id)}: {_visible(message)}".strip()
    assert any(shown in _inline_text(t) for t in tokens if t.type == "inline"), markdown


@pytest.mark.parametrize("text", ["- item", "+ item", "* item", "# title", "> quote", "1. one",
                                  "2) two", "    code", "===", "---", "***", "___"])
def test_text_that_starts_a_line_cannot_open_a_block(text: str) -> None:
    """Where user text begins a line, a list, heading, quote or code marker is escaped."""
    parser = markdown_it.MarkdownIt("commonmark").enable("table")
    tokens = parser.parse("para\n\n" + escape_markdown(text, line_start=True) + "\n")
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"] * 2
    assert tokens[4].content and _inline_text(tokens[4]) == text


def test_the_in_process_report_of_nothing_reads_as_nothing_yet() -> None:
    """A new system: no agents, no tasks, no gauges, each said in words."""
    clock = ManualClock()
    swarm = start_system(None, clock=clock)
    try:
        empty = swarm.generate_report()
        swarm.register_agent("idle-1")
        idle = swarm.generate_report()
    finally:
        swarm.shutdown()
        clock.close()
    assert empty.count("No agents yet.") == 3 and "No tasks recorded yet." in empty
    assert "None recorded yet." in empty
    assert "Success rate" not in empty and "every agent is healthy" not in empty
    assert "| idle-1 | healthy | 100.0% | 0 | - | - |" in idle
