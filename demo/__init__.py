"""The demo swarm simulation, the benchmark, and the command line."""

from demo.cli import main
from demo.simulation import RunOptions, RunResult, run

__all__ = ["RunOptions", "RunResult", "main", "run"]
