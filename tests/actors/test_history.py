"""Tests for actors/history.py: an agent's recent heartbeats in a ring."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.history import HeartbeatHistory


def test_keeps_the_last_maxlen_beats_oldest_first() -> None:
    """Past maxlen the oldest beat goes; the order stays oldest first."""
    history = HeartbeatHistory(3)
    for t in range(1, 6):
        history.append(float(t), t - 0.5, {})
    assert len(history) == 3
    assert [(r.received_at, r.sent_at) for r in history] == [(3.0, 2.5), (4.0, 3.5), (5.0, 4.5)]


def test_metadata_stays_with_its_beat_and_is_copied() -> None:
    """A beat's metadata comes back with it (a copy); an overwritten slot forgets it."""
    history = HeartbeatHistory(2)
    given_metadata = {"load": 0.5}
    history.append(1.0, 1.0, given_metadata)
    history.append(2.0, 2.0, {})
    given_metadata["load"] = 9.0
    records = list(history)
    assert [r.metadata for r in records] == [{"load": 0.5}, {}]
    records[0].metadata["changed"] = True
    assert next(iter(history)).metadata == {"load": 0.5}
    history.append(3.0, 3.0, {})
    assert [r.metadata for r in history] == [{}, {}]


@pytest.mark.parametrize("maxlen", [0, -1, 1.5, None])
def test_maxlen_must_be_a_positive_int(maxlen: object) -> None:
    """A history that can keep nothing is refused."""
    with pytest.raises(ValueError, match="at least one"):
        HeartbeatHistory(maxlen)  # type: ignore[arg-type]


@given(
    maxlen=st.integers(min_value=1, max_value=20),
    beats=st.lists(
        st.tuples(
            st.floats(allow_nan=False, allow_infinity=False),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
        max_size=60,
    ),
)
def test_behaves_like_a_bounded_deque(maxlen: int, beats: list[tuple[float, dict[str, int]]]) -> None:
    """Whatever is appended, the history equals the last maxlen beats, as a deque would keep."""
    history = HeartbeatHistory(maxlen)
    for t, metadata in beats:
        history.append(t, -t, metadata)
    expected = beats[-maxlen:]
    assert [(r.received_at, r.sent_at, r.metadata) for r in history] == [
        (t, -t, metadata) for t, metadata in expected
    ]
