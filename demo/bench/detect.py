"""Detectors on simulated swarms: failure detection time against false FAILED, and the
precision and recall of the anomaly detectors on injected faults.

Everything runs in simulated time with the same detector objects the trackers and
the analytics actor use (``actors.analytics``), so an hour of 1,000 agents takes
seconds. Each agent's silence is measured as a tracker measures it: the time since
its last beat arrived, less the monitor's own stalls.

Failure detection, three scenarios of 1,000 agents beating every 5 s for an hour,
each agent dying at a random moment in the second half hour:
- ``normal``: each beat sent with N(0, 200 ms) jitter;
- ``heavy``: the same, and 3% of beats late by 1 to 3 s (uniform);
- ``pauses``: normal jitter, and the whole monitor paused for 2 s every 2 to 5 minutes
  (beats sent in a pause are seen at its end; the pause is grace for everyone).

Anomaly detection, synthetic swarms of 12 agents in 3 roles over 2 hours, 10 tasks a
minute each, lognormal durations (sigma 0.25), with one fault injected per swarm:
- ``slow agent``: one agent's tasks take 2.5 x its role peers' from the start;
- ``step``: one agent's tasks take 1.6 x longer from minute 60 on;
- ``drift``: one agent's heartbeat gaps grow by 0.3% a beat from minute 60 on;
- ``burst``: one agent has 8 tasks in a row 6 x slower at minute 70;
- ``noise``: nothing injected.
A detector's flag on the faulty agent of the fault it is meant for is a true
positive; any flag on another agent (or in ``noise``) is a false positive.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, Final

from actors.analytics import (
    FAILURE_SHIFT,
    P95_SHIFT,
    FixedDetector,
    GapTrend,
    KindStats,
    PageHinkley,
    PhiDetector,
    PhiSettings,
    RecentWindow,
    peer_outliers,
)
from actors.analytics.detector import Detector
from demo.bench.support import GroupResult, Sizes
from messages import HealthState

__all__ = ["run_detectors", "simulate_failures", "simulate_anomalies"]

_FAILED: Final = HealthState.FAILED
_SCENARIOS: Final = ("normal", "heavy", "pauses")
_FAULTS: Final = ("slow_agent", "step", "drift", "burst", "noise")
_TARGET: Final = {"outlier": "slow_agent", "regression": "step", "at_risk": "drift",
                  "slow_task": "burst"}


def _overlap(a: float, b: float, stalls: list[tuple[float, float]]) -> float:
    if not stalls:
        return 0.0
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in stalls if s < b and e > a)


def simulate_failures(
    scenario: str, agents: int, make: Callable[[], Detector], *, seed: int = 7,
    hour: float = 3600.0, interval: float = 5.0,
) -> dict[str, float]:
    """One scenario: false FAILED over the run, and the detection time of each death."""
    rng = random.Random(seed)
    stalls: list[tuple[float, float]] = []
    if scenario == "pauses":
        t = rng.uniform(60.0, 240.0)
        while t < hour:
            stalls.append((t, t + 2.0))
            t += rng.uniform(120.0, 300.0)
    false_failed = 0
    beats = 0
    longest = 0.0
    over_8s = 0  # gaps longer than 8 s: what a detector convicting within 8 s mistakes for a death
    detect: list[float] = []
    for _ in range(agents):
        detector = make()
        phase = rng.uniform(0.0, interval)
        death = rng.uniform(hour / 2, hour)
        last = phase  # registration counts as a beat
        k = 1
        while True:
            sent = phase + k * interval + rng.gauss(0.0, 0.2)
            k += 1
            if scenario == "heavy" and rng.random() < 0.03:
                sent += rng.uniform(1.0, 3.0)
            if sent >= death:
                break
            seen = sent
            for start, end in stalls:
                if start <= sent < end:
                    seen = end
                    break
            if seen <= last:
                continue
            silence = seen - last - _overlap(last, seen, stalls)
            beats += 1
            longest = max(longest, silence)
            over_8s += silence > 8.0
            if silence >= detector.boundary(_FAILED):
                false_failed += 1
            detector.add_gap(silence)
            last = seen
        need = detector.boundary(_FAILED)
        at = last + need
        for _ in range(8):  # stalls inside the silence are grace: extend until it settles
            later = last + need + _overlap(last, at, stalls)
            if later == at:
                break
            at = later
        detect.append(at - last)
    detect.sort()
    return {
        "false_failed": false_failed,
        "beats": beats,
        "gap_s_max": longest,
        "gaps_over_8s": over_8s,
        "detect_s_p50": detect[len(detect) // 2],
        "detect_s_p99": detect[min(len(detect) - 1, math.ceil(0.99 * len(detect)) - 1)],
        "detect_s_max": detect[-1],
    }


def _swarm(fault: str, rng: random.Random, minutes: int) -> dict[str, Any]:
    """Tasks per agent per minute, heartbeat gaps per agent, and who is faulty."""
    roles = ("coder", "tester", "reviewer")
    agents = [f"{role}-{i}" for role in roles for i in range(4)]
    base = {role: rng.uniform(500.0, 5000.0) for role in roles}
    faulty = rng.choice(agents) if fault != "noise" else None
    tasks: dict[str, list[list[float]]] = {}
    gaps: dict[str, list[float]] = {}
    for agent in agents:
        role = agent.split("-")[0]
        scale = base[role] * rng.uniform(0.9, 1.1)
        per_minute: list[list[float]] = []
        for minute in range(minutes):
            factor = 1.0
            if agent == faulty and fault == "slow_agent":
                factor = 2.5
            if agent == faulty and fault == "step" and minute >= 60:
                factor = 1.6
            row = [scale * factor * math.exp(rng.gauss(0.0, 0.25)) for _ in range(10)]
            if agent == faulty and fault == "burst" and minute == 70:
                row[:8] = [v * 6.0 for v in row[:8]]
            per_minute.append(row)
        tasks[agent] = per_minute
        interval = 5.0
        agent_gaps = []
        growth = 1.0
        for beat in range(minutes * 12):
            if agent == faulty and fault == "drift" and beat >= 60 * 12:
                growth *= 1.003
            agent_gaps.append(max(0.0, interval * 0.8 * growth + rng.gauss(0.0, 0.1)))
        gaps[agent] = agent_gaps
    return {"agents": agents, "tasks": tasks, "gaps": gaps, "faulty": faulty}


def _flags(swarm: dict[str, Any]) -> dict[str, set[str]]:
    """Which agents each detector flags over the swarm's run."""
    flags: dict[str, set[str]] = {name: set() for name in _TARGET}
    tasks: dict[str, list[list[float]]] = swarm["tasks"]
    for agent, per_minute in tasks.items():
        stats = KindStats()
        shift = PageHinkley(P95_SHIFT)
        for row in per_minute:
            for duration in row:
                event = stats.observe(duration)
                if event is not None and event[0] == "opened":
                    flags["slow_task"].add(agent)
            window = RecentWindow(len(row))
            for duration in row:
                window.add(duration)
            if shift.update(window.percentile(95.0)):
                flags["regression"].add(agent)
        trend = GapTrend()
        for gap in swarm["gaps"][agent]:
            if trend.add(gap) and trend.at_risk:
                flags["at_risk"].add(agent)
    # outliers among role peers: p95 over the last 30 minutes, checked every 10 minutes
    minutes = len(next(iter(tasks.values())))
    for end in range(30, minutes + 1, 10):
        by_role: dict[str, dict[str, float]] = {}
        for agent, per_minute in tasks.items():
            window = RecentWindow(300)
            for row in per_minute[end - 30:end]:
                for duration in row:
                    window.add(duration)
            by_role.setdefault(agent.split("-")[0], {})[agent] = window.percentile(95.0)
        for peers in by_role.values():
            flags["outlier"].update(peer_outliers(peers))
    return flags


def simulate_anomalies(swarms: int, *, seed: int = 21, minutes: int = 120) -> dict[str, Any]:
    """Precision and recall of each detector, per fault, over ``swarms`` swarms per fault."""
    rng = random.Random(seed)
    counts = {name: {fault: {"tp": 0, "fp": 0, "faulty": 0} for fault in _FAULTS}
              for name in _TARGET}
    for fault in _FAULTS:
        for _ in range(swarms):
            swarm = _swarm(fault, rng, minutes)
            flagged = _flags(swarm)
            for name, agents in flagged.items():
                cell = counts[name][fault]
                meant = _TARGET[name] == fault
                if meant:
                    cell["faulty"] += 1
                for agent in agents:
                    if meant and agent == swarm["faulty"]:
                        cell["tp"] += 1
                    elif agent != swarm["faulty"]:
                        cell["fp"] += 1
    table: dict[str, Any] = {}
    for name, by_fault in counts.items():
        target = by_fault[_TARGET[name]]
        fp_all = sum(cell["fp"] for cell in by_fault.values())
        tp = target["tp"]
        table[name] = {
            "target_fault": _TARGET[name],
            "recall": tp / target["faulty"] if target["faulty"] else None,
            "precision": tp / (tp + fp_all) if tp + fp_all else None,
            "false_positives": {fault: cell["fp"] for fault, cell in by_fault.items()},
            "swarms_per_fault": swarms,
        }
    return table


def run_detectors(sizes: Sizes, workdir: str) -> GroupResult:
    """phi against fixed thresholds in three scenarios, and the anomaly detectors' table."""
    agents = {"full": 1000, "quick": 100, "smoke": 10}.get(sizes.mode, 1000)
    swarms = {"full": 20, "quick": 3, "smoke": 1}.get(sizes.mode, 20)
    detectors: dict[str, Callable[[], Detector]] = {
        "fixed": lambda: FixedDetector(5.0, 3),
        "phi": lambda: PhiDetector(5.0),
        "phi_pause_3s": lambda: PhiDetector(5.0, PhiSettings(acceptable_pause=3.0)),
    }
    failures: dict[str, dict[str, dict[str, float]]] = {}
    for name, make in detectors.items():
        failures[name] = {s: simulate_failures(s, agents, make) for s in _SCENARIOS}
    anomalies = simulate_anomalies(swarms)
    result = GroupResult()
    result.figures["phi_detect_s_p99"] = max(failures["phi"][s]["detect_s_p99"] for s in _SCENARIOS)
    result.figures["phi_detect_s_p99_normal"] = failures["phi"]["normal"]["detect_s_p99"]
    result.figures["fixed_detect_s_p99"] = max(
        failures["fixed"][s]["detect_s_p99"] for s in _SCENARIOS)
    result.figures["phi_false_failed"] = sum(failures["phi"][s]["false_failed"] for s in _SCENARIOS)
    result.figures["fixed_false_failed"] = sum(
        failures["fixed"][s]["false_failed"] for s in _SCENARIOS)
    for name, row in anomalies.items():
        result.figures[f"{name}_precision"] = row["precision"] if row["precision"] is not None else 0.0
        result.figures[f"{name}_recall"] = row["recall"] if row["recall"] is not None else 0.0
    result.details = {"agents": agents, "simulated_s": 3600.0, "interval_s": 5.0,
                      "failure_detection": failures, "anomalies": anomalies}
    return result
