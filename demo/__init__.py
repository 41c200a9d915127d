"""The demo swarm simulation, the benchmark, and the command line.

The demo run (``RunOptions``, ``RunResult``, ``run``) is imported on first
use: the command line's commands that only read a database never import the
actor system.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from demo.cli import main

if TYPE_CHECKING:
    from demo.simulation import RunOptions, RunResult, run

__all__ = ["RunOptions", "RunResult", "main", "run"]


def __getattr__(name: str) -> Any:
    if name in ("RunOptions", "RunResult", "run"):
        return getattr(importlib.import_module("demo.simulation"), name)
    raise AttributeError(f"module 'demo' has no attribute {name!r}")
