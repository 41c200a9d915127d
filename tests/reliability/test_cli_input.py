"""Hostile command-line input: one clear line and exit status 2, or an answer; never a traceback."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.cli import main
from messages import AgentRegistered
from storage import MetricsStorage

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small database the system could have written."""
    path = tmp_path_factory.mktemp("cli") / "swarm.db"
    with MetricsStorage(path) as storage:
        storage.store_agent_events(
            [AgentRegistered(agent_id=a, at=T0, interval_ms=500, failure_threshold=3) for a in "ab"]
        )
        storage.store_batch(
            tasks=[(f"t{i}", "ab"[i % 2], 10.0 + i, "success", 1, 1, T0 + i, None) for i in range(20)]
        )
    return str(path)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


hostile = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=300
) | st.sampled_from(["x'; DROP TABLE task_metrics; --", "-1", "nan", "1e309", "24h", "0", "99999999999999999999"])


@settings(
    max_examples=150, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from(["report", "query", "stats"]),
    option=st.sampled_from(["--agent", "--since", "--limit", "--start", "--format", "--result"]),
    value=hostile,
)
def test_hostile_options_get_an_answer_or_one_line_and_status_2(
    db: str, command: str, option: str, value: str
) -> None:
    """Whatever the value, the CLI answers (0) or refuses in one line (2), with no traceback."""
    code, _out, err = _run([command, "--db", db, option, value])
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.strip(), "a refusal says why"
    with MetricsStorage(db, readonly=True) as storage:
        assert len(storage.query_task_metrics()) == 20  # SQL in a value stayed data


@settings(max_examples=50, deadline=None, derandomize=True)
@given(path=hostile)
def test_hostile_database_paths_are_refused_in_one_line(path: str) -> None:
    """A path that is not our database is one line on stderr and status 2."""
    code, _out, err = _run(["stats", "--db", path or "missing.db"])
    assert code == 2 or (code == 0 and Path(path).is_file())
    assert "Traceback" not in err
