"""The local endpoint server over real HTTP: protocols, routing, admin API, security and bad input."""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops_sdk.backends.local.serving.payloads import PayloadError, parse_csv, parse_json_body
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.backends.local.serving.routing import RoutingTable, TrafficError, smooth_schedule, validate_traffic
from mlops_sdk.core.errors import ConflictError, OperationFailedError, ServiceResponseError
from tests.local._deploy import COLUMNS, ROWS, Models, formula_a, formula_b, save_models

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Iterator[EndpointServer]:
    server = EndpointServer(tmp_path_factory.mktemp("store") / "endpoints" / "ep-serving", "ep-serving")
    server.create(max_body_bytes=MAX_BODY)
    server.start()
    try:
        server.admin("PUT", "deployments/blue", {"model_path": str(models.a)})
        server.admin("PUT", "deployments/green", {"model_path": str(models.b)})
        server.admin("PUT", "traffic", {"traffic": {"blue": 100, "green": 0}})
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(endpoint: EndpointServer) -> Iterator[httpx.Client]:
    info = endpoint.info()
    assert info is not None
    with httpx.Client(base_url=info.url, timeout=30) as client:
        yield client


@pytest.fixture
def auth(endpoint: EndpointServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {endpoint.keys()['primary_key']}"}


def _expected(formula: object, rows: list[list[float]] = ROWS) -> list[float]:
    return [formula(row) for row in rows]  # type: ignore[operator]


# -- protocols ----------------------------------------------------------------------------------------------


def test_azureml_protocol_split_and_tensor(http: httpx.Client, auth: dict[str, str]) -> None:
    split = http.post("/score", json={"input_data": {"columns": COLUMNS, "index": [0, 1], "data": ROWS}}, headers=auth)
    tensor = http.post("/score", json={"input_data": ROWS}, headers=auth)
    assert split.status_code == 200
    assert split.headers["azureml-model-deployment"] == "blue"
    assert split.json() == pytest.approx(_expected(formula_a))
    assert tensor.json() == pytest.approx(_expected(formula_a))


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        {"dataframe_split": {"columns": ["c", "a", "b"], "data": [[r[2], r[0], r[1]] for r in ROWS]}},
        {"dataframe_records": [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]},
        {"instances": ROWS},
        {"inputs": {name: [row[i] for row in ROWS] for i, name in enumerate(COLUMNS)}},
    ],
    ids=["split", "split-reordered", "records", "instances", "inputs-columns"],
)
def test_mlflow_protocol_json_formats(http: httpx.Client, auth: dict[str, str], body: dict[str, object]) -> None:
    answer = http.post("/invocations", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx(_expected(formula_a))


def test_mlflow_protocol_csv(http: httpx.Client, auth: dict[str, str]) -> None:
    csv_body = "a,b,c\n" + "\n".join(",".join(str(v) for v in row) for row in ROWS) + "\n"
    answer = http.post("/invocations", content=csv_body, headers={**auth, "Content-Type": "text/csv"})
    assert answer.status_code == 200
    assert answer.json()["predictions"] == pytest.approx(_expected(formula_a))


def test_probes_need_no_key_and_reveal_no_secret(http: httpx.Client, endpoint: EndpointServer) -> None:
    ping, health, version = http.get("/ping"), http.get("/health"), http.get("/version")
    assert (ping.status_code, health.status_code, version.status_code) == (200, 200, 200)
    assert ping.headers["x-mlops-endpoint"] == "ep-serving"
    assert health.json() == {"status": "ok", "endpoint": "ep-serving", "deployments": 2}
    assert "mlops_sdk" in version.json()
    for key in endpoint.keys().values():
        assert key not in health.text + version.text


# -- routing ----------------------------------------------------------------------------------------------


def test_header_routes_to_one_deployment_regardless_of_weights(http: httpx.Client, auth: dict[str, str]) -> None:
    answer = http.post("/score", json={"input_data": ROWS}, headers={**auth, "azureml-model-deployment": "green"})
    assert answer.headers["azureml-model-deployment"] == "green"
    assert answer.json() == pytest.approx(_expected(formula_b))
    missing = http.post("/score", json={"input_data": ROWS}, headers={**auth, "azureml-model-deployment": "nope"})
    assert missing.status_code == 404
    assert "'nope' does not exist" in missing.json()["message"]
    assert "blue" in missing.json()["message"]


def test_weighted_routing_is_exact_over_a_cycle(
    endpoint: EndpointServer, http: httpx.Client, auth: dict[str, str]
) -> None:
    endpoint.admin("PUT", "traffic", {"traffic": {"blue": 70, "green": 30}})
    try:
        seen = Counter(
            http.post("/score", json={"input_data": ROWS[:1]}, headers=auth).headers["azureml-model-deployment"]
            for _ in range(100)
        )
    finally:
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100, "green": 0}})
    assert seen == {"blue": 70, "green": 30}


def test_no_live_traffic_is_503_not_500(endpoint: EndpointServer, http: httpx.Client, auth: dict[str, str]) -> None:
    endpoint.admin("PUT", "traffic", {"traffic": {"blue": 0, "green": 0}})
    try:
        answer = http.post("/score", json={"input_data": ROWS}, headers=auth)
    finally:
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100}})
    assert answer.status_code == 503
    assert "no live traffic" in answer.json()["message"]


# -- security ---------------------------------------------------------------------------------------------


def test_no_key_wrong_key_secondary_key(http: httpx.Client, endpoint: EndpointServer) -> None:
    keys = endpoint.keys()
    none = http.post("/score", json={"input_data": ROWS})
    wrong = http.post("/score", json={"input_data": ROWS}, headers={"Authorization": "Bearer not-the-key"})
    admin_key = {"Authorization": f"Bearer {keys['admin_key']}"}
    admin_as_scoring = http.post("/score", json={"input_data": ROWS}, headers=admin_key)
    secondary_key = {"Authorization": f"Bearer {keys['secondary_key']}"}
    secondary = http.post("/score", json={"input_data": ROWS}, headers=secondary_key)
    assert none.status_code == 401
    assert none.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in none.json()["message"]
    assert wrong.status_code == 401
    assert admin_as_scoring.status_code == 401
    assert secondary.status_code == 200


def test_admin_api_refuses_scoring_key(http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.get("/admin/state", headers=auth).status_code == 401
    assert http.get("/admin/state").status_code == 401
    assert http.put("/admin/traffic", json={"traffic": {"green": 100}}, headers=auth).status_code == 401


def test_secrets_file_is_private_and_server_binds_loopback(endpoint: EndpointServer) -> None:
    mode = stat.S_IMODE(os.stat(endpoint.folder / "secrets.json").st_mode)
    assert mode == 0o600
    info = endpoint.info()
    assert info is not None
    assert info.host == "127.0.0.1"
    for key in endpoint.keys().values():
        assert key not in endpoint.log_tail(500)


# -- bad input never gives a 500 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/invocations", b"{not json", "not valid JSON"),
        ("/invocations", b"[1, 2]", "JSON object"),
        ("/invocations", b"{}", "exactly one of"),
        ("/invocations", json.dumps({"instances": ROWS, "inputs": ROWS}).encode(), "exactly one of"),
        ("/invocations", json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[1, 2]]}}).encode(), "row 0"),
        ("/invocations", json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}).encode(), "['c']"),
        ("/invocations", json.dumps({"instances": [[1, 2]]}).encode(), "3 values"),
        ("/invocations", json.dumps({"instances": [[1, 2, "x"]]}).encode(), "row 0, column 'c': 'x' is a string"),
        ("/invocations", json.dumps({"instances": [[1, 2, 3], [1]]}).encode(), "row 1 has 1 values"),
        ("/invocations", json.dumps({"instances": []}).encode(), "no rows"),
        ("/invocations", json.dumps({"dataframe_records": [1, 2]}).encode(), "list of objects"),
        ("/invocations", json.dumps({"inputs": {"a": [1], "b": [1, 2], "c": [1]}}).encode(), "different lengths"),
        ("/score", json.dumps({"input_data": "nope"}).encode(), "input_data"),
        ("/score", json.dumps({"input_data": ROWS, "params": [1]}).encode(), "params"),
        ("/score", b"\xff\xfe", "not valid JSON"),
        ("/score", b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
)
def test_bad_bodies_get_400_with_a_message(
    http: httpx.Client, auth: dict[str, str], path: str, body: bytes, fragment: str
) -> None:
    answer = http.post(path, content=body, headers={**auth, "Content-Type": "application/json"})
    assert answer.status_code in (400, 413), answer.text
    if answer.status_code == 400:
        assert answer.json()["error_code"] == "BAD_REQUEST"
        assert fragment in answer.json()["message"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)
def test_wrong_content_type_is_415(http: httpx.Client, auth: dict[str, str], content_type: str) -> None:
    answer = http.post("/invocations", content=b"{}", headers={**auth, "Content-Type": content_type})
    assert answer.status_code == 415
    assert "application/json" in answer.json()["message"]


def test_huge_bodies_are_413_with_and_without_content_length(http: httpx.Client, auth: dict[str, str]) -> None:
    big = json.dumps({"input_data": [[1.0, 2.0, 3.0]] * 10_000}).encode()
    assert len(big) > MAX_BODY
    declared = http.post("/score", content=big, headers={**auth, "Content-Type": "application/json"})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = http.post("/score", content=chunks(), headers={**auth, "Content-Type": "application/json"})
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert str(MAX_BODY) in streamed.json()["message"]
    assert http.post("/score", json={"input_data": ROWS}, headers=auth).status_code == 200


def test_wrong_method_and_unknown_path(http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.get("/score", headers=auth).status_code == 405
    assert http.post("/predict", json={}, headers=auth).status_code == 404
    assert http.post("/ping").status_code == 405


# -- admin API ----------------------------------------------------------------------------------------------


def test_admin_validation(endpoint: EndpointServer, models: Models) -> None:
    with pytest.raises(ConflictError, match="still receives traffic"):
        endpoint.admin("DELETE", "deployments/blue")
    with pytest.raises(ServiceResponseError, match="add up to 100"):
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 60, "green": 30}})
    with pytest.raises(ServiceResponseError, match="does not exist"):
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 50, "ghost": 50}})
    with pytest.raises(ServiceResponseError, match="from 0 to 50"):
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100}, "mirror": {"green": 60}})
    with pytest.raises(ServiceResponseError, match="both live traffic and mirrored"):
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100}, "mirror": {"blue": 10}})
    with pytest.raises(ServiceResponseError, match="MLmodel") as bad_model:
        endpoint.admin("PUT", "deployments/bad", {"model_path": str(models.a.parent)})
    assert bad_model.value.status_code == 400
    with pytest.raises(ServiceResponseError, match="invalid"):
        endpoint.admin("PUT", "deployments/_x", {"model_path": str(models.a)})
    state = endpoint.admin("GET", "state")
    assert state["traffic"]["blue"] == 100
    assert state["traffic"].get("green", 0) == 0
    assert sorted(state["deployments"]) == ["blue", "green"]


def test_pyfunc_fallback_and_removal(
    endpoint: EndpointServer, models: Models, http: httpx.Client, auth: dict[str, str]
) -> None:
    state = endpoint.admin("PUT", "deployments/custom", {"model_path": str(models.pyfunc)})
    assert state["deployments"]["custom"]["flavor"] == "pyfunc"
    assert state["deployments"]["blue"]["flavor"] == "sklearn"
    headers = {**auth, "azureml-model-deployment": "custom"}
    answer = http.post("/invocations", json={"dataframe_split": {"columns": COLUMNS, "data": ROWS}}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx([row[0] * 10 + row[1] for row in ROWS])
    endpoint.admin("DELETE", "deployments/custom")
    assert "custom" not in endpoint.admin("GET", "state")["deployments"]


def test_mirror_copies_requests_and_keeps_answers_from_live(
    endpoint: EndpointServer, http: httpx.Client, auth: dict[str, str]
) -> None:
    before = endpoint.admin("GET", "stats").get("green", {}).get("mirrored", 0)
    endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100, "green": 0}, "mirror": {"green": 20}})
    try:
        answers = [http.post("/score", json={"input_data": ROWS}, headers=auth) for _ in range(50)]
    finally:
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100, "green": 0}, "mirror": {}})
    assert {answer.headers["azureml-model-deployment"] for answer in answers} == {"blue"}
    assert endpoint.admin("GET", "stats")["green"]["mirrored"] - before == 10


def test_restart_restores_deployments_and_traffic(tmp_path: Path, models: Models) -> None:
    server = EndpointServer(tmp_path / "endpoints" / "ep-restart", "ep-restart")
    server.create()
    server.start()
    try:
        server.admin("PUT", "deployments/blue", {"model_path": str(models.a), "metadata": {"model": "a@1"}})
        server.admin("PUT", "traffic", {"traffic": {"blue": 100}})
        first = server.info()
        assert server.stop() is True
        assert server.running() is None
        second = server.start()
        assert first is not None
        assert second.pid != first.pid
        state = server.admin("GET", "state")
        answer = server.score(json.dumps({"input_data": ROWS}).encode())
    finally:
        server.stop()
    assert state["traffic"] == {"blue": 100}
    assert state["deployments"]["blue"]["metadata"] == {"model": "a@1"}
    assert answer.json() == pytest.approx(_expected(formula_a))


def test_launch_does_not_wait_and_start_joins_the_launched_process(tmp_path: Path) -> None:
    server = EndpointServer(tmp_path / "endpoints" / "ep-launch", "ep-launch")
    server.create()
    try:
        server.launch()
        server.launch()  # still coming up: not started twice
        launched = json.loads((server.folder / "starting.json").read_text())["pid"]
        info = server.start()
        assert info.pid == launched
        assert not server.starting()
    finally:
        server.stop()
    assert not (server.folder / "starting.json").exists()


def test_a_server_that_dies_while_starting_is_a_failure_with_its_log(tmp_path: Path) -> None:
    from mlops_sdk import MLOpsClient

    store = tmp_path / ".mlops"
    server = EndpointServer(store / "endpoints" / "ep-dies", "ep-dies")
    server.create()
    (server.folder / "config.json").write_text("{not json", encoding="utf-8")  # the server cannot read it
    with MLOpsClient(f"local://{store}", show_progress=False) as hub:
        operation = hub.deployments.begin_create_endpoint("ep-dies")
        with pytest.raises(OperationFailedError, match="endpoint server is not running") as caught:
            operation.result()
    assert "JSONDecodeError" in str(caught.value)


# -- pure units ---------------------------------------------------------------------------------------------


def test_smooth_schedule_interleaves_exactly() -> None:
    schedule = smooth_schedule({"blue": 90, "green": 10})
    assert Counter(schedule) == {"blue": 90, "green": 10}
    positions = [index for index, name in enumerate(schedule) if name == "green"]
    assert max(b - a for a, b in itertools.pairwise(positions)) <= 10
    table = RoutingTable({}, {"a": 1, "b": 3}, {})
    assert Counter(table.pick() for _ in range(40)) == {"a": 10, "b": 30}


def test_validate_traffic_rules() -> None:
    assert validate_traffic({"a": 100, "b": 0}, {"b": 50}, {"a", "b"}) == ({"a": 100, "b": 0}, {"b": 50})
    for traffic, mirror in (({"a": 101}, {}), ({"a": True}, {}), ({"a": 50.5}, {}), ({"a": 100}, {"a": 5})):
        with pytest.raises(TrafficError):
            validate_traffic(traffic, mirror, {"a", "b"})


def test_payload_parsing_units() -> None:
    assert parse_json_body(b'{"inputs": {"a": 1, "b": 2}}', protocol="mlflow").rows == [[1, 2]]
    assert parse_json_body(b"[[1, 2]]", protocol="azureml").rows == [[1, 2]]
    assert parse_csv(b"a,b\n1,2\n\n3,4\n").rows == [["1", "2"], ["3", "4"]]
    with pytest.raises(PayloadError, match="header"):
        parse_csv(b"")
    with pytest.raises(PayloadError, match="line 3"):
        parse_csv(b"a,b\n1,2\n3\n")
