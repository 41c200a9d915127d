"""Alert management on the command line: ``swarmpulse check-config FILE``.

Registered into :mod:`demo.cli` by :func:`add_parsers` and :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Final

from actors.alerting import AlertingSettings, load_config

__all__ = ["COMMANDS", "add_parsers", "describe"]


def add_parsers(commands: Any) -> None:
    """Add the alerting subcommands to the CLI's subparsers."""
    check = commands.add_parser(
        "check-config", help="validate an alerting configuration (TOML) without starting anything",
        description="Read and check an alerting configuration: Alertmanager's route, receivers "
                    "and inhibit_rules in TOML, plus escalation_policies and flapping. The first "
                    "mistake is printed as its key path, the value and what was expected "
                    "(exit status 2); environment variables named by *_env must be set.")
    check.add_argument("file", help="the TOML file")


def describe(settings: AlertingSettings) -> str:
    """One line summing up a checked configuration."""
    def count(route: Any) -> int:
        return 1 + sum(count(child) for child in route.routes)

    integrations = sum(len(v) for v in settings.receivers.values())
    return (f"{len(settings.receivers)} receivers ({integrations} integrations), "
            f"{count(settings.route)} routes, {len(settings.inhibit_rules)} inhibit rules, "
            f"{len(settings.escalation_policies)} escalation policies")


def _check_config(args: argparse.Namespace) -> int:
    settings = load_config(str(args.file))  # InvalidMessage: one line on stderr, status 2
    print(f"{args.file}: ok: {describe(settings)}")
    return 0


COMMANDS: Final[dict[str | None, Callable[[argparse.Namespace], int]]] = {
    "check-config": _check_config,
}
