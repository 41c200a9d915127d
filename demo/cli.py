"""The command line (placeholder until the simulation lands)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    print("swarmpulse: the message protocol is in place; the simulation is not built yet.")
    return 0
