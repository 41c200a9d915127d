"""``swarmpulse serve``: the actor system and the HTTP server in one process, until a signal.

Also the server that the demo run starts beside its swarm.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Final

from typing import TYPE_CHECKING

from demo.errors import CommandError

if TYPE_CHECKING:  # the command line's other commands must not load the actor system
    from actors import SwarmSystem
    from server import ServerHandle

__all__ = ["DEFAULT_PORT", "add_serve_parser", "command_serve", "start_demo_server"]

DEFAULT_PORT: Final = 8321
TOKEN_ENV: Final = "SWARMPULSE_TOKEN"
_WAKE_EVERY: Final = 0.25


def add_serve_parser(
    commands: Any, whole: Callable[[int, int | None], Callable[[str], int]], default_db: str
) -> None:
    """Add the ``serve`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "serve", help="the actor system and its HTTP API in one process",
        description="Start the actor system and serve it over HTTP: remote agents register, "
                    "beat and report metrics; the read API, the event stream and /healthz read "
                    "out. Prints one line when ready; Ctrl-C or SIGTERM drains and stops.")
    parser.add_argument("--db", default=default_db, metavar="PATH",
                        help=f"SQLite database to write; an existing one is appended to "
                             f"(default: {default_db})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1); any other needs a token")
    parser.add_argument("--port", type=whole(0, 65535), default=DEFAULT_PORT,
                        help=f"port to bind; 0 picks a free one (default: {DEFAULT_PORT})")
    parser.add_argument("--token", default=None,
                        help=f"every endpoint but /healthz then needs `Authorization: Bearer "
                             f"TOKEN` (default: the environment variable {TOKEN_ENV})")
    parser.add_argument("--swarm-id", default="swarm", metavar="ID",
                        help="the swarm's name in reports and swarm metrics (default: swarm)")
    parser.add_argument("--interval-ms", type=whole(1, 86_400_000), default=5000, metavar="MS",
                        help="default heartbeat interval of an agent (default: 5000)")
    parser.add_argument("--failure-threshold", type=whole(2, 1000), default=3, metavar="N",
                        help="intervals of silence before FAILED (default: 3)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="alert management: routes, receivers, silences, escalation (TOML; "
                             "check it with `check-config`)")


class _Stop:
    """Set by SIGINT/SIGTERM; a handler only sets a flag, the main thread polls it."""

    def __init__(self) -> None:
        self.signalled = False
        self._idle = threading.Event()

    def wait(self) -> None:
        while not self.signalled:
            self._idle.wait(_WAKE_EVERY)


@contextmanager
def _signals(stop: _Stop) -> Iterator[None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.signalled = True

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def command_serve(args: argparse.Namespace, prog: str = "swarmpulse") -> int:
    """Run ``serve``: exit 0 after a clean drain on Ctrl-C or SIGTERM.

    Raises:
        InsecureBind: a non-loopback ``--host`` without a token (the CLI exits 2).
        CommandError: the address cannot be bound (the CLI exits 2).
    """
    from actors import start_system
    from server import serve
    from server.serving import check_bind

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, token)  # before anything starts
    stop = _Stop()
    with _signals(stop):
        system = start_system(args.db, swarm_id=args.swarm_id,
                              heartbeat_interval_ms=args.interval_ms,
                              failure_threshold=args.failure_threshold,
                              alerting=getattr(args, "config", None))
        try:
            try:
                handle = serve(system, host=args.host, port=args.port, token=token)
            except OSError as exc:
                raise CommandError(
                    f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
                ) from None
            try:
                print(f"{prog}: serving on {handle.url}", flush=True)
                stop.wait()
                print(f"{prog}: stopping: finishing requests, then storing what was accepted",
                      file=sys.stderr, flush=True)
            finally:
                handle.stop()
        finally:
            system.shutdown()
    print(f"{prog}: stopped", file=sys.stderr, flush=True)
    return 0


def start_demo_server(system: SwarmSystem, port: int) -> ServerHandle:
    """The demo's server on loopback: ``port``, or a free one if that is taken."""
    from server import serve

    try:
        return serve(system, port=port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        return serve(system, port=0)
