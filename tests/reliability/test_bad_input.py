"""Promise 5: hostile input at every entry point is refused by name or stored verbatim.

Each test runs one real system and throws hypothesis-generated values at it:
the facade's methods, the actors' mailboxes, and ``messages.decode``. Refused
means :class:`messages.InvalidMessage` naming the field (or ``UnknownAgent`` for
a well-formed id nobody registered); accepted means read back equal from SQLite.
Throughout, no actor restarts, no SQL runs as code, and valid traffic between
the hostile calls is stored and tracked as usual.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import sqlite3
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import msgspec
import pykka
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import messages
from actors import ManualClock, SwarmSystem, UnknownAgent, start_system
from actors.protocol import (
    ChildFailed,
    ConfigureAlerts,
    Drain,
    Flush,
    GetGauges,
    GetHistory,
    GetRecentAlerts,
    GetStatus,
    GetTaskStats,
    ReadAgent,
    ReadAgentMetrics,
    ReadAgents,
    ReadAgentUptime,
    ReadAlerts,
    ReadMetadata,
    ReadSwarmMetrics,
    ReadTally,
    ReadTaskMetrics,
    ReadTaskStats,
    Redeliver,
    RenderReport,
    StallDetected,
    Verified,
    Wake,
)
from actors.testing import parts, service_ref
from messages import HealthChanged, HealthState, InvalidMessage, TaskResult
from tests.reliability.conftest import WAIT, read

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    database=None,  # nothing written into the working tree
)

# Values

CONTROL = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))
SQL = [
    "'; DROP TABLE task_metrics; --",
    "x'); DELETE FROM agents; --",
    '" OR 1=1 --',
    "Robert'); DROP TABLE health_events;--",
    "1; PRAGMA writable_schema=1",
]
MARKUP = "<>*_[]()#|`\\!{}+-.~&"

# ids that are valid: any printable text up to 256, SQL, Markdown, U+2028
valid_ids = st.one_of(
    st.text(
        st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40
    ),
    st.sampled_from(SQL),
    st.text(st.sampled_from(MARKUP + "\u2028\u2029 ab"), min_size=1, max_size=20),
    st.just("x" * 256),
)
# strings that are not valid ids
bad_texts = st.one_of(
    st.just(""),
    st.just("x" * 257),
    st.just("y" * 100_000),
    st.text(st.sampled_from(CONTROL), min_size=1, max_size=4).map(lambda c: f"a{c}b"),
    st.sampled_from(["\ud800", "a\udfffb", "\ud83d"]),  # lone surrogates: not encodable
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, -1, 1e308, 2**63]),
)
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
times = st.floats(messages.MIN_TIMESTAMP, messages.MAX_TIMESTAMP)
"""Epoch seconds in the protocol's range (2000-01-01 to 2200-01-01)."""
valid_datetimes = st.datetimes(dt.datetime(2000, 1, 2), dt.datetime(2199, 12, 30))
json_metadata = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


class Deep(dict[str, Any]):
    """A dict nested ``depth`` levels deep, printed short (hypothesis prints examples)."""

    def __init__(self, depth: int) -> None:
        value: dict[str, Any] = {}
        for _ in range(depth - 1):
            value = {"d": value}
        super().__init__(d=value)
        self.depth = depth

    def __repr__(self) -> str:
        return f"Deep({self.depth})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _nested(depth: int) -> dict[str, Any]:
    return {"nested": Deep(depth)}


hostile_metadata = st.one_of(
    st.dictionaries(st.text(max_size=4), st.sampled_from([math.nan, math.inf, -math.inf]),
                    min_size=1, max_size=2),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),
    st.integers(65, 120).map(lambda n: {f"k{i}": i for i in range(n)}),
    st.just({"big": "z" * 10_000}),
    st.sampled_from([_nested(20), _nested(2_000), _nested(100_000)]),
    st.sampled_from([
        {"tuple": (1, 2)}, {"set": {1, 2}}, {"bytes": b"x"}, {"when": dt.datetime(2020, 1, 1)},
        {"nested-int-key": {1: 2}}, {"obj": object()}, {"u": "\udc80"}, {"huge": 2**80},
    ]),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=5),
    st.integers(),
)
anything: st.SearchStrategy[Any] = st.one_of(
    valid_ids, bad_texts, numbers, st.none(), st.binary(max_size=8),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.builds(object), st.sampled_from([*TaskResult, *HealthState, "exploded", "HEALTHY", "Success"]),
    st.datetimes(), st.timedeltas(), st.just(Ellipsis), st.just(int),
)
ids = st.one_of(valid_ids, bad_texts, anything)
metadatas = st.one_of(st.none(), json_metadata, hostile_metadata)


def one_hostile(
    valid: dict[str, st.SearchStrategy[Any]], hostile: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments all valid but one hostile (three times in four), or all drawn at random:
    a single bad value gets past every other check and reaches the deep paths."""
    single = st.tuples(st.fixed_dictionaries(valid), st.sampled_from(sorted(hostile))).flatmap(
        lambda pair: hostile[pair[1]].map(lambda value: {**pair[0], pair[1]: value})
    )
    mixed = st.fixed_dictionaries({k: st.one_of(valid[k], hostile[k]) for k in valid})
    return st.one_of(single, single, single, mixed)


# Outcomes


class Refusals:
    """Counts the refusals of one test, to show the fuzzer exercised both outcomes."""

    def __init__(self) -> None:
        self.fields: collections.Counter[str] = collections.Counter()
        self.accepted = 0

    def call(self, allowed: set[str], fn: Callable[[], Any], *, unknown_ok: bool = False) -> Any:
        """Run ``fn``: a result, or InvalidMessage naming one of ``allowed`` (None then)."""
        try:
            result = fn()
        except InvalidMessage as exc:
            assert isinstance(exc, ValueError)
            assert exc.field in allowed, f"refused naming {exc.field!r}, not one of {allowed}"
            self.fields[exc.field] += 1
            return _REFUSED
        except UnknownAgent as exc:
            assert unknown_ok, f"UnknownAgent where none was expected: {exc}"
            assert isinstance(exc, KeyError)
            self.fields["unknown-agent"] += 1
            return _REFUSED
        self.accepted += 1
        return result


_REFUSED = object()


def _canonical(metadata: dict[str, Any] | None) -> str:
    """A text equal for two values only if they are equal and of the same types
    (a tuple is not a list, NaN equals nothing, True is not 1)."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return ("dict", sorted((repr(k), walk(v)) for k, v in value.items()))
        if isinstance(value, list | tuple | set | frozenset):
            return (type(value).__name__, [walk(v) for v in value])
        return (type(value).__name__, repr(value))

    return repr(walk(metadata or {}))


def _sql_schema(db_path: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return sorted(conn.execute("SELECT type, name FROM sqlite_master").fetchall())
    finally:
        conn.close()


def _no_restarts(system: SwarmSystem) -> None:
    snapshot = system.snapshot()
    assert parts(system).services.restarts == 0
    assert snapshot.tracker_restarts == 0
    assert snapshot.failed_services == []
    assert system.coordinator.is_alive()
    for kind in ("writer", "aggregator", "reporter"):
        assert service_ref(system, kind).is_alive()


@pytest.fixture
def running(db_path: str) -> Iterator[tuple[SwarmSystem, ManualClock]]:
    """One system for the whole test (hypothesis runs every example against it)."""
    clock = ManualClock()
    system = start_system(db_path, clock=clock, heartbeat_interval_ms=1000)
    yield system, clock
    system.shutdown()
    clock.close()


# The facade


def test_hostile_metrics_are_refused_by_name_or_stored_verbatim(
    running: tuple[SwarmSystem, ManualClock], db_path: str
) -> None:
    """record_task_metric, record_agent_metric and record_swarm_metric with hostile values:
    refused naming the field, or read back equal; valid metrics around them all stored."""
    system, _ = running
    schema = _sql_schema(db_path)
    outcomes = Refusals()
    tasks: collections.Counter[tuple[Any, ...]] = collections.Counter()
    gauges: collections.Counter[tuple[Any, ...]] = collections.Counter()
    swarm: collections.Counter[tuple[Any, ...]] = collections.Counter()
    task_fields = {"task_id", "agent_id", "duration_ms", "result", "tokens_used",
                   "files_changed", "metadata"}

    arguments = one_hostile(
        valid={
            "task_id": valid_ids, "agent_id": valid_ids, "metric_type": valid_ids,
            "duration": st.one_of(st.floats(0, 1e6), st.integers(0, 10**6)),
            "result": st.sampled_from([*TaskResult, "success", "timeout"]),
            "tokens": st.integers(0, 10**6), "files": st.integers(0, 100),
            "metadata": st.one_of(st.none(), json_metadata), "value": st.floats(-1e9, 1e9),
        },
        hostile={
            "task_id": ids, "agent_id": ids, "metric_type": ids,
            "duration": st.one_of(numbers, anything), "result": anything,
            "tokens": st.one_of(numbers, anything), "files": st.one_of(numbers, anything),
            "metadata": hostile_metadata, "value": st.one_of(numbers, anything),
        },
    )

    @FUZZ
    @given(args=arguments)
    def hostile(args: dict[str, Any]) -> None:
        task_id, agent_id, duration, result, tokens, files, metadata, metric_type, value = (
            args[k] for k in ("task_id", "agent_id", "duration", "result", "tokens", "files",
                              "metadata", "metric_type", "value")
        )
        done = outcomes.call(task_fields, lambda: system.record_task_metric(
            task_id, agent_id, duration, result, tokens, files, metadata))
        if done is not _REFUSED:
            tasks[(task_id, agent_id, float(duration), TaskResult(result).value, tokens, files,
                   _canonical(metadata))] += 1
        done = outcomes.call({"agent_id", "metric_type", "value", "metadata"},
                             lambda: system.record_agent_metric(agent_id, metric_type, value, metadata))
        if done is not _REFUSED:
            gauges[(agent_id, metric_type, float(value), _canonical(metadata))] += 1
        done = outcomes.call({"metric_type", "value", "metadata"},
                             lambda: system.record_swarm_metric(metric_type, value, metadata))
        if done is not _REFUSED:
            swarm[(metric_type, float(value), _canonical(metadata))] += 1
        system.record_task_metric("valid", "valid-agent", 1.0, "success")  # traffic around
        tasks[("valid", "valid-agent", 1.0, "success", 0, 0, _canonical(None))] += 1

    hostile()
    stored_tasks = collections.Counter(
        (m.task_id, m.agent_id, m.duration_ms, m.result.value, m.tokens_used, m.files_changed,
         _canonical(m.metadata))
        for m in system.query_task_metrics()
    )
    assert stored_tasks == tasks
    stored_gauges = collections.Counter(
        (m.agent_id, m.metric_type, m.value, _canonical(m.metadata))
        for m in read(system, ReadAgentMetrics())
    )
    assert stored_gauges == gauges
    stored_swarm = collections.Counter(
        (m.metric_type, m.value, _canonical(m.metadata))
        for m in read(system, ReadSwarmMetrics())
    )
    assert stored_swarm == swarm
    assert outcomes.accepted and len(outcomes.fields) >= 5, outcomes.fields
    assert _sql_schema(db_path) == schema
    _no_restarts(system)


def test_hostile_agents_and_queries_are_refused_by_name_or_kept_verbatim(
    running: tuple[SwarmSystem, ManualClock], db_path: str
) -> None:
    """Registration, heartbeats, health and statistics queries, reports with hostile values:
    refused by name (UnknownAgent for unregistered ids), or kept verbatim; a steady agent
    heartbeating between them stays HEALTHY with every beat counted."""
    system, clock = running
    schema = _sql_schema(db_path)
    system.register_agent("steady")
    outcomes = Refusals()
    registered: dict[str, str] = {"steady": _canonical(None)}
    beats = [0]

    arguments = one_hostile(
        valid={
            "agent_id": valid_ids, "metadata": st.one_of(st.none(), json_metadata),
            "interval": st.one_of(st.none(), st.integers(1, 86_400_000)),
            "threshold": st.one_of(st.none(), st.integers(2, 1000)),
            "when": st.one_of(st.none(), times, valid_datetimes),
            "limit": st.one_of(st.none(), st.integers(0, 5)),
            "state": st.sampled_from([*HealthState, "failed"]),
            "format": st.sampled_from(["markdown", "json"]), "enabled": st.booleans(),
        },
        hostile={
            "agent_id": ids, "metadata": hostile_metadata,
            "interval": st.one_of(numbers, anything), "threshold": st.one_of(numbers, anything),
            "when": st.one_of(numbers, anything), "limit": st.one_of(st.integers(-5, -1), numbers, anything),
            "state": anything, "format": anything, "enabled": anything,
        },
    )

    @FUZZ
    @given(args=arguments)
    def hostile(args: dict[str, Any]) -> None:
        agent_id, metadata, interval, threshold, when, limit, state, format, enabled = (
            args[k] for k in ("agent_id", "metadata", "interval", "threshold", "when", "limit",
                              "state", "format", "enabled")
        )
        check = outcomes.call
        new = check({"agent_id", "metadata", "interval_ms", "failure_threshold"},
                    lambda: system.register_agent(agent_id, metadata, interval_ms=interval,
                                                  failure_threshold=threshold))
        if new is True:
            registered[agent_id] = _canonical(metadata)
        known = isinstance(agent_id, str) and agent_id in registered
        beat = check({"agent_id", "metadata"},
                     lambda: system.update_agent_heartbeat(agent_id, metadata))
        if beat is not _REFUSED:
            assert beat is known
            if agent_id == "steady":
                beats[0] += 1
        health = check({"agent_id"}, lambda: system.check_agent_health(agent_id), unknown_ok=True)
        assert health is _REFUSED or health in HealthState
        # a read about an id never seen raises UnknownAgent; one about a registered id never
        status = check({"agent_id"}, lambda: system.get_agent_health_status(agent_id),
                       unknown_ok=not known)
        assert status is _REFUSED or status is None or status["agent_id"] == agent_id
        check({"agent_id"}, lambda: system.get_heartbeat_history(agent_id), unknown_ok=not known)
        check({"agent_id"}, lambda: system.get_agent_performance(agent_id), unknown_ok=not known)
        check({"agent_id", "start_time", "end_time"},
              lambda: system.get_task_stats(agent_id, when, when), unknown_ok=not known)
        check({"agent_id", "start_time", "end_time", "limit"},
              lambda: system.query_task_metrics(when, None, agent_id, limit))
        check({"agent_id", "start_time", "end_time"},
              lambda: system.get_agent_uptime(agent_id, when, None), unknown_ok=True)
        unhealthy = check({"min_state"}, lambda: system.get_unhealthy_agents(state))
        assert unhealthy is _REFUSED or isinstance(unhealthy, list)
        check({"enabled"}, lambda: system.configure_alerts(enabled=enabled))
        check({"format"}, lambda: system.generate_report(format))
        system.update_agent_heartbeat("steady")
        beats[0] += 1
        clock.advance(0.01)

    hostile()
    system.configure_alerts(enabled=True)
    assert system.check_agent_health("steady") is HealthState.HEALTHY
    assert system.get_agent_health_status("steady")["heartbeats"] == beats[0]  # type: ignore[index]
    system.flush()
    records = read(system, ReadAgents())
    assert {r.agent_id: _canonical(r.metadata) for r in records} == registered
    assert outcomes.accepted and len(outcomes.fields) >= 5, outcomes.fields
    json.loads(system.generate_report("json"))
    assert _sql_schema(db_path) == schema
    _no_restarts(system)


def test_hostile_settings_are_refused_before_anything_starts(db_path: str) -> None:
    """start_system with one hostile setting raises InvalidMessage naming it and leaves no
    actor behind; with valid ones it starts a working system."""
    outcomes = Refusals()
    valid: dict[str, Any] = {
        "swarm_id": "swarm", "topology_type": "mesh", "heartbeat_interval_ms": 1000,
        "failure_threshold": 3, "history_size": 10, "flush_interval": 0.1, "workers": 1,
        "max_pending": 100, "enable_monitoring": True,
    }
    examples = st.tuples(st.sampled_from(sorted(valid)), st.one_of(valid_ids, anything))

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(setting=st.one_of(examples, st.none()))
    def hostile(setting: tuple[str, Any] | None) -> None:
        chosen = dict(valid)
        if setting is not None:
            chosen[setting[0]] = setting[1]
        clock = ManualClock()
        try:
            system = outcomes.call(set(valid), lambda: start_system(db_path, clock=clock, **chosen))
            if system is _REFUSED:
                assert pykka.ActorRegistry.get_all() == []
                return
            with system:
                system.register_agent("a")
                system.record_task_metric("t", "a", 1.0, "success")
                system.flush()
        finally:
            clock.close()

    hostile()
    assert outcomes.accepted and len(outcomes.fields) >= 6, outcomes.fields


# Mailboxes


def _typed(cls: type[Any], /, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Instances of an internal message class with arbitrary (unchecked) field values."""
    return st.builds(cls, **fields)


_bounds = st.one_of(st.none(), numbers, anything)
# every typed read, with fields of any value (retention is left out: it deletes what it may)
queries = st.one_of(
    _typed(GetTaskStats, agent_id=st.one_of(st.none(), ids)),
    _typed(GetRecentAlerts, limit=st.one_of(st.integers(-2, 5), anything)),
    _typed(Verified, agent_id=ids, count=st.one_of(st.integers(-1, 5), anything),
           serial=st.one_of(st.integers(0, 3), anything)),
    _typed(ReadTaskMetrics, start_time=_bounds, end_time=_bounds, agent_id=st.one_of(st.none(), ids),
           result=anything, limit=anything),
    _typed(ReadAlerts, start_time=_bounds, agent_id=st.one_of(st.none(), ids), severity=anything),
    _typed(ReadTaskStats, start_time=_bounds, end_time=_bounds, agent_id=st.one_of(st.none(), ids)),
    _typed(ReadAgentUptime, agent_id=ids, now=_bounds, start_time=_bounds),
    _typed(ReadAgent, agent_id=ids),
    _typed(ReadTally, agent_id=st.one_of(st.none(), ids)),
    st.sampled_from([GetGauges(), ReadAgents(), ReadMetadata()]),
)
valid_data = st.one_of(
    st.builds(HealthChanged, agent_id=valid_ids, previous=st.sampled_from(HealthState),
              current=st.sampled_from(HealthState), at=times,
              heartbeat_age_ms=st.floats(0, 1e9)),
    st.builds(messages.Alert, agent_id=valid_ids, severity=st.sampled_from(messages.AlertSeverity),
              message=st.one_of(st.text(max_size=50), st.sampled_from(SQL), st.just("m" * 50_000)),
              at=times, metadata=json_metadata),
)
# what each actor may be sent: anything at all, its own messages with unchecked fields,
# other actors' messages, and valid data (HealthChanged and Alert are stored as data)
MAILBOX = {
    "coordinator": st.one_of(
        anything, valid_data, queries,
        _typed(GetStatus, agent_id=ids), _typed(GetHistory, agent_id=ids),
        _typed(Redeliver, kind=st.one_of(st.sampled_from(["tracker", "writer", "bogus"]), anything),
               name=st.one_of(st.just("steady"), ids),
               messages=st.one_of(st.lists(anything, max_size=2), anything)),
        _typed(StallDetected, seconds=st.one_of(numbers, anything)),
        _typed(ChildFailed, kind=st.one_of(st.sampled_from(
            ["tracker", "writer", "reporter", "aggregator", "x"]), anything),
            name=st.one_of(st.sampled_from(["steady", "writer", "nobody"]), ids), error=anything),
        # a fault injection whose target is no name
        st.builds(messages.Crash, target=st.one_of(
            st.lists(st.integers(), max_size=2), st.dictionaries(st.text(), st.text(), max_size=1))),
    ),
    "aggregator": st.one_of(anything, queries, st.sampled_from([Drain(), Wake(), Flush()])),
    "writer": st.one_of(anything, queries, st.sampled_from([Drain(), Wake(), Flush()])),
    "reporter": st.one_of(
        anything, valid_data, queries,
        _typed(RenderReport, format=st.one_of(st.sampled_from(["markdown", "json"]), anything),
               data=anything),
        _typed(ConfigureAlerts, enabled=anything, callbacks=st.one_of(
            st.dictionaries(anything.filter(lambda v: isinstance(v, Hashable)), anything,
                            max_size=2), anything)),
    ),
}
ANSWERS = (messages.SwarmPulseError, TypeError, ValueError, LookupError, AttributeError,
           msgspec.MsgspecError)  # what an asker may get back for a request it got wrong


@pytest.mark.parametrize("target", sorted(MAILBOX))
def test_hostile_mailbox_messages_are_counted_not_fatal(
    running: tuple[SwarmSystem, ManualClock], db_path: str, target: str
) -> None:
    """Arbitrary objects and malformed internal messages told (and asked) to an actor:
    it never crashes, the ones it does not understand are logged and counted, an asker
    gets an error back, alerts sent as data are stored verbatim, valid traffic flows."""
    system, _ = running
    schema = _sql_schema(db_path)
    system.register_agent("steady")
    counted = [0]
    alerts: collections.Counter[tuple[Any, ...]] = collections.Counter()

    def actor() -> pykka.ActorRef[Any]:
        return system.coordinator if target == "coordinator" else service_ref(system, target)

    def unknown() -> int:
        value: int = actor().proxy().unknown_messages.get(timeout=WAIT)  # also a barrier
        return value

    @FUZZ
    @given(message=MAILBOX[target], ask=st.booleans())
    def hostile(message: Any, ask: bool) -> None:
        before = unknown()
        if ask:
            try:
                answer = actor().ask(message, timeout=WAIT)
                while isinstance(answer, pykka.Future):
                    answer = answer.get(timeout=WAIT)
            except ANSWERS:
                pass  # (pykka.ActorDeadError is none of these: it fails the test)
        else:
            actor().tell(message)
        after = unknown()
        assert after - before in (0, 1)
        counted[0] += after - before
        if isinstance(message, messages.Alert) and target == "reporter":
            alerts[(message.agent_id, message.severity.value, message.message, message.at,
                    _canonical(message.metadata))] += 1
        _no_restarts(system)
        assert system.update_agent_heartbeat("steady")  # valid traffic still flows
        system.record_task_metric("between", "steady", 1.0, "success")

    hostile()
    assert counted[0] > 0, "no message was counted as not understood"
    system.flush()
    stored = read(system, ReadAlerts())
    stored_alerts = collections.Counter(
        (a.agent_id, a.severity.value, a.message, a.at, _canonical(a.metadata)) for a in stored
    )
    assert alerts - stored_alerts == collections.Counter()  # every alert told is in storage
    assert system.check_agent_health("steady") is HealthState.HEALTHY
    assert _sql_schema(db_path) == schema
    _no_restarts(system)


# Decoding


@FUZZ
@given(data=st.binary(max_size=200), format=st.sampled_from(["msgpack", "json"]))
def test_random_bytes_decode_to_a_message_or_a_named_refusal(data: bytes, format: str) -> None:
    """messages.decode on random bytes: a valid message, or InvalidMessage with a field."""
    try:
        message = messages.decode(data, format)  # type: ignore[arg-type]
    except InvalidMessage as exc:
        assert isinstance(exc.field, str) and exc.field
        return
    assert messages.decode(messages.encode(message, format), format) == message  # type: ignore[arg-type]


TAGS = ["task_metric", "agent_metric", "swarm_metric", "heartbeat", "register_agent",
        "unregister_agent", "crash", "health_changed", "alert", "agent_registered",
        "agent_unregistered", "bogus", ""]
FIELDS = ["task_id", "agent_id", "duration_ms", "result", "tokens_used", "files_changed",
          "timestamp", "metadata", "metric_type", "value", "swarm_id", "interval_ms",
          "failure_threshold", "previous", "current", "at", "heartbeat_age_ms", "severity",
          "message", "reason", "target", "unknown_field"]
json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["success", "healthy", "critical", "x" * 300, "tab\there", *SQL]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(
    tag=st.sampled_from(TAGS),
    fields=st.dictionaries(st.sampled_from(FIELDS), json_ish, max_size=8),
    format=st.sampled_from(["msgpack", "json"]),
)
def test_hostile_structured_messages_decode_or_are_refused_by_field(
    tag: str, fields: dict[str, Any], format: str
) -> None:
    """Tagged objects with hostile field values: a valid message equal to what was sent,
    or InvalidMessage naming a field that was sent (or the message itself)."""
    raw = {"type": tag, **fields}
    try:
        data = msgspec.json.encode(raw) if format == "json" else msgspec.msgpack.encode(raw)
    except OverflowError:  # msgpack has no integers past 64 bits; JSON has
        format, data = "json", msgspec.json.encode(raw)
    try:
        message = messages.decode(data, format)  # type: ignore[arg-type]
    except InvalidMessage as exc:
        named = exc.field.split(".")[0].split("[")[0]
        assert named in {*fields, "message", "type"} or named in FIELDS, exc
        return
    assert msgspec.structs.asdict(message).keys() >= fields.keys()
    assert messages.decode(messages.encode(message, format), format) == message  # type: ignore[arg-type]
