"""The README's curl hook runs as written against a real server (where curl is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from actors import SwarmSystem
from server import ServerHandle

README = Path(__file__).resolve().parents[2] / "README.md"


def _curl_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "curl -s" in b)
    return block.replace("\\\n", " ").strip().splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_hook_registers_beats_and_records(running: ServerHandle, system: SwarmSystem) -> None:
    """Each curl line of the README, pointed at the test's port, does what the README says."""
    lines = _curl_lines()
    assert len(lines) == 3
    for line in lines:
        command = line.replace("http://127.0.0.1:8321", running.url)
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30,
                              check=True)
        assert '"error"' not in done.stdout, done.stdout
    status = system.get_agent_health_status("hook-1")
    assert status is not None and status["heartbeats"] == 1
    assert [m.task_id for m in system.query_task_metrics()] == ["run-42"]
