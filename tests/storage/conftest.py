"""Fixtures for the storage tests: databases in memory or under tmp_path, never in the tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import MetricsStorage


@pytest.fixture
def storage() -> Iterator[MetricsStorage]:
    """An in-memory MetricsStorage, closed after the test."""
    with MetricsStorage(":memory:") as opened:
        yield opened


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a database file under the test's tmp_path (not created)."""
    return tmp_path / "metrics.db"


@pytest.fixture
def file_storage(db_path: Path) -> Iterator[MetricsStorage]:
    """A MetricsStorage on a file under tmp_path, closed after the test."""
    with MetricsStorage(db_path) as opened:
        yield opened
