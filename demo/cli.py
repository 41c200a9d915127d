"""The command line: the demo run (the default command) and what a user does with its database.

``python -m demo`` and the ``swarmpulse`` console script both call :func:`main`.
A mistake a user can make (a missing or foreign file, a bad time, an unknown
agent, a bad option) ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from demo import alerting_cli
from demo.errors import CommandError, UsageError
from demo.formats import stats_json, stats_table, tasks_csv, tasks_json, tasks_table
from demo.hooks import HOOK_COMMANDS, add_hook_parsers
from demo.serve import DEFAULT_PORT, add_serve_parser, command_serve
from demo.stored import check_agent, open_database, stored_report
from demo.timeexpr import time_range
from messages import SwarmPulseError, TaskResult, for_terminal, render_json, render_markdown

if TYPE_CHECKING:  # the demo run needs the actor system; the other commands never import it
    from demo.live import View
    from demo.simulation import RunResult

__all__ = ["build_parser", "main"]

PROG = "swarmpulse"
EXIT_USAGE = 2
EXIT_SIGNAL_BASE = 128
"""A command ended by a signal exits with 128 + its number: 130 for SIGINT, 143 for SIGTERM."""
_DEFAULT_DB = "swarm_metrics.db"
_DEFAULT_REPORT = "swarm_report.json"
_DEFAULT_LIMIT = 1000

_DESCRIPTION = """\
swarmpulse: observability for swarms of cooperating agents.

With no command (or `run`), runs the demo: a swarm of simulated agents on the
actor system, with scripted faults, a live view, and a health report at the end,
kept in an embedded SQLite database. The other commands read that database."""

_EPILOG = """\
time expressions (--since, --start, --end): a duration ago such as 30s, 15m,
24h or 7d, or an ISO 8601 time such as 2024-05-01T12:00:00 (naive means UTC).

examples:
  %(prog)s                                  20 s demo, live view, report
  %(prog)s --agents 6 --duration 10 --seed 7 --no-live
  %(prog)s report --db swarm_metrics.db --since 1h
  %(prog)s query --result failure --limit 20 --format csv
  %(prog)s stats --by-agent"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised instead of printed."""

    def error(self, message: str) -> NoReturn:
        """Raise a UsageError (argparse would print the usage and exit)."""
        raise UsageError(self.prog, message)


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be a whole number {bound}, not {text!r}")
        return value

    return parse


def _path(text: str) -> str:
    """A file path as given, with ``~`` expanded."""
    return os.path.expanduser(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be seconds, more than 0, not {text!r}")
    return value


def _add_run_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options of the demo run (on the top level too, since it is the default command)."""
    group = parser.add_argument_group("demo run options")

    def option(*names: str, value: object, **kwargs: Any) -> None:
        group.add_argument(*names, default=argparse.SUPPRESS if suppress else value, **kwargs)

    option("--agents", value=12, type=_whole(1, 500), metavar="N",
           help="simulated agents, each a Pykka actor with a role (default: 12)")
    option("--duration", value=20.0, type=_seconds, metavar="SECONDS",
           help="how long the swarm runs (default: 20)")
    option("--interval-ms", value=500, type=_whole(20, 60_000), metavar="MS",
           help="heartbeat interval: DEGRADED after 1 silent interval, CRITICAL after 2, "
                "FAILED after 3 (default: 500)")
    option("--seed", value=None, type=_whole(0), metavar="N",
           help="seed of the one random generator: the same seed gives the same agents, "
                "faults and task sequence (default: random, printed)")
    option("--db", value=_DEFAULT_DB, metavar="PATH", type=_path,
           help=f"SQLite database to write; an existing one is appended to (default: {_DEFAULT_DB})")
    option("--report", value=_DEFAULT_REPORT, metavar="PATH", type=_path,
           help=f"where to write the JSON health report (default: {_DEFAULT_REPORT})")
    option("--no-live", value=False, action="store_true",
           help="plain log lines instead of the live table (automatic when stdout is not a terminal)")
    option("--quiet", value=False, action="store_true",
           help="print only where the database and the report are")
    option("--port", value=DEFAULT_PORT, type=_whole(0, 65535), metavar="PORT",
           help=f"serve the run's HTTP API on 127.0.0.1:PORT; a free one if taken, 0 for "
                f"any (default: {DEFAULT_PORT})")
    option("--no-serve", value=False, action="store_true",
           help="do not start the HTTP server")


def _add_time_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("time range (default: everything)")
    group.add_argument("--since", metavar="WHEN", help="from WHEN until now: 30s, 15m, 24h, 7d or ISO 8601")
    group.add_argument("--start", metavar="WHEN", help="inclusive start: a duration ago or ISO 8601")
    group.add_argument("--end", metavar="WHEN", help="exclusive end: a duration ago or ISO 8601")


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=_DEFAULT_DB, metavar="PATH", type=_path,
                        help=f"the metrics database to read (default: {_DEFAULT_DB})")
    parser.add_argument("--agent", metavar="ID", help="only this agent")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser of every command, with its help."""
    parser = _Parser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    run_parser = commands.add_parser(
        "run", help="run the demo swarm (the default command)",
        description="Run the demo: simulated agents on the actor system, scripted faults "
                    "(an agent dies, one stalls and recovers, a tracker crashes and is "
                    "restarted), a live view, then the Markdown report, the JSON report and "
                    "the SQLite database. Ctrl-C stops it cleanly, report included.")
    _add_run_options(run_parser, suppress=True)

    report = commands.add_parser(
        "report", help="a health report from a database alone",
        description="Print the health report of a time range from what the database holds: "
                    "each agent's last health state, uptime, task statistics with sparklines, "
                    "and the alerts. No swarm needs to run.")
    _add_db(report)
    report.add_argument("--format", choices=("markdown", "json"), default="markdown",
                        help="markdown (default) or json, the JSON report's schema")
    _add_time_options(report)

    query = commands.add_parser(
        "query", help="stored task metrics",
        description="Print the stored task metrics of a time range, oldest first.")
    _add_db(query)
    query.add_argument("--result", choices=[r.value for r in TaskResult],
                       help="only tasks that ended so")
    query.add_argument("--limit", type=_whole(0), default=_DEFAULT_LIMIT, metavar="N",
                       help=f"at most N tasks, the oldest first; 0 for all (default: {_DEFAULT_LIMIT})")
    query.add_argument("--format", choices=("table", "json", "csv"), default="table",
                       help="table (default), json or csv")
    _add_time_options(query)

    stats = commands.add_parser(
        "stats", help="task statistics",
        description="Print task statistics (counts, success and error rates, duration "
                    "percentiles, tokens, files) of a time range.")
    _add_db(stats)
    stats.add_argument("--by-agent", action="store_true", help="one row per agent")
    stats.add_argument("--format", choices=("table", "json"), default="table",
                       help="table (default) or json")
    _add_time_options(stats)

    alerting_cli.add_parsers(commands)
    add_serve_parser(commands, _whole, _DEFAULT_DB)
    add_hook_parsers(commands, _whole)

    commands.add_parser("bench", add_help=False,
                        help="the benchmark; `bench --help` lists its options")
    return parser


# Commands


def _choose_view(quiet: bool, no_live: bool) -> View:
    from demo.live import LiveView, LogView, QuietView

    if quiet:
        return QuietView()
    if no_live or not sys.stdout.isatty():
        return LogView()
    return LiveView()


def _check_writable_dir(path: str, what: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write the {what} {path}: no folder {folder}")
    if os.path.isdir(path):
        raise CommandError(f"cannot write the {what} {path}: it is a folder")


def _command_run(args: argparse.Namespace) -> int:
    from demo.simulation import RunOptions, count_tasks, run

    _check_writable_dir(args.db, "database")
    _check_writable_dir(args.report, "report")
    options = RunOptions(agents=args.agents, duration=args.duration, interval_ms=args.interval_ms,
                         seed=args.seed, db_path=args.db, report_path=args.report,
                         serve_port=None if args.no_serve else args.port)
    existed = os.path.exists(args.db)
    if existed:
        held = count_tasks(args.db)  # refuses a file that is not ours before anything starts
        if not args.quiet:
            print(f"Appending to the existing database {args.db} ({held} task metrics).",
                  flush=True)
    result = run(options, _choose_view(args.quiet, args.no_live))
    if not args.quiet:
        print()
        print(result.markdown)
        for line in _summary(result):
            print(line)
    where = f" (appended: it already held {result.tasks_before} task metrics)" if existed else ""
    print(f"Database: {result.db_path}{where}")
    print(f"JSON report: {result.report_path}")
    missing = (result.recorded_tasks - result.stored_tasks) + (
        result.recorded_agent_metrics - result.stored_agent_metrics) + (
        result.recorded_swarm_metrics - result.stored_swarm_metrics)
    if missing:
        print(f"{args.prog}: error: {missing} recorded metrics are missing from the database",
              file=sys.stderr)
        return 1
    if result.signal is not None:
        status = EXIT_SIGNAL_BASE + result.signal
        print(f"{args.prog}: {_signal_words(result.signal)}: stopped cleanly, every metric stored "
              f"and the report written; exit status {status}", file=sys.stderr)
        return status
    return 0


def _signal_words(signum: int) -> str:
    """``interrupted by SIGINT (Ctrl-C)``, ``terminated by SIGTERM``, ..."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if signum == signal.SIGINT:
        return f"interrupted by {name} (Ctrl-C)"
    if signum == getattr(signal, "SIGTERM", None):
        return f"terminated by {name}"
    return f"stopped by {name}"


def _emit(text: str, stream: TextIO | None = None, end: str = "\n") -> None:
    """Print command output; on a terminal, with every control and bidi character neutralised.

    A database may hold any text (another program may have written it), and a
    terminal acts on ESC sequences and bidi overrides; a pipe or a file gets
    the text verbatim.
    """
    out = stream if stream is not None else sys.stdout
    if out.isatty():
        text = for_terminal(text, keep_newlines=True)
    print(text, end=end, file=out, flush=True)


def _summary(result: RunResult) -> list[str]:
    """What the run did, in a few sentences."""
    stored = result.stored_tasks + result.stored_agent_metrics + result.stored_swarm_metrics
    if result.signal is not None and result.signal != signal.SIGINT:
        how = f"stopped by {signal.Signals(result.signal).name} after"
    else:
        how = "stopped by Ctrl-C after" if result.interrupted else "ran for"
    lines = [
        f"The swarm {how} {result.elapsed:.1f} s (seed {result.seed}): {result.recorded_tasks} "
        f"task metrics, {result.recorded_agent_metrics} agent gauges and "
        f"{result.recorded_swarm_metrics} swarm gauges recorded; {stored} stored in SQLite.",
    ]
    states = {a.agent_id: a.health_state for a in result.report.agents}
    faults = []
    for step in result.plan.steps:
        if step.at > result.elapsed:
            continue
        if step.kind == "silence":
            faults.append(f"{step.agent_id} went silent (now {states.get(step.agent_id)})")
        elif step.kind == "phi":
            how = ("" if result.phi_silent_s is None else
                   f", convicted by phi accrual after {result.phi_silent_s:.2f} s of silence, "
                   f"phi {result.phi_value:.1f}")
            faults.append(f"{step.agent_id} went silent (now {states.get(step.agent_id)}{how})")
        elif step.kind == "stuck":
            faults.append(f"a task of {step.agent_id} hung past the stuck limit")
        elif step.kind == "slow":
            faults.append(f"{step.agent_id} slowed down")
        elif step.kind == "stall":
            faults.append(f"{step.agent_id} stalled (now {states.get(step.agent_id)})")
        elif result.crash_heartbeats_counted is not None:
            faults.append(
                f"the tracker of {step.agent_id} crashed and was restarted "
                f"{result.tracker_restarts} time(s), keeping its state: "
                f"{result.crash_heartbeats_before} heartbeats at the crash, "
                f"{result.crash_heartbeats_counted} of {result.crash_heartbeats_sent} sent counted")
    if faults:
        lines.append("Faults: " + "; ".join(faults) + ".")
    return lines


def _command_report(args: argparse.Namespace) -> int:
    now = time.time()
    start, end = time_range(args.since, args.start, args.end, now)
    with open_database(args.db) as storage:
        if args.agent is not None:
            check_agent(storage, args.agent)
        report = stored_report(storage, start=start, end=end, agent_id=args.agent, now=now)
    if args.format == "markdown":
        _emit(render_markdown(report), end="")
    else:
        _emit(render_json(report))
    return 0


def _command_query(args: argparse.Namespace) -> int:
    start, end = time_range(args.since, args.start, args.end, time.time())
    limit = args.limit or None
    with open_database(args.db) as storage:
        if args.agent is not None:
            check_agent(storage, args.agent)
        tasks = storage.query_task_metrics(start_time=start, end_time=end, agent_id=args.agent,
                                           result=args.result,
                                           limit=None if limit is None else limit + 1)
    more = limit is not None and len(tasks) > limit
    if more:
        tasks = tasks[:limit]
    formats = {"table": tasks_table, "json": tasks_json, "csv": tasks_csv}
    _emit(formats[args.format](tasks))
    if more:
        print(f"(the first {limit} matching tasks, oldest first; --limit 0 shows them all)",
              file=sys.stderr)
    return 0


def _command_stats(args: argparse.Namespace) -> int:
    start, end = time_range(args.since, args.start, args.end, time.time())
    with open_database(args.db) as storage:
        if args.agent is not None:
            check_agent(storage, args.agent)
        if args.by_agent:
            ids = [args.agent] if args.agent is not None else storage.agent_ids()
            stats = {a: dict(found) for a, found in storage.task_stats_by_agent(
                start_time=start, end_time=end, agent_ids=ids).items()}
        else:
            name = args.agent if args.agent is not None else "all agents"
            stats = {name: dict(storage.task_stats(start_time=start, end_time=end,
                                                   agent_id=args.agent))}
    if args.format == "json":
        _emit(stats_json(stats if args.by_agent else next(iter(stats.values()))))
    else:
        _emit(stats_table(stats))
    return 0


def _command_bench(argv: list[str], prog: str) -> int:
    """Hand the arguments to ``demo.bench.main``, imported only now (it may not exist)."""
    try:
        module = importlib.import_module("demo.bench")
    except ImportError as exc:
        if exc.name in ("demo.bench", None):
            reason = "this installation has no benchmark (demo/bench.py)"
        else:
            reason = (f"the benchmark needs {exc.name}, which is not installed "
                      "(pip install -e '.[bench]')")
        print(f"{prog} bench: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    bench_main = cast(Callable[[list[str]], int], getattr(module, "main"))
    return int(bench_main(argv))


_COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: _command_run,
    "run": _command_run,
    "report": _command_report,
    "query": _command_query,
    "stats": _command_stats,
    **alerting_cli.COMMANDS,
    "serve": command_serve,
    **HOOK_COMMANDS,
}


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: the arguments, without the program name (default: ``sys.argv[1:]``).
        prog: the program's name in messages (default: ``swarmpulse``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    name = prog or PROG
    if args[:1] == ["bench"]:
        return _command_bench(args[1:], name)
    try:
        with _terminate_as_exception():
            try:
                namespace = build_parser(name).parse_args(args)
            except SystemExit as exc:  # --help
                return exc.code if isinstance(exc.code, int) else 0
            namespace.prog = name
            return _COMMANDS[namespace.command](namespace)
    except UsageError as exc:
        _error(f"{exc.prog}: error: {exc}")
    except SwarmPulseError as exc:  # ours, and the storage's: NotOurDatabase, SchemaTooNew, ...
        _error(f"{name}: error: {exc}")
    except OSError as exc:
        _error(f"{name}: error: {exc.filename or ''}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print(f"{name}: {_signal_words(signal.SIGINT)}; exit status "
              f"{EXIT_SIGNAL_BASE + signal.SIGINT}", file=sys.stderr)
        return EXIT_SIGNAL_BASE + signal.SIGINT
    except Terminated as exc:
        print(f"{name}: {_signal_words(exc.signum)}; exit status "
              f"{EXIT_SIGNAL_BASE + exc.signum}", file=sys.stderr)
        return EXIT_SIGNAL_BASE + exc.signum
    return EXIT_USAGE


def _error(line: str) -> None:
    """One line on stderr: an error names what the user gave, which may hold anything."""
    print(for_terminal(line), file=sys.stderr)


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) arrived while a command ran: unwinds it like Ctrl-C does.

    Attributes:
        signum: the signal's number.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signum)


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread.

    The demo run installs its own handlers on top (it stops cleanly first).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    names = ("SIGTERM", "SIGHUP")
    signals = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        if previous[sig] == signal.SIG_DFL:
            signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)

