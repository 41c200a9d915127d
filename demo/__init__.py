"""The demo swarm simulation, the benchmark, and the command line."""

from demo.cli import main

__all__ = ["main"]
