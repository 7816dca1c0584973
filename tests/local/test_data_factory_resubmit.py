"""A refresh whose worker never started never wedges its idempotency key.

A keyed ``begin_refresh`` first records the run (``Queued``, the claim), then starts its worker.
When starting the worker fails, or the worker dies before it begins the run, the run provably did
nothing: the next ``begin_refresh`` with the same key must run it, not re-attach to a dead claim.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient, Status
from mlops_sdk.clients.data_factory import DataFactoryClient
from mlops_sdk.models.data_factory import Copy, RefreshPipeline, Sql

CSV = "id,amount\n1,10.5\n2,3.0\n3,7.25\n"
PIPELINE = RefreshPipeline(
    name="sales",
    activities=[Copy(name="raw", source="data/*.csv"), Sql(name="big", query="SELECT * FROM raw WHERE amount > 5")],
)
KEY = "flow-1-refresh"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sales.csv").write_text(CSV)
    monkeypatch.chdir(tmp_path)
    return tmp_path / ".mlops"


@pytest.fixture
def client(store: Path) -> Iterator[DataFactoryClient]:
    with DataFactoryClient(
        f"local://{store}", settings={"show_progress": False, "poll_interval": 0.05, "poll_max_interval": 0.2}
    ) as factory:
        factory.define(PIPELINE)
        yield factory


def _block_worker_logs(store: Path) -> Path:
    """Put a file where the worker's log folder goes: starting a worker then fails before it runs."""
    logs = store / "data_factory" / "logs"
    logs.parent.mkdir(parents=True, exist_ok=True)
    logs.write_text("not a folder")
    return logs


def _rows(store: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(store / "mlops.db") as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute("SELECT * FROM df_runs").fetchall()


def test_a_refresh_whose_worker_could_not_start_runs_when_its_key_is_used_again(
    client: DataFactoryClient, store: Path
) -> None:
    logs = _block_worker_logs(store)
    with pytest.raises(OSError):  # noqa: PT011 - whichever OSError the file system gives
        client.begin_refresh("sales", idempotency_key=KEY)
    [claim] = _rows(store)
    assert claim["status"] == "Failed"
    assert claim["started_at"] is None  # no worker ever began it
    assert "could not be started" in claim["message"]

    logs.unlink()
    operation = client.begin_refresh("sales", idempotency_key=KEY)
    assert operation.id == claim["run_id"]  # the same run, not a second one
    run = operation.result(timeout=60)
    assert run.status is Status.SUCCEEDED
    assert run.outputs["big"].row_count == 2
    assert [r.run_id for r in client.list_runs("sales")] == [claim["run_id"]]
    # Succeeded is terminal: the key now only re-attaches.
    assert client.begin_refresh("sales", idempotency_key=KEY).result(timeout=60).run_id == claim["run_id"]


STARTER = """
import sys
from mlops_sdk import MLOpsClient
with MLOpsClient(sys.argv[1], show_progress=False) as client:
    client.data_factory.begin_refresh("sales", idempotency_key=sys.argv[2])
"""


def test_a_refresh_started_by_a_process_that_died_runs_when_its_key_is_used_again(
    client: DataFactoryClient, store: Path
) -> None:
    logs = _block_worker_logs(store)
    starter = subprocess.run(
        [sys.executable, "-c", STARTER, f"local://{store}", KEY], capture_output=True, text=True, timeout=120
    )
    assert starter.returncode != 0, starter.stdout + starter.stderr
    logs.unlink()
    operation = client.begin_refresh("sales", idempotency_key=KEY)
    run = operation.result(timeout=60)
    assert run.status is Status.SUCCEEDED
    assert len(client.list_runs("sales")) == 1


def test_a_refresh_whose_worker_died_before_it_began_runs_when_its_key_is_used_again(
    client: DataFactoryClient, store: Path, tmp_path: Path
) -> None:
    # A worker that cannot import its own module exits before it claims the run.
    broken = tmp_path / "broken"
    (broken / "mlops_sdk").mkdir(parents=True)
    (broken / "mlops_sdk" / "__init__.py").write_text("raise ImportError('broken install')\n")
    with MLOpsClient(f"local://{store}", show_progress=False) as hub:
        sys.path.insert(0, str(broken))  # the worker inherits this process's sys.path as PYTHONPATH
        try:
            first = hub.data_factory.begin_refresh("sales", idempotency_key=KEY)
        finally:
            sys.path.remove(str(broken))
        with pytest.raises(Exception, match="ended without finishing"):
            first.result(timeout=60)
    shutil.rmtree(broken)
    again = client.begin_refresh("sales", idempotency_key=KEY)
    assert again.id == first.id
    assert again.result(timeout=60).status is Status.SUCCEEDED
    assert len(client.list_runs("sales")) == 1
