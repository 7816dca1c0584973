"""Inference capture on the local endpoint server: ids, files, durability across restart and SIGKILL,
and scoring that never fails because of capture."""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.models.deployments import Capture
from tests.local._deploy import COLUMNS, ROWS, Models, formula_a, save_models


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


def _start(folder: Path, models: Models, capture: Capture | None, name: str = "blue") -> EndpointServer:
    server = EndpointServer(folder / "endpoints" / "ep-capture", "ep-capture")
    if not server.exists:
        server.create()
    server.start()
    metadata = {"model": "model-a@1", **({"capture": capture.model_dump(mode="json")} if capture else {})}
    server.admin("PUT", f"deployments/{name}", {"model_path": str(models.a), "metadata": metadata})
    server.admin("PUT", "traffic", {"traffic": {name: 100}})
    return server


@pytest.fixture
def server_factory(tmp_path: Path, models: Models) -> Iterator[object]:
    started: list[EndpointServer] = []

    def make(capture: Capture | None) -> EndpointServer:
        server = _start(tmp_path, models, capture)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _client(server: EndpointServer) -> httpx.Client:
    info = server.info()
    assert info is not None
    key = server.keys()["primary_key"]
    return httpx.Client(base_url=info.url, timeout=30, headers={"Authorization": f"Bearer {key}"})


def _captured(server: EndpointServer) -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    for path in sorted((server.folder / "capture").rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            rows[str(row["_id"])] = row
    return rows


def _body(row: list[float]) -> dict[str, object]:
    return {"input_data": {"columns": COLUMNS, "data": [row]}}


def test_rows_get_ids_and_are_captured_with_inputs_outputs_and_hour_partitions(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(Capture())
    with _client(server) as http:
        own = http.post("/score", json=_body(ROWS[0]), headers={"x-mlops-correlation-id": "order-17"})
        batch = http.post("/score", json={"input_data": {"columns": COLUMNS, "data": ROWS}})
        bad_id = http.post("/score", json=_body(ROWS[1]), headers={"x-mlops-correlation-id": "no spaces/allowed"})
    assert own.status_code == batch.status_code == bad_id.status_code == 200
    assert own.headers["x-mlops-correlation-id"] == "order-17"
    assert own.headers["x-mlops-capture"] == "queued"
    batch_id = batch.headers["x-mlops-correlation-id"]
    assert len(batch_id) == 32
    assert batch_id != "order-17"
    assert bad_id.headers["x-mlops-correlation-id"] != "no spaces/allowed"  # replaced, not refused
    stats = server.admin("POST", "capture/flush")
    assert stats["captured"] == stats["written"] == 4
    assert stats["dropped"] == stats["failed"] == 0
    rows = _captured(server)
    assert set(rows) == {"order-17", f"{batch_id}:0", f"{batch_id}:1", bad_id.headers["x-mlops-correlation-id"]}
    first = rows["order-17"]
    assert [first[c] for c in COLUMNS] == ROWS[0]
    assert first["_prediction"] == pytest.approx(formula_a(ROWS[0]))
    assert first["_deployment"] == "blue"
    assert first["_model"] == "model-a@1"
    assert rows[f"{batch_id}:1"]["_row"] == 1
    assert rows[f"{batch_id}:1"]["_prediction"] == pytest.approx(formula_a(ROWS[1]))
    stamp = time.gmtime(first["_ts"].timestamp())  # type: ignore[attr-defined]
    partition = server.folder / "capture" / "blue" / time.strftime("%Y-%m-%d", stamp) / time.strftime("%H", stamp)
    assert list(partition.glob("part-*.parquet"))
    assert not list((server.folder / "capture").rglob("*.tmp"))


def test_no_capture_setting_means_ids_but_no_files(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(None)
    with _client(server) as http:
        answer = http.post("/score", json=_body(ROWS[0]))
    assert answer.status_code == 200
    assert answer.headers["x-mlops-correlation-id"]
    assert "x-mlops-capture" not in answer.headers
    assert server.admin("POST", "capture/flush")["captured"] == 0
    assert not (server.folder / "capture").exists()


def test_outputs_only_and_sampling(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(Capture(inputs=False, sample_rate=0.5))
    with _client(server) as http:
        answers = [http.post("/score", json=_body(ROWS[0])) for _ in range(40)]
    states = [answer.headers["x-mlops-capture"] for answer in answers]
    assert set(states) == {"queued", "sampled-out"}  # 40 draws at 0.5: both happen (p of not ~1e-12)
    stats = server.admin("POST", "capture/flush")
    assert stats["captured"] == states.count("queued")
    assert stats["sampled_out"] == states.count("sampled-out")
    rows = _captured(server)
    assert len(rows) == states.count("queued")
    assert all("a" not in row and "_prediction" in row for row in rows.values())


def test_graceful_restart_keeps_every_queued_row(server_factory) -> None:  # type: ignore[no-untyped-def]
    # batched mode with a long interval: nothing is flushed by time; the graceful stop writes it all
    server = server_factory(Capture(flush_interval=300))
    with _client(server) as http:
        ids = [http.post("/score", json=_body(ROWS[0])).headers["x-mlops-correlation-id"] for _ in range(25)]
    assert server.stop()
    assert set(_captured(server)) == set(ids)
    server.start()
    with _client(server) as http:
        more = http.post("/score", json=_body(ROWS[1]))
    assert more.status_code == 200
    server.admin("POST", "capture/flush")
    assert set(_captured(server)) == {*ids, more.headers["x-mlops-correlation-id"]}


def test_sigkill_loses_no_acknowledged_row(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(Capture(durability="acknowledged"))
    with _client(server) as http:
        answers = [http.post("/score", json=_body(ROWS[i % 2])) for i in range(30)]
    stored = [a.headers["x-mlops-correlation-id"] for a in answers if a.headers["x-mlops-capture"] == "stored"]
    assert stored, [a.headers["x-mlops-capture"] for a in answers]
    info = server.info()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while server.running() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    captured = _captured(server)
    assert set(stored) <= set(captured)  # every part-*.parquet file read completely


def test_flushed_rows_survive_sigkill_in_batched_mode(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(Capture(flush_interval=300))
    with _client(server) as http:
        ids = [http.post("/score", json=_body(ROWS[0])).headers["x-mlops-correlation-id"] for _ in range(10)]
    stats = server.admin("POST", "capture/flush")
    assert stats["written"] == 10
    info = server.info()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    assert set(_captured(server)) == set(ids)


def test_unwritable_capture_folder_never_fails_scoring(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(Capture(durability="acknowledged"))
    folder = server.folder / "capture"
    folder.mkdir(exist_ok=True)
    # a file where the deployment's folder must go: no write can succeed, also for root
    (folder / "blue").write_text("not a folder")
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with _client(server) as http:
            answers = [http.post("/score", json=_body(ROWS[0])) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert [a.json() for a in answers] == [[pytest.approx(formula_a(ROWS[0]))]] * 5
        assert {a.headers["x-mlops-capture"] for a in answers} == {"failed"}
        stats = server.admin("GET", "capture")
        assert stats["failed"] == 5
        assert stats["written"] == 0
        assert stats["deployments"]["blue"]["failed"] == 5
    finally:
        folder.chmod(stat.S_IRWXU)


def test_full_queue_drops_and_counts_without_failing(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(Capture(max_queue=3, flush_interval=300))
    with _client(server) as http:
        answers = [http.post("/score", json=_body(ROWS[0])) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 8
    states = [a.headers["x-mlops-capture"] for a in answers]
    assert states == ["queued"] * 3 + ["dropped"] * 5
    stats = server.admin("POST", "capture/flush")
    assert stats["dropped"] == 5
    assert stats["written"] == 3


def test_rows_of_different_shapes_in_one_write_keep_their_columns() -> None:
    from mlops_sdk.backends.local.serving.capture_tables import Item as _Item
    from mlops_sdk.backends.local.serving.capture_tables import items_table as _table

    at = 1_700_000_000.0
    items = [
        _Item(b"r1", at, "blue", "m@1", ["a", "b"], [[1.0, 2.0], [3.0, 4.0]], [10.0, 20.0], 2),
        _Item(b"r2", at, "blue", "m@1", None, [5.0, 6.0, 7.0], [30.0], 1),  # a tensor: positional inputs
        _Item(b"r3", at, "blue", "m@1", ["b", "c"], ["x", "y"], [{"p": 1}], 1),  # text in b: stored as text
        _Item(b"r4", at, "blue", "m@1", ["a", "b"], None, [40.0], 1),  # outputs only
    ]
    rows = _table(items).to_pylist()
    assert [row["_id"] for row in rows] == ["r1:0", "r1:1", "r2", "r3", "r4"]
    assert [row["_row"] for row in rows] == [0, 1, 0, 0, 0]
    assert [row["a"] for row in rows] == [1.0, 3.0, None, None, None]
    assert [row["b"] for row in rows] == ["2.0", "4.0", None, "x", None]
    assert [row["c"] for row in rows] == [None, None, None, "y", None]
    assert [row["input_2"] for row in rows] == [None, None, 7.0, None, None]
    assert [row["_prediction"] for row in rows] == ["10.0", "20.0", "30.0", '{"p": 1}', "40.0"]
    same = _table([items[0], items[0]]).to_pylist()
    assert [row["a"] for row in same] == [1.0, 3.0, 1.0, 3.0]
    assert [row["_prediction"] for row in same] == [10.0, 20.0, 10.0, 20.0]


def test_stored_capture_settings_from_another_version_or_invalid_never_fail_scoring(
    tmp_path: Path, models: Models
) -> None:
    server = _start(tmp_path, models, None)
    try:
        later = {"sample_rate": 1.0, "written_by_a_later_version": True}  # an unknown key: ignored
        broken = {"sample_rate": 5}  # not a rate: the deployment serves without capture, logged
        for name, capture in (("later", later), ("broken", broken)):
            metadata = {"model": "model-a@1", "capture": capture}
            server.admin("PUT", f"deployments/{name}", {"model_path": str(models.a), "metadata": metadata})
        with _client(server) as http:
            answers = {
                name: http.post("/score", json=_body(ROWS[0]), headers={"azureml-model-deployment": name})
                for name in ("later", "broken")
            }
        assert {name: answer.status_code for name, answer in answers.items()} == {"later": 200, "broken": 200}
        assert answers["later"].headers["x-mlops-capture"] == "queued"
        assert "x-mlops-capture" not in answers["broken"].headers
        stats = server.admin("POST", "capture/flush")
        assert stats["deployments"]["later"]["written"] == 1
        assert "broken" not in stats["deployments"] or stats["deployments"]["broken"]["captured"] == 0
        assert "capture settings of broken ignored (invalid)" in server.log_tail(100)
    finally:
        server.stop()
