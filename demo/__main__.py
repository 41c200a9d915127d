"""``python -m demo``: the demo swarm, and the command line for its database."""

from demo.cli import main

raise SystemExit(main(prog="python -m demo"))
