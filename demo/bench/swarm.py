"""Swarms of heartbeating agents: spawn, memory, threads, alert lateness, shutdown.

Agents are registered with one ``system.register_agents`` call. Before the
memory of the large swarm is read, every agent is sent ``swarm_history_fill``
heartbeats, a round at a time, so that the heartbeat histories are as full as
in a swarm that has run for a long time. Then one driver thread sends every
live agent a :class:`Heartbeat` tell, spread evenly, twice per heartbeat
interval (so that driver jitter never makes a live agent DEGRADED). Then a
subset goes silent; each of their transitions to DEGRADED, CRITICAL and FAILED
is timed on the reporter, where the alert callback runs: lateness = wall time
in the callback - ``event.at`` (the exact moment the deadline fell).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

from actors import SwarmSystem, start_system
from demo.bench.support import FullCollections, GroupResult, Sizes, percentile, rss_mb
from messages import HealthChanged, HealthState, Heartbeat

__all__ = ["run_large_swarm", "run_small_swarm"]

_THRESHOLD: Final = 3
_ALERT_STATES: Final = (HealthState.DEGRADED, HealthState.CRITICAL, HealthState.FAILED)
_ASK_TIMEOUT: Final = 60.0


class _Driver(threading.Thread):
    """Sends each agent a heartbeat every ``period`` seconds, agents spread evenly.

    The first sweep beats every agent at once, so that none waits a whole
    period after its registration.
    """

    def __init__(self, system: SwarmSystem, agents: Sequence[str], period: float) -> None:
        super().__init__(name="bench-heartbeat-driver")
        self.coordinator = system.coordinator
        self.agents = agents
        self.period = period
        self.silent: frozenset[str] = frozenset()
        self.sent = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Beat until stopped."""
        tell = self.coordinator.tell
        now = time.time
        for agent_id in self.agents:
            tell(Heartbeat(agent_id=agent_id, timestamp=now()))
        n = len(self.agents)
        origin = time.monotonic()
        sent = 0
        while not self._stop_event.wait(0.002):
            due = int((time.monotonic() - origin) / self.period * n)
            silent = self.silent
            while sent < due:
                agent_id = self.agents[sent % n]
                sent += 1
                if agent_id not in silent:
                    tell(Heartbeat(agent_id=agent_id, timestamp=now()))
            self.sent = sent + n

    def stop(self) -> None:
        """Stop beating and wait for the thread to end."""
        self._stop_event.set()
        self.join()


class _Lateness:
    """The alert callback: lateness of each transition of a silent agent, in ms."""

    def __init__(self) -> None:
        self.silent: frozenset[str] = frozenset()
        self.late_ms: list[float] = []
        self.failed: set[str] = set()
        self.others: list[tuple[float, str]] = []  # (at, "previous->current")
        self.done = threading.Condition()

    def __call__(self, event: HealthChanged) -> None:
        late = (time.time() - event.at) * 1000.0
        with self.done:
            if event.agent_id in self.silent:
                self.late_ms.append(late)
                if event.current is HealthState.FAILED:
                    self.failed.add(event.agent_id)
                    self.done.notify_all()
            else:
                self.others.append((event.at, f"{event.previous.value}->{event.current.value}"))

    def wait_for_all_failed(self, timeout: float) -> bool:
        """Block until every silent agent is FAILED; False on timeout."""
        with self.done:
            return self.done.wait_for(lambda: self.failed >= self.silent, timeout=timeout)


def _by_kind(transitions: Iterable[tuple[float, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, kind in transitions:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _fill(system: SwarmSystem, agents: Sequence[str], rounds: int) -> float:
    """Send every agent ``rounds`` heartbeats, a round at a time; seconds until all handled.

    Each round waits until the coordinator has routed it, as in a swarm that
    has beaten that many times: unpaced, a million beats queue up in the
    coordinator's inbox (measured: 900,000 at once, agents DEGRADED behind them,
    and the RSS of that backlog kept by the allocator afterwards).
    """
    tell = system.coordinator.tell
    t0 = time.perf_counter()
    for _ in range(rounds):
        for agent_id in agents:
            tell(Heartbeat(agent_id=agent_id, timestamp=time.time()))
        system.snapshot()  # the coordinator has routed every beat of the round
    if agents:
        system.check_agent_health(agents[-1])  # and the last tracker has taken its last
    return time.perf_counter() - t0


def _swarm(
    workdir: str, name: str, agents: int, interval: float, silent: int, fill: int,
    gc_freeze: bool = False,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Run one swarm through spawn, heartbeats, silence and shutdown."""
    threads_before = threading.active_count()
    rss_before = rss_mb()
    system = start_system(
        os.path.join(workdir, f"{name}.db"), heartbeat_interval_ms=round(interval * 1000),
        failure_threshold=_THRESHOLD, gc_freeze=gc_freeze,
    )
    lateness = _Lateness()
    driver: _Driver | None = None
    figures: dict[str, float] = {}
    details: dict[str, Any] = {}
    try:
        system.configure_alerts(callbacks={state: lateness for state in _ALERT_STATES})
        ids = [f"agent-{i:05d}" for i in range(agents)]
        t0 = time.perf_counter()
        system.register_agents(ids)
        figures["spawn_s"] = time.perf_counter() - t0
        details["history_fill_s"] = _fill(system, ids, fill)
        driver = _Driver(system, ids, interval / 2)
        beating_from = time.time()
        driver.start()
        time.sleep(2 * interval)  # two whole intervals of steady heartbeats
        figures["rss_mb"] = rss_mb()
        figures["threads"] = threading.active_count()
        details["unhealthy_before_silence"] = len(system.get_unhealthy_agents())
        quiet = frozenset(ids[:: max(1, agents // silent)][:silent])
        # The timed window starts from a settled heap: the objects that startup and the
        # fill promoted are collected now, not in a full collection (~150 ms over
        # 10,000 agents) that would otherwise fall due in the window about every other
        # run. A full collection that still falls in it is counted in the details.
        gc.collect()
        with FullCollections() as collections:
            with lateness.done:
                lateness.silent = quiet
            driver.silent = quiet
            complete = lateness.wait_for_all_failed(timeout=(_THRESHOLD + 1) * interval + 30.0)
        beating_until = time.time()
        driver.stop()
        details["heartbeats_sent"] = driver.sent + fill * agents
        driver = None
        late = sorted(lateness.late_ms)
        t0 = time.perf_counter()
        system.shutdown()
        figures["shutdown_s"] = time.perf_counter() - t0
    finally:
        if driver is not None:
            driver.stop()
        system.shutdown()
    if not complete:
        raise RuntimeError(f"{len(lateness.failed)} of {len(quiet)} silent agents became FAILED")
    figures["lateness_ms_p99"] = percentile(late, 0.99)
    figures["rss_growth_mb"] = figures["rss_mb"] - rss_before
    details.update({
        "agents": agents,
        "interval_s": interval,
        "heartbeat_every_s": interval / 2,
        "failure_threshold": _THRESHOLD,
        "history_fill_per_agent": fill,
        "gc_freeze": gc_freeze,
        "silent": len(quiet),
        "transitions_timed": len(late),
        "lateness_ms_p50": percentile(late, 0.5),
        "lateness_ms_max": late[-1],
        # live agents' transitions while the driver beat them (false alarms), and after
        # it stopped (true: they went silent before the shutdown)
        "transitions_of_live_agents": _by_kind(
            t for t in lateness.others if beating_from <= t[0] <= beating_until
        ),
        "transitions_of_live_agents_during_fill": _by_kind(
            t for t in lateness.others if t[0] < beating_from
        ),
        "transitions_of_live_agents_after_beats_stopped": _by_kind(
            t for t in lateness.others if t[0] > beating_until
        ),
        "threads_before": threads_before,
        "rss_before_mb": rss_before,
        **{f"{key}_while_silent": value for key, value in collections.summary().items()},
    })
    return figures, details


def run_large_swarm(sizes: Sizes, workdir: str) -> GroupResult:
    """10,000 agents (fewer in quick mode): spawn, RSS, threads, lateness, shutdown.

    With ``gc_freeze``, as the README advises for a swarm this size registered at start.
    """
    figures, details = _swarm(
        workdir, "large", sizes.swarm_agents, sizes.swarm_interval_s, sizes.swarm_silent,
        sizes.swarm_history_fill, gc_freeze=True,
    )
    return GroupResult(
        figures={
            "agents_10k_spawn_s": figures["spawn_s"],
            "agents_10k_shutdown_s": figures["shutdown_s"],
            "agents_10k_rss_mb": figures["rss_mb"],
            "agents_10k_rss_growth_mb": figures["rss_growth_mb"],
            "agents_10k_threads": figures["threads"],
            "lateness_ms_p99_10k": figures["lateness_ms_p99"],
        },
        details=details,
    )


def run_small_swarm(sizes: Sizes, workdir: str) -> GroupResult:
    """1,000 agents at a 1 s interval: alert lateness only."""
    figures, details = _swarm(
        workdir, "small", sizes.small_agents, sizes.small_interval_s, sizes.small_silent, 0
    )
    for key in ("history_fill_s", "history_fill_per_agent", "threads_before", "rss_before_mb"):
        details.pop(key)
    return GroupResult(figures={"lateness_ms_p99_1k": figures["lateness_ms_p99"]}, details=details)
