"""Alert management on the command line.

``swarmpulse check-config FILE`` validates a configuration without starting
anything; ``swarmpulse silence add|list|expire`` and ``swarmpulse ack`` drive a
running ``swarmpulse serve --config FILE`` over its HTTP API (``--url``, default
``$SWARMPULSE_URL`` or ``http://127.0.0.1:8321``; ``--token``, default
``$SWARMPULSE_TOKEN``). Registered into :mod:`demo.cli` by :func:`add_parsers`
and :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Callable
from typing import Any, Final

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reading commands must not load the actor system
    from actors.alerting import AlertingSettings
from demo.errors import CommandError

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

    silence = commands.add_parser(
        "silence", help="add, list or expire silences of a running server",
        description="Silences of a running `swarmpulse serve --config FILE`, through its HTTP "
                    "API (Alertmanager's v2 silence body).")
    actions = silence.add_subparsers(dest="silence_action", title="actions", metavar="ACTION",
                                     required=True)
    add = actions.add_parser("add", help="silence alerts matching every --matcher")
    add.add_argument("--matcher", "-m", action="append", required=True, metavar="M",
                     help='a matcher such as agent_id=db or severity=~"warning|info" (repeatable)')
    add.add_argument("--duration", default="1h", help="how long from --start (default: 1h)")
    add.add_argument("--start", default=None, help="an ISO 8601 time (default: now)")
    add.add_argument("--by", required=True, help="who creates it")
    add.add_argument("--comment", required=True, help="why")
    listing = actions.add_parser("list", help="every silence with its state")
    expire = actions.add_parser("expire", help="expire a silence now")
    expire.add_argument("silence_id", help="its id, as add or list printed it")
    ack = commands.add_parser("ack", help="acknowledge an alert of a running server",
                              description="Acknowledge an alert by fingerprint: its escalation "
                                          "holds until the acknowledgement times out.")
    ack.add_argument("fingerprint", help="the alert's 16 hex digits")
    ack.add_argument("--by", required=True, help="who acknowledges")
    ack.add_argument("--comment", default="", help="a note")
    for parser in (add, listing, expire, ack):
        parser.add_argument("--url", default=os.environ.get("SWARMPULSE_URL", _DEFAULT_URL),
                            help=f"the server (default: $SWARMPULSE_URL or {_DEFAULT_URL})")
        parser.add_argument("--token", default=os.environ.get("SWARMPULSE_TOKEN"),
                            help="the bearer token (default: $SWARMPULSE_TOKEN)")


def describe(settings: AlertingSettings) -> str:
    """One line summing up a checked configuration."""
    def count(route: Any) -> int:
        return 1 + sum(count(child) for child in route.routes)

    integrations = sum(len(v) for v in settings.receivers.values())
    return (f"{len(settings.receivers)} receivers ({integrations} integrations), "
            f"{count(settings.route)} routes, {len(settings.inhibit_rules)} inhibit rules, "
            f"{len(settings.escalation_policies)} escalation policies")


def _check_config(args: argparse.Namespace) -> int:
    from actors.alerting import load_config

    settings = load_config(str(args.file))  # InvalidMessage: one line on stderr, status 2
    print(f"{args.file}: ok: {describe(settings)}")
    return 0


_DEFAULT_URL: Final = "http://127.0.0.1:8321"
_OPS: Final = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}


def _request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    import httpx  # only here: the reading commands start without it (about 120 ms)

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        reply = httpx.request(method, args.url.rstrip("/") + path, json=body, headers=headers,
                              timeout=10.0)
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot reach {args.url}: {exc}") from None
    if reply.status_code >= 400:
        try:
            reason = reply.json().get("error", reply.text)
        except ValueError:
            reason = reply.text
        raise CommandError(f"{method} {path}: {reply.status_code}: {reason}")
    return reply.json()


def _silence(args: argparse.Namespace) -> int:
    from actors.alerting import parse_duration, parse_matcher

    if args.silence_action == "add":
        matchers = []
        for i, text in enumerate(args.matcher):
            m = parse_matcher(text, f"--matcher[{i}]")
            spec = m.to_silence()
            matchers.append({"name": spec.name, "value": spec.value, "isRegex": spec.is_regex,
                             "isEqual": spec.is_equal})
        start = (dt.datetime.now(dt.UTC) if args.start is None
                 else dt.datetime.fromisoformat(args.start).replace(tzinfo=dt.UTC))
        end = start + dt.timedelta(seconds=parse_duration(args.duration, "--duration"))
        answer = _request(args, "POST", "/v1/silences", {
            "matchers": matchers, "startsAt": start.isoformat(), "endsAt": end.isoformat(),
            "createdBy": args.by, "comment": args.comment})
        print(answer["silenceID"])
    elif args.silence_action == "list":
        for s in _request(args, "GET", "/v1/silences"):
            shown = ",".join(
                f"{m['name']}{_OPS[(bool(m.get('isRegex')), bool(m.get('isEqual', True)))]}"
                f"{m['value']}" for m in s["matchers"])
            print(f"{s['id']}  {s['status']['state']:<8} {shown}  {s['startsAt']} .. {s['endsAt']}"
                  f"  {s['createdBy']}: {s['comment']}")
    else:
        _request(args, "DELETE", f"/v1/silences/{args.silence_id}")
        print(f"{args.silence_id}: expired")
    return 0


def _ack(args: argparse.Namespace) -> int:
    _request(args, "POST", f"/v1/alerts/{args.fingerprint}/ack",
             {"by": args.by, "comment": args.comment})
    print(f"{args.fingerprint}: acknowledged by {args.by}")
    return 0


COMMANDS: Final[dict[str | None, Callable[[argparse.Namespace], int]]] = {
    "check-config": _check_config,
    "silence": _silence,
    "ack": _ack,
}
