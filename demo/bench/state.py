"""What the statistics cost and how close they are: percentile error, aggregator memory."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from typing import Any, Final

from actors import start_system
from actors.testing import parts
from demo.bench.support import (
    AGENT_IDS,
    FLUSH_TIMEOUT,
    GroupResult,
    Sizes,
    deep_size_mb,
    durations,
    percentile,
    rss_mb,
)
from storage import LogHistogram, TaskSummary

__all__ = ["run_accuracy", "run_memory"]

_QUANTILES: Final = (("p50", 0.5, "median_duration_ms"), ("p95", 0.95, "p95_duration_ms"),
                     ("p99", 0.99, "p99_duration_ms"))
_CYCLE: Final = 4096


def run_accuracy(sizes: Sizes, workdir: str) -> GroupResult:
    """Worst relative error of p50/p95/p99 from the histogram and the summary, vs exact."""
    values = durations(sizes.percentile_values, seed=13)
    histogram = LogHistogram()
    histogram.add_many(values)
    n = len(values)
    summary = TaskSummary()
    add = summary.add
    for value in values:
        add(value, "success", 0, 0)
    stats: dict[str, Any] = dict(summary.to_stats())
    ordered = sorted(values)
    errors: dict[str, float] = {}
    for name, q, key in _QUANTILES:
        exact = percentile(ordered, q)
        errors[f"histogram_{name}"] = abs(histogram.quantile(q) / exact - 1.0)
        errors[f"summary_{name}"] = abs(float(stats[key]) / exact - 1.0)
    result = GroupResult()
    result.figures["percentile_rel_error_max"] = max(errors.values())
    result.details = {"values": n, "distribution": "lognormal(mu=4, sigma=1.2) ms", **errors}
    return result


def run_memory(sizes: Sizes, workdir: str) -> GroupResult:
    """Memory still in use after 100 agents record metrics and everything is flushed."""
    spread = durations(_CYCLE, seed=17)
    task_ids = [f"task-{i:04d}" for i in range(_CYCLE)]
    mask = _CYCLE - 1
    n_agents = len(AGENT_IDS)
    count = sizes.aggregator_metrics
    system = start_system(os.path.join(workdir, "memory.db"))
    try:
        system.register_agents(AGENT_IDS)  # a registered agent's metrics take the fast path
        record = system.record_task_metric
        gc.collect()
        before = rss_mb()
        backlog = 0
        tracemalloc.start()
        t0 = time.perf_counter()
        for start in range(0, count, _CYCLE):
            for i in range(start, min(count, start + _CYCLE)):
                j = i & mask
                record(task_ids[j], AGENT_IDS[i % n_agents], spread[j], "success", 120, 1)
            backlog = max(backlog, system.get_write_status()["pending_writes"])
        system.flush(FLUSH_TIMEOUT)
        elapsed = time.perf_counter() - t0
        gc.collect()
        live_mb = tracemalloc.get_traced_memory()[0] / 2**20
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        after = rss_mb()
        total = system.get_task_stats()["total_tasks"]
        state_mb = deep_size_mb(parts(system).aggregate)  # a white-box figure
    finally:
        system.shutdown()
    if total != count:
        raise RuntimeError(f"the aggregator counted {total} of {count} tasks")
    result = GroupResult()
    result.figures["aggregator_mb_per_1m"] = live_mb  # the full run records 1,000,000
    result.figures["aggregator_state_mb"] = state_mb
    result.figures["process_rss_growth_mb"] = after - before
    result.details = {
        "peak_backlog_rows": backlog,
        "metrics": count,
        "agents": n_agents,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "traced_peak_mb": peak_mb,
        "record_and_flush_s": elapsed,
        "note": (
            "aggregator_mb_per_1m: memory allocated while recording that is still in use "
            "after flush and gc.collect() (tracemalloc, the whole process, for 1,000,000 "
            "metrics in the full run); aggregator_state_mb: deep size of the aggregator state (actors.testing.parts); "
            "process_rss_growth_mb: VmRSS growth, which also counts memory the allocators keep "
            "after the backlog is written; traced_peak_mb: the most in use at once (the "
            "backlog); the peak backlog is what was recorded but not yet committed"
        ),
    }
    return result
