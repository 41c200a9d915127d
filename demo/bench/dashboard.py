"""The dashboard in a real browser: push latency at 1,000 agents, first render at 10,000.

Push latency is measured from a silent agent's deadline to the page's DOM showing it.
The swarm runs on a ManualClock: 1,000 agents registered in 50 groups 20 ms apart (so
their deadlines are staggered), then the clock is moved to each group's deadline in
turn, 30 ms of real time apart. A MutationObserver in the page records, with the
page's wall clock, each change of the DEGRADED count in the health bars; a group's
latency is the first moment the count covers it, less the wall time at which the
clock reached its deadline. Everything between is real: the trackers, the
coordinator, the reporter, the server's event stream, the browser's fetch reader
and the redraw.

First render: with 10,000 agents registered, the time from navigation start to the
agents table drawn (``performance.now()`` in the page), token in the fragment.
Needs Playwright and ``/usr/bin/chromium``; without them the figures are null.
"""

from __future__ import annotations

import os
import time
from typing import Any, Final

from actors import ManualClock, start_system
from demo.bench.support import GroupResult, Sizes, percentile
from server import serve

__all__ = ["CHROMIUM", "run_dashboard"]

CHROMIUM: Final = "/usr/bin/chromium"
_ARGS: Final = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_TOKEN: Final = "bench-token"
_OBSERVE: Final = """() => {
  window.__counts = [];
  const seen = () => {
    const node = document.querySelector('[data-count="degraded"]');
    if (!node) return;
    const n = Number(node.textContent);
    const last = window.__counts.length ? window.__counts[window.__counts.length - 1][1] : -1;
    if (n !== last) window.__counts.push([Date.now(), n]);
  };
  new MutationObserver(seen).observe(document.getElementById('main'),
                                     {childList: true, subtree: true, characterData: true});
  seen();
}"""


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing"
    return None


def _push_latency(browser: Any, workdir: str, agents: int, groups: int) -> dict[str, Any]:
    clock = ManualClock()
    system = start_system(os.path.join(workdir, "push.db"), heartbeat_interval_ms=1000, clock=clock)
    per_group = agents // groups
    handle = None
    try:
        start = clock.monotonic()
        for g in range(groups):
            system.register_agents([f"agent-{g:02d}-{i:03d}" for i in range(per_group)])
            if g < groups - 1:
                clock.advance(0.02)
        handle = serve(system, token=_TOKEN)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{handle.url}/#token={_TOKEN}")
        page.wait_for_selector("#live.on", timeout=30_000)
        page.wait_for_selector('[data-count="degraded"]', timeout=30_000)
        page.evaluate(_OBSERVE)
        # group g's deadline is 1 s after it registered: start + 1.0 + 0.02 g
        clock.advance(start + 1.0 - 0.001 - clock.monotonic())
        reached: list[float] = []
        for g in range(groups):
            time.sleep(0.03)
            reached.append(time.time())
            clock.advance(0.02)
        page.wait_for_function(
            f"() => window.__counts.length && window.__counts[window.__counts.length-1][1] >= {per_group * groups}",
            timeout=30_000,
        )
        counts: list[list[float]] = page.evaluate("window.__counts")
        page.close()
    finally:
        if handle is not None:
            handle.stop()
        system.shutdown()
        clock.close()
    latencies = []
    for g, at in enumerate(reached):
        need = per_group * (g + 1)
        shown = next(t for t, n in counts if n >= need)
        latencies.append(max(0.0, shown / 1000.0 - at) * 1000.0)
    ordered = sorted(latencies)
    return {"p50": percentile(ordered, 0.5), "p99": percentile(ordered, 0.99),
            "max": ordered[-1], "groups": groups, "agents": per_group * groups,
            "updates_seen": len(counts)}


def _first_render(browser: Any, workdir: str, agents: int) -> float:
    system = start_system(os.path.join(workdir, "render.db"), heartbeat_interval_ms=60_000)
    handle = None
    try:
        system.register_agents([f"agent-{i:05d}" for i in range(agents)])
        handle = serve(system, token=_TOKEN)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{handle.url}/#token={_TOKEN}")
        drawn = page.wait_for_function(
            "() => document.querySelectorAll('#agents tbody tr').length > 0 && performance.now()",
            timeout=60_000,
        )
        elapsed = float(drawn.json_value())
        page.close()
        return elapsed
    finally:
        if handle is not None:
            handle.stop()
        system.shutdown()


def run_dashboard(sizes: Sizes, workdir: str) -> GroupResult:
    """Push latency and first render, in headless chromium."""
    result = GroupResult()
    missing = _browser_missing()
    keys = ("dashboard_push_ms_p50", "dashboard_push_ms_p99", "dashboard_first_render_ms_10k")
    if missing is not None:
        result.figures.update(dict.fromkeys(keys))
        result.details["skipped"] = missing
        return result
    from playwright.sync_api import sync_playwright

    push_agents = {"smoke": 100}.get(sizes.mode, 1000)
    render_agents = {"smoke": 1000, "quick": 10_000}.get(sizes.mode, 10_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            push = _push_latency(browser, workdir, push_agents, 50)
            render_ms = _first_render(browser, workdir, render_agents)
        finally:
            browser.close()
    result.figures["dashboard_push_ms_p50"] = push["p50"]
    result.figures["dashboard_push_ms_p99"] = push["p99"]
    result.figures["dashboard_first_render_ms_10k"] = render_ms
    result.details = {"push": push, "first_render_agents": render_agents,
                      "browser": CHROMIUM}
    return result
