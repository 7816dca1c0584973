"""The store's MLflow database is created whole or not at all, and never replaces one that exists."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from mlops_sdk.backends.local._mlflow import MlflowStore


def _experiments(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as connection:
        return dict(connection.execute("SELECT name, artifact_location FROM experiments").fetchall())


def _head_revision(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_a_new_database_is_complete_and_keeps_default_artifacts_in_the_store(tmp_path: Path) -> None:
    from mlflow.store.db.utils import _get_latest_schema_revision

    store = MlflowStore(tmp_path / "store")
    assert store.experiment_id("demo") == "1"
    assert _head_revision(store.db_path) == _get_latest_schema_revision()
    default = _experiments(store.db_path)["Default"]
    assert default == (tmp_path / "store" / "artifacts" / "Default" / "0").as_uri()
    assert sorted(path.name for path in store.folder.iterdir()) == ["mlflow.db"]  # no staging file left


def test_creating_the_database_makes_the_store_folder(tmp_path: Path) -> None:
    store = MlflowStore(tmp_path / "not" / "yet")
    store._create_database()
    assert "Default" in _experiments(store.db_path)


def test_an_existing_database_is_never_replaced(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    folder = tmp_path / "store"
    folder.mkdir()
    theirs = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    theirs.create_experiment("theirs")
    store = MlflowStore(folder)
    store._create_database()  # what a process that lost the creation race does
    assert "theirs" in _experiments(store.db_path)
    assert sorted(path.name for path in folder.iterdir()) == ["mlflow.db"]


def test_scratch_folders_of_killed_creations_are_removed_once_stale(tmp_path: Path) -> None:
    import os

    from mlops_sdk.backends.local._mlflow import _remove_stale_scratch

    stale, fresh = tmp_path / "mlops-mlflow-stale", tmp_path / "mlops-mlflow-fresh"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "mlflow.db").write_bytes(b"half built")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    _remove_stale_scratch(tmp_path)
    assert not stale.exists()
    assert fresh.exists()  # may belong to a creation in progress


def test_a_process_killed_while_creating_leaves_no_half_built_database(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import mlflow.store.tracking.sqlalchemy_store\n"
        "from mlops_sdk.backends.local._mlflow import MlflowStore\n"
        "print('creating', flush=True)\n"
        "MlflowStore(Path(sys.argv[1])).client\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "creating"
    time.sleep(0.3)  # inside MLflow's schema migrations (they take about a second here)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    db = folder / "mlflow.db"
    if db.exists():  # a machine fast enough to finish first: then it must be complete
        from mlflow.store.db.utils import _get_latest_schema_revision

        assert _head_revision(db) == _get_latest_schema_revision()
    store = MlflowStore(folder)
    assert store.experiment_id("after-crash") == "1"  # a complete database either way
