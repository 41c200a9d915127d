"""Tests for server/metrics.py: the Prometheus exposition of a running system."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from actors import ManualClock, SwarmSystem, start_system
from server import serve
from server.metrics import DURATION_BUCKETS_SECONDS, MetricsRenderer, metrics_registry, render_metrics

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """A clock that moves only when the test says."""
    clock = ManualClock()
    yield clock
    clock.close()


@pytest.fixture
def system(tmp_path: Path, clock: ManualClock) -> Iterator[SwarmSystem]:
    """A system on a real SQLite file, agents beating every second."""
    with start_system(str(tmp_path / "m.db"), heartbeat_interval_ms=1000, clock=clock) as system:
        yield system


def samples(system: SwarmSystem) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of one scrape, parsed by prometheus_client's own parser."""
    text = render_metrics(metrics_registry(system)).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    """A sample's key as :func:`samples` builds it."""
    return name, frozenset(labels.items())


def test_scrape_shows_each_agents_health_age_and_up(system: SwarmSystem, clock: ManualClock) -> None:
    """One series per state (current 1), the age in seconds, up 0 only once FAILED."""
    system.register_agent("alive")
    system.register_agent("silent")
    system.register_agent("dead", interval_ms=500, failure_threshold=2)
    for agent_id in ("alive", "silent", "dead"):
        system.check_agent_health(agent_id)  # its tracker has started and armed its timer
    clock.advance(1.5)
    system.update_agent_heartbeat("alive")
    clock.advance(0.25)
    got = samples(system)
    for state in ("healthy", "degraded", "critical", "failed"):
        assert got[key("swarmpulse_agent_health", agent_id="alive", state=state)] == (state == "healthy")
        assert got[key("swarmpulse_agent_health", agent_id="silent", state=state)] == (state == "degraded")
        assert got[key("swarmpulse_agent_health", agent_id="dead", state=state)] == (state == "failed")
    assert got[key("swarmpulse_agent_heartbeat_age_seconds", agent_id="alive")] == pytest.approx(0.25)
    assert got[key("swarmpulse_agent_heartbeat_age_seconds", agent_id="silent")] == pytest.approx(1.75)
    assert got[key("swarmpulse_agent_up", agent_id="silent")] == 1.0
    assert got[key("swarmpulse_agent_up", agent_id="dead")] == 0.0
    # alive degraded and recovered; silent degraded; dead degraded, went critical, failed
    assert got[key("swarmpulse_health_transitions_total", to="degraded")] == 3
    assert got[key("swarmpulse_health_transitions_total", to="healthy")] == 1
    assert got[key("swarmpulse_health_transitions_total", to="critical")] == 1
    assert got[key("swarmpulse_health_transitions_total", to="failed")] == 1
    assert got[key("swarmpulse_alerts_total", severity="warning")] == 3
    assert got[key("swarmpulse_alerts_total", severity="info")] == 1
    assert got[key("swarmpulse_alerts_total", severity="critical")] == 2


def test_scrape_counts_tasks_tokens_files_and_gauges(system: SwarmSystem) -> None:
    """Per agent and result, tasks, tokens and files are the recorded totals; gauges their latest."""
    system.register_agent("coder")
    system.record_task_metric("t1", "coder", 120.0, "success", tokens_used=500, files_changed=2)
    system.record_task_metric("t2", "coder", 80.0, "success", tokens_used=300, files_changed=1)
    system.record_task_metric("t3", "coder", 4000.0, "timeout", tokens_used=7)
    system.record_task_metric("t4", "tester", 10.0, "failure")
    system.record_agent_metric("coder", "queue_depth", 4.0)
    system.record_agent_metric("coder", "queue_depth", 2.0)
    got = samples(system)
    assert got[key("swarmpulse_tasks_total", agent_id="coder", result="success")] == 2
    assert got[key("swarmpulse_tasks_total", agent_id="coder", result="timeout")] == 1
    assert got[key("swarmpulse_tasks_total", agent_id="tester", result="failure")] == 1
    assert key("swarmpulse_tasks_total", agent_id="coder", result="failure") not in got
    assert got[key("swarmpulse_tokens_total", agent_id="coder")] == 807
    assert got[key("swarmpulse_files_changed_total", agent_id="coder")] == 3
    assert got[key("swarmpulse_agent_metric", agent_id="coder", metric_type="queue_depth")] == 2.0
    assert got[key("swarmpulse_pending_writes")] >= 0
    assert got[key("swarmpulse_dropped_total")] == 0
    assert got[key("swarmpulse_quarantined_total")] == 0


def test_duration_histogram_collapses_our_buckets_to_the_documented_bounds(system: SwarmSystem) -> None:
    """Buckets are the fixed bounds in seconds, cumulative, with sum and count of every task."""
    for i, duration_ms in enumerate([3.0, 40.0, 40.0, 2000.0, 700_000.0]):
        system.record_task_metric(f"t{i}", "a", duration_ms, "success")
    got = samples(system)
    name = "swarmpulse_task_duration_seconds"
    buckets = {
        float(labels["le"]): value
        for (sample, labels_set), value in got.items()
        if sample == f"{name}_bucket" and (labels := dict(labels_set))
    }
    assert sorted(buckets) == [*DURATION_BUCKETS_SECONDS, float("inf")]
    assert buckets[0.005] == 1
    assert buckets[0.025] == 1
    assert buckets[0.05] == 3
    assert buckets[2.5] == 4
    assert buckets[600.0] == 4
    assert buckets[float("inf")] == 5
    assert got[key(f"{name}_count")] == 5
    assert got[key(f"{name}_sum")] == pytest.approx(702.083)


def test_scrape_uses_its_own_registry_not_the_global_one(system: SwarmSystem) -> None:
    """Two systems in one process export side by side; the global registry stays clean."""
    system.register_agent("a")
    metrics_registry(system)
    assert REGISTRY.get_sample_value("swarmpulse_agent_up", {"agent_id": "a"}) is None
    assert metrics_registry(system).get_sample_value("swarmpulse_agent_up", {"agent_id": "a"}) == 1.0


def test_promtool_accepts_the_exposition(system: SwarmSystem, clock: ManualClock) -> None:
    """`promtool check metrics` (Prometheus's own linter) passes on a scrape of a busy system."""
    if not Path(PROMTOOL).exists():
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    for i in range(20):
        system.register_agent(f"agent-{i}")
        system.record_task_metric(f"t{i}", f"agent-{i}", 10.0 * i, "success" if i % 3 else "failure",
                                  tokens_used=i, files_changed=1)
        system.record_agent_metric(f"agent-{i}", "queue_depth", float(i))
    system.register_agent('odd "id" \\ {x="1"}')
    system.check_agent_health("agent-19")
    clock.advance(2.5)
    body = render_metrics(metrics_registry(system))
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                             timeout=30, check=False)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert b'agent_id="odd \\"id\\" \\\\ {x=\\"1\\"}"' in body


def test_metrics_endpoint_needs_the_token_and_serves_the_text_format(system: SwarmSystem) -> None:
    """GET /metrics: 401 without the bearer token, the exposition format with it."""
    system.register_agent("a")
    system.record_task_metric("t", "a", 5.0, "success")
    with serve(system, token="s3cret") as handle, httpx.Client(base_url=handle.url) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        answer = http.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        families = {f.name for f in text_string_to_metric_families(answer.text)}
        assert {"swarmpulse_agent_health", "swarmpulse_tasks", "swarmpulse_task_duration_seconds"} <= families
        assert 'swarmpulse_tasks_total{agent_id="a",result="success"} 1.0' in answer.text


def test_the_renderer_reuses_unchanged_families_and_renders_changed_ones(
    system: SwarmSystem, clock: ManualClock
) -> None:
    """Each render is what prometheus_client writes for the system now, unchanged families reused."""
    for agent_id in ("a", "b"):
        system.register_agent(agent_id)
        system.check_agent_health(agent_id)
    system.record_task_metric("t1", "a", 5.0, "success", tokens_used=7)
    system.record_agent_metric("a", "queue_depth", 3.0)
    system.flush(10.0)  # pending_writes stays put between the two renders compared
    renderer = MetricsRenderer(system.metrics_snapshot)
    assert renderer.render() == render_metrics(metrics_registry(system))
    assert renderer.reused == 0
    assert renderer.render() == render_metrics(metrics_registry(system))
    assert renderer.reused == 4  # health, up, gauges, task counters
    system.update_agent_heartbeat("a")
    clock.advance(1.5)  # b misses its beat: DEGRADED
    system.record_task_metric("t2", "b", 5.0, "failure", tokens_used=2)
    system.record_agent_metric("a", "queue_depth", 4.0)
    system.flush(10.0)
    text = renderer.render()
    assert text == render_metrics(metrics_registry(system))
    assert renderer.reused == 4  # all four changed
    assert b'swarmpulse_agent_health{agent_id="b",state="degraded"} 1.0' in text
    assert b'swarmpulse_tasks_total{agent_id="b",result="failure"} 1.0' in text
    assert b'swarmpulse_agent_metric{agent_id="a",metric_type="queue_depth"} 4.0' in text
