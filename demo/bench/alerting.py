"""An alert storm: the routing cost of 1,000 agents failing at once, and the trackers' lateness.

``alert_storm_route_ms``: the alert engine alone (no actors) takes the 3,000
alerts of 1,000 agents going DEGRADED, CRITICAL and FAILED, then flushes its
groups at ``group_wait`` and decides the notices (median of 5 runs).
``alert_storm_lateness_ms_p99``: the same storm for real, through the whole
system with alerting on (a webhook receiver on loopback): 1,000 agents
register and fall silent together; the lateness of each of their 3,000
transitions is timed in an alert callback, as the swarm benchmarks do.
``alert_storm_lateness_off_ms_p99``: the same storm with alerting off, in the
same run; ``alert_storm_lateness_ratio`` is the one over the other (target
<= 1.25: alerting may add at most a quarter to the storm's own lateness; 1,000
transitions due at the same instant are late by themselves).
"""

from __future__ import annotations

import http.server
import os
import statistics
import threading
import time
from typing import Any, Final

from actors import start_system
from actors.alerting import AlertEngine, load_config
from actors.alerting.sources import from_transition
from demo.bench.support import GroupResult, Sizes, percentile
from messages import HealthChanged, HealthState

__all__ = ["run_alerting"]

_STATES: Final = (HealthState.DEGRADED, HealthState.CRITICAL, HealthState.FAILED)


def _config(url: str) -> dict[str, Any]:
    return {"route": {"receiver": "hook", "group_wait": "1s"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": url}]}]}


def _route_once(agents: int) -> tuple[float, int]:
    engine = AlertEngine(load_config(_config("http://127.0.0.1:9/unused")), "bench")
    now = 1_700_000_000.0
    events = []
    for i in range(agents):
        previous = HealthState.HEALTHY
        for state in _STATES:
            events.append(HealthChanged(agent_id=f"agent-{i:05d}", previous=previous, current=state,
                                        at=now, heartbeat_age_ms=1000.0))
            previous = state
    starts: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    for event in events:
        for alert in from_transition(event, "bench", starts.setdefault(event.agent_id, {})):
            engine.put(alert, now)
        engine.observe_health(event.agent_id, event.current.value, now)
    engine.step(now + 1.0)
    notices = engine.due_notices(now + 1.0)
    return (time.perf_counter() - t0) * 1000.0, len(notices)


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[float] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Hook.received.append(time.time())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _storm(workdir: str, agents: int, alerting: bool = True) -> tuple[list[float], dict[str, Any]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, name="bench-webhook")
    thread.start()
    late: list[float] = []
    done = threading.Condition()

    def record(event: HealthChanged) -> None:
        with done:
            late.append((time.time() - event.at) * 1000.0)
            done.notify_all()

    url = f"http://127.0.0.1:{server.server_address[1]}/"
    system = start_system(os.path.join(workdir, f"storm-{alerting}.db"), heartbeat_interval_ms=1000,
                          alerting=_config(url) if alerting else None)
    try:
        system.configure_alerts(callbacks={state: record for state in _STATES})
        t0 = time.time()
        system.register_agents([f"agent-{i:05d}" for i in range(agents)])
        with done:
            complete = done.wait_for(lambda: len(late) >= 3 * agents, timeout=60)
        deadline = time.monotonic() + 30
        while alerting and not _Hook.received and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        stats = system.alerting_stats() if alerting else {"alerts_received": 0, "notices_decided": 0}
    finally:
        system.shutdown()
        server.shutdown()
        server.server_close()
        thread.join()
    if not complete:
        raise RuntimeError(f"only {len(late)} of {3 * agents} transitions arrived")
    return sorted(late), {
        "storm_notices_received": len(_Hook.received),
        "storm_first_notice_after_registration_s": (_Hook.received[0] - t0) if _Hook.received else None,
        "storm_alerts_received": stats["alerts_received"],
        "storm_notices_decided": stats["notices_decided"],
    }


def run_alerting(sizes: Sizes, workdir: str) -> GroupResult:
    """1,000 agents (100 in the smoke run) failing at once."""
    agents = 100 if sizes.mode == "smoke" else 1000
    runs = [_route_once(agents) for _ in range(5)]
    route_ms = statistics.median(ms for ms, _ in runs)
    late_off, _ = _storm(workdir, agents, alerting=False)
    late, details = _storm(workdir, agents)
    details.update({
        "agents": agents,
        "alerts_routed": 3 * agents,
        "route_ms_runs": [round(ms, 2) for ms, _ in runs],
        "route_notices_decided": runs[0][1],
        "storm_lateness_ms_p50": percentile(late, 0.5),
        "storm_lateness_ms_max": late[-1],
        "storm_lateness_without_alerting_ms_p50": percentile(late_off, 0.5),
    })
    return GroupResult(
        figures={"alert_storm_route_ms": route_ms,
                 "alert_storm_lateness_ms_p99": percentile(late, 0.99),
                 "alert_storm_lateness_off_ms_p99": percentile(late_off, 0.99),
                 "alert_storm_lateness_ratio": percentile(late, 0.99) / max(percentile(late_off, 0.99), 1.0)},
        details=details,
    )
