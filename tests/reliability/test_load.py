"""Promise 6: 1,000 agents heartbeating every 200 ms plus 20,000 metrics/s: no false
FAILED, mailboxes stay bounded, memory stays flat, nothing is lost.

The run lasts ``SWARMPULSE_LOAD_SECONDS`` (default 10, what CI runs, not marked
slow so that ``-m "not slow"`` still runs it). A longer run is marked slow, and
also asserts that the writer keeps up (flat RSS, a backlog that does not grow)::

    SWARMPULSE_LOAD_SECONDS=60 python -m pytest tests/reliability -k load -s

(``-s`` shows the figures measured.) Memory is judged by live Python blocks (objects)
at two quiet moments, when every metric so far is written: RSS also carries the
metrics waiting to be written, and what the allocator keeps after such a peak.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from actors import SwarmSystem, start_system
from actors.testing import parts, service_ref
from messages import HealthChanged, HealthState, Heartbeat
from tests.reliability.conftest import WAIT, rss_mb, stored_tasks

DEFAULT_SECONDS = 10.0
LOAD_SECONDS = float(os.environ.get("SWARMPULSE_LOAD_SECONDS", DEFAULT_SECONDS))
AGENTS = 1000
BEAT_PERIOD = 0.2  # each agent beats every 200 ms ...
INTERVAL_MS = 1000  # ... against a 1 s interval: DEGRADED after 1 s, FAILED after 3 s silent
METRICS_PER_SECOND = 20_000
TICK = 0.01  # the metrics generator's pace: 200 metrics every 10 ms
WARM_UP = 3.0  # seconds of load before the first memory sample (histories are full)
HISTORY = 10  # heartbeats kept per agent: full (bounded) before the first sample

# Bounds, generous for a slow CI machine, still far below what a leak reaches:
INBOX_FLOOR = 2 * AGENTS / BEAT_PERIOD  # an actor's inbox: 2 s of heartbeats
LIVE_GROWTH = 20_000  # live memory blocks (objects) that may appear between the quiet samples,
SERIES = 2 * AGENTS  # plus, per second, what the per-agent sparkline series add until they
SERIES_BUCKETS = 64  # hold 64 one-second buckets (two numbers each; bounded after that)
RSS_GROWTH_MB = 25.0  # the long run: RSS growth allowed start to end

_long = [pytest.mark.slow] if LOAD_SECONDS > DEFAULT_SECONDS else []


@dataclass
class Samples:
    """What the sampler saw, every half second."""

    at: list[float] = field(default_factory=list)
    inbox: list[int] = field(default_factory=list)
    services: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)

    def take(self, system: SwarmSystem, since: float) -> None:
        self.at.append(time.monotonic() - since)
        self.inbox.append(system.coordinator.actor_inbox.qsize())  # type: ignore[attr-defined]
        self.services.append(sum(
            service_ref(system, kind).actor_inbox.qsize()  # type: ignore[attr-defined]
            for kind in ("writer", "aggregator", "reporter")
        ))
        self.queued.append(len(parts(system).telemetry) + len(parts(system).backlog))

    def window(self, values: list[int], low: float, high: float) -> int:
        """The largest value sampled between ``low`` and ``high`` of the run (fractions)."""
        end = self.at[-1]
        chosen = [v for t, v in zip(self.at, values, strict=True) if low * end <= t <= high * end]
        return max(chosen, default=0)


@dataclass
class Sender:
    """One thread beating for half the agents: when each round of beats began and ended."""

    agents: list[str]
    rounds: list[tuple[float, float]] = field(default_factory=list)  # wall clock

    @property
    def sent(self) -> int:
        return len(self.rounds) * len(self.agents)

    def run(self, system: SwarmSystem, stop: threading.Event) -> None:
        tell = system.coordinator.tell
        clock = system.clock
        next_round = time.monotonic()
        while not stop.is_set():
            now = clock.time()
            for agent in self.agents:
                tell(Heartbeat(agent_id=agent, timestamp=now))
            self.rounds.append((now, clock.time()))
            next_round += BEAT_PERIOD
            stop.wait(max(0.0, next_round - time.monotonic()))  # pacing the generator

    def longest_silence(self, since: float) -> float:
        """The longest an agent of this thread can have gone without a beat put, from ``since``."""
        starts = [since] + [start for start, _ in self.rounds[:-1]]
        ends = [end for _, end in self.rounds]
        return max((end - start for start, end in zip(starts, ends, strict=True)), default=0.0)

    def beat_between(self, low: float, high: float) -> bool:
        """Whether every agent of this thread certainly had a beat put between the two times."""
        return any(low < start and end < high for start, end in self.rounds)


class Recorder:
    """Records METRICS_PER_SECOND, paced in ticks; can be paused for a quiet measurement."""

    def __init__(self, system: SwarmSystem, stop: threading.Event) -> None:
        self.system = system
        self.stop = stop
        self.flowing = threading.Event()
        self.flowing.set()
        self.paused = threading.Event()
        self.recorded = 0

    def run(self) -> None:
        record = self.system.record_task_metric
        per_tick = int(METRICS_PER_SECOND * TICK)
        next_tick = time.monotonic()
        while not self.stop.is_set():
            if not self.flowing.is_set():
                self.paused.set()
                while not self.flowing.wait(0.1) and not self.stop.is_set():
                    pass
                self.paused.clear()
                next_tick = time.monotonic()  # resume the pace, do not catch up
            n = self.recorded
            for i in range(n, n + per_tick):
                record(f"task-{i}", f"agent-{i % AGENTS}", 12.5, "success", 40, 1)
            self.recorded = n + per_tick
            next_tick += TICK
            self.stop.wait(max(0.0, next_tick - time.monotonic()))

    def quiet_sample(self) -> tuple[int, float]:
        """Live Python memory blocks and RSS once every metric so far is written.

        Heartbeats go on meanwhile. Allocated blocks count live objects, whatever the
        allocator keeps from earlier peaks, so a backlog that came and went does not
        count, and anything that stays does.
        """
        self.flowing.clear()
        assert self.paused.wait(WAIT)
        self.system.flush(timeout=120)
        self.system.get_agent_profiles()  # and analysed: the analyst's inbox is empty too
        gc.collect()
        sample = sys.getallocatedblocks(), rss_mb()
        self.flowing.set()
        return sample


@pytest.fixture
def heap_of_earlier_tests_frozen() -> Iterator[None]:
    """Keep what earlier tests left in this process out of the collector's full passes.

    After the 200-odd tests of tests/messages, the same run saw a coordinator inbox of
    13,701 and false FAILED agents, or a 30 s read timeout; alone it saw 3,528 and passed.
    The load measured is the system's, not the test session's heap.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    "seconds", [pytest.param(LOAD_SECONDS, marks=_long, id=f"{LOAD_SECONDS:g}s")]
)
@pytest.mark.timeout(LOAD_SECONDS * 3 + 60)
@pytest.mark.usefixtures("heap_of_earlier_tests_frozen")
def test_load_of_a_thousand_agents_and_twenty_thousand_metrics_per_second(
    db_path: str, seconds: float
) -> None:
    """1,000 agents beating every 200 ms and 20,000 metrics/s: nobody FAILED, inboxes do
    not grow with time, no objects pile up, every metric and beat is counted."""
    system = start_system(
        db_path, heartbeat_interval_ms=INTERVAL_MS, failure_threshold=3, history_size=HISTORY,
    )
    transitions: list[HealthChanged] = []
    system.configure_alerts(callbacks={state: transitions.append for state in HealthState})
    agents = [f"agent-{i}" for i in range(AGENTS)]
    registered = system.clock.time()  # one message: 1,000 asks take seconds on a busy machine
    assert all(system.register_agents(agents))
    stop = threading.Event()
    senders = [Sender(agents[k::2]) for k in range(2)]
    recorder = Recorder(system, stop)
    threads = [
        threading.Thread(target=sender.run, args=(system, stop), name=f"beat-{k}")
        for k, sender in enumerate(senders)
    ] + [threading.Thread(target=recorder.run, name="record")]
    live: dict[str, int] = {}
    samples = Samples()
    rss: dict[str, float] = {}
    began = time.monotonic()
    failed_run = False
    try:
        for thread in threads:
            thread.start()
        pause = threading.Event()
        while (elapsed := time.monotonic() - began) < seconds:
            pause.wait(0.5)  # the sampler's pace
            samples.take(system, began)
            if "start" not in rss and elapsed >= WARM_UP:
                rss["start"] = rss_mb()
                live["start"], rss["quiet start"] = recorder.quiet_sample()
                backlog_since = time.monotonic()  # nothing waits to be written now
            if "middle" not in rss and elapsed >= (WARM_UP + seconds) / 2:
                rss["middle"] = rss_mb()
        rss.setdefault("middle", rss_mb())  # a slow quiet sample can take the run's second half
        rss["end"] = rss_mb()
        backlog_growth = (len(parts(system).telemetry) + len(parts(system).backlog)) / (
            time.monotonic() - backlog_since
        )
        live["end"], rss["quiet end"] = recorder.quiet_sample()
        distribution = system.get_monitoring_stats()["heartbeat_monitor"]["health_distribution"]
    except BaseException:
        failed_run = True  # this test's failure alone: no actor is left running into the next
        raise
    finally:
        stopped_at = system.clock.time()
        stop.set()
        for thread in threads:
            thread.join(timeout=WAIT)
        if failed_run:
            system.shutdown(timeout=120)
    system.flush(timeout=120)
    snapshot = system.snapshot()
    system.shutdown()

    # what happened while every agent was beating (after the stop they do fail, rightly)
    during = [e for e in transitions if e.at <= stopped_at]
    failed = [e for e in during if e.current is HealthState.FAILED]
    degraded = {e.agent_id for e in during if e.current is HealthState.DEGRADED}
    beats = sum(sender.sent for sender in senders)
    # Judged against what the senders did: a FAILED is false if the agent certainly had a
    # beat put in the 3 s before it. A sender the machine starved for 3 s (its agents were
    # silent) makes true ones; only a punctual run must have none at all.
    deadline = INTERVAL_MS / 1000.0 * 3
    silence = max(sender.longest_silence(registered) for sender in senders)
    false_failed = [
        e for e in failed if senders[int(e.agent_id.split("-")[1]) % 2].beat_between(e.at - deadline, e.at)
    ]
    print(
        f"\nload {seconds:g} s: {recorder.recorded} metrics ({recorder.recorded / seconds:.0f}/s), "
        f"{beats} heartbeats ({beats / seconds:.0f}/s); RSS MiB start {rss['start']:.1f}, "
        f"middle {rss['middle']:.1f}, end {rss['end']:.1f}; with nothing waiting to be written: "
        f"RSS {rss['quiet start']:.1f} -> {rss['quiet end']:.1f} MiB, live blocks "
        f"{live['start']} -> {live['end']} ({live['end'] - live['start']:+d}); max inboxes: "
        f"coordinator {max(samples.inbox)}, services {max(samples.services)}; metrics waiting "
        f"to be written: max {max(samples.queued)}, growing {backlog_growth:+.0f}/s after "
        f"warm-up; {len(degraded)} "
        f"agents ever DEGRADED, {len(failed)} FAILED ({len(false_failed)} false); longest "
        f"silence of a sender {silence:.2f} s"
    )
    assert not false_failed, f"{len(false_failed)} false FAILED transitions, e.g. {false_failed[:3]}"
    if silence < deadline:
        assert not failed, f"{len(failed)} FAILED transitions, e.g. {failed[:3]}"
        assert distribution[HealthState.FAILED.value] == 0
    assert snapshot.total_heartbeats == beats
    assert snapshot.unknown_heartbeats == 0
    assert stored_tasks(db_path) == (recorder.recorded, recorder.recorded)
    # inboxes bounded: no larger late in the run than early on (or than a floor)
    for name, values in [("coordinator inbox", samples.inbox), ("service inboxes", samples.services)]:
        early, late = samples.window(values, 0.0, 0.4), samples.window(values, 0.6, 1.0)
        assert late <= max(2 * early, INBOX_FLOOR), f"{name} grew: {early} early, {late} late"
    # memory: once the metrics in flight are written, no more objects live than before
    # (but for the bounded series still filling)
    assert live["end"] - live["start"] < LIVE_GROWTH + SERIES * min(seconds, SERIES_BUCKETS), live
    if seconds > DEFAULT_SECONDS:
        # The long run also holds the system to keeping up: flat RSS, a backlog that does
        # not grow. (The short run in CI does not: on a slow or busy machine the writer
        # may fall behind 20,000/s, which is a capacity figure, not a defect.)
        assert backlog_growth < 0.05 * METRICS_PER_SECOND, f"{backlog_growth:+.0f}/s"
        assert rss["end"] - rss["start"] < RSS_GROWTH_MB, rss
