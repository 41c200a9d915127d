"""Memory under churn: agents that come, record, and leave must not stay in memory.

Rounds of new agents are each registered, given one task and one gauge, and
unregistered. After every round everything is flushed, the departed
agents' trackers have stopped, and a full collection runs; the memory still
traced then (``tracemalloc``, the whole process since just before the system
started) is read. The figure is how much it grew from
the first round to the last, in percent: what every departed agent still costs.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from typing import Final

from actors import SwarmSystem, start_system
from actors.testing import live_trackers
from demo.bench.support import FLUSH_TIMEOUT, GroupResult, Sizes, rss_mb

__all__ = ["run_churn"]

_ROUNDS: Final = {"full": (8, 5000), "quick": (8, 1000), "smoke": (3, 100)}
"""(rounds, new agents per round) by mode."""


def _trackers_stopped(system: SwarmSystem, timeout: float = 60.0) -> None:
    """Wait until the trackers of the agents that left have stopped (they stop asynchronously)."""
    deadline = time.monotonic() + timeout
    while live_trackers(system) and time.monotonic() < deadline:
        time.sleep(0.01)


def run_churn(sizes: Sizes, workdir: str) -> GroupResult:
    """Traced memory after each round of churned agents; growth from the first round to the last."""
    rounds, per_round = _ROUNDS.get(sizes.mode, _ROUNDS["full"])
    gc.collect()
    rss_before = rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    system = start_system(os.path.join(workdir, "churn.db"))
    traced_mb: list[float] = []
    try:
        for r in range(rounds):
            ids = [f"churn-{r}-{i:05d}" for i in range(per_round)]
            system.register_agents(ids)
            for i, agent_id in enumerate(ids):
                duration = 100.0 + i % 50
                system.record_task_metric(f"task-{r}-{i}", agent_id, duration, "success", 10, 1)
                system.record_agent_metric(agent_id, "queue_depth", float(i % 7))
            for agent_id in ids:
                system.unregister_agent(agent_id)
            system.flush(FLUSH_TIMEOUT)
            _trackers_stopped(system)
            gc.collect()
            traced_mb.append(tracemalloc.get_traced_memory()[0] / 2**20)
        stored = system.get_task_stats()["total_tasks"]
    finally:
        system.shutdown()
    elapsed = time.perf_counter() - t0
    tracemalloc.stop()
    expected = rounds * per_round
    if stored != expected:
        raise RuntimeError(f"the swarm's statistics count {stored} tasks, {expected} were recorded")
    result = GroupResult()
    result.figures["churn_memory_growth_pct"] = 100.0 * (traced_mb[-1] / traced_mb[0] - 1.0)
    result.details = {
        "rounds": rounds,
        "agents_per_round": per_round,
        "traced_mb_after_each_round": [round(mb, 3) for mb in traced_mb],
        "rss_growth_mb": rss_mb() - rss_before,
        "elapsed_s": elapsed,
        "note": "each agent registered, given one task and one gauge, then unregistered",
    }
    return result
