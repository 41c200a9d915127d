"""``swarmpulse serve`` as a user runs it: one line when ready, a clean drain on a signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from demo.cli import main
from storage import MetricsStorage

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SWARMPULSE_TOKEN"}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _start(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo", "serve", "--db", str(tmp_path / "s.db"), "--port", "0",
         *args],
        cwd=tmp_path, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.fullmatch(r"swarmpulse: serving on (http://127\.0\.0\.1:(\d+))\n", line)
    if match is None:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"not the ready line: {line!r}; stderr: {err}")
    assert int(match.group(2)) > 0
    return proc, match.group(1)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_url_takes_data_and_drains_on_a_signal(
    tmp_path: Path, how: signal.Signals
) -> None:
    """The ready line names the free port; after SIGTERM/SIGINT: exit 0, every metric stored."""
    proc, url = _start(tmp_path, "--swarm-id", "cmd", "--interval-ms", "60000")
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.post("/v1/agents", json={"agent_id": "w1"}).status_code == 201
            metrics = [{"type": "task_metric", "task_id": f"t{i}", "agent_id": "w1",
                        "duration_ms": 10.0 + i, "result": "success"} for i in range(500)]
            assert http.post("/v1/metrics", json=metrics).json()["accepted"] == 500
        proc.send_signal(how)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == ""  # the ready line was the only one
    assert "Traceback" not in err
    with MetricsStorage(str(tmp_path / "s.db"), create=False) as storage:
        assert storage.task_stats()["total_tasks"] == 500
        assert [a.agent_id for a in storage.agents()] == ["w1"]


def test_serve_takes_its_token_from_the_environment(tmp_path: Path) -> None:
    """With SWARMPULSE_TOKEN set, a request without it gets 401, one with it 200."""
    proc, url = _start(tmp_path, SWARMPULSE_TOKEN="from-env")
    try:
        assert httpx.get(f"{url}/v1/agents").status_code == 401
        auth = {"Authorization": "Bearer from-env"}
        assert httpx.get(f"{url}/v1/agents", headers=auth).status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0


def test_serve_beyond_loopback_without_a_token_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--host 0.0.0.0 and no token: one line naming the address, exit 2, nothing started."""
    monkeypatch.delenv("SWARMPULSE_TOKEN", raising=False)
    code = main(["serve", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "0.0.0.0" in err and "token" in err
    assert not (tmp_path / "x.db").exists()


def test_serve_on_a_taken_port_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A port another socket holds: one line, exit 2, no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--db", str(tmp_path / "y.db")])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in err
