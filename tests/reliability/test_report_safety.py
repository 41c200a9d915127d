"""Promise 8: agent ids are user data; the Markdown report shows them as literal text
(no Markdown or HTML gets through), and the JSON report is always valid JSON.

The Markdown is checked the way a reader sees it: parsed by a CommonMark parser
with tables (markdown-it-py, which rich depends on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import ManualClock, SwarmSystem, start_system
from messages import InvalidMessage

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
HEADINGS = {"Health distribution", "Unhealthy agents", "Recent alerts", "Agents",
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
