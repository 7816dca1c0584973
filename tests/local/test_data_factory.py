"""The local refresh engine: real worker processes, DuckDB, SQLite and Parquet snapshots in a tmp folder."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_sdk import (
    ConfigurationError,
    MLOpsClient,
    OperationCanceledError,
    OperationFailedError,
    ResourceNotFoundError,
    Status,
)
from mlops_sdk.clients.data_factory import DataFactoryClient
from mlops_sdk.models.data_factory import Copy, Python, RefreshPipeline, RefreshRun, Sql

# --- python activities (imported by the worker process from this module) ---------------------------


def add_total(inputs: dict[str, pa.Table], parameters: dict[str, Any]) -> pa.Table:
    """Adds amount * rate as a column; keeps the row order."""
    table = inputs["clean"]
    rate = float(parameters["rate"])
    return table.append_column("total", pa.array([value * rate for value in table["amount"].to_pylist()]))


def wait_for_release(inputs: dict[str, pa.Table], parameters: dict[str, Any]) -> pa.Table:
    """Blocks until the release file exists (bounded), so tests can cancel or kill mid-run."""
    release = Path(parameters["release_file"])
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return inputs["raw"]


def fail_while_flagged(inputs: dict[str, pa.Table], parameters: dict[str, Any]) -> Any:
    """Fails while the flag file exists, then returns a pandas DataFrame."""
    if Path(parameters["flag_file"]).exists():
        raise RuntimeError("upstream export is incomplete")
    return inputs["raw"].to_pandas().assign(checked=True)


# --- fixtures --------------------------------------------------------------------------------------

CSV = "id,amount,region\n1,10.5,eu\n2,3.0,us\n3,7.25,eu\n4,1.0,eu\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "sales"
    folder.mkdir(parents=True)
    (folder / "2026-01.csv").write_text(CSV)
    return folder


@pytest.fixture
def client(tmp_path: Path) -> Iterator[DataFactoryClient]:
    with DataFactoryClient(
        f"local://{tmp_path / '.mlops'}",
        settings={"show_progress": False, "poll_interval": 0.05, "poll_max_interval": 0.2},
    ) as factory:
        yield factory


SALES = RefreshPipeline(
    name="sales",
    parameters={"min_amount": {"type": "float", "default": 2.0}, "rate": {"type": "float", "default": 1.5}},
    activities=[
        Copy(name="raw", source="data/sales/*.csv"),
        Sql(name="clean", query="SELECT id, amount, region FROM raw WHERE amount >= $min_amount ORDER BY id"),
        Python(name="enriched", function=add_total),
    ],
)


def _digest(table: pa.Table) -> str:
    """sha256 of the table's Arrow IPC stream, computed independently of the SDK."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return "sha256:" + hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def _wait_for_activity(client: DataFactoryClient, run_id: str, name: str) -> RefreshRun:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = client.get_run(run_id)
        if any(a.name == name and a.native_status == "InProgress" for a in run.activities):
            return run
        time.sleep(0.05)
    raise AssertionError(f"activity {name} never started")


def _worker_pid(tmp_path: Path, run_id: str) -> int:
    with sqlite3.connect(tmp_path / ".mlops" / "mlops.db") as db:
        return int(db.execute("SELECT pid FROM df_runs WHERE run_id = ?", (run_id,)).fetchone()[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _visible_snapshots(tmp_path: Path) -> list[Path]:
    datasets = tmp_path / ".mlops" / "datasets"
    return sorted(p for p in datasets.rglob("*") if p.is_file() and ".tmp" not in p.parts)


# --- tests -------------------------------------------------------------------------------------------


def test_copy_sql_python_produce_content_addressed_snapshots(
    client: DataFactoryClient, data: Path, tmp_path: Path
) -> None:
    client.define(SALES)
    statuses: list[str | None] = []
    run = client.begin_refresh(
        "sales", parameters={"min_amount": 5.0}, progress=lambda e: statuses.append(e.native_status)
    ).result()

    assert run.status is Status.SUCCEEDED
    assert statuses[-1] == "Succeeded"
    assert [(a.name, a.type, a.native_status) for a in run.activities] == [
        ("raw", "Copy", "Succeeded"),
        ("clean", "Sql", "Succeeded"),
        ("enriched", "Python", "Succeeded"),
    ]
    assert run.parameters == {"min_amount": 5.0, "rate": 1.5, "mlops_request_id": run.idempotency_key}

    enriched = run.output("enriched")
    expected = pa.table(
        {
            "id": pa.array([1, 3], pa.int64()),
            "amount": pa.array([10.5, 7.25]),
            "region": pa.array(["eu", "eu"]),
            "total": pa.array([15.75, 10.875]),
        }
    )
    stored = pq.read_table(enriched.uri)
    assert stored.equals(expected)
    assert enriched.digest == _digest(expected)
    assert Path(enriched.uri).name == enriched.digest.split(":")[1] + ".parquet"
    assert enriched.row_count == 2
    assert [(c.name, c.type) for c in enriched.columns] == [
        ("id", "int64"),
        ("amount", "double"),
        ("region", "string"),
        ("total", "double"),
    ]
    assert run.output() == enriched  # the last activity's output
    assert pq.read_table(run.output("raw").uri).num_rows == 4
    assert run.lineage.refresh_run_id == run.run_id
    assert run.lineage.data_versions == {name: out.version for name, out in run.outputs.items()}


def test_identical_refresh_reuses_the_digest_and_changed_data_does_not(
    client: DataFactoryClient, data: Path, tmp_path: Path
) -> None:
    client.define(SALES)
    first = client.begin_refresh("sales").result()
    files = _visible_snapshots(tmp_path)
    second = client.begin_refresh("sales").result()

    assert second.run_id != first.run_id
    assert {n: o.digest for n, o in second.outputs.items()} == {n: o.digest for n, o in first.outputs.items()}
    assert second.output().uri == first.output().uri
    assert _visible_snapshots(tmp_path) == files  # nothing stored twice

    (data / "2026-02.csv").write_text("id,amount,region\n5,9.0,us\n")
    third = client.begin_refresh("sales").result()
    assert third.output("raw").digest != first.output("raw").digest
    assert third.output("raw").row_count == 5


def test_cancel_stops_the_worker_and_marks_the_run_cancelled(
    client: DataFactoryClient, data: Path, tmp_path: Path
) -> None:
    client.define(
        RefreshPipeline(
            name="slow",
            parameters={"release_file": "string"},
            activities=[Copy(name="raw", source="data/sales"), Python(name="hold", function=wait_for_release)],
        )
    )
    operation = client.begin_refresh("slow", parameters={"release_file": str(tmp_path / "never")})
    _wait_for_activity(client, operation.id, "hold")
    pid = _worker_pid(tmp_path, operation.id)

    operation.cancel()
    with pytest.raises(OperationCanceledError):
        operation.result(timeout=60)

    run = client.get_run(operation.id)
    assert run.status is Status.CANCELED
    assert run.native_status == "Cancelled"
    assert [(a.name, a.native_status) for a in run.activities] == [("raw", "Succeeded"), ("hold", "Cancelled")]
    assert run.outputs == {}
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_killed_worker_leaves_the_run_failed_and_no_partial_snapshot(
    client: DataFactoryClient, data: Path, tmp_path: Path
) -> None:
    client.define(
        RefreshPipeline(
            name="slow",
            parameters={"release_file": "string"},
            activities=[Copy(name="raw", source="data/sales"), Python(name="hold", function=wait_for_release)],
        )
    )
    operation = client.begin_refresh("slow", parameters={"release_file": str(tmp_path / "never")})
    _wait_for_activity(client, operation.id, "hold")
    pid = _worker_pid(tmp_path, operation.id)

    os.kill(pid, signal.SIGKILL)
    with pytest.raises(OperationFailedError, match="killed by signal 9") as raised:
        operation.result(timeout=60)

    assert "'hold'" in str(raised.value)
    run = client.get_run(operation.id)
    assert run.status is Status.FAILED
    assert run.failed_activity is not None
    assert run.failed_activity.name == "hold"
    assert run.outputs == {}
    assert not (tmp_path / ".mlops" / "datasets" / ".tmp" / operation.id).exists()
    for path in _visible_snapshots(tmp_path):  # only whole, content-addressed files are visible
        assert path.suffix == ".parquet"
        assert _digest(pq.read_table(path)) == "sha256:" + path.stem
    assert client.list_runs("slow", status=Status.FAILED)[0].run_id == operation.id


def test_failed_sql_activity_names_the_activity_and_the_error(client: DataFactoryClient, data: Path) -> None:
    client.define(
        RefreshPipeline(
            name="broken",
            activities=[Copy(name="raw", source="data/sales"), Sql(name="clean", query="SELECT price FROM raw")],
        )
    )
    with pytest.raises(OperationFailedError) as raised:
        client.begin_refresh("broken").result(timeout=60)
    message = str(raised.value)
    assert "activity 'clean' (Sql) failed" in message
    assert "price" in message


def test_rerun_from_failure_reuses_the_succeeded_activities(
    client: DataFactoryClient, data: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "incomplete.flag"
    flag.write_text("x")
    client.define(
        RefreshPipeline(
            name="checked",
            parameters={"flag_file": "string"},
            activities=[
                Copy(name="raw", source="data/sales/2026-01.csv"),
                Python(name="check", function=fail_while_flagged),
            ],
        )
    )
    failed = client.begin_refresh("checked", parameters={"flag_file": str(flag)})
    with pytest.raises(OperationFailedError, match="upstream export is incomplete"):
        failed.result(timeout=60)
    flag.unlink()

    rerun = client.begin_rerun(failed.id).result(timeout=60)

    assert rerun.status is Status.SUCCEEDED
    assert rerun.reference_run_id == failed.id
    raw = rerun.activities[0]
    assert raw.output["reusedFrom"] == failed.id
    assert rerun.output("raw").digest == client.get_run(failed.id).activities[0].output["digest"]
    assert pq.read_table(rerun.output("check").uri).column("checked").to_pylist() == [True] * 4


def test_same_idempotency_key_reattaches(client: DataFactoryClient, data: Path) -> None:
    client.define(SALES)
    first = client.begin_refresh("sales", idempotency_key="flow-7:refresh")
    second = client.begin_refresh("sales", idempotency_key="flow-7:refresh")
    assert second.id == first.id
    first.result(timeout=60)
    assert len(client.list_runs("sales")) == 1


def test_wait_all_returns_every_run_in_order(client: DataFactoryClient, data: Path) -> None:
    client.define(SALES)
    operations = [client.begin_refresh("sales", parameters={"min_amount": float(i)}) for i in range(3)]
    runs = client.wait_all(operations, timeout=120)
    assert [run.run_id for run in runs] == [op.id for op in operations]
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 3
    assert [run.output("clean").row_count for run in runs] == [4, 4, 3]


def test_pipelines_toml_declares_pipelines(tmp_path: Path, data: Path) -> None:
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\nshow_progress = false\npoll_interval = 0.05\n')
    (tmp_path / "pipelines.toml").write_text(
        '[pipelines.eu_sales]\nparameters = { region = { type = "string", default = "eu" } }\n'
        '[[pipelines.eu_sales.activities]]\ntype = "copy"\nname = "raw"\nsource = "data/sales/*.csv"\n'
        '[[pipelines.eu_sales.activities]]\ntype = "sql"\nname = "eu"\n'
        'query = "SELECT * FROM raw WHERE region = $region ORDER BY id"\n'
    )
    with MLOpsClient() as client:
        assert [p.name for p in client.data_factory.list_pipelines()] == ["eu_sales"]
        run = client.data_factory.begin_refresh("eu_sales", parameters={"region": "us"}).result(timeout=60)
    assert run.output("eu").row_count == 1


def test_bad_input_gets_typed_errors_naming_what_is_wrong(client: DataFactoryClient, tmp_path: Path) -> None:
    client.define(SALES)
    with pytest.raises(ResourceNotFoundError, match=r"'sale' does not exist .* known pipelines: sales"):
        client.begin_refresh("sale")
    with pytest.raises(ConfigurationError, match=r"parameter 'min_amount' of pipeline 'sales' must be float, got str"):
        client.begin_refresh("sales", parameters={"min_amount": "five"})
    with pytest.raises(ConfigurationError, match="mlops_request_id"):
        client.begin_refresh("sales", parameters={"mlops_request_id": "x"})
    with pytest.raises(ConfigurationError, match=r"activities\.1\.sql\.query: Field required"):
        client.define(
            {
                "name": "p",
                "activities": [{"type": "copy", "name": "a", "source": "x.csv"}, {"type": "sql", "name": "b"}],
            }
        )
    with pytest.raises(ConfigurationError, match=r"activities\.0: Input tag 'shell'"):
        client.define({"name": "p", "activities": [{"type": "shell", "name": "a"}]})
    with pytest.raises(ConfigurationError, match="names must be unique"):
        client.define({"name": "p", "activities": [{"type": "copy", "name": "a", "source": "x.csv"}] * 2})
    with pytest.raises(ConfigurationError, match="function"):
        client.define({"name": "p", "activities": [{"type": "python", "name": "a", "function": lambda i, p: None}]})
    (tmp_path / "pipelines.toml").write_text('[pipelines.x]\nactivities = [{ type = "copy", name = "1a" }]\n')
    with pytest.raises(ConfigurationError, match=r"pipelines\.toml \[pipelines\.x\].*activities\.0\.copy\.name"):
        client.list_pipelines()
    assert client.list_runs() == []


def test_cli_style_string_parameters_are_coerced(client: DataFactoryClient, data: Path) -> None:
    client.define(SALES)
    run = client.begin_refresh("sales", parameters={"min_amount": "8"}, coerce_strings=True).result(timeout=60)
    assert run.parameters["min_amount"] == 8.0
    assert run.output("clean").row_count == 1


def test_triggers_are_reported_unsupported_locally(client: DataFactoryClient) -> None:
    client.define(SALES)
    with pytest.raises(ConfigurationError, match="not supported on the local backend"):
        client.create_trigger("nightly", "sales", schedule={"frequency": "Day"})
