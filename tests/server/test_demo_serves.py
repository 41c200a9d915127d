"""``python -m demo`` serves its swarm over HTTP (``--port``), unless ``--no-serve``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "demo", "run", "--agents", "3", "--duration", "60",
         "--interval-ms", "200", "--seed", "1", "--no-live", *args],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return out


def test_the_demo_prints_its_url_and_serves_its_agents(tmp_path: Path) -> None:
    """The START line names the URL, and /v1/agents there lists the demo's three agents."""
    proc = _demo(tmp_path, "--port", "0")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    found = re.search(r"serving on (http://127\.0\.0\.1:\d+)", first)
    try:
        assert found is not None, first
        agents = httpx.get(f"{found.group(1)}/v1/agents", timeout=10).json()["agents"]
        assert len(agents) == 3
    finally:
        _finish(proc)


def test_no_serve_starts_no_server(tmp_path: Path) -> None:
    """With --no-serve the START line names no URL."""
    proc = _demo(tmp_path, "--no-serve")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    _finish(proc)
    assert "START" in first and "serving on" not in first
