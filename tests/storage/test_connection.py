"""Tests for storage/connection.py: what may be opened, how, and with which settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import MetricsStorage, NotOurDatabase, StorageError

from .builders import row


def test_a_file_database_uses_wal_normal_sync_and_foreign_keys(
    file_storage: MetricsStorage,
) -> None:
    """journal_mode=wal, synchronous=NORMAL (1), foreign_keys on, the default 5 s busy timeout."""
    settings = file_storage.settings()
    assert settings["journal_mode"] == "wal"
    assert settings["synchronous"] == 1
    assert settings["foreign_keys"] == 1
    assert settings["busy_timeout_ms"] == 5000
    assert settings["query_only"] == 0


def test_wal_mode_is_recorded_in_the_file(db_path: Path) -> None:
    """Another connection sees the file in WAL mode."""
    MetricsStorage(db_path).close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_memory_databases_work(storage: MetricsStorage) -> None:
    """':memory:' opens a private, migrated database."""
    storage.store_batch(tasks=[row()])
    assert storage.settings()["journal_mode"] == "memory"
    assert len(storage.query_task_metrics()) == 1


def test_busy_timeout_is_an_argument(db_path: Path) -> None:
    """busy_timeout (seconds) sets SQLite's busy timeout (ms)."""
    with MetricsStorage(db_path, busy_timeout=0.25) as storage:
        assert storage.settings()["busy_timeout_ms"] == 250


def test_readonly_reads_what_a_writer_wrote_and_sets_query_only(db_path: Path) -> None:
    """readonly=True reads the data, with query_only on."""
    with MetricsStorage(db_path) as writer:
        writer.store_batch(tasks=[row()])
    with MetricsStorage(db_path, readonly=True) as reader:
        assert reader.settings()["query_only"] == 1
        assert [m.task_id for m in reader.query_task_metrics()] == ["t1"]


def test_readonly_refuses_writes_and_leaves_the_file_unchanged(db_path: Path) -> None:
    """Every write on a read-only storage raises StorageError naming it; the file is unchanged."""
    MetricsStorage(db_path).close()
    before = db_path.read_bytes()
    with MetricsStorage(db_path, readonly=True) as reader:
        with pytest.raises(StorageError) as info:
            reader.store_batch(tasks=[row()])
        assert info.value.operation == "store_batch"
        assert "readonly" in info.value.reason
        with pytest.raises(StorageError):
            reader.apply_retention(1, now=1_700_000_000)
    assert db_path.read_bytes() == before


def test_readonly_does_not_migrate_an_older_database(db_path: Path) -> None:
    """A v1 file opened read-only is refused as too old, and stays v1."""
    MetricsStorage(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(StorageError, match="cannot migrate"):
        MetricsStorage(db_path, readonly=True)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


@pytest.mark.parametrize("kwargs", [{"create": False}, {"readonly": True}])
def test_a_missing_file_is_refused_unless_it_may_be_created(
    db_path: Path, kwargs: dict[str, bool]
) -> None:
    """create=False (and readonly) refuse a missing file, and do not create it."""
    with pytest.raises(StorageError) as info:
        MetricsStorage(db_path, **kwargs)
    assert info.value.operation == "open"
    assert str(db_path) in info.value.reason
    assert not db_path.exists()


def test_create_false_opens_an_existing_database(db_path: Path) -> None:
    """create=False is happy with a file that has our schema."""
    MetricsStorage(db_path).close()
    with MetricsStorage(db_path, create=False) as storage:
        assert storage.agent_ids() == []


@pytest.mark.parametrize("kwargs", [{}, {"create": False}, {"readonly": True}])
def test_a_file_that_is_not_sqlite_is_not_our_database(
    tmp_path: Path, kwargs: dict[str, bool]
) -> None:
    """A text file raises NotOurDatabase with its path, and is left as it was."""
    path = tmp_path / "notes.txt"
    path.write_text("these are not the rows you are looking for\n" * 100)
    with pytest.raises(NotOurDatabase) as info:
        MetricsStorage(path, **kwargs)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert path.read_text().startswith("these are not")


@pytest.mark.parametrize("kwargs", [{}, {"create": False}, {"readonly": True}])
def test_another_applications_sqlite_database_is_not_ours(
    tmp_path: Path, kwargs: dict[str, bool]
) -> None:
    """A SQLite file with someone else's tables is refused, never migrated into."""
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(NotOurDatabase, match="recipes|1 schema objects"):
        MetricsStorage(path, **kwargs)
    assert path.read_bytes() == before


@pytest.mark.parametrize("kwargs", [{"create": False}, {"readonly": True}])
def test_an_empty_sqlite_file_is_not_ours_unless_we_may_create(
    tmp_path: Path, kwargs: dict[str, bool]
) -> None:
    """An empty file is a SQLite database without our schema: refused without create."""
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(NotOurDatabase):
        MetricsStorage(path, **kwargs)
    with MetricsStorage(path) as storage:  # with create (the default) it becomes ours
        assert storage.settings()["schema_version"] >= 1


@pytest.mark.parametrize("kwargs", [{"readonly": True}, {"create": False}])
def test_memory_databases_need_create(kwargs: dict[str, bool]) -> None:
    """An in-memory database is always new, so readonly or create=False make no sense."""
    with pytest.raises(StorageError):
        MetricsStorage(":memory:", **kwargs)


def test_max_bytes_caps_the_page_count(db_path: Path) -> None:
    """max_bytes becomes PRAGMA max_page_count in pages."""
    with MetricsStorage(db_path, max_bytes=1 << 20) as storage:
        settings = storage.settings()
        assert settings["max_page_count"] == (1 << 20) // settings["page_size"]


def test_paths_with_uri_special_characters_work(tmp_path: Path) -> None:
    """Spaces, '?', '#' and '%' in a path are quoted, not read as URI syntax."""
    folder = tmp_path / "odd dir?x=1#frag%20"
    folder.mkdir()
    path = folder / "m e?trics.db"
    with MetricsStorage(path) as storage:
        storage.store_batch(tasks=[row()])
    assert path.exists()
    with MetricsStorage(path, readonly=True) as reader:
        assert len(reader.query_task_metrics()) == 1


@pytest.mark.parametrize("where", ["missing folder", "a folder", "not a folder"])
def test_an_open_error_names_the_path(tmp_path: Path, where: str) -> None:
    """Whatever SQLite says when a file cannot be opened, the StorageError names the file."""
    (tmp_path / "plain").write_text("x")
    path = {"missing folder": tmp_path / "no" / "such" / "m.db", "a folder": tmp_path,
            "not a folder": tmp_path / "plain" / "m.db"}[where]
    with pytest.raises(StorageError) as refused:
        MetricsStorage(path)
    assert str(path) in str(refused.value)
    assert refused.value.operation == "open"


def test_a_tilde_means_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'~/m.db' is the file m.db in the home folder, not a folder named '~'."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with MetricsStorage("~/m.db") as storage:
        storage.store_batch(tasks=[row()])
        assert storage.path == str(tmp_path / "m.db")
    assert (tmp_path / "m.db").exists() and not (tmp_path / "~").exists()
    with MetricsStorage("~/m.db", readonly=True) as reader:
        assert len(reader.query_task_metrics()) == 1
