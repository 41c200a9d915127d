"""Tests for storage/metrics.py and the package surface: MetricsStorage as a whole."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage as package
from storage import MetricsStorage

from .builders import T0, row


def test_the_package_exports_its_public_names() -> None:
    """Everything in storage.__all__ is importable from storage."""
    for name in package.__all__:
        assert hasattr(package, name), name
    assert {"MetricsStorage", "TaskRow", "task_row", "LogHistogram", "TaskSummary"} <= set(
        package.__all__
    )


def test_the_default_file_is_swarm_metrics_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no path, the database is swarm_metrics.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    with MetricsStorage() as storage:
        storage.store_batch(tasks=[row()])
    assert (tmp_path / "swarm_metrics.db").exists()


def test_a_reader_sees_what_a_writer_committed(db_path: Path) -> None:
    """A read-only instance beside a live writer sees each committed batch."""
    with MetricsStorage(db_path) as writer, MetricsStorage(db_path, readonly=True) as reader:
        writer.store_batch(tasks=[row("t1", timestamp=T0)])
        assert [m.task_id for m in reader.query_task_metrics()] == ["t1"]
        writer.store_batch(tasks=[row("t2", timestamp=T0 + 1)])
        assert reader.task_stats()["total_tasks"] == 2


def test_repr_says_where_and_how(db_path: Path) -> None:
    """repr names the class, the path and the state."""
    storage = MetricsStorage(db_path)
    assert repr(storage) == f"MetricsStorage({str(db_path)!r}, open)"
    storage.close()
    assert repr(storage).endswith("closed)")


@pytest.mark.parametrize(
    "kwargs",
    [{"busy_timeout": -1.0}, {"max_bytes": 0}, {"exact_max_rows": -1}, {"exact_max_rows": 1.5}],
)
def test_bad_constructor_arguments_are_refused(kwargs: dict[str, float]) -> None:
    """Negative timeouts, sizes and thresholds raise ValueError (InvalidMessage)."""
    with pytest.raises(ValueError):
        MetricsStorage(":memory:", **kwargs)  # type: ignore[arg-type]
