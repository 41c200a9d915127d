"""Tests for storage/uptime.py: uptime computed exactly from a transition log."""

from __future__ import annotations

import pytest

from storage import MetricsStorage

from .builders import T0, health, registered, unregistered


@pytest.fixture
def logged(storage: MetricsStorage) -> MetricsStorage:
    """Agent a1, registered at T0, with a hand-written log (times in seconds after T0).

    healthy -> degraded at 100, -> failed at 200, -> healthy at 300,
    -> critical at 500, -> failed at 600. FAILED during [200, 300) and from 600 on.
    """
    storage.store_agent_event(registered("a1", at=T0))
    storage.store_health_events(
        [
            health("a1", "healthy", "degraded", T0 + 100),
            health("a1", "degraded", "failed", T0 + 200),
            health("a1", "failed", "healthy", T0 + 300),
            health("a1", "healthy", "critical", T0 + 500),
            health("a1", "critical", "failed", T0 + 600),
        ]
    )
    return storage


def test_uptime_since_registration(logged: MetricsStorage) -> None:
    """Until now=T0+800: failed 100 + 200 of 800 s monitored = 62.5%."""
    assert logged.agent_uptime("a1", now=T0 + 800) == pytest.approx(62.5)


def test_a_window_starts_in_the_state_the_log_was_in(logged: MetricsStorage) -> None:
    """From 250 (FAILED since 200) to 550: failed 50 of 300 s."""
    uptime = logged.agent_uptime("a1", start_time=T0 + 250, end_time=T0 + 550, now=T0 + 800)
    assert uptime == pytest.approx(100.0 * 250 / 300)


def test_a_window_inside_one_state(logged: MetricsStorage) -> None:
    """Wholly inside a FAILED stretch: 0%; wholly inside a healthy one: 100%."""
    assert logged.agent_uptime("a1", T0 + 210, T0 + 290, now=T0 + 800) == 0.0
    assert logged.agent_uptime("a1", T0 + 310, T0 + 490, now=T0 + 800) == 100.0


def test_a_transition_at_the_window_start_applies_from_the_start(logged: MetricsStorage) -> None:
    """Starting exactly at 200 (the move to FAILED): failed 100 of 200 s up to 400."""
    assert logged.agent_uptime("a1", T0 + 200, T0 + 400, now=T0 + 800) == pytest.approx(50.0)


def test_the_agent_is_healthy_right_after_registration(storage: MetricsStorage) -> None:
    """No transition yet: up the whole time."""
    storage.store_agent_event(registered("a1", at=T0))
    assert storage.agent_uptime("a1", now=T0 + 100) == 100.0


def test_monitoring_ends_at_unregistration(logged: MetricsStorage) -> None:
    """Unregistered at 700: failed 100 + 100 of 700 s, whatever now is."""
    logged.store_agent_event(unregistered("a1", at=T0 + 700))
    assert logged.agent_uptime("a1", now=T0 + 10_000) == pytest.approx(100.0 * 500 / 700)


def test_time_before_registration_is_not_monitored(logged: MetricsStorage) -> None:
    """A window reaching back before registration counts from the registration."""
    assert logged.agent_uptime("a1", T0 - 1000, T0 + 150, now=T0 + 800) == 100.0


def test_nothing_monitored_in_range_is_full_uptime(logged: MetricsStorage) -> None:
    """A window before registration, after now, or empty: 100.0."""
    assert logged.agent_uptime("a1", T0 - 500, T0 - 100, now=T0 + 800) == 100.0
    assert logged.agent_uptime("a1", T0 + 900, T0 + 1000, now=T0 + 800) == 100.0
    assert logged.agent_uptime("a1", T0 + 300, T0 + 300, now=T0 + 800) == 100.0


def test_an_agent_that_never_registered_has_full_uptime(storage: MetricsStorage) -> None:
    """Known only from data (no registration): nothing was monitored."""
    storage.store_health_event(health("stranger", at=T0))
    assert storage.agent_uptime("stranger", now=T0 + 100) == 100.0


def test_transitions_before_a_re_registration_do_not_carry_over(logged: MetricsStorage) -> None:
    """Registered again at 1000 after failing at 600: HEALTHY from 1000, not FAILED."""
    logged.store_agent_event(registered("a1", at=T0 + 1000))
    assert logged.agent_uptime("a1", now=T0 + 1100) == 100.0


def test_agents_uptime_is_agent_uptime_for_every_agent(logged: MetricsStorage) -> None:
    """The one-pass read for all agents equals agent_uptime of each, whatever its history."""
    logged.store_agent_event(registered("a2", at=T0 + 50))  # never a transition: 100%
    logged.store_agent_event(registered("a3", at=T0))
    logged.store_health_events([health("a3", "critical", "failed", T0 + 100),
                                health("a3", "failed", "healthy", T0 + 150)])
    logged.store_agent_event(unregistered("a3", at=T0 + 400))  # failed 50 of 400 s
    logged.store_agent_event(registered("a4", at=T0))
    logged.store_health_events([health("a4", "critical", "failed", T0 + 100)])
    logged.store_agent_event(registered("a4", at=T0 + 700))  # again: the old log is not its
    logged.store_health_events([health("a4", "healthy", "failed", T0 + 700)])  # at registration
    now = T0 + 800
    every = logged.agents_uptime(now=now)
    assert set(every) == {"a1", "a2", "a3", "a4"}
    for agent_id, uptime in every.items():
        assert uptime == pytest.approx(logged.agent_uptime(agent_id, now=now)), agent_id
    assert every["a3"] == pytest.approx(100.0 * 350 / 400)
    assert every["a4"] == pytest.approx(0.0)
