"""The command line on a real file: ``report``, ``--format json``, ``--since 1h``, ``stats --by-agent``.

A database of 1,000,000 task metrics from 100 agents over the last 24 hours
(plus their registrations, health transitions, alerts and gauges) is written
with the storage alone; then each command runs as a user runs it, in a fresh
process, and its wall time, CPU time and peak memory (its own ``VmHWM``)
are read. ``cli_report_s_1m`` and ``cli_report_mb_1m`` are the
worst of the four commands. Quick and smoke runs use a smaller file (the
details say how many rows), so only the full run's figures are about a
million rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from demo.bench.support import AGENT_IDS, GroupResult, Sizes, durations
from messages import (
    AgentMetric,
    AgentRegistered,
    Alert,
    AlertSeverity,
    HealthChanged,
    HealthState,
    SwarmMetric,
)
from storage import MetricsStorage, RowTuple

__all__ = ["COMMANDS", "build_database", "run_cli", "run_cli_bench"]

_SPAN: Final = 24 * 3600.0
_CHUNK: Final = 50_000
_RESULTS: Final = ("success",) * 8 + ("failure", "timeout")
_ROOT: Final = str(Path(__file__).resolve().parent.parent)
_ROWS: Final = {"full": 1_000_000, "quick": 200_000, "smoke": 5_000}

COMMANDS: Final = {
    "report": ["report"],
    "report_json": ["report", "--format", "json"],
    "report_since_1h": ["report", "--since", "1h"],
    "stats_by_agent": ["stats", "--by-agent"],
}
"""The timed commands, by name (each gets ``--db PATH``)."""


def build_database(path: str, rows: int, end: float) -> float:
    """Write ``rows`` tasks of 100 agents spread over the 24 h before ``end``; seconds taken.

    Every agent is registered at the start; every tenth one degrades and
    recovers every hour (a transition and an alert each); each agent records
    a gauge a minute and the swarm two.
    """
    start = end - _SPAN
    spread = durations(rows, seed=11)
    step = _SPAN / rows
    n_agents = len(AGENT_IDS)
    t0 = time.perf_counter()
    with MetricsStorage(path) as storage:
        storage.store_agent_events([
            AgentRegistered(agent_id=a, at=start, interval_ms=5000, failure_threshold=3)
            for a in AGENT_IDS
        ])
        for first in range(0, rows, _CHUNK):
            batch: list[RowTuple] = [
                (f"task-{i}", AGENT_IDS[i % n_agents], spread[i], _RESULTS[i % len(_RESULTS)],
                 100 + i % 50, i % 3, start + i * step, None)
                for i in range(first, min(rows, first + _CHUNK))
            ]
            storage.store_batch(tasks=batch)
        events: list[HealthChanged] = []
        alerts: list[Alert] = []
        for hour in range(24):
            for agent_id in AGENT_IDS[::10]:
                at = start + hour * 3600.0 + 60.0
                events.append(HealthChanged(agent_id=agent_id, previous=HealthState.HEALTHY,
                                            current=HealthState.DEGRADED, at=at,
                                            heartbeat_age_ms=5000.0))
                events.append(HealthChanged(agent_id=agent_id, previous=HealthState.DEGRADED,
                                            current=HealthState.HEALTHY, at=at + 7.0,
                                            heartbeat_age_ms=0.0))
                alerts.append(Alert(agent_id=agent_id, severity=AlertSeverity.WARNING,
                                    message=f"agent {agent_id} is degraded", at=at))
        minutes = int(_SPAN // 60)
        gauges = [
            AgentMetric(agent_id=a, metric_type="tokens_per_second", value=float(m % 97),
                        timestamp=start + m * 60.0)
            for m in range(minutes) for a in AGENT_IDS
        ]
        swarm = [
            SwarmMetric(swarm_id="bench-swarm", metric_type=kind, value=1.0,
                        timestamp=start + m * 60.0, metadata={"topology": "mesh"})
            for m in range(minutes) for kind in ("topology_health", "tasks_per_second")
        ]
        storage.store_batch(health_events=events, alerts=alerts, agent_metrics=gauges,
                            swarm_metrics=swarm)
    return time.perf_counter() - t0


_WRAPPER: Final = (
    "import os, sys\n"
    "from demo.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "with open('/proc/self/status') as f:\n"
    "    peak = next(l.split()[1] for l in f if l.startswith('VmHWM:'))\n"
    "os.write(2, f'\\nVmHWM {peak}\\n'.encode())\n"
    "sys.exit(code)\n"
)


def run_cli(argv: list[str]) -> tuple[float, float, float]:
    """Run the CLI with ARGV in a fresh process: (wall s, CPU s, peak RSS MB).

    The peak is the process's own high-water mark after ``exec`` (``VmHWM``):
    a child's ``ru_maxrss`` on Linux would also hold the RSS this (parent)
    process had when it forked. CPU is the child's user + system time, the
    figure to trust on a loaded machine. Output is discarded.

    Raises:
        RuntimeError: the command failed.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = err.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith("VmHWM "):
        raise RuntimeError(f"{' '.join(argv)} failed with exit status {proc.returncode}: {err}")
    return seconds, usage.ru_utime + usage.ru_stime, int(lines[-1].split()[1]) / 1024.0


def run_cli_bench(sizes: Sizes, workdir: str) -> GroupResult:
    """Time each command on a generated file; the worst wall time and peak RSS are the figures."""
    rows = _ROWS.get(sizes.mode, _ROWS["quick"])
    path = os.path.join(workdir, "cli.db")
    build_s = build_database(path, rows, end=time.time())
    per_command: dict[str, dict[str, float]] = {}
    for name, argv in COMMANDS.items():
        full = [*argv, "--db", path]
        if sizes.mode != "smoke":
            run_cli(full)  # warm the page cache, as a user's second command finds it
        seconds, cpu, peak_mb = run_cli(full)
        per_command[name] = {"s": seconds, "cpu_s": cpu, "mb": peak_mb}
    result = GroupResult()
    result.figures["cli_report_s_1m"] = max(c["s"] for c in per_command.values())
    result.figures["cli_report_mb_1m"] = max(c["mb"] for c in per_command.values())
    result.details = {
        "rows": rows,
        "agents": len(AGENT_IDS),
        "build_s": build_s,
        "commands": per_command,
        "load_average": list(os.getloadavg()),
        "note": "" if rows == 1_000_000 else f"{sizes.mode} run: a file of {rows:,} rows, "
                                               "not 1,000,000",
    }
    return result
