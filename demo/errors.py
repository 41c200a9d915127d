"""Errors the command line reports to a user as one line, with exit status 2."""

from __future__ import annotations

from collections.abc import Sequence

from messages import SwarmPulseError

__all__ = ["BadTimeExpression", "CommandError", "UnknownAgentId", "UsageError"]


class CommandError(SwarmPulseError):
    """Something the user asked for cannot be done; its text is the whole explanation."""


class UsageError(CommandError):
    """The command line itself is wrong (unknown option, bad value, missing argument).

    Attributes:
        prog: the command whose arguments were wrong (``swarmpulse query``).
        message: what was wrong, as argparse says it.
    """

    def __init__(self, prog: str, message: str) -> None:
        self.prog = prog
        self.message = message
        super().__init__(f"{message} (see {prog} --help)")


class BadTimeExpression(CommandError, ValueError):
    """A time option is neither a duration (``30s``, ``15m``, ``24h``, ``7d``) nor ISO 8601.

    Attributes:
        option: the option it was given to (``--since``).
        text: what the user wrote.
    """

    def __init__(self, option: str, text: str, reason: str | None = None) -> None:
        self.option = option
        self.text = text
        detail = reason or (
            "use a duration ago such as 30s, 15m, 24h or 7d, "
            "or an ISO 8601 time such as 2024-05-01T12:00:00 (naive means UTC)"
        )
        super().__init__(f"bad time expression {text!r} for {option}: {detail}")


class UnknownAgentId(CommandError, KeyError):
    """The database has never seen the agent asked for.

    Attributes:
        agent_id: the agent asked for.
        known: the agents the database does hold, sorted.
    """

    def __init__(self, agent_id: str, path: str, known: Sequence[str]) -> None:
        self.agent_id = agent_id
        self.known = list(known)
        shown = ", ".join(self.known[:8]) + (", ..." if len(self.known) > 8 else "")
        hint = f"known agents: {shown}" if self.known else "it holds no agent at all"
        super().__init__(f"no agent {agent_id!r} in {path} ({hint})")

    def __str__(self) -> str:
        # KeyError would quote the whole message.
        return str(self.args[0])
