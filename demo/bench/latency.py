"""Caller-side cost of recording one task: the facade, an agent actor, Pykka, Prometheus.

Every call is timed alone with ``time.perf_counter_ns``; the timer's own cost
is measured the same way and reported beside the figures (they include it).
The four measurements run in interleaved rounds so that the noise of a shared
machine falls on all of them alike; the system is flushed between rounds so
that its background work only ever overlaps its own recording.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any, Final, cast

import msgspec
import pykka

from actors import SwarmSystem, start_system
from demo.bench.support import (
    AGENT_IDS,
    FLUSH_TIMEOUT,
    GroupResult,
    Sizes,
    durations,
    percentile,
)
from messages import TaskMetric, TaskResult

__all__ = ["run_latency"]

_ROUNDS: Final = 10
_CYCLE: Final = 4096  # distinct argument tuples, cycled (a power of two)
_RESULTS: Final = ("success",) * 9 + ("failure",)
_MISSING: Final = "missing: pip install -e '.[bench]' to compare with it"

Args = tuple[str, str, float, str]
"""``(task_id, agent_id, duration_ms, result)`` of one timed call."""


class _Burst(msgspec.Struct, frozen=True, kw_only=True):
    """Ask a recording agent to record ``count`` tasks, timing each; reply the timings."""

    start: int
    count: int


class _Sync(msgspec.Struct, frozen=True):
    """Ask a sink how many messages it has taken; it replies once the earlier ones are done."""


class _RecordingAgent(pykka.ThreadingActor):
    """An agent that records its tasks from inside its own handler.

    Accepts :class:`_Burst` (reply: the nanoseconds of each ``record_task`` call).
    """

    def __init__(self, record: Callable[..., None], args: Sequence[Args]) -> None:
        super().__init__()
        self.record = record
        self.args = args

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case _Burst(start=start, count=count):
                return _time_record(self.record, self.args, start, count)
            case _:
                return None


class _Sink(pykka.ThreadingActor):
    """A plain actor that takes task metrics and does nothing with them.

    Accepts :class:`TaskMetric` (counted) and :class:`_Sync` (reply: the count).
    """

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type."""
        match message:
            case TaskMetric():
                self.taken += 1
            case _Sync():
                return self.taken
            case _:
                return None
        return None


def _time_record(
    record: Callable[..., None], args: Sequence[Args], start: int, count: int
) -> list[int]:
    """Time ``count`` calls of ``record(task, agent, ms, result, 120, 1)``, each alone."""
    pc = time.perf_counter_ns
    out = [0] * count
    mask = _CYCLE - 1
    for i in range(count):
        task_id, agent_id, duration, result = args[(start + i) & mask]
        t0 = pc()
        record(task_id, agent_id, duration, result, 120, 1)
        out[i] = pc() - t0
    return out


def _time_timer(count: int) -> list[int]:
    """Time nothing ``count`` times: the cost of the timer itself."""
    pc = time.perf_counter_ns
    out = [0] * count
    for i in range(count):
        t0 = pc()
        out[i] = pc() - t0
    return out


def _time_tell(ref: pykka.ActorRef[Any], metrics: Sequence[TaskMetric], count: int) -> list[int]:
    """Time ``count`` tells of prebuilt task metrics to a plain actor."""
    pc = time.perf_counter_ns
    tell = ref.tell
    out = [0] * count
    mask = _CYCLE - 1
    for i in range(count):
        metric = metrics[i & mask]
        t0 = pc()
        tell(metric)
        out[i] = pc() - t0
    return out


def _load_prometheus() -> Any:
    """Return the prometheus_client module, or None when the ``bench`` extra is missing."""
    try:
        import prometheus_client
    except ImportError:
        return None
    return prometheus_client


def _prometheus_timer(prometheus: Any, args: Sequence[Args]) -> Callable[[int, int], list[int]]:
    """Return a function timing the Prometheus equivalent of recording one task.

    The equivalent is a duration histogram observation plus a result counter
    increment, both labelled by agent, in a registry of their own.
    """
    registry = prometheus.CollectorRegistry()
    histogram = prometheus.Histogram(
        "bench_task_duration_seconds", "Task duration.", ["agent"], registry=registry
    )
    counter = prometheus.Counter(
        "bench_tasks", "Finished tasks.", ["agent", "result"], registry=registry
    )
    seconds = [(agent_id, duration / 1000.0, result) for _, agent_id, duration, result in args]

    def run(start: int, count: int) -> list[int]:
        pc = time.perf_counter_ns
        out = [0] * count
        mask = _CYCLE - 1
        for i in range(count):
            agent_id, duration, result = seconds[(start + i) & mask]
            t0 = pc()
            histogram.labels(agent_id).observe(duration)
            counter.labels(agent_id, result).inc()
            out[i] = pc() - t0
        return out

    return run


def _arguments() -> list[Args]:
    spread = durations(_CYCLE, seed=11)
    return [
        (f"task-{i:05d}", AGENT_IDS[i % len(AGENT_IDS)], spread[i], _RESULTS[i % len(_RESULTS)])
        for i in range(_CYCLE)
    ]


def _us(ordered: list[int], q: float) -> float:
    return percentile(ordered, q) / 1000.0


def run_latency(sizes: Sizes, workdir: str) -> GroupResult:
    """Measure the caller-side cost of recording a task, and what it compares with."""
    args = _arguments()
    clock_now = time.time()
    metrics = [
        TaskMetric(task_id=t, agent_id=a, duration_ms=d, result=TaskResult(r), tokens_used=120,
                   files_changed=1, timestamp=clock_now)
        for t, a, d, r in args
    ]
    prometheus = _load_prometheus()
    if prometheus is None:
        print(f"bench: prometheus_client is {_MISSING}; its figures are skipped",
              file=sys.stderr, flush=True)
    prom_run = _prometheus_timer(prometheus, args) if prometheus is not None else None
    per_round = max(1, sizes.record_calls // _ROUNDS)
    tells_per_round = max(1, sizes.tell_calls // _ROUNDS)
    samples: dict[str, list[int]] = {"facade": [], "agent": [], "tell": [], "prom": [], "timer": []}
    tell_wall_ns = 0
    system: SwarmSystem = start_system(os.path.join(workdir, "latency.db"))
    agent = _RecordingAgent.start(system.record_task_metric, args)
    sink = _Sink.start()
    try:
        system.register_agents(AGENT_IDS)  # a registered agent's metrics take the fast path
        _time_record(system.record_task_metric, args, 0, _CYCLE)  # warm up
        system.flush(FLUSH_TIMEOUT)
        for r in range(_ROUNDS):
            start = r * per_round
            samples["facade"] += _time_record(system.record_task_metric, args, start, per_round)
            system.flush(FLUSH_TIMEOUT)
            samples["agent"] += cast(list[int], agent.ask(_Burst(start=start, count=per_round)))
            system.flush(FLUSH_TIMEOUT)
            if prom_run is not None:
                samples["prom"] += prom_run(start, per_round)
            t0 = time.perf_counter_ns()
            samples["tell"] += _time_tell(sink, metrics, tells_per_round)
            sink.ask(_Sync())
            tell_wall_ns += time.perf_counter_ns() - t0
            samples["timer"] += _time_timer(per_round)
        recorded = system.get_task_stats()["total_tasks"]
    finally:
        agent.stop()
        sink.stop()
        system.shutdown()
    expected = _CYCLE + 2 * per_round * _ROUNDS
    if recorded != expected:
        raise RuntimeError(f"the aggregator counted {recorded} tasks, {expected} were recorded")
    for values in samples.values():
        values.sort()
    result = GroupResult()
    figures = result.figures
    figures["record_us_p50"] = _us(samples["facade"], 0.5)
    figures["record_us_p99"] = _us(samples["facade"], 0.99)
    figures["timer_overhead_us"] = _us(samples["timer"], 0.5)
    figures["agent_record_us_p50"] = _us(samples["agent"], 0.5)
    figures["pykka_tell_us_p50"] = _us(samples["tell"], 0.5)
    if samples["prom"]:
        prom_p50 = _us(samples["prom"], 0.5)
        figures["prometheus_observe_us_p50"] = prom_p50
        figures["record_vs_prometheus"] = _us(samples["facade"], 0.5) / prom_p50
    else:
        figures["prometheus_observe_us_p50"] = None
        figures["record_vs_prometheus"] = None
    result.details = {
        "calls_per_measure": per_round * _ROUNDS,
        "tells": tells_per_round * _ROUNDS,
        "rounds": _ROUNDS,
        "prometheus_client": (
            version("prometheus_client") if prometheus is not None else _MISSING
        ),
        "record_us_p999": _us(samples["facade"], 0.999),
        "agent_record_us_p99": _us(samples["agent"], 0.99),
        "pykka_tell_us_p99": _us(samples["tell"], 0.99),
        "pykka_tell_wall_us_per_message": tell_wall_ns / 1000.0 / (tells_per_round * _ROUNDS),
        "prometheus_observe_us_p99": _us(samples["prom"], 0.99) if samples["prom"] else None,
        "timer_overhead_us_p99": _us(samples["timer"], 0.99),
        "note": "figures include the timer's own cost (timer_overhead_us)",
    }
    return result
