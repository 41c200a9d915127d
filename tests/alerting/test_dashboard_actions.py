"""The dashboard's alerts page with alert management on: acknowledge, silence, expire, in a real browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors import ManualClock, SwarmSystem
from server import ServerHandle, serve
from tests.alerting.conftest import Receiver, alert, webhook_config
from tests.server.browser import browser_or_skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module."""
    yield from browser_or_skip()


@pytest.fixture
def served(make_system: Callable[..., SwarmSystem], receiver: Receiver) -> Iterator[tuple[SwarmSystem, ServerHandle]]:
    """A system with alert management, served on loopback."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_interval="1m",
                                       group_by=["alertname", "agent_id"]))
    handle = serve(swarm)
    yield swarm, handle
    handle.stop()


@pytest.fixture
def page(browser: Any, served: tuple[SwarmSystem, ServerHandle]) -> Iterator[Any]:
    """A page that closes before the server stops."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def test_an_alert_is_acknowledged_and_silenced_from_the_alerts_page_and_the_silence_expired(
    page: Any, served: tuple[SwarmSystem, ServerHandle], clock: ManualClock
) -> None:
    """Buttons on the alerts page drive the same API as Alertmanager's tools do."""
    swarm, handle = served
    swarm.send_alert(alert("Down", "db", at=clock.time()))
    page.goto(f"{handle.url}/alerts")
    row = page.locator("#active-alerts tbody tr", has_text="Down")
    row.wait_for()
    page.fill("#acting-as", "ops-on-call")
    row.locator("button.ack").click()
    page.wait_for_selector("#active-alerts tbody tr >> text=acknowledged by ops-on-call")
    (held,) = swarm.list_alerts()
    assert held["acknowledgedBy"] == "ops-on-call"
    page.locator("#active-alerts tbody tr", has_text="Down").locator("button.silence").click()
    page.wait_for_selector("#silences tbody tr[data-state=active]")
    (spec, state) = swarm.list_silences()[0]
    assert state == "active" and spec.created_by == "ops-on-call"
    assert {(m.name, m.value) for m in spec.matchers} == {("alertname", "Down"), ("agent_id", "db")}
    assert swarm.list_alerts()[0]["muted"] is True
    page.locator("#silences button.expire").click()
    page.wait_for_selector("#silences tbody tr[data-state=expired]")
    assert swarm.list_silences()[0][1] == "expired"


def test_without_alert_management_the_page_shows_only_the_recent_alerts(
    browser: Any, system_without_alerting: tuple[SwarmSystem, ServerHandle]
) -> None:
    """No router: no actions section, and the stored alerts still list."""
    _, handle = system_without_alerting
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{handle.url}/alerts")
        page.wait_for_selector("text=Recent alerts")
        assert page.locator("#active-alerts").count() == 0
    finally:
        context.close()


@pytest.fixture
def system_without_alerting(make_system: Callable[..., SwarmSystem]) -> Iterator[tuple[SwarmSystem, ServerHandle]]:
    """A system with no alert router, served."""
    swarm = make_system(None)
    handle = serve(swarm)
    yield swarm, handle
    handle.stop()
