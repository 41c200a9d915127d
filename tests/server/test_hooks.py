"""Tests for demo/hooks.py and the README's curl hook: shell commands against the real server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import SwarmSystem
from server import ServerHandle, serve

TOKEN = "hook-token"
README = Path(__file__).resolve().parents[2] / "README.md"
CURL = shutil.which("curl") or "/usr/bin/curl"


@pytest.fixture
def server(system: SwarmSystem) -> Iterator[ServerHandle]:
    """The real server with a token, on a free loopback port."""
    with serve(system, token=TOKEN) as handle:
        yield handle


def swarmpulse(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line in a fresh interpreter, as a shell hook would."""
    return subprocess.run([sys.executable, "-m", "demo", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})}, check=False)


def heartbeats(system: SwarmSystem, agent_id: str) -> int:
    """How many heartbeats the agent's tracker has counted."""
    status = system.get_agent_health_status(agent_id)
    assert status is not None
    count: int = status["heartbeats"]
    return count


def test_beat_sends_one_heartbeat(server: ServerHandle, system: SwarmSystem) -> None:
    """`swarmpulse beat` exits 0 and the agent's tracker has one more heartbeat."""
    system.register_agent("coder-1")
    before = heartbeats(system, "coder-1")
    done = swarmpulse("beat", "--url", server.url, "--token", TOKEN, "coder-1")
    assert done.returncode == 0, done.stderr
    assert heartbeats(system, "coder-1") == before + 1


def test_record_stores_one_task_with_tokens_and_files(server: ServerHandle, system: SwarmSystem) -> None:
    """`swarmpulse record` exits 0 once the task is stored (token taken from the environment);
    of an agent that is not registered, it says so on stderr."""
    done = swarmpulse("record", "--url", server.url, "--tokens", "812", "--files", "3",
                      "coder-1", "task-7", "1520.5", "success", env={"SWARMPULSE_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ("swarmpulse record: note: agent not registered; stored (policy store)\n")
    [stored] = system.query_task_metrics(agent_id="coder-1")
    assert (stored.task_id, stored.duration_ms, stored.result.value, stored.tokens_used,
            stored.files_changed) == ("task-7", 1520.5, "success", 812, 3)
    system.register_agent("coder-2")
    quiet = swarmpulse("record", "--url", server.url, "--token", TOKEN, "coder-2", "t", "5", "success")
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_hooks_say_in_one_line_when_refused_or_mistaken(server: ServerHandle) -> None:
    """A wrong token or a dead server: exit 1 and one line; a bad argument: exit 2."""
    wrong = swarmpulse("beat", "--url", server.url, "--token", "nope", "coder-1")
    assert wrong.returncode == 1 and "401" in wrong.stderr and len(wrong.stderr.splitlines()) == 1
    lost = swarmpulse("record", "--url", server.url, "--token", "nope", "a", "t", "5", "success")
    assert lost.returncode == 1 and "401" in lost.stderr
    bad = swarmpulse("record", "--url", server.url, "a", "t", "-5", "success")
    assert bad.returncode == 2 and "DURATION_MS" in bad.stderr
    no_url = swarmpulse("beat", "coder-1", env={"SWARMPULSE_URL": ""})
    assert no_url.returncode == 2 and "--url" in no_url.stderr


def test_the_readme_curl_hook_runs_against_the_real_server(
    server: ServerHandle, system: SwarmSystem, tmp_path: Path
) -> None:
    """The README's curl block, run by bash with curl, beats and records as it says."""
    if not Path(CURL).exists():
        pytest.skip("curl is not installed")
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
              if "curl " in b and "$SWARMPULSE_URL" in b]  # the hook section's block
    assert len(blocks) == 1
    system.register_agent("coder-1")
    before = heartbeats(system, "coder-1")
    done = subprocess.run(["bash", "-euc", blocks[0]], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={"PATH": str(Path(CURL).parent) + ":/usr/bin:/bin",
                                             "SWARMPULSE_URL": server.url,
                                             "SWARMPULSE_TOKEN": TOKEN}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"accepted":1' in done.stdout.replace(" ", "")
    assert heartbeats(system, "coder-1") == before + 1
    [stored] = system.query_task_metrics(agent_id="coder-1")
    assert (stored.task_id, stored.tokens_used, stored.files_changed) == ("task-7", 812, 3)
