"""``python -m demo bench``: the figures swarmpulse promises, measured on this machine.

Each group of figures runs in a fresh Python process (so that one group's
memory and threads never show in another's figures), one after the other.
The benchmark asserts nothing about speed: it prints a table of figure,
value, target and whether the target was met, and with ``--json PATH`` writes
every figure (a number, or null when not measured) plus a ``machine`` note
and the ``details`` each group reported. A run that fails is a bug: the exit
status is then 1.

Example:
    ```sh
    python -m demo bench --quick --json /tmp/bench.json
    ```
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from demo.bench.alerting import run_alerting
from demo.bench.churn import run_churn
from demo.bench.cli import run_cli_bench
from demo.bench.dashboard import run_dashboard
from demo.bench.detect import run_detectors
from demo.bench.ingest import run_ingest
from demo.bench.latency import run_latency
from demo.bench.persist import run_persist
from demo.bench.query import run_query
from demo.bench.scrape import run_scrape
from demo.bench.state import run_accuracy, run_memory
from demo.bench.support import MODES, GroupResult, Sizes
from demo.bench.swarm import run_large_swarm, run_small_swarm

__all__ = ["FIGURES", "GROUPS", "main"]

Group = Callable[[Sizes, str], GroupResult]

GROUPS: Final[dict[str, Group]] = {
    "latency": run_latency,
    "persist": run_persist,
    "query": run_query,
    "accuracy": run_accuracy,
    "memory": run_memory,
    "small_swarm": run_small_swarm,
    "large_swarm": run_large_swarm,
    "cli": run_cli_bench,
    "churn": run_churn,
    "scrape": run_scrape,
    "alerting": run_alerting,
    "server": run_ingest,
    "dashboard": run_dashboard,
    "detectors": run_detectors,
}
"""Every group of figures, in the order they run."""

FIGURES: Final[tuple[tuple[str, str, str | None, float | None], ...]] = (
    ("record_us_p50", "us", "<=", 1.0),
    ("record_us_p99", "us", "<=", 5.0),
    ("agent_record_us_p50", "us", "<=", 1.0),
    ("timer_overhead_us", "us", None, None),
    ("pykka_tell_us_p50", "us", None, None),
    ("prometheus_observe_us_p50", "us", None, None),
    ("record_vs_prometheus", "x", "<=", 0.75),
    ("persist_per_s", "/s", ">=", 70_000),
    ("sqlite_raw_per_s", "/s", None, None),
    ("persist_vs_raw", "x", ">=", 0.7),
    ("agents_10k_spawn_s", "s", "<=", 2.0),
    ("agents_10k_shutdown_s", "s", "<=", 2.0),
    ("agents_10k_rss_mb", "MB", "<=", 300.0),
    ("agents_10k_rss_growth_mb", "MB", None, None),
    ("agents_10k_threads", "", "<=", 16),
    ("lateness_ms_p99_1k", "ms", "<=", 20.0),
    ("lateness_ms_p99_10k", "ms", "<=", 100.0),
    ("stats_24h_ms_p95", "ms", "<=", 50.0),
    ("stats_naive_ms_p95", "ms", None, None),
    ("percentile_rel_error_max", "", "<=", 0.01),
    ("aggregator_mb_per_1m", "MB", "<=", 20.0),
    ("aggregator_state_mb", "MB", None, None),
    ("process_rss_growth_mb", "MB", None, None),
    ("cli_report_s_1m", "s", "<=", 0.5),
    ("cli_report_mb_1m", "MB", "<=", 60.0),
    ("churn_memory_growth_pct", "%", "<=", 10.0),
    ("scrape_ms_1k", "ms", None, None),
    ("scrape_bytes_1k", "B", None, None),
    ("scrape_ms_10k", "ms", "<=", 300.0),
    ("scrape_bytes_10k", "B", None, None),
    ("alert_storm_route_ms", "ms", "<=", 500.0),
    ("alert_storm_lateness_ms_p99", "ms", None, None),
    ("alert_storm_lateness_off_ms_p99", "ms", None, None),
    ("alert_storm_lateness_ratio", "x", "<=", 1.25),
    ("ingest_heartbeats_per_s", "/s", ">=", 5_000),
    ("ingest_heartbeat_ms_p50", "ms", None, None),
    ("ingest_heartbeat_ms_p99", "ms", "<=", 20.0),
    ("pushgateway_per_s", "/s", None, None),
    ("ingest_vs_pushgateway", "x", ">=", 2.0),
    ("ingest_batched_per_s", "/s", ">=", 150_000),
    ("ingest_batched_vs_persist", "x", ">=", 0.8),
    ("agents_list_ms", "ms", None, None),
    ("dashboard_push_ms_p50", "ms", None, None),
    ("dashboard_push_ms_p99", "ms", "<=", 1000.0),
    ("dashboard_first_render_ms_10k", "ms", "<=", 2000.0),
    ("phi_detect_s_p99", "s", "<=", 8.0),
    ("phi_detect_s_p99_normal", "s", "<=", 8.0),
    ("fixed_detect_s_p99", "s", None, None),
    ("phi_false_failed", "", "<=", 0),
    ("fixed_false_failed", "", "<=", 0),
    ("outlier_precision", "", None, None),
    ("outlier_recall", "", None, None),
    ("regression_precision", "", None, None),
    ("regression_recall", "", None, None),
    ("at_risk_precision", "", None, None),
    ("at_risk_recall", "", None, None),
    ("slow_task_precision", "", None, None),
    ("slow_task_recall", "", None, None),
)
"""Each reported figure: key, unit, and its target as (comparison, bound), or None for context."""

OPTIONAL: Final = frozenset({"prometheus_observe_us_p50", "record_vs_prometheus",
                            "pushgateway_per_s", "ingest_vs_pushgateway"})
"""Figures that are null when their peer is missing: the ``bench`` extra (prometheus_client),
or Debian's prometheus-pushgateway binary."""

NEEDS_BROWSER: Final = frozenset({"dashboard_push_ms_p50", "dashboard_push_ms_p99",
                                  "dashboard_first_render_ms_10k"})
"""Figures that are null without Playwright and Debian's chromium."""

_WORKER: Final = "import sys, demo.bench; sys.exit(demo.bench.main(sys.argv[1:]))"
_ROOT: Final = str(Path(__file__).resolve().parent.parent)
_GROUP_TIMEOUT: Final = 900.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo bench",
        description="Measure swarmpulse's figures on this machine (asserts nothing about speed).",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes; under a minute")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to PATH as JSON")
    parser.add_argument("--only", metavar="GROUP", action="append", choices=list(GROUPS),
                        help="run only this group of figures (repeatable)")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=list(GROUPS), help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=list(MODES), default="full", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser


def run_group(name: str, sizes: Sizes) -> GroupResult:
    """Run one group in this process, in a temporary folder of its own."""
    with tempfile.TemporaryDirectory(prefix=f"swarmpulse-bench-{name}-") as workdir:
        return GROUPS[name](sizes, workdir)


def _run_isolated(name: str, mode: str) -> GroupResult:
    """Run one group in a fresh Python process; raise RuntimeError if it fails."""
    with tempfile.TemporaryDirectory(prefix="swarmpulse-bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-c", _WORKER, "--worker", name, "--mode", mode, "--out", out]
        # No group inherits another's disk writes: the persist, query and memory groups
        # leave hundreds of MB for the kernel to write back, and a timing group run
        # beside that write-back read 23-24 ms where it reads 2-6 ms alone.
        os.sync()
        try:
            done = subprocess.run(command, env=env, timeout=_GROUP_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"group {name} ran past {_GROUP_TIMEOUT:g} s") from None
        if done.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"group {name} failed (exit status {done.returncode})")
        with open(out, encoding="utf-8") as file:
            data = json.load(file)
    return GroupResult(figures=data["figures"], details=data["details"])


def _worker(name: str, mode: str, out: str) -> int:
    result = run_group(name, MODES[mode])
    with open(out, "w", encoding="utf-8") as file:
        json.dump({"figures": result.figures, "details": result.details}, file)
    return 0


def _machine(sizes: Sizes, isolated: bool) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "quick": sizes.mode != "full",
        "mode": sizes.mode,
        "sizes": sizes.as_dict(),
        "groups_isolated": isolated,
        "load_average_at_start": list(os.getloadavg()),
    }


def _met(value: float | None, op: str | None, bound: float | None) -> str:
    if value is None:
        return "skipped"
    if op is None or bound is None:
        return "context"
    met = value <= bound if op == "<=" else value >= bound
    return "yes" if met else "NO"


def _fmt(value: float | None) -> str:
    if value is None:
        return "null"
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.3f}"


def render_table(figures: dict[str, float | None], sizes: Sizes) -> str:
    """The figures as a plain text table: figure, value, target, met?"""
    rows = [("figure", "value", "target", "met?")]
    for key, unit, op, bound in FIGURES:
        if key not in figures:
            continue
        target = "-" if op is None or bound is None else f"{op} {_fmt(bound)} {unit}".rstrip()
        value = _fmt(figures[key])
        rows.append((key, f"{value} {unit}".rstrip(), target, _met(figures[key], op, bound)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if sizes.mode != "full":
        lines.append(f"({sizes.mode} sizes: the targets are for the full run)")
    return "\n".join(lines)


def _refuse_output(path: str) -> str | None:
    """Why the JSON report cannot be written to ``path``, or None when it can.

    Tried for real before the run (an empty file is created, then removed if it
    was not there), so a run of minutes never ends in a path it cannot write.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{path} is a folder"
    if not os.path.isdir(folder):
        return f"no folder {folder}"
    existed = os.path.exists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not existed:
        os.remove(path)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (1 when a group failed, 2 for a bad option)."""
    args = _parser().parse_args(argv)
    if args.json:
        args.json = os.path.expanduser(args.json)
        reason = _refuse_output(args.json)
        if reason is not None:
            print(f"python -m demo bench: error: cannot write --json {args.json}: {reason}",
                  file=sys.stderr)
            return 2
    if args.worker is not None:
        if args.out is None:
            raise SystemExit("--worker needs --out")
        return _worker(args.worker, args.mode, args.out)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = MODES[mode]
    names = args.only or list(GROUPS)
    report: dict[str, Any] = {"machine": _machine(sizes, not args.in_process)}
    figures: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    failed: list[str] = []
    started = time.perf_counter()
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            result = run_group(name, sizes) if args.in_process else _run_isolated(name, mode)
        except Exception as exc:  # noqa: BLE001 - reported, and the exit status says it
            print(f"bench: {name} FAILED: {exc!r}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        figures.update(result.figures)
        details[name] = {**result.details, "group_s": time.perf_counter() - t0}
    report["machine"]["run_s"] = time.perf_counter() - started
    report["machine"]["failed_groups"] = failed
    report.update({key: figures.get(key) for key, *_ in FIGURES})
    report["details"] = details
    print(render_table(figures, sizes))
    print(f"({report['machine']['run_s']:.1f} s, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2)
            file.write("\n")
    if failed:
        print(f"bench: failed groups: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
