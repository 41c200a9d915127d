"""What a run shows while it runs: a rich live table on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import collections
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Protocol, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from messages import for_terminal, sparkline
from messages.render import format_ms, format_rate
from demo.frame import Frame
from messages import HealthChanged, HealthState

__all__ = ["LiveView", "LogView", "QuietView", "RunInfo", "View", "relay_logs"]

_STYLE: Final = {
    HealthState.HEALTHY: "green",
    HealthState.DEGRADED: "yellow",
    HealthState.CRITICAL: "bold red",
    HealthState.FAILED: "bold white on red",
}
_LEVEL: Final = {
    HealthState.HEALTHY: "INFO",
    HealthState.DEGRADED: "WARNING",
    HealthState.CRITICAL: "CRITICAL",
    HealthState.FAILED: "CRITICAL",
}
_STATUS_EVERY: Final = 5.0


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a view knows of the run before it starts."""

    agents: int
    duration: float
    interval_ms: int
    seed: int
    db_path: str
    started_at: float  # wall clock, epoch s
    url: str | None = None  # where the HTTP server serves the run, if it does


def describe(event: HealthChanged) -> str:
    """A health transition in words."""
    if event.current is HealthState.HEALTHY:
        return f"{event.agent_id} recovered ({event.previous.value} -> healthy)"
    return (f"{event.agent_id} {event.previous.value} -> {event.current.value}: "
            f"silent for {event.heartbeat_age_ms / 1000:.2f} s")


class View(Protocol):
    """Where a run reports what happens. ``health_changed`` and ``note`` may come from any thread."""

    def start(self, info: RunInfo) -> None:
        """The run begins."""
        ...

    def health_changed(self, event: HealthChanged) -> None:
        """An agent changed health (an alert callback, on the reporter's thread)."""
        ...

    def note(self, elapsed: float, kind: str, text: str) -> None:
        """Something else worth a line: a scripted fault, a warning logged by the system."""
        ...

    def frame(self, frame: Frame) -> None:
        """The swarm now (about four times a second, from the run's thread)."""
        ...

    def close(self) -> None:
        """The run is over; leave the terminal ready for the report."""
        ...


class QuietView:
    """Shows nothing (``--quiet``)."""

    def start(self, info: RunInfo) -> None:
        """Show nothing."""

    def health_changed(self, event: HealthChanged) -> None:
        """Show nothing."""

    def note(self, elapsed: float, kind: str, text: str) -> None:
        """Show nothing."""

    def frame(self, frame: Frame) -> None:
        """Show nothing."""

    def close(self) -> None:
        """Nothing to close."""


class LogView:
    """One plain line per health transition, fault and warning, and a status line every 5 s.

    For pipes and CI logs: no colour, no cursor movement, each line flushed.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._next_status = _STATUS_EVERY

    def _line(self, elapsed: float, kind: str, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            print(for_terminal(f"[+{elapsed:6.2f}s] {kind:<8} {text}"), file=stream, flush=True)

    def start(self, info: RunInfo) -> None:
        """Say what is about to run."""
        self._started_at = info.started_at
        agents = f"{info.agents} agent{'' if info.agents == 1 else 's'}"
        self._line(0.0, "START", f"{agents}, heartbeat every {info.interval_ms} ms, "
                                 f"{info.duration:g} s, seed {info.seed}, database {info.db_path}"
                                 + (f", serving on {info.url} (dashboard: {info.url}/)" if info.url else ""))

    def health_changed(self, event: HealthChanged) -> None:
        """Log the transition with its alert level."""
        self._line(max(0.0, event.at - self._started_at), _LEVEL[event.current], describe(event))

    def note(self, elapsed: float, kind: str, text: str) -> None:
        """Log it."""
        self._line(elapsed, kind, text)

    def frame(self, frame: Frame) -> None:
        """Log a status line every 5 s."""
        if frame.elapsed < self._next_status:
            return
        self._next_status += _STATUS_EVERY
        counts = ", ".join(f"{n} {state}" for state, n in frame.distribution.items())
        if not frame.agents:
            counts = "none yet"
        self._line(frame.elapsed, "STATUS", f"{_tasks_summary(frame, 'success')}; agents: {counts}")

    def close(self) -> None:
        """Nothing to close."""


class LiveView:
    """A rich live table of the agents, the swarm's totals and the last alerts.

    Args:
        console: where to draw (a terminal).
        alerts: the most recent alerts and faults to show (fewer if the terminal is short).
    """

    def __init__(self, console: Console | None = None, alerts: int = 12) -> None:
        self.console = console if console is not None else Console()
        self._events: collections.deque[Text] = collections.deque(maxlen=alerts)
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._info: RunInfo | None = None

    def start(self, info: RunInfo) -> None:
        """Take over the terminal."""
        self._info = info
        self._live = Live(Text("starting the swarm..."), console=self.console,
                          auto_refresh=False, transient=False)
        self._live.start(refresh=True)

    def health_changed(self, event: HealthChanged) -> None:
        """Keep it for the alerts panel."""
        started = self._info.started_at if self._info else event.at
        line = Text(f"  +{max(0.0, event.at - started):6.2f}s ", no_wrap=True, overflow="ellipsis")
        line.append(f"{_LEVEL[event.current]:<8}", style=_STYLE[event.current])
        line.append(f" {for_terminal(describe(event))}")
        with self._lock:
            self._events.append(line)

    def note(self, elapsed: float, kind: str, text: str) -> None:
        """Keep it for the alerts panel."""
        line = Text(f"  +{elapsed:6.2f}s ", no_wrap=True, overflow="ellipsis")
        line.append(f"{kind:<8}", style="bold magenta" if kind == "FAULT" else "dim")
        line.append(f" {for_terminal(text)}")
        with self._lock:
            self._events.append(line)

    def frame(self, frame: Frame) -> None:
        """Redraw."""
        if self._live is not None:
            self._live.update(self.render(frame), refresh=True)

    def close(self) -> None:
        """Leave the last frame on the screen."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def render(self, frame: Frame) -> RenderableType:
        """The whole view of one frame."""
        info = self._info
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("swarmpulse demo", style="bold")
        title.append(f"  {frame.elapsed:4.1f}/{frame.duration:g} s")
        if info is not None:
            title.append(f"  {info.agents} agents, {info.interval_ms} ms beats, seed {info.seed}")
        if info is not None and info.url:
            title.append(f"  dashboard {info.url}/", style="cyan")
        title.append("  Ctrl-C stops", style="dim")
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        table.add_column("Agent")
        table.add_column("State")
        table.add_column("HB age", justify="right")
        table.add_column("Tasks", justify="right")
        table.add_column("OK %", justify="right")
        table.add_column("p95 ms", justify="right")
        table.add_column("Task duration")
        for row in frame.agents:
            table.add_row(
                Text(for_terminal(row.agent_id)),
                Text(row.state.value, style=_STYLE[row.state]),
                f"{row.heartbeat_age_ms / 1000:.1f} s",
                str(row.tasks),
                format_rate(row.success_rate, row.tasks, digits=0).rstrip("%"),
                format_ms(row.p95_ms, row.tasks),
                sparkline(row.duration_series) if row.tasks else "no tasks yet",
            )
        dist = frame.distribution
        totals = Text(no_wrap=True, overflow="ellipsis")
        totals.append("Swarm  ", style="bold")
        totals.append(f"{_tasks_summary(frame, 'ok')}, {frame.tokens:,} tokens, "
                      f"{frame.stored:,} metrics stored")
        health = Text(no_wrap=True, overflow="ellipsis")
        health.append("Health ", style="bold")
        for state in HealthState:
            health.append(f"{dist.get(state.value, 0)} {state.value}", style=_STYLE[state])
            health.append("  ")
        health.append(f"| {frame.heartbeats} beats, {frame.tracker_restarts} "
                      f"restart{'' if frame.tracker_restarts == 1 else 's'}")
        # Keep the whole view on the screen: as many recent alerts as the height allows.
        room = max(2, self.console.height - len(frame.agents) - 7)
        with self._lock:
            events = list(self._events)[-room:]
        alerts: list[RenderableType] = [Text("Recent alerts", style="bold")]
        alerts.extend(events or [Text("  none yet", style="dim")])
        if not frame.agents:
            return Group(title, Text("No agents yet.", style="dim"), totals, health, *alerts)
        return Group(title, table, totals, health, *alerts)


def _tasks_summary(frame: Frame, ok: str) -> str:
    """The swarm's task figures of a frame, or that there is no task yet."""
    if not frame.tasks:
        return "no tasks yet"
    return f"{frame.tasks} tasks, {frame.success_rate:.1f}% {ok}, p95 {frame.p95_ms:.0f} ms"


class _Relay(logging.Handler):
    """Turns a warning logged by the system into a one-line note (no traceback)."""

    def __init__(self, view: View, started: float) -> None:
        super().__init__(logging.WARNING)
        self.view = view
        self.started = started

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "pykka":
            return  # its "unhandled exception" repeats what the supervisor logs, with a traceback
        try:
            message = record.getMessage()
            text = message.splitlines()[0] if message else ""
            self.view.note(max(0.0, record.created - self.started), "LOG",
                           f"{record.levelname.lower()} {record.name.rsplit('.', 1)[-1]}: {text}")
        except Exception:  # a handler must never raise
            self.handleError(record)


@contextmanager
def relay_logs(view: View, started: float) -> Iterator[None]:
    """While the run lasts, show the system's warnings as notes of ``view`` instead of stderr.

    Args:
        view: where the notes go.
        started: the run's start, wall clock epoch seconds.
    """
    root = logging.getLogger()
    handler = _Relay(view, started)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
