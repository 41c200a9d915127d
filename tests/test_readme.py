"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_examples() -> None:
    """There are examples to run (so the next test cannot pass vacuously)."""
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs_as_written(code: str, tmp_path: Path) -> None:
    """Each Python block runs in a fresh interpreter and prints what its comments say."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    expected = [m.strip() for m in re.findall(r"print\(.*\)\s+# (\S+)", code)]
    for value in expected:
        assert value.rstrip(",") in done.stdout
