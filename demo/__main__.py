"""``python -m demo``: the swarm simulation and the command line."""

from demo.cli import main

raise SystemExit(main())
