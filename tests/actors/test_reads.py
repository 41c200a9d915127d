"""The writer's typed reads: answered from SQLite, or refused by the field that is wrong."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from actors import SwarmSystem
from actors.protocol import ReadAgent, ReadTaskMetrics, ReadTaskStats
from messages import InvalidMessage


def test_a_typed_read_is_answered_by_the_writer(system: SwarmSystem) -> None:
    """ReadTaskMetrics and ReadTaskStats give what the storage holds."""
    system.register_agent("a")
    system.record_task_metric("t1", "a", 5.0, "success")
    system.flush()
    assert [m.task_id for m in system.writer.ask(ReadTaskMetrics(agent_id="a"))] == ["t1"]
    assert system.writer.ask(ReadTaskStats(start_time=1e9, end_time=4e9))["total_tasks"] == 1


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ReadAgent(agent_id=10**30), "agent_id"),  # no SQLite INTEGER: OverflowError before
        (ReadTaskMetrics(start_time=object()), "start_time"),
        (ReadTaskStats(agent_id=["a"]), "agent_id"),  # type: ignore[arg-type]
    ],
)
def test_a_read_with_a_field_of_the_wrong_type_is_refused_by_name(
    system: SwarmSystem, request_: Any, field: str
) -> None:
    """The asker gets InvalidMessage naming the field; the writer carries on."""
    reply = system.writer.ask(request_)  # an error comes back as a failed future
    assert isinstance(reply, pykka.Future)
    with pytest.raises(InvalidMessage) as caught:
        reply.get(timeout=10)
    assert caught.value.field == field
    assert system.writer.ask(ReadAgent(agent_id="nobody")) is None
