"""Agent uptime: the share of monitored time an agent was not FAILED."""

from __future__ import annotations

import sqlite3

from messages import HealthState

__all__ = ["agent_uptime", "agents_uptime"]

_FAILED = HealthState.FAILED.value
_HEALTHY = HealthState.HEALTHY.value


def agent_uptime(
    conn: sqlite3.Connection,
    key: int,
    start: float | None,
    end: float | None,
    now: float,
) -> float:
    """Return the percent of the monitored time in [start, end) the agent was not FAILED.

    Monitored time runs from the agent's last registration until its
    unregistration, or ``now`` while it is registered. The state at the start
    of the window is the ``current`` of the last transition at or before it
    (and after the registration), HEALTHY if there is none; each transition
    inside the window changes the state from its ``at`` on. Computed exactly.

    Args:
        conn: a connection, inside a read transaction.
        key: the agent's key.
        start: inclusive start (epoch s), None for the registration.
        end: exclusive end (epoch s), None for the end of monitoring.
        now: the current time (epoch s).

    Returns:
        A percentage in [0, 100]; 100.0 when nothing was monitored in range
        (including an agent that never registered).
    """
    registered_at, unregistered_at = conn.execute(
        "SELECT registered_at, unregistered_at FROM agents WHERE agent_key = ?", (key,)
    ).fetchone()
    if registered_at is None:
        return 100.0
    stop: float = now if unregistered_at is None else unregistered_at
    low: float = registered_at if start is None else max(start, registered_at)
    high: float = stop if end is None else min(end, stop)
    if high <= low:
        return 100.0
    row = conn.execute(
        "SELECT current_state FROM health_events WHERE agent_key = ? AND at >= ? AND at <= ? "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (key, registered_at, low),
    ).fetchone()
    state = _HEALTHY if row is None else row[0]
    failed = 0.0
    since = low
    for at, current in conn.execute(
        "SELECT at, current_state FROM health_events WHERE agent_key = ? AND at > ? AND at < ? "
        "ORDER BY at, id",
        (key, low, high),
    ):
        if state == _FAILED:
            failed += at - since
        state, since = current, at
    if state == _FAILED:
        failed += high - since
    return 100.0 * (1.0 - failed / (high - low))


def agents_uptime(conn: sqlite3.Connection, now: float) -> dict[str, float]:
    """Every registered agent's uptime over its whole monitored time, in one pass.

    The same figure as :func:`agent_uptime` with no range, for all agents at
    once: two statements instead of two per agent (the HTTP agents list and
    the dashboard read it for 10,000 agents).

    Args:
        conn: a connection, inside a read transaction.
        now: the current time (epoch s).

    Returns:
        Percentages in [0, 100] by agent id, for agents that ever registered.
    """
    spans: dict[int, tuple[str, float, float]] = {}
    for key, agent_id, registered_at, unregistered_at in conn.execute(
        "SELECT agent_key, agent_id, registered_at, unregistered_at FROM agents "
        "WHERE registered_at IS NOT NULL"
    ):
        spans[key] = (agent_id, registered_at, now if unregistered_at is None else unregistered_at)
    failed: dict[int, float] = {}
    state: dict[int, tuple[str, float]] = {}
    for key, at, current in conn.execute(
        "SELECT agent_key, at, current_state FROM health_events ORDER BY agent_key, at, id"
    ):
        span = spans.get(key)
        if span is None or at < span[1]:
            continue
        _, low, high = span
        previous, since = state.get(key, (_HEALTHY, low))
        if at <= low:  # a transition at the registration itself sets the starting state
            state[key] = (current, low)
            continue
        if at >= high:
            continue
        if previous == _FAILED:
            failed[key] = failed.get(key, 0.0) + (at - since)
        state[key] = (current, at)
    result: dict[str, float] = {}
    for key, (agent_id, low, high) in spans.items():
        if high <= low:
            result[agent_id] = 100.0
            continue
        last, since = state.get(key, (_HEALTHY, low))
        total = failed.get(key, 0.0) + ((high - since) if last == _FAILED else 0.0)
        result[agent_id] = 100.0 * (1.0 - total / (high - low))
    return result
