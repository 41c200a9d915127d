"""start_system: every setting checked before anything starts."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Final

from actors.alerting.config import AlertingSettings, load_config
from actors.alerting.duration import parse_duration
from actors.alerting.rules import CostBudget
from actors.analytics.cost import parse_prices
from actors.analytics.phi import DEFAULT_PHI, PhiSettings
from actors.analytics.state import AnalystSettings
from actors.analytics.stuck import StuckSettings
from actors.callbacks import DEFAULT_CALLBACK_TIMEOUT
from actors.channel import UNKNOWN_AGENT_POLICIES, UnknownAgents
from actors.coordinator import SystemConfig
from actors.kernel.clock import Clock
from actors.system.facade import SwarmSystem
from messages import InvalidMessage, check_finite, check_id, check_timestamp
from messages.control import DETECTORS, check_interval, check_threshold

TOPOLOGIES: Final = ("mesh", "hierarchical", "star", "ring", "adaptive")
MAX_HISTORY: Final = 1_000_000
MAX_WORKERS: Final = 256


def start_system(
    db_path: str | None = None,
    *,
    swarm_id: str = "swarm",
    topology_type: str = "mesh",
    heartbeat_interval_ms: int = 5000,
    failure_threshold: int = 3,
    history_size: int = 100,
    enable_monitoring: bool = True,
    clock: Clock | None = None,
    flush_interval: float = 0.1,
    workers: int = 2,
    max_pending: int = 2_000_000,
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
    unknown_agents: UnknownAgents = "store",
    alerting: AlertingSettings | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    detector: str = "fixed",
    phi: PhiSettings | None = None,
    prices: Mapping[str, Any] | None = None,
    stuck_limit_s: float | None = None,
    stuck_kind_limits_s: Mapping[str, float] | None = None,
    gc_freeze: bool = False,
) -> SwarmSystem:
    """Start the actor system in this process.

    Args:
        db_path: SQLite file; None keeps the database in memory.
        swarm_id: the swarm's name in reports and swarm metrics.
        topology_type: mesh, hierarchical, star, ring or adaptive.
        heartbeat_interval_ms: default heartbeat interval of an agent.
        failure_threshold: default intervals of silence before FAILED.
        history_size: heartbeats kept per agent.
        enable_monitoring: False registers agents but tracks and records nothing.
        clock: the clock all time goes through; a :class:`ManualClock` in tests.
        flush_interval: seconds between drains of buffered metrics into SQLite;
            the most a hard kill can lose is what was recorded in that time.
        workers: threads shared by all heartbeat trackers.
        max_pending: metrics and events kept while storage is unwritable; past
            it the oldest are dropped and counted in ``get_monitoring_stats()``.
        callback_timeout: seconds one alert callback or subscriber may run (5 by
            default). One still running then is logged and counted
            (``callback_timeouts``), and the next ones run without waiting for it.
        unknown_agents: a task or agent metric about an agent that is not
            registered is stored and counted (``"store"``, in
            ``get_monitoring_stats()["metrics_collector"]["unregistered_agent_metrics"]``),
            or refused with :class:`UnknownAgent` (``"refuse"``).
        alerting: alert management (routes, receivers, silences, escalation):
            a TOML file's path, TOML text, a parsed dict or settings from
            :func:`actors.alerting.load_config`. None: no alert router; the
            in-process callbacks of :meth:`SwarmSystem.configure_alerts` work either way.
        detector: how every agent's silence is judged unless it registers with its
            own: ``"fixed"`` (multiples of the interval, the default) or ``"phi"``
            (phi accrual over the agent's own heartbeat gaps).
        phi: the phi detector's settings (:class:`actors.analytics.PhiSettings`);
            None: Akka's defaults (threshold 8, min_std 100 ms).
        prices: model -> ``{"input": x, "output": y}``, prices per million tokens;
            a task whose metadata names ``model``, ``tokens_in`` and ``tokens_out``
            is priced (:meth:`SwarmSystem.get_cost`).
        stuck_limit_s: seconds a task in flight may run before it is stuck (None:
            only the k x p99 rule, once a kind has 20 finished tasks).
        stuck_kind_limits_s: such limits per task kind; they take precedence.
        gc_freeze: after each :meth:`SwarmSystem.register_agents`, collect the young
            garbage and move every object then alive out of the cyclic collector's sight
            (``gc.freeze()``), until :meth:`SwarmSystem.shutdown` (``gc.unfreeze()``).
            For a large swarm registered at start: its agents' state is then never
            walked again by a full collection, which otherwise holds every thread,
            and so every deadline, for ~150 ms at 10,000 agents. Process-wide: it
            freezes the rest of the process too, and a reference cycle among frozen
            objects is only collected after the shutdown.

    Raises:
        InvalidMessage: (a ValueError) a setting is out of range.
    """
    check_id("swarm_id", swarm_id)
    if topology_type not in TOPOLOGIES:
        raise InvalidMessage("topology_type", topology_type, f"must be one of: {', '.join(TOPOLOGIES)}")
    if heartbeat_interval_ms is None:  # None means "the default" only for one agent
        raise InvalidMessage("heartbeat_interval_ms", None, "must be an integer number of ms")
    check_interval("heartbeat_interval_ms", heartbeat_interval_ms)
    if failure_threshold is None:
        raise InvalidMessage("failure_threshold", None, "must be an integer")
    check_threshold("failure_threshold", failure_threshold)
    if type(history_size) is not int or not 1 <= history_size <= MAX_HISTORY:
        raise InvalidMessage("history_size", history_size, f"must be between 1 and {MAX_HISTORY}")
    # Checked here, before anything starts: a bad one would fail in an actor later.
    if type(enable_monitoring) is not bool:
        raise InvalidMessage("enable_monitoring", enable_monitoring, "must be True or False")
    check_finite("flush_interval", flush_interval)
    if not flush_interval > 0:
        raise InvalidMessage("flush_interval", flush_interval, "must be positive")
    if type(workers) is not int or not 1 <= workers <= MAX_WORKERS:
        raise InvalidMessage("workers", workers, f"must be between 1 and {MAX_WORKERS}")
    if type(max_pending) is not int or max_pending < 1:
        raise InvalidMessage("max_pending", max_pending, "must be a positive integer")
    if clock is not None:  # the fast path stamps metrics with clock.time() unchecked
        _check_clock(clock)
    if (
        type(callback_timeout) not in (int, float)
        or not 0 < callback_timeout < math.inf
    ):
        raise InvalidMessage("callback_timeout", callback_timeout, "must be a positive number of seconds")
    if unknown_agents not in UNKNOWN_AGENT_POLICIES:
        raise InvalidMessage(
            "unknown_agents", unknown_agents, f"must be one of: {', '.join(UNKNOWN_AGENT_POLICIES)}"
        )
    if detector not in DETECTORS:
        raise InvalidMessage("detector", detector, f"must be one of: {', '.join(DETECTORS)}")
    if phi is not None and not isinstance(phi, PhiSettings):
        raise InvalidMessage("phi", phi, "must be an actors.analytics.PhiSettings")
    if type(gc_freeze) is not bool:
        raise InvalidMessage("gc_freeze", gc_freeze, "must be True or False")
    analysis = _analyst_settings(prices, stuck_limit_s, stuck_kind_limits_s)
    settings = None
    if alerting is not None:  # checked before anything starts
        settings = alerting if isinstance(alerting, AlertingSettings) else load_config(alerting)
        budget = settings.cost_budget
        if budget is not None and budget.enabled:  # kept by the analyst, which prices the tasks
            if not analysis.prices:
                raise InvalidMessage("rules.cost_budget", budget.per_hour,
                                     "a cost budget needs prices: start_system(prices=...)")
            analysis.cost_budget = CostBudget(
                per_hour=budget.per_hour, window=parse_duration(budget.window),
                per_agent=budget.per_agent, severity=budget.severity, swarm_id=swarm_id)
    config = SystemConfig(
        swarm_id=swarm_id,
        topology_type=topology_type,
        heartbeat_interval_ms=heartbeat_interval_ms,
        failure_threshold=failure_threshold,
        history_size=history_size,
        enable_monitoring=enable_monitoring,
        detector=detector,
        phi=DEFAULT_PHI if phi is None else phi,
    )
    return SwarmSystem(config, db_path=db_path, clock=clock, flush_interval=flush_interval,
                       workers=workers, max_pending=max_pending, callback_timeout=callback_timeout,
                       unknown_agents=unknown_agents, alerting=settings, analysis=analysis,
                       gc_freeze=gc_freeze)


def _analyst_settings(
    prices: Mapping[str, Any] | None,
    limit_s: float | None,
    kind_limits_s: Mapping[str, float] | None,
) -> AnalystSettings:
    """The analyst's settings from :func:`start_system`'s arguments, each checked.

    Raises:
        InvalidMessage: naming the argument that is wrong.
    """
    try:
        table = parse_prices(prices) if prices is not None else {}
    except ValueError as exc:
        raise InvalidMessage("prices", prices, str(exc)) from None
    for name, value in (("stuck_limit_s", limit_s),):
        if value is not None and (type(value) not in (int, float) or not 0 < value < math.inf):
            raise InvalidMessage(name, value, "must be a positive number of seconds")
    kinds: dict[str, float] = {}
    if kind_limits_s is not None:
        if not isinstance(kind_limits_s, Mapping):
            raise InvalidMessage("stuck_kind_limits_s", kind_limits_s, "must be a dict of kind to seconds")
        for kind, value in kind_limits_s.items():
            if not isinstance(kind, str) or not kind:
                raise InvalidMessage("stuck_kind_limits_s", kind, "a kind must be a non-empty string")
            if type(value) not in (int, float) or not 0 < value < math.inf:
                raise InvalidMessage(f"stuck_kind_limits_s.{kind}", value,
                                     "must be a positive number of seconds")
            kinds[kind] = float(value)
    stuck = StuckSettings(limit_s=None if limit_s is None else float(limit_s), kind_limits_s=kinds)
    return AnalystSettings(stuck=stuck, prices=table)


def _check_clock(clock: Clock) -> None:
    """Refuse a clock whose wall time is outside the range every message's time must be in."""
    try:
        check_timestamp("clock", clock.time())
    except InvalidMessage as exc:
        raise InvalidMessage("clock", exc.value, f"time() {exc.reason}") from None
