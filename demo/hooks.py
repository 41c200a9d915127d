"""``swarmpulse beat`` and ``swarmpulse record``: one heartbeat or one task, from a shell hook.

For agents that report from a script (a Claude Code hook, a CI step, a cron
job): each call sends one message to a running ``swarmpulse serve`` through
:class:`server.client.RemoteSwarm` and exits 0 once the server has taken it;
1, with one line on stderr, when the server refused it or could not be
reached in ``--timeout`` seconds; 2 for a mistake in the arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from demo.errors import CommandError
from messages import InvalidMessage, TaskResult

if TYPE_CHECKING:  # imported when a hook runs: the reading commands start without httpx
    from server.client import RemoteSwarm

__all__ = ["HOOK_COMMANDS", "add_hook_parsers"]

URL_ENV: Final = "SWARMPULSE_URL"
TOKEN_ENV: Final = "SWARMPULSE_TOKEN"
EXIT_REFUSED: Final = 1


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds >= 0, not {text!r}")
    return value


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get(URL_ENV),
                        help=f"the server, e.g. http://127.0.0.1:8321 (default: ${URL_ENV})")
    parser.add_argument("--token", default=None,
                        help=f"the server's bearer token (default: ${TOKEN_ENV})")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="give up after this long without an answer (default: 10)")


def add_hook_parsers(commands: Any, whole: Callable[[int], Callable[[str], int]]) -> None:
    """Add ``beat`` and ``record`` to the CLI's subparsers."""
    beat = commands.add_parser(
        "beat", help="send one heartbeat to a swarmpulse server (for shell hooks)",
        description="Send one heartbeat for AGENT_ID to a running `swarmpulse serve`. "
                    "Exit 0 when taken, 1 when refused or unreachable.")
    _connection_options(beat)
    beat.add_argument("agent_id", metavar="AGENT_ID")

    record = commands.add_parser(
        "record", help="send one finished task to a swarmpulse server (for shell hooks)",
        description="Send one task metric to a running `swarmpulse serve`. "
                    "Exit 0 when stored, 1 when refused or unreachable.")
    _connection_options(record)
    record.add_argument("--tokens", type=whole(0), default=0, metavar="N", help="LLM tokens used")
    record.add_argument("--files", type=whole(0), default=0, metavar="N", help="files changed")
    record.add_argument("agent_id", metavar="AGENT_ID")
    record.add_argument("task_id", metavar="TASK_ID")
    record.add_argument("duration_ms", type=_milliseconds, metavar="DURATION_MS")
    record.add_argument("result", choices=[r.value for r in TaskResult], metavar="RESULT",
                        help=f"one of: {', '.join(r.value for r in TaskResult)}")


def _client(args: argparse.Namespace) -> RemoteSwarm:
    from server.client import RemoteSwarm

    if not args.url:
        raise CommandError(f"--url is required (or set {URL_ENV})")
    if not args.url.startswith(("http://", "https://")):
        raise CommandError(f"--url must start with http:// or https://, not {args.url!r}")
    if not 0 < args.timeout < float("inf"):
        raise CommandError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    retries = max(1, min(5, int(args.timeout)))
    return RemoteSwarm(args.url, token, timeout=args.timeout, retries=retries, max_backoff=1.0)


def _refused(command: str, reason: str) -> int:
    print(f"swarmpulse {command}: {reason}", file=sys.stderr)
    return EXIT_REFUSED


def command_beat(args: argparse.Namespace) -> int:
    """``swarmpulse beat``: one heartbeat, now."""
    from server.client import RemoteError

    with _client(args) as remote:
        try:
            taken = remote.update_agent_heartbeat(args.agent_id)
        except InvalidMessage as exc:
            raise CommandError(str(exc)) from None
        except RemoteError as exc:
            return _refused("beat", str(exc))
    if not taken:
        return _refused("beat", f"the server refused the heartbeat of {args.agent_id!r} "
                                "(is the agent registered?)")
    return 0


def command_record(args: argparse.Namespace) -> int:
    """``swarmpulse record``: one finished task, stored before the command returns."""
    remote = _client(args)
    try:
        try:
            remote.record_task_metric(args.task_id, args.agent_id, args.duration_ms, args.result,
                                      tokens_used=args.tokens, files_changed=args.files)
        except InvalidMessage as exc:
            raise CommandError(str(exc)) from None
        delivered = remote.flush(args.timeout)
    finally:
        remote.close(timeout=0.0 if not remote.buffered else 0.1)
    if remote.refused:
        refusal = remote.last_refusals[0] if remote.last_refusals else {}
        return _refused("record", f"the server refused the task: {refusal.get('field', '?')}: "
                                  f"{refusal.get('error', '?')}")
    if not delivered or remote.dropped:
        return _refused("record", f"not delivered: {remote.last_error or 'no answer in time'}")
    for note in remote.last_notes[:1]:  # taken, but worth a word (an unregistered agent)
        print(f"swarmpulse record: note: {note.get('note', '?')}", file=sys.stderr)
    return 0


HOOK_COMMANDS: Final[dict[str | None, Callable[[argparse.Namespace], int]]] = {
    "beat": command_beat,
    "record": command_record,
}
"""The hook subcommands by name, for the CLI's command table."""
