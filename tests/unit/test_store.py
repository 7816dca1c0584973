"""The local SQLite store: WAL, per-component forward migrations, atomic writes, concurrent processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_sdk.backends.local.store import LocalStore, Migration
from mlops_sdk.core.errors import ConfigurationError

V1 = [Migration(1, "runs table", "CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT NOT NULL);")]
V2 = [
    *V1,
    Migration(
        2,
        "runs get created_at",
        "ALTER TABLE runs ADD COLUMN created_at TEXT NOT NULL DEFAULT '';\nCREATE INDEX runs_status ON runs (status);",
    ),
    Migration(3, "backfill", lambda c: c.execute("UPDATE runs SET created_at = 'migrated' WHERE created_at = ''")),
]


def test_wal_mode_and_fresh_schema(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / ".mlops")
    assert store.ensure_schema("demo", V2) == 3
    mode = store.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    rows = store.connection().execute("SELECT component, version FROM schema_versions ORDER BY version").fetchall()
    assert [tuple(row) for row in rows] == [("demo", 1), ("demo", 2), ("demo", 3)]
    store.close()


def test_migrates_an_older_database_keeping_its_rows(tmp_path: Path) -> None:
    old = LocalStore(tmp_path)
    old.ensure_schema("demo", V1)
    with old.transaction() as connection:
        connection.execute("INSERT INTO runs (id, status) VALUES ('r1', 'Succeeded')")
    old.close()

    new = LocalStore(tmp_path)
    assert new.schema_version("demo") == 1
    assert new.ensure_schema("demo", V2) == 3
    row = new.connection().execute("SELECT id, status, created_at FROM runs").fetchone()
    assert tuple(row) == ("r1", "Succeeded", "migrated")
    assert new.ensure_schema("demo", V2) == 3  # idempotent
    new.close()


def test_a_newer_database_is_refused_not_damaged(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.ensure_schema("demo", V2)
    with pytest.raises(ConfigurationError, match="newer than this mlops-sdk understands"):
        store.ensure_schema("demo", V1)
    assert store.schema_version("demo") == 3


def test_misnumbered_migrations_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="numbered 1..2"):
        LocalStore(tmp_path).ensure_schema("bad", [V2[0], V2[2]])


def test_failed_migration_rolls_back_completely(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    broken = [*V1, Migration(2, "broken", "ALTER TABLE runs ADD COLUMN x TEXT;\nTHIS IS NOT SQL;")]
    with pytest.raises(sqlite3.OperationalError):
        store.ensure_schema("demo", broken)
    assert store.schema_version("demo") == 0
    tables = {row[0] for row in store.connection().execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "runs" not in tables


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.ensure_schema("demo", V1)

    def crash_mid_write() -> None:
        with store.transaction() as connection:
            connection.execute("INSERT INTO runs (id, status) VALUES ('half', 'x')")
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        crash_mid_write()
    assert store.connection().execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlops_sdk.backends.local.store import LocalStore, Migration
    folder, prefix, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = LocalStore(folder)
    schema = "CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT NOT NULL);"
    store.ensure_schema("demo", [Migration(1, "runs", schema)])
    for i in range(count):
        with store.transaction() as connection:
            n = connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            connection.execute("INSERT INTO runs (id, status) VALUES (?, ?)", (f"{prefix}-{i}", str(n)))
    print("done")
    """
)


def test_two_processes_writing_concurrently_lose_nothing(tmp_path: Path) -> None:
    count = 300
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name, str(count)], stdout=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    assert all("done" in output for output in outputs)
    store = LocalStore(tmp_path)
    ids = {row[0] for row in store.connection().execute("SELECT id FROM runs")}
    assert len(ids) == 2 * count
    # each write saw a consistent count: the observed counts are exactly 0..599, each once
    seen = sorted(int(row[0]) for row in store.connection().execute("SELECT status FROM runs"))
    assert seen == list(range(2 * count))
    assert store.schema_version("demo") == 1
