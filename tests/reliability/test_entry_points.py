"""Issue 10: at every entry point a value is refused at the door, or it is stored for good.

"At the door" means the call that hands the value over raises
:class:`messages.InvalidMessage` (never another exception type). Anything the
door lets in must then survive every later stage: after ``flush()`` it is in
SQLite and readable (queried back, in ``get_task_stats`` with and without a
range, in both reports), and no service has failed or restarted.

The values are those that broke the system before: times in milliseconds or
past what SQLite's integers hold, metadata nested hundreds to 100,000 levels
deep, objects that hash and compare equal to an agent id or a result, and time
ranges such as ``(0, 1e308)``; plus everything ``test_bad_input`` throws.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pykka
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import messages
from actors import ManualClock, SwarmSystem, start_system
from actors.protocol import ReadAgentMetrics, ReadAgents, ReadSwarmMetrics
from actors.testing import parts
from messages import (
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    AgentMetric,
    Heartbeat,
    InvalidMessage,
    RegisterAgent,
    SwarmMetric,
    TaskMetric,
    TaskResult,
    UnregisterAgent,
)
from tests.reliability.conftest import WAIT, read, stored_tasks
from tests.reliability.test_bad_input import (
    anything,
    hostile_metadata,
    ids,
    json_metadata,
    numbers,
    one_hostile,
    valid_ids,
)

FUZZ = settings(
    max_examples=100, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NOW_MS = time.time() * 1000  # what a caller who confused the units sends


# Values that broke a later stage before issue 10


class LookAlike:
    """Hashes and compares equal to ``text`` without being a str."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return other == self.text

    def __lt__(self, other: object) -> bool:  # sorting it with strs "works" too
        return str(other) > self.text

    def __repr__(self) -> str:
        return f"LookAlike({self.text!r})"


class StrChild(str):
    """A str subclass: equal to its text, but another type."""


@functools.cache
def deep(depth: int) -> dict[str, Any]:
    """Metadata nested ``depth`` levels deep (the outer dict counting one), built once."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


DEPTHS = [33, 990, 999, 5000, 100_000]
hostile_times = st.one_of(
    st.sampled_from([0, 0.0, 1.0, -1.0, NOW_MS, NOW_MS * 1000, 9.3e18, 1e308, 2**63, 2**80,
                     MIN_TIMESTAMP - 1, MAX_TIMESTAMP + 1, float("inf"), float("nan")]),
    st.floats(1e12, 1e19),
    st.datetimes(),  # most are outside 2000..2200
    numbers,
    anything,
)
valid_times = st.floats(MIN_TIMESTAMP, MAX_TIMESTAMP)
deep_metadata = st.sampled_from(DEPTHS).map(lambda n: {"nested": deep(n - 1)})
lookalikes = st.sampled_from(["agent-0", "agent-1", "success", "failure", "task"]).flatmap(
    lambda text: st.sampled_from([LookAlike(text), StrChild(text)])
)
all_metadata = st.one_of(st.none(), json_metadata, hostile_metadata, deep_metadata)
any_id = st.one_of(ids, lookalikes)
any_result = st.one_of(st.sampled_from([*TaskResult, "success", "timeout"]), lookalikes, anything)


# The door and what must hold after it


class Door:
    """Calls an entry point: True if it took the value, False if it refused it by name."""

    def __init__(self) -> None:
        self.refused: dict[str, int] = {}
        self.taken = 0

    def __call__(self, fn: Callable[[], object]) -> bool:
        try:
            fn()
        except InvalidMessage as exc:  # any other exception fails the test
            assert isinstance(exc.field, str) and exc.field, exc
            self.refused[exc.field] = self.refused.get(exc.field, 0) + 1
            return False
        self.taken += 1
        return True


def all_stored_and_readable(system: SwarmSystem, db_path: str, tasks: int) -> None:
    """After a flush: ``tasks`` rows in the file and in every read; both reports; no failure."""
    system.flush()
    assert stored_tasks(db_path)[0] == tasks
    assert len(system.query_task_metrics()) == tasks
    assert system.get_task_stats()["total_tasks"] == tasks
    in_range = system.get_task_stats(start_time=MIN_TIMESTAMP, end_time=MAX_TIMESTAMP)
    assert in_range["total_tasks"] == tasks
    assert system.generate_report("markdown").startswith("#")
    report = json.loads(system.generate_report("json"))
    assert report["task_stats"]["total_tasks"] == tasks
    stats = system.get_monitoring_stats()
    assert stats["supervision"]["failed_services"] == []
    assert stats["supervision"]["service_restarts"] == {"writer": 0, "aggregator": 0, "reporter": 0, "analyst": 0}
    assert stats["metrics_collector"]["dropped"] == 0
    assert stats["metrics_collector"]["write_failures"] == 0


@pytest.fixture
def running(db_path: str) -> Iterator[SwarmSystem]:
    """One system on a real file for the whole test; hypothesis runs every example against it."""
    clock = ManualClock()
    system = start_system(db_path, clock=clock, heartbeat_interval_ms=1000)
    yield system
    system.shutdown()
    clock.close()


# Item by item: each of these broke a later stage before


@pytest.mark.parametrize("timestamp", [NOW_MS, 9.3e18], ids=["milliseconds", "9.3e18"])
def test_a_time_that_would_overflow_storage_is_refused_and_storage_keeps_working(
    running: SwarmSystem, db_path: str, timestamp: float
) -> None:
    """A TaskMetric, gauge or heartbeat with a millisecond (or 9.3e18) time is refused when
    built or decoded, saying so; the 100 valid metrics around it are all stored."""
    system = running
    system.register_agent("a")
    for i in range(50):
        system.record_task_metric(f"before-{i}", "a", 1.0, "success")
    builders: list[Callable[[], object]] = [
        lambda: TaskMetric(task_id="t", agent_id="a", duration_ms=1.0, result="success",
                           timestamp=timestamp),
        lambda: AgentMetric(agent_id="a", metric_type="m", value=1.0, timestamp=timestamp),
        lambda: SwarmMetric(swarm_id="s", metric_type="m", value=1.0, timestamp=timestamp),
        lambda: Heartbeat(agent_id="a", timestamp=timestamp),
        lambda: messages.decode(
            msgspec.json.encode({"type": "task_metric", "task_id": "t", "agent_id": "a",
                                 "duration_ms": 1.0, "result": "success", "timestamp": timestamp}),
            "json",
        ),
    ]
    for build in builders:
        with pytest.raises(InvalidMessage) as caught:
            system.send(build())  # type: ignore[arg-type]
        assert caught.value.field == "timestamp"
        assert "out of range" in str(caught.value)
        if timestamp == NOW_MS:
            assert "milliseconds" in str(caught.value)
    for i in range(50):
        system.record_task_metric(f"after-{i}", "a", 1.0, "success")
    all_stored_and_readable(system, db_path, 100)


ENTRY_POINTS_WITH_METADATA: dict[str, Callable[[SwarmSystem, dict[str, Any]], object]] = {
    "record_task_metric": lambda s, m: s.record_task_metric("t", "a", 1.0, "success", metadata=m),
    "record_task_execution": lambda s, m: s.record_task_execution("t", "a", 1.0, True, metadata=m),
    "record_agent_metric": lambda s, m: s.record_agent_metric("a", "queue", 1.0, m),
    "record_swarm_metric": lambda s, m: s.record_swarm_metric("load", 1.0, m),
    "update_agent_heartbeat": lambda s, m: s.update_agent_heartbeat("a", m),
    "register_agent": lambda s, m: s.register_agent("new", m),
    "register_agents": lambda s, m: s.register_agents(["n1", "n2"], m),
    "send": lambda s, m: s.send(
        AgentMetric(agent_id="a", metric_type="m", value=1.0, timestamp=s.clock.time(), metadata=m)),
    "decode": lambda s, m: messages.decode(
        b'{"type":"heartbeat","agent_id":"a","timestamp":1700000000,"metadata":'
        + b'{"d":' * (len(_levels(m)) - 1) + b"{}" + b"}" * (len(_levels(m)) - 1) + b"}", "json"),
}


def _levels(metadata: dict[str, Any]) -> list[int]:
    """One entry per level of a chain of single-key dicts (iteratively: no recursion)."""
    levels = []
    value: Any = metadata
    while isinstance(value, dict):
        levels.append(1)
        value = next(iter(value.values()), None)
    return levels


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS_WITH_METADATA))
def test_metadata_nested_too_deep_is_refused_at_every_entry_point(
    running: SwarmSystem, db_path: str, entry: str
) -> None:
    """Metadata 33, 990, 999, 5000 and 100,000 levels deep: InvalidMessage naming metadata
    at every entry point, never a RecursionError; 32 levels are taken and stored."""
    system = running
    system.register_agent("a")
    call = ENTRY_POINTS_WITH_METADATA[entry]
    for depth in DEPTHS:
        with pytest.raises(InvalidMessage) as caught:
            call(system, deep(depth))
        assert caught.value.field in ("metadata", "message"), caught.value
        assert "levels deep" in str(caught.value) or "nested too deeply" in str(caught.value)
    call(system, deep(32))
    system.record_task_metric("valid", "a", 1.0, "success", metadata=deep(32))
    stored = 2 if entry in ("record_task_metric", "record_task_execution") else 1
    all_stored_and_readable(system, db_path, stored)
    assert system.query_task_metrics()[-1].metadata == deep(32)


def test_ids_and_results_that_only_look_like_strings_are_refused_on_the_hot_path(
    running: SwarmSystem, db_path: str
) -> None:
    """With 'a' known to the fast path, look-alikes of 'a', of a task id and of 'success'
    are refused naming the field, and the 1,000 metrics around them are all stored."""
    system = running
    system.register_agent("a")
    system.record_task_metric("first", "a", 1.0, "success")  # 'a' is known from now on
    bad: list[tuple[str, tuple[Any, ...]]] = [
        ("agent_id", ("t", LookAlike("a"), 1.0, "success")),
        ("agent_id", ("t", StrChild("a"), 1.0, "success")),
        ("task_id", (StrChild("t"), "a", 1.0, "success")),
        ("task_id", (LookAlike("t"), "a", 1.0, "success")),
        ("result", ("t", "a", 1.0, LookAlike("success"))),
        ("result", ("t", "a", 1.0, StrChild("success"))),
    ]
    for i in range(999):
        if i % 100 == 0:
            for field, args in bad:
                for record in (system.record_task_metric, parts(system).telemetry.record_task):
                    with pytest.raises(InvalidMessage) as caught:
                        record(*args)
                    assert caught.value.field == field
        system.record_task_metric(f"t{i}", "a", 1.0, "success")
    all_stored_and_readable(system, db_path, 1000)
    assert {type(m.agent_id) for m in system.query_task_metrics()} == {str}


RANGE_READS: dict[str, Callable[[SwarmSystem, Any, Any], object]] = {
    "get_task_stats": lambda s, a, b: s.get_task_stats(start_time=a, end_time=b),
    "get_task_stats(agent)": lambda s, a, b: s.get_task_stats("a", start_time=a, end_time=b),
    "get_agent_uptime": lambda s, a, b: s.get_agent_uptime("a", start_time=a, end_time=b),
    "query_task_metrics": lambda s, a, b: s.query_task_metrics(start_time=a, end_time=b),
}


@pytest.mark.parametrize("read_name", sorted(RANGE_READS))
def test_a_range_past_the_documented_bounds_is_refused_naming_its_end(
    running: SwarmSystem, read_name: str
) -> None:
    """(0, 1e308), milliseconds, negative and infinite ends: InvalidMessage naming the end
    (it raised OverflowError before); the bounds themselves and None work."""
    system = running
    system.register_agent("a")
    system.record_task_metric("t", "a", 1.0, "success")
    read_range = RANGE_READS[read_name]
    for start, end, field in [
        (0, 1e308, "start_time"),
        (MIN_TIMESTAMP, 1e308, "end_time"),
        (None, 9.3e18, "end_time"),
        (NOW_MS, None, "start_time"),
        (-1.0, None, "start_time"),
        (None, float("inf"), "end_time"),
        (dt.datetime(1970, 1, 1), None, "start_time"),
        (None, dt.datetime.max, "end_time"),
    ]:
        with pytest.raises(InvalidMessage) as caught:
            read_range(system, start, end)
        assert caught.value.field == field
        assert "out of range" in str(caught.value) or "finite" in str(caught.value)
    for start, end in [(MIN_TIMESTAMP, MAX_TIMESTAMP), (None, MAX_TIMESTAMP), (MIN_TIMESTAMP, None),
                       (MAX_TIMESTAMP, MIN_TIMESTAMP), (dt.datetime(2000, 1, 1), dt.datetime(2200, 1, 1))]:
        read_range(system, start, end)
    assert system.get_task_stats(start_time=MIN_TIMESTAMP, end_time=MAX_TIMESTAMP)["total_tasks"] == 1


# Property tests: any value at each entry point


def test_any_range_at_any_read_works_or_is_refused(running: SwarmSystem, db_path: str) -> None:
    """Every read taking a range, with any two ends: an answer, or InvalidMessage."""
    system = running
    system.register_agent("a")
    system.record_task_metric("t", "a", 1.0, "success")
    door = Door()
    ends = st.one_of(st.none(), valid_times, hostile_times)

    @FUZZ
    @given(start=ends, end=ends, read_name=st.sampled_from(sorted(RANGE_READS)))
    def any_range(start: Any, end: Any, read_name: str) -> None:
        door(lambda: RANGE_READS[read_name](system, start, end))

    any_range()
    assert door.taken and door.refused, door.refused
    all_stored_and_readable(system, db_path, 1)


def test_any_task_at_the_facade_is_refused_or_stored(running: SwarmSystem, db_path: str) -> None:
    """record_task_metric and record_task_execution with any values: refused by name, or
    stored and counted everywhere."""
    system = running
    system.register_agent("agent-0")
    system.record_task_metric("warm", "agent-0", 1.0, "success")  # agent-0 is on the fast path
    door = Door()
    taken = [1]

    arguments = one_hostile(
        valid={"task_id": valid_ids, "agent_id": st.one_of(st.just("agent-0"), valid_ids),
               "duration": st.one_of(st.floats(0, 1e6), st.integers(0, 10**6)),
               "result": st.sampled_from([*TaskResult, "success", "timeout"]),
               "success": st.booleans(), "tokens": st.integers(0, 10**6),
               "files": st.integers(0, 100), "metadata": st.one_of(st.none(), json_metadata)},
        hostile={"task_id": any_id, "agent_id": any_id, "duration": st.one_of(numbers, anything),
                 "result": any_result, "success": anything, "tokens": st.one_of(numbers, anything),
                 "files": st.one_of(numbers, anything), "metadata": all_metadata},
    )

    @FUZZ
    @given(args=arguments)
    def any_task(args: dict[str, Any]) -> None:
        task_id, agent_id, duration, result, success, tokens, files, metadata = (
            args[k] for k in ("task_id", "agent_id", "duration", "result", "success", "tokens",
                              "files", "metadata"))
        taken[0] += door(lambda: system.record_task_metric(
            task_id, agent_id, duration, result, tokens, files, metadata))
        taken[0] += door(lambda: system.record_task_execution(
            task_id, agent_id, duration, success, tokens, files, metadata))

    any_task()
    assert door.taken and len(door.refused) >= 5, door.refused
    all_stored_and_readable(system, db_path, taken[0])


def test_any_gauge_heartbeat_or_registration_is_refused_or_kept(
    running: SwarmSystem, db_path: str
) -> None:
    """record_agent_metric, record_swarm_metric, update_agent_heartbeat, register_agent(s):
    refused by name, or stored (gauges read back, agents listed), with no failure."""
    system = running
    door = Door()
    gauges = [0, 0]
    registered: set[str] = set()

    arguments = one_hostile(
        valid={"agent_id": valid_ids, "metric_type": valid_ids, "value": st.floats(-1e9, 1e9),
               "metadata": st.one_of(st.none(), json_metadata), "many": st.lists(valid_ids, max_size=3),
               "interval": st.one_of(st.none(), st.integers(1, 10_000))},
        hostile={"agent_id": any_id, "metric_type": any_id, "value": st.one_of(numbers, anything),
                 "metadata": all_metadata,
                 "many": st.one_of(st.lists(st.one_of(valid_ids, any_id), max_size=3), anything),
                 "interval": st.one_of(numbers, anything)},
    )

    @FUZZ
    @given(args=arguments)
    def any_gauge(args: dict[str, Any]) -> None:
        agent_id, metric_type, value, metadata, many, interval = (
            args[k] for k in ("agent_id", "metric_type", "value", "metadata", "many", "interval"))
        gauges[0] += door(lambda: system.record_agent_metric(agent_id, metric_type, value, metadata))
        gauges[1] += door(lambda: system.record_swarm_metric(metric_type, value, metadata))
        door(lambda: system.update_agent_heartbeat(agent_id, metadata))
        if door(lambda: system.register_agent(agent_id, metadata, interval_ms=interval)):
            registered.add(agent_id)
        if door(lambda: system.register_agents(many, metadata, interval_ms=interval)):
            registered.update(many)

    any_gauge()
    assert door.taken and len(door.refused) >= 4, door.refused
    all_stored_and_readable(system, db_path, 0)
    assert len(read(system, ReadAgentMetrics())) == gauges[0]
    assert len(read(system, ReadSwarmMetrics())) == gauges[1]
    assert {r.agent_id for r in read(system, ReadAgents())} >= registered


message_fields = st.fixed_dictionaries({
    "task_id": st.one_of(valid_ids, any_id), "agent_id": st.one_of(valid_ids, any_id),
    "swarm_id": st.one_of(valid_ids, any_id), "metric_type": st.one_of(valid_ids, any_id),
    "duration_ms": st.one_of(st.floats(0, 1e6), numbers), "value": st.one_of(st.floats(-1e9, 1e9), numbers),
    "result": any_result, "tokens_used": st.one_of(st.integers(0, 10**6), numbers),
    "timestamp": st.one_of(valid_times, hostile_times), "metadata": st.one_of(json_metadata, all_metadata),
})
FIELDS_OF = {
    TaskMetric: ("task_id", "agent_id", "duration_ms", "result", "tokens_used", "timestamp", "metadata"),
    AgentMetric: ("agent_id", "metric_type", "value", "timestamp", "metadata"),
    SwarmMetric: ("swarm_id", "metric_type", "value", "timestamp", "metadata"),
}


def test_any_message_sent_into_the_channel_is_refused_or_stored(
    running: SwarmSystem, db_path: str
) -> None:
    """TelemetryChannel.send of a message built from any values (the constructor is the door),
    or of any object at all: refused by name, or stored."""
    system = running
    door = Door()
    tasks = [0]

    @FUZZ
    @given(cls=st.sampled_from(sorted(FIELDS_OF, key=lambda c: c.__name__)), fields=message_fields,
           other=st.one_of(anything, st.builds(Heartbeat, agent_id=valid_ids, timestamp=valid_times)))
    def any_message(cls: type[Any], fields: dict[str, Any], other: Any) -> None:
        chosen = {k: v for k, v in fields.items() if k in FIELDS_OF[cls]}
        if chosen["metadata"] is None:
            del chosen["metadata"]
        if door(lambda: system.send(cls(**chosen))) and cls is TaskMetric:
            tasks[0] += 1
        assert not door(lambda: system.send(other))

    any_message()
    assert door.taken and len(door.refused) >= 5, door.refused
    all_stored_and_readable(system, db_path, tasks[0])


def test_any_bytes_decoded_and_delivered_are_refused_or_stored(
    running: SwarmSystem, db_path: str
) -> None:
    """messages.decode of any tagged object (JSON and msgpack), then delivered where it goes
    (telemetry into the channel, heartbeats and registrations told to the coordinator):
    refused by decode, or stored with no failure."""
    system = running
    system.register_agent("agent-0")
    door = Door()
    tasks = [0]
    tags = st.sampled_from(["task_metric", "agent_metric", "swarm_metric", "heartbeat",
                            "register_agent", "unregister_agent"])
    json_values = st.one_of(valid_ids, st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1),
                            st.sampled_from([NOW_MS, 9.3e18, 1e308, 0, MIN_TIMESTAMP, MAX_TIMESTAMP,
                                             "success", "agent-0"]))
    depths = st.sampled_from([1, 32, 33, 990, 5000])

    @FUZZ
    @given(tag=tags, fields=message_fields, format=st.sampled_from(["json", "msgpack"]),
           overrides=st.dictionaries(st.sampled_from(["timestamp", "duration_ms", "value", "agent_id"]),
                                     json_values, max_size=2), depth=depths)
    def any_bytes(tag: str, fields: dict[str, Any], format: str, overrides: dict[str, Any],
                  depth: int) -> None:
        raw: dict[str, Any] = {"type": tag, "task_id": "t", "agent_id": "agent-0", "swarm_id": "s",
                               "metric_type": "m", "duration_ms": 1.0, "value": 1.0,
                               "result": "success", "timestamp": 1_700_000_000.0, **overrides}
        keep = {"task_metric": FIELDS_OF[TaskMetric], "agent_metric": FIELDS_OF[AgentMetric],
                "swarm_metric": FIELDS_OF[SwarmMetric], "heartbeat": ("agent_id", "timestamp"),
                "register_agent": ("agent_id",), "unregister_agent": ("agent_id",)}[tag]
        raw = {k: v for k, v in raw.items() if k == "type" or k in keep}
        text = (msgspec.json.encode(raw) if format == "json" else msgspec.msgpack.encode(raw))
        if tag != "unregister_agent" and format == "json":  # metadata of any depth, as text
            text = text[:-1] + b',"metadata":' + b'{"d":' * (depth - 1) + b"{}" + b"}" * (depth - 1) + b"}"
        decoded: list[Any] = []
        if not door(lambda: decoded.append(messages.decode(text, format))):  # type: ignore[arg-type]
            return
        message = decoded[0]
        if isinstance(message, TaskMetric | AgentMetric | SwarmMetric):
            system.send(message)
            tasks[0] += isinstance(message, TaskMetric)
        elif isinstance(message, UnregisterAgent) and message.agent_id == "agent-0":
            pass  # keep the one agent the other examples beat for
        else:
            system.coordinator.tell(message)

    any_bytes()
    assert door.taken and door.refused, door.refused
    system.snapshot()  # the coordinator has handled everything told before
    all_stored_and_readable(system, db_path, tasks[0])


def test_any_heartbeat_or_registration_told_to_the_coordinator_is_refused_or_kept(
    running: SwarmSystem, db_path: str
) -> None:
    """Heartbeat, RegisterAgent and UnregisterAgent built from any values (the constructor
    is the door) and told to the coordinator: the coordinator and every service carry on."""
    system = running
    system.register_agent("agent-0")
    door = Door()
    registered: set[str] = {"agent-0"}

    @FUZZ
    @given(agent_id=st.one_of(st.just("agent-0"), valid_ids, any_id),
           timestamp=st.one_of(valid_times, hostile_times), metadata=all_metadata,
           interval=st.one_of(st.none(), st.integers(1, 10_000), numbers))
    def any_tell(agent_id: Any, timestamp: Any, metadata: Any, interval: Any) -> None:
        meta = {} if metadata is None else metadata
        door(lambda: system.coordinator.tell(
            Heartbeat(agent_id=agent_id, timestamp=timestamp, metadata=meta)))
        if door(lambda: system.coordinator.tell(
                RegisterAgent(agent_id=agent_id, metadata=meta, interval_ms=interval))):
            registered.add(agent_id)
        if agent_id != "agent-0":
            door(lambda: system.coordinator.tell(UnregisterAgent(agent_id=agent_id)))

    any_tell()
    assert door.taken and len(door.refused) >= 3, door.refused
    system.snapshot()
    all_stored_and_readable(system, db_path, 0)
    assert {r.agent_id for r in read(system, ReadAgents())} >= registered
    assert system.coordinator.proxy().unknown_messages.get(timeout=WAIT) == 0


def test_a_task_metric_told_to_the_coordinator_is_stored(running: SwarmSystem, db_path: str) -> None:
    """A TaskMetric an agent actor tells the coordinator is forwarded and stored."""
    system = running
    system.coordinator.tell(TaskMetric(task_id="t", agent_id="a", duration_ms=1.0, result="success",
                                       timestamp=system.clock.time()))
    system.snapshot()
    system.flush()
    assert stored_tasks(db_path)[0] == 1


def test_the_clock_must_tell_a_time_in_the_range(db_path: str) -> None:
    """start_system refuses a clock whose time() is outside 2000..2200, before anything starts."""
    clock = ManualClock(start=0.0)
    try:
        with pytest.raises(InvalidMessage) as caught:
            start_system(db_path, clock=clock)
        assert caught.value.field == "clock"
        assert pykka.ActorRegistry.get_all() == []
    finally:
        clock.close()
