"""What capture files hold, row by row, against what was answered: numpy and list answers, 1-row and
100-row requests in one file, answers of every shape, and capture settings changed on a loaded model."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlops_sdk.backends.local.serving.capture import CaptureHub
from mlops_sdk.backends.local.serving.capture_tables import items_table
from mlops_sdk.backends.local.serving.payloads import Batch, to_jsonable
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.models.deployments import Capture
from tests.local._deploy import COLUMNS, Models, formula_a, save_models

CAPTURED = SimpleNamespace(metadata={"capture": Capture(flush_interval=300).model_dump(mode="json"), "model": "m@1"})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("part-*.parquet"))


def _rows(folder: Path) -> list[dict[str, Any]]:
    """The captured rows in the order they were answered (the server's ids count up)."""
    rows = [row for path in _files(folder) for row in pq.read_table(path).to_pylist()]
    return sorted(rows, key=lambda row: (row["_request_id"], row["_row"]))


def _capture(folder: Path, requests: list[tuple[list[Any], Any]], columns: list[str] | None = COLUMNS) -> list[bytes]:
    """Queue ``requests`` (rows, the model's answer) through the hook in one flush; their ids."""
    hub = CaptureHub(folder)
    ids = []
    for rows, answer in requests:
        headers = dict(hub.record({}, "blue", CAPTURED, Batch(rows=rows, columns=columns), answer))
        assert headers[b"x-mlops-capture"] == b"queued"
        ids.append(headers[b"x-mlops-correlation-id"])
    asyncio.run(hub.close())  # writes the whole queue: one file
    stats = hub.stats()
    assert stats["written"] == stats["captured"] == sum(len(rows) for rows, _ in requests)
    assert stats["pending"] == stats["failed"] == stats["dropped"] == 0
    assert len(_files(folder)) == 1
    return ids


def _expected_ids(ids: list[bytes], requests: list[tuple[list[Any], Any]]) -> list[str]:
    expected = []
    for request_id, (rows, _) in zip(ids, requests, strict=True):
        text = request_id.decode()
        expected += [text] if len(rows) == 1 else [f"{text}:{index}" for index in range(len(rows))]
    return expected


def _inputs(count: int, start: float) -> list[list[float]]:
    return [[start + index, start - index, index * 0.25] for index in range(count)]


def test_numpy_and_list_answers_of_1_and_100_rows_in_one_file(tmp_path: Path) -> None:
    many = _inputs(100, 10.0)
    requests: list[tuple[list[Any], Any]] = [
        (_inputs(1, 1.0), np.array([0.5])),  # the fast scoring path: a numpy array
        (many, np.arange(100) * 1.5),
        (_inputs(1, 2.0), [2.5]),  # a pyfunc model: a list
        (_inputs(100, 20.0), [float(index) for index in range(100)]),
        (_inputs(1, 3.0), np.array([7.25], dtype=np.float32)),  # float32 answers are stored as double
    ]
    ids = _capture(tmp_path, requests)
    rows = _rows(tmp_path)
    assert [row["_id"] for row in rows] == _expected_ids(ids, requests)
    assert [row["_request_id"] for row in rows] == [
        request_id.decode() for request_id, (inputs, _) in zip(ids, requests, strict=True) for _ in inputs
    ]
    assert [row["_row"] for row in rows] == [index for inputs, _ in requests for index in range(len(inputs))]
    assert [[row[name] for name in COLUMNS] for row in rows] == [row for inputs, _ in requests for row in inputs]
    answered = [value for _, answer in requests for value in to_jsonable(answer)]
    assert [row["_prediction"] for row in rows] == answered
    assert pq.read_schema(_files(tmp_path)[0]).field("_prediction").type == "double"
    assert {row["_deployment"] for row in rows} == {"blue"}
    assert {row["_model"] for row in rows} == {"m@1"}


@pytest.mark.parametrize(
    ("answers", "stored"),
    [
        pytest.param([np.array([[1.0], [2.0]]), np.array([[3.0]])], [[1.0], [2.0], [3.0]], id="shape-n-1"),
        pytest.param(
            [np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([[7.0, 8.0, 9.0]])],
            [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
            id="shape-n-k",
        ),
        pytest.param(
            [np.array([0.5, 1.5], dtype=np.float32), np.array([2.5], dtype=np.float32)], [0.5, 1.5, 2.5], id="float32"
        ),
        pytest.param([np.array([3, 4]), np.array([5])], [3, 4, 5], id="integers"),
        pytest.param(
            [np.array([3, 4], dtype=np.int32), np.array([5], dtype=np.int16)], [3, 4, 5], id="narrow-integers"
        ),
        pytest.param([np.array([True, False]), np.array([True])], [True, False, True], id="booleans"),
        pytest.param([np.array(["cat", "dog"]), np.array(["eel"])], ["cat", "dog", "eel"], id="labels"),
        pytest.param([pd.Series([0.5, 1.5]), pd.Series([2.5])], [0.5, 1.5, 2.5], id="pandas"),
        pytest.param([np.array(0.5), np.array(1.5)], [0.5, 0.5, 1.5], id="one-value-per-request"),
        pytest.param([np.array([1.0, 2.0]), ["x"]], ["1.0", "2.0", "x"], id="numbers-and-text-as-text"),
        pytest.param([np.array([1.0, 2.0]), np.array([True])], [1.0, 2.0, 1.0], id="numbers-then-flags-as-numbers"),
        pytest.param([[{"p": 0.1}, {"p": 0.9}], [{"p": 0.4}]], [{"p": 0.1}, {"p": 0.9}, {"p": 0.4}], id="objects"),
        pytest.param([[{"p": 0.1}, {"p": 0.9}], [0.4]], ['{"p": 0.1}', '{"p": 0.9}', "0.4"], id="objects-and-numbers"),
        pytest.param([np.array([1.0]), np.array([2.0])], [1.0, None, 2.0], id="fewer-answers-than-rows"),
    ],
)
def test_answers_of_every_shape_are_stored_row_by_row(tmp_path: Path, answers: list[Any], stored: list[Any]) -> None:
    # the first request has 2 rows and the second 1, except where one answer covers a whole request
    requests = list(zip([_inputs(2, 1.0), _inputs(1, 5.0)], answers, strict=True))
    ids = _capture(tmp_path, requests)
    rows = _rows(tmp_path)
    assert [row["_id"] for row in rows] == _expected_ids(ids, requests)
    assert [row["_prediction"] for row in rows] == stored
    # the type Arrow gives the answers' JSON values (float32 answers are doubles, as in the answer)
    assert pq.read_schema(_files(tmp_path)[0]).field("_prediction").type == pa.array(stored).type
    assert [[row[name] for name in COLUMNS] for row in rows] == [*_inputs(2, 1.0), *_inputs(1, 5.0)]


def test_positional_rows_of_one_and_many_values(tmp_path: Path) -> None:
    requests: list[tuple[list[Any], Any]] = [
        ([4.0], np.array([1.0])),  # a 1-D tensor: one value per row
        ([[1.0, 2.0], [3.0, 4.0]], np.array([2.0, 3.0])),
        ([5.0, 6.0], np.array([4.0, 5.0])),
    ]
    _capture(tmp_path, requests, columns=None)
    rows = _rows(tmp_path)
    assert [row["input_0"] for row in rows] == [4.0, 1.0, 3.0, 5.0, 6.0]
    assert [row["input_1"] for row in rows] == [None, 2.0, 4.0, None, None]
    assert [row["_prediction"] for row in rows] == [1.0, 2.0, 3.0, 4.0, 5.0]


def _client(server: EndpointServer) -> httpx.Client:
    info = server.info()
    assert info is not None
    return httpx.Client(
        base_url=info.url, timeout=30, headers={"Authorization": f"Bearer {server.keys()['primary_key']}"}
    )


def _server(folder: Path) -> EndpointServer:
    server = EndpointServer(folder / "endpoints" / "ep-contents", "ep-contents")
    server.create()
    server.start()
    return server


@pytest.mark.parametrize("durability", ["batched", "acknowledged"])
def test_served_answers_and_captured_rows_agree(tmp_path: Path, models: Models, durability: str) -> None:
    server = _server(tmp_path)
    try:
        capture = Capture(durability=durability, flush_interval=300).model_dump(mode="json")  # type: ignore[arg-type]
        for name, path in (("blue", models.a), ("green", models.pyfunc)):  # numpy answers, list answers
            metadata = {"model": f"{name}@1", "capture": capture}
            server.admin("PUT", f"deployments/{name}", {"model_path": str(path), "metadata": metadata})
        server.admin("PUT", "traffic", {"traffic": {"blue": 100}})
        bodies = [_inputs(1, 1.0), _inputs(100, 3.0), _inputs(1, 2.0), _inputs(7, -4.0)]
        answers: dict[str, list[tuple[str, list[list[float]], Any]]] = {"blue": [], "green": []}
        with _client(server) as http:
            for name in answers:
                for rows in bodies:
                    answer = http.post(
                        "/score",
                        json={"input_data": {"columns": COLUMNS, "data": rows}},
                        headers={"azureml-model-deployment": name},
                    )
                    assert answer.status_code == 200
                    expected = "stored" if durability == "acknowledged" else "queued"
                    assert answer.headers["x-mlops-capture"] == expected
                    answers[name].append((answer.headers["x-mlops-correlation-id"], rows, answer.json()))
        stats = server.admin("POST", "capture/flush")
        assert stats["written"] == stats["captured"] == 2 * sum(len(rows) for rows in bodies)
        for name, sent in answers.items():
            folder = server.folder / "capture" / name
            if durability == "batched":
                assert len(_files(folder)) == 1  # 1-row and 100-row requests in one file
            rows = _rows(folder)
            expected_ids = [
                request_id if len(inputs) == 1 else f"{request_id}:{index}"
                for request_id, inputs, _ in sent
                for index in range(len(inputs))
            ]
            assert [row["_id"] for row in rows] == expected_ids
            assert [[row[column] for column in COLUMNS] for row in rows] == [
                row for _, inputs, _ in sent for row in inputs
            ]
            assert [row["_prediction"] for row in rows] == [value for _, _, answer in sent for value in answer]
            if name == "blue":
                assert rows[1]["_prediction"] == pytest.approx(formula_a(bodies[1][0]))
    finally:
        server.stop()


def test_capture_turned_on_for_a_loaded_model_takes_effect(tmp_path: Path, models: Models) -> None:
    # the same model path with new metadata keeps the loaded model and replaces its settings
    server = _server(tmp_path)
    try:
        server.admin("PUT", "deployments/blue", {"model_path": str(models.a), "metadata": {"model": "a@1"}})
        server.admin("PUT", "traffic", {"traffic": {"blue": 100}})
        body = {"input_data": {"columns": COLUMNS, "data": _inputs(1, 1.0)}}
        with _client(server) as http:
            assert "x-mlops-capture" not in http.post("/score", json=body).headers
            metadata = {"model": "a@1", "capture": Capture().model_dump(mode="json")}
            server.admin("PUT", "deployments/blue", {"model_path": str(models.a), "metadata": metadata})
            on = http.post("/score", json=body)
            assert on.headers["x-mlops-capture"] == "queued"
            server.admin("PUT", "deployments/blue", {"model_path": str(models.a), "metadata": {"model": "a@1"}})
            off = http.post("/score", json=body)
            assert "x-mlops-capture" not in off.headers
        stats = server.admin("POST", "capture/flush")
        assert stats["written"] == 1
        assert [row["_id"] for row in _rows(server.folder / "capture")] == [on.headers["x-mlops-correlation-id"]]
    finally:
        server.stop()


def test_text_of_mixed_answers_is_json(tmp_path: Path) -> None:
    # a flag before a number does not convert (Arrow's inference): each answer is stored as JSON text
    requests: list[tuple[list[Any], Any]] = [(_inputs(1, 1.0), np.array([False])), (_inputs(1, 2.0), [0.5])]
    _capture(tmp_path, requests)
    assert [json.loads(row["_prediction"]) for row in _rows(tmp_path)] == [False, 0.5]


@pytest.mark.parametrize(
    ("answers", "stored"),
    [
        pytest.param([np.array([0.5]), np.array([1.5]), np.array([2.5])], [0.5, 1.5, 2.5], id="numpy"),
        pytest.param([[0.5], [1.5], [2.5]], [0.5, 1.5, 2.5], id="lists"),
        pytest.param([np.array([[0.5]]), np.array([[1.5]]), np.array([[2.5]])], [[0.5], [1.5], [2.5]], id="shape-1-1"),
        pytest.param([np.array(["a"]), np.array(["b"]), np.array(["c"])], ["a", "b", "c"], id="labels"),
        pytest.param([np.array([1], dtype=np.int8), np.array([2]), np.array([3])], [1, 2, 3], id="integers"),
        pytest.param([np.array(0.5), 1.5, pd.Series([2.5])], [0.5, 1.5, 2.5], id="scalars-and-series"),
        pytest.param([np.array([0.5]), ["x"], np.array([2.5])], ["0.5", "x", "2.5"], id="numbers-and-text-as-text"),
        pytest.param([[], [1.5, 9.0], np.array([2.5])], [None, 1.5, 2.5], id="too-few-and-too-many"),
    ],
)
def test_one_row_requests_store_every_answer_shape(tmp_path: Path, answers: list[Any], stored: list[Any]) -> None:
    requests = [(_inputs(1, float(index)), answer) for index, answer in enumerate(answers)]
    ids = _capture(tmp_path, requests)
    rows = _rows(tmp_path)
    assert [row["_id"] for row in rows] == [request_id.decode() for request_id in ids]
    assert [row["_row"] for row in rows] == [0, 0, 0]
    assert [row["_prediction"] for row in rows] == stored
    assert pq.read_schema(_files(tmp_path)[0]).field("_prediction").type == pa.array(stored).type
    assert [[row[name] for name in COLUMNS] for row in rows] == [inputs[0] for inputs, _ in requests]


_DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint64, np.uint8, np.bool_, np.str_]
_ANSWERS = st.one_of(
    hnp.arrays(st.sampled_from(_DTYPES), shape=(1,)),  # what scoring one row usually answers
    hnp.arrays(st.sampled_from(_DTYPES), shape=st.sampled_from([(), (0,), (2,), (1, 1), (1, 2)])),
    st.lists(st.floats(), max_size=2),
    st.floats(),
    st.text(max_size=3),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(_ANSWERS, min_size=1, max_size=5))
def test_one_row_requests_are_stored_as_the_general_path_stores_them(
    tmp_path_factory: pytest.TempPathFactory, answers: list[Any]
) -> None:
    # 1-row requests take the capture lane (answers kept as Python values, handed over column by
    # column); requests of several rows take the queue. Whatever the answers' types and shapes, the
    # lane must store exactly what the queue's table builder makes of the same requests.
    folder = tmp_path_factory.mktemp("lane")
    requests = [(_inputs(1, float(index)), answer) for index, answer in enumerate(answers)]
    _capture(folder, requests)
    stored = pq.read_table(_files(folder)[0])
    expected = items_table(
        [
            (b"id-%d" % index, 0.0, "blue", "m@1", tuple(COLUMNS), tuple(rows[0]), answer, 1, None)
            for index, (rows, answer) in enumerate(requests)
        ]
    )
    for name in ("_prediction", *COLUMNS):
        assert stored.schema.field(name).type == expected.schema.field(name).type, name
        assert [repr(value) for value in stored.column(name).to_pylist()] == [
            repr(value) for value in expected.column(name).to_pylist()
        ], name


def test_one_row_requests_with_other_columns_in_one_flush(tmp_path: Path) -> None:
    hub = CaptureHub(tmp_path)
    sent = [(["a", "b", "c"], [1.0, 2.0, 3.0]), (["c", "a"], [4.0, 5.0]), (["a", "b", "c"], [6.0, 7.0, 8.0])]
    for columns, row in sent:
        hub.record({}, "blue", CAPTURED, Batch(rows=[row], columns=columns), np.array([0.5]))
    hub.record({}, "blue", CAPTURED, Batch(rows=[[9.0, 10.0]], columns=["a", "b", "c"]), np.array([0.5]))  # ragged
    hub.record({}, "blue", CAPTURED, Batch(rows=[[11.0, 12.0]], columns=None), np.array([0.5]))  # positional
    asyncio.run(hub.close())
    rows = _rows(tmp_path)
    assert len(_files(tmp_path)) == 1
    assert [row["a"] for row in rows] == [1.0, 5.0, 6.0, 9.0, None]
    assert [row["b"] for row in rows] == [2.0, None, 7.0, 10.0, None]
    assert [row["c"] for row in rows] == [3.0, 4.0, 8.0, None, None]
    assert [row["input_0"] for row in rows] == [None, None, None, None, 11.0]
    assert hub.stats()["written"] == 5


def test_one_row_requests_across_an_hour_go_to_both_hours(tmp_path: Path) -> None:
    hub = CaptureHub(tmp_path)
    hub._writer = threading.current_thread()  # no writer thread: this test writes
    for _ in range(3):
        hub.record({}, "blue", CAPTURED, Batch(rows=[[1.0, 2.0, 3.0]], columns=COLUMNS), np.array([0.5]))
    lane = hub._states["blue"].lane
    lane.ats[0] = 1_700_000_000.0  # 22:13 UTC, 2023-11-14
    lane.ats[1] = 1_700_000_000.0 + 3600
    hub._write([])
    hours = sorted(path.parent.relative_to(tmp_path).as_posix() for path in _files(tmp_path))
    assert hours[:2] == ["blue/2023-11-14/22", "blue/2023-11-14/23"]
    assert len(hours) == 3  # and the third request's own hour
    assert sum(len(pq.read_table(path)) for path in _files(tmp_path)) == 3
    assert hub.stats()["written"] == 3
    assert hub.stats()["pending"] == 0


def test_inputs_named_like_capture_columns_are_kept_beside_them(tmp_path: Path) -> None:
    # a model without a signature takes any column name: "_id" or "_prediction" must not overwrite the capture's own
    hub = CaptureHub(tmp_path)
    one = dict(hub.record({}, "blue", CAPTURED, Batch(rows=[[7.0, 1.0]], columns=["_id", "x"]), np.array([0.5])))
    many = dict(
        hub.record({}, "blue", CAPTURED, Batch(rows=[[8.0, 9.0], [1.0, 2.0]], columns=["_prediction", "x"]), [3, 4])
    )
    asyncio.run(hub.close())
    rows = _rows(tmp_path)
    first = one[b"x-mlops-correlation-id"].decode()
    second = many[b"x-mlops-correlation-id"].decode()
    assert [row["_id"] for row in rows] == [first, f"{second}:0", f"{second}:1"]
    assert [row["input__id"] for row in rows] == [7.0, None, None]
    assert [row["input__prediction"] for row in rows] == [None, 8.0, 1.0]
    assert [row["_prediction"] for row in rows] == [0.5, 3, 4]
    assert [row["x"] for row in rows] == [1.0, 9.0, 2.0]


def test_collector_rows_named_like_capture_columns_are_kept_beside_them() -> None:
    from datetime import datetime, timedelta, timezone

    from mlops_sdk.backends.azure.monitoring import _captured_table

    now = datetime.now(timezone.utc).replace(microsecond=0)
    line = {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "correlationid": "req-1"}
    inputs = json.dumps({**line, "data": [{"_id": "mine", "_ts": 5, "x": 1.0}]}).encode()
    outputs = json.dumps({**line, "data": [0.25]}).encode()
    files = [("blue", "model_inputs", inputs, "in.jsonl"), ("blue", "model_outputs", outputs, "out.jsonl")]
    table = _captured_table(files, now - timedelta(hours=1), now + timedelta(hours=1))
    assert table is not None
    (row,) = table.to_pylist()
    assert (row["_id"], row["_request_id"], row["_prediction"]) == ("req-1", "req-1", 0.25)
    assert (row["input__id"], row["input__ts"], row["x"]) == ("mine", 5, 1.0)
