"""Durable alert state: after a restart, and after a SIGKILL, on the same SQLite file."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from actors import ManualClock, start_system
from messages.alerting import SilenceMatcher, SilenceSpec
from tests.alerting.conftest import Receiver, alert, delivered, settle, sync, wait_stats, webhook_config
from tests.alerting.test_escalation import _config, _paths
from tests.reliability.conftest import FAILED, LogWatch, read_only, writable, writer_connection


def test_a_restart_notifies_no_group_twice_forgets_no_silence_and_carries_on_escalating(
    clock: ManualClock, receiver: Receiver, tmp_path: Path
) -> None:
    """Notified, silenced and at escalation level 0 before; after: nothing repeated, the
    silence still mutes, the manager is paged when level 0's delay runs out."""
    db = str(tmp_path / "swarm.db")
    config = _config(receiver.url)
    page = alert("Down", "db", at=clock.time(), severity="critical")
    with start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
        swarm.send_alert(page)
        clock.advance(30)
        delivered(swarm, receiver, 2)  # oncall at once, the team's group at 30 s
        silence_id = swarm.add_silence(SilenceSpec(
            matchers=[SilenceMatcher(name="agent_id", value="cache")], starts_at=clock.time(),
            ends_at=clock.time() + 7200, created_by="ops", comment="planned"))
    assert sorted(r.path for r in receiver.handled) == ["/hook", "/oncall"]
    clock.advance(60)
    with start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
        [(spec, state)] = swarm.list_silences()
        assert (spec.silence_id, state) == (silence_id, "active")
        swarm.send_alert(page)  # the source raises it again: the log knows it was told
        swarm.send_alert(alert("Down", "cache", at=clock.time(), severity="warning"))
        clock.advance(120)
        assert settle(swarm)["notices_decided"] == 0
        clock.advance(90)  # 5 min after the first page: level 1
        delivered(swarm, receiver, 3)
        clock.advance(3600)
        settle(swarm)
    assert _paths(receiver) == ["/oncall", "/manager"]
    assert [r.path for r in receiver.handled].count("/hook") == 1


_CHILD = textwrap.dedent("""
    import json, sys, threading
    from actors import start_system
    from messages.alerting import AlertInstance
    db, config, count = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    swarm = start_system(db, swarm_id="s", alerting=config)
    for i in range(count):
        swarm.send_alert(AlertInstance(
            labels={"alertname": "Down", "agent_id": f"a{i:04d}", "swarm_id": "s",
                    "severity": "critical"}, starts_at=1.7e9))
    print("sent", flush=True)
    threading.Event().wait()  # until SIGKILL
""")


def test_a_sigkill_in_the_middle_of_a_storm_then_a_restart_notifies_every_group_once(
    receiver: Receiver, tmp_path: Path
) -> None:
    """400 one-alert groups; the process is killed while notifying; the restart (the sources
    raising their alerts again) completes the storm: every group decided once, in all."""
    count = 400
    db = str(tmp_path / "swarm.db")
    config = webhook_config(receiver.url, group_wait="0s", group_interval="1m",
                            group_by=["alertname", "agent_id"])
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, db, json.dumps(config), str(count)],
                             env=env, stdout=subprocess.PIPE, text=True)
    try:
        receiver.wait_for(count // 4, timeout=60)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    before = len(receiver.requests)
    assert before < count, "the storm was over before the kill: nothing to test"
    clock = ManualClock(start=__import__("time").time())
    try:
        with start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
            for i in range(count):
                swarm.send_alert(alert("Down", f"a{i:04d}", at=1.7e9, severity="critical"))
            clock.advance(1)
            wait_stats(swarm, "notices_delivered", 1)
            settle(swarm, timeout=60)
            receiver.wait_for(len(receiver.requests))
            clock.advance(600)
            settle(swarm, timeout=60)
    finally:
        clock.close()
    keys = collections.defaultdict(set)
    for r in receiver.handled:
        keys[r.body["groupLabels"]["agent_id"]].add(r.headers["Idempotency-Key"])
    assert len(keys) == count  # every group notified ...
    assert all(len(ids) == 1 for ids in keys.values())  # ... exactly once, counted by key
    per_group = collections.Counter(r.body["groupLabels"]["agent_id"] for r in receiver.handled)
    repeated = {group for group, n in per_group.items() if n > 1}
    out_at_kill = {r.body["groupLabels"]["agent_id"] for r in receiver.requests[:before]}
    print(f"killed after {before} requests; groups whose attempt was repeated: {sorted(repeated)}")
    assert max(per_group.values()) <= 2  # a repeat at most once per group ...
    assert repeated <= out_at_kill  # ... only of an attempt that was out at the kill ...
    assert len(repeated) <= 1  # ... and one integration has one attempt out at a time


def test_a_storage_outage_is_notified_while_storage_is_down_and_its_log_stored_after(
    clock: ManualClock, receiver: Receiver, tmp_path: Path
) -> None:
    """The writer refuses every write: StorageOutage still reaches the receiver (its notice
    cannot be stored first); once storage is back the state is stored, the alert resolves,
    and a restart on the file notifies nothing again."""
    import threading
    import time

    db = str(tmp_path / "swarm.db")
    config = webhook_config(receiver.url, group_wait="0s", group_interval="1m")
    with LogWatch("swarmpulse.writer") as log, \
            start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
        swarm.flush()
        conn = writer_connection(swarm)
        read_only(conn)
        try:
            swarm.record_task_execution("t1", "a1", 10.0, success=True)
            clock.advance(1)  # the tick drains it; the write fails
            log.wait_for(FAILED)
            clock.advance(1)  # the next tick sees the writer backing off
            first = receiver.wait_for(1)[0]
            assert sync(swarm)["state_store_down"]
        finally:
            writable(conn)
        deadline, pause = time.monotonic() + 10, threading.Event()

        def recovered() -> bool:
            stats = sync(swarm)
            return (not stats["state_store_down"] and not stats["state_unsaved"]
                    and all(a["status"] == "resolved" for a in swarm.list_alerts()))

        while not recovered():
            assert time.monotonic() < deadline, f"never recovered: {sync(swarm)}"
            clock.advance(1)  # the writer's and the router's retries, the tick that sees it
            pause.wait(0.01)
        clock.advance(120)  # the outage is over: resolved at the next group interval
        second = delivered(swarm, receiver, 2)[1]
    with start_system(db, swarm_id="s", clock=clock, alerting=config) as swarm:
        clock.advance(600)
        assert settle(swarm)["notices_decided"] == 0
    assert first.body["alerts"][0]["labels"]["alertname"] == "StorageOutage"
    assert (first.body["status"], second.body["status"]) == ("firing", "resolved")
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]
    assert len(receiver.requests) == 2
