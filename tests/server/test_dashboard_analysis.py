"""The dashboard's analysis in a real browser: cost, tasks in flight, stuck tasks and findings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import ManualClock, SwarmSystem, start_system
from server import ServerHandle, serve
from tests.server.browser import browser_or_skip, recording_page

TOKEN = "analysis-secret"
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_TASK = "<b>t-1</b>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module."""
    yield from browser_or_skip()


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[SwarmSystem]:
    """A priced system with a 60 s stuck limit: one task stuck, one running, a finding to make."""
    clock = ManualClock()
    system = start_system(str(tmp_path / "board.db"), heartbeat_interval_ms=600_000, clock=clock,
                          stuck_limit_s=60.0, prices={"gpt": {"input": 2.0, "output": 10.0}})
    system.register_agents([HOSTILE, "coder-2"], {"role": "coder"})
    system.record_task_metric("done-1", HOSTILE, 9000.0, "success",
                              metadata={"model": "gpt", "tokens_in": 500_000, "tokens_out": 0})
    system.record_task_metric("done-2", "coder-2", 1000.0, "success")
    system.task_started(HOSTILE, HOSTILE_TASK, kind="code")
    clock.advance(30.0)
    system.task_started(HOSTILE, "t-2", kind="<i>review</i>")
    clock.advance(31.0)  # the first has run 61 s: stuck; the second 31 s
    system.flush()
    yield system
    system.shutdown()
    clock.close()


@pytest.fixture
def server(swarm: SwarmSystem) -> Iterator[ServerHandle]:
    """The server on loopback, with a token."""
    handle = serve(swarm, token=TOKEN)
    yield handle
    handle.stop()


@pytest.fixture
def page(browser: Any, server: ServerHandle) -> Iterator[Any]:
    """A fresh page; dialogs and page errors are recorded. Closed before the server stops."""
    yield from recording_page(browser, height=900)


def _open(page: Any, server: ServerHandle, path: str = "/") -> None:
    page.goto(f"{server.url}{path}#token={TOKEN}")
    page.wait_for_selector("#live.on", timeout=10_000)


def _no_markup_ran(page: Any) -> None:
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.locator("main img, main b, main i").count() == 0


def test_the_overview_shows_cost_tasks_in_flight_stuck_tasks_and_findings(
    page: Any, server: ServerHandle
) -> None:
    """Cost and in-flight cards, the stuck task listed, the findings; every id shown as text."""
    _open(page, server)
    page.wait_for_selector("#cost-card")
    assert page.locator("#cost-card .card-value").inner_text() == "1.0000 USD"
    assert "1 priced task(s)" in page.locator("#cost-card .card-hint").inner_text()
    assert page.locator("#in-flight-card .card-value").inner_text() == "2"
    assert page.locator("#in-flight-card .card-hint").inner_text() == "1 stuck"
    rows = page.locator("#stuck-tasks tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-task") == HOSTILE_TASK
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[:3] == [HOSTILE, HOSTILE_TASK, "code"]
    assert cells[3] in ("1.0 min", "1.1 min") and cells[5].lower().endswith("stuck")
    findings = page.locator("#findings li").all_inner_texts()
    assert any(f.startswith(f"{HOSTILE} spends 90% of the swarm's task time") for f in findings)
    assert any(f.startswith("the swarm's tasks cost 1.0000 USD") for f in findings)
    _no_markup_ran(page)


def test_the_agent_page_lists_its_tasks_in_flight_counting_up(
    page: Any, server: ServerHandle
) -> None:
    """Each task in flight with its kind, how long it has run (counting up), and whether it is stuck."""
    _open(page, server, "/agents/" + "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    page.wait_for_selector("#in-flight tbody tr")
    assert page.locator("#agent-id").inner_text() == HOSTILE
    rows = page.locator("#in-flight tbody tr")
    assert [rows.nth(i).get_attribute("data-task") for i in range(rows.count())] == [HOSTILE_TASK, "t-2"]
    assert [rows.nth(i).get_attribute("data-stuck") for i in range(2)] == ["true", "false"]
    second = rows.nth(1).locator("td").all_inner_texts()
    assert second[:2] == ["t-2", "<i>review</i>"]
    assert second[2].endswith(" s") and 31.0 <= float(second[2].split()[0]) < 40.0
    assert second[3] == "1.0 min" and second[4] == "running"
    page.wait_for_function(  # the page's own 1 s tick moves it on, with no reload
        "(before) => document.querySelectorAll('#in-flight td.running')[1].textContent !== before",
        arg=second[2], timeout=5_000)
    assert page.locator("#cost-card .card-value").inner_text() == "1.0000 USD"
    _no_markup_ran(page)
