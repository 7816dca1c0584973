"""The endpoint server under an adversary: bad input is a 400 naming row and column, never a 5xx.

One real server process on 127.0.0.1 serves a scikit-learn model (the fast path, ``blue``), a pyfunc
model (the MLflow fallback, ``custom``) and a pyfunc model that raises on one valid input (``boom``).
Targeted cases pin each bug found; a property-based fuzz test (hypothesis, seeded) then sends thousands
of generated bodies and headers over raw sockets and checks the promise as a whole.
"""

from __future__ import annotations

import json
import math
import os
import string
import textwrap
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from mlops_sdk.backends.local.serving.models import load_served_model
from mlops_sdk.backends.local.serving.payloads import Batch, PayloadError
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.backends.local.serving.schema import align, check_cells
from tests.local._deploy import COLUMNS, ROWS, Models, formula_a, save_models
from tests.local._http_probe import exchange, request_bytes

MAX_BODY = 16 * 1024
FUZZ_SEED = int(os.environ.get("MLOPS_FUZZ_SEED", "20261201"))
FUZZ_EXAMPLES = int(os.environ.get("MLOPS_FUZZ_EXAMPLES", "2000"))
HUGE = "1" + "0" * 400  # 10**400 written as JSON digits: an integer no float holds

_BOOM = textwrap.dedent(
    """
    import mlflow.pyfunc
    from mlflow.models import set_model

    class Boom(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            if (model_input["a"] == 13).any():
                raise RuntimeError("the model's own bug")
            return model_input["a"].tolist()

    set_model(Boom())
    """
)


def formula_custom(row: list[float]) -> float:
    """The pyfunc model of tests/local/_deploy.py: 10a + b."""
    return row[0] * 10 + row[1]


@dataclass(frozen=True)
class Served:
    server: EndpointServer
    port: int
    keys: dict[str, str]
    pid: int


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def boom_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    folder = tmp_path_factory.mktemp("boom")
    code = folder / "boom.py"
    code.write_text(_BOOM)
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=COLUMNS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(
            str(folder / "model"), python_model=str(code), signature=infer_signature(frame, frame.a)
        )
    return folder / "model"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, models: Models, boom_model: Path) -> Iterator[Served]:
    server = EndpointServer(tmp_path_factory.mktemp("store") / "endpoints" / "ep-adversary", "ep-adversary")
    server.create(max_body_bytes=MAX_BODY)
    info = server.start()
    try:
        server.admin("PUT", "deployments/blue", {"model_path": str(models.a)})
        server.admin("PUT", "deployments/custom", {"model_path": str(models.pyfunc)})
        server.admin("PUT", "deployments/boom", {"model_path": str(boom_model)})
        server.admin("PUT", "traffic", {"traffic": {"blue": 100}})
        yield Served(server, info.port, server.keys(), info.pid)
    finally:
        server.stop()


def _post(
    served: Served, path: str, body: str | bytes, *, deployment: str, content_type: str = "application/json"
) -> tuple[int, Any]:
    raw = body.encode() if isinstance(body, str) else body
    headers = [
        ("Authorization", f"Bearer {served.keys['primary_key']}"),
        ("Content-Type", content_type),
        ("azureml-model-deployment", deployment),
    ]
    answer = exchange(served.port, request_bytes("POST", path, served.port, headers, raw, framing="exact", limit=0))
    return answer.status, json.loads(answer.body)


# -- targeted cases: each was a 500, a silent cast or a message naming nothing ---------------------------------

_BOTH_PATHS = [
    ("/score", '{"input_data": [[' + HUGE + ", 2, 3]]}", "row 0, column 'a': the integer 100000000000..."),
    (
        "/invocations",
        '{"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": ' + HUGE + "}]}",
        "row 1, column 'c': the integer",
    ),
    ("/score", '{"input_data": {"columns": ["a", "b", "c"], "index": [7], "data": [[1, -' + HUGE + ", 3]]}}", "row 0"),
    ("/invocations", '{"instances": [[1, true, 3]]}', "row 0, column 'b': true is a boolean, not a number"),
    ("/invocations", '{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, "2", 3]]}}', "column 'b': '2'"),
    ("/invocations", '{"inputs": {"a": [1], "b": [{"x": 1}], "c": [3]}}', "row 0, column 'b': a nested object"),
    ("/score", '{"input_data": [[1, 2, [3]]]}', "row 0, column 'c': a nested list"),
    ("/invocations", '{"instances": [[1, 2, 3], [4, 5]]}', "row 1 has 2 values but row 0 has 3"),
    ("/score", '{"input_data": [[1, 2, 3], 4]}', "row 1 is"),
    ("/score", '{"input_data": [[1, 2, 3, 4]]}', "each row must have 3 values (a, b, c); row 0 has 4"),
    ("/score", '{"input_data": [[1, 2]]}', "each row must have 3 values"),
    ("/invocations", '{"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[1, 2, 3, 4]]}}', "['d']"),
    ("/invocations", '{"dataframe_split": {"columns": ["a", "a", "b"], "data": [[1, 2, 3]]}}', "more than once"),
    ("/invocations", '{"dataframe_records": [{"a": 1, "b": 2}]}', "lacks the column(s) ['c']"),
    ("/invocations", '{"dataframe_split": {"columns": ["a", "b", "c"], "data": []}}', "no rows"),
    ("/score", '{"input_data": {"a": 1, "b": 2, "c": "x"}}', "row 0, column 'c': 'x' is a string"),
]


@pytest.mark.parametrize("deployment", ["blue", "custom"])
@pytest.mark.parametrize(("path", "body", "fragment"), _BOTH_PATHS)
def test_bad_input_is_400_naming_row_and_column_on_both_model_paths(
    served: Served, deployment: str, path: str, body: str, fragment: str
) -> None:
    status, answer = _post(served, path, body, deployment=deployment)
    assert status == 400, answer
    assert answer["error_code"] == "BAD_REQUEST"
    assert fragment in answer["message"]


@pytest.mark.parametrize("deployment", ["blue", "custom"])
@pytest.mark.parametrize(
    ("csv", "fragment"),
    [
        ("a,b,c\n1,2,x\n", "row 0, column 'c': 'x' is not a number"),
        ("a,a,b\n1,2,3\n", "more than once"),
        ("a,b,c,d\n1,2,3,4\n", "unknown column(s) ['d']"),
        ("a,b,c\n1,2,3\n1," + HUGE + ",3\n", "row 1, column 'b': '100000000000"),
        ("a,b,c\n1,2,1e999\n", "row 0, column 'c': '1e999' is too large for a 64-bit float"),
    ],
)
def test_bad_csv_is_400_on_both_model_paths(served: Served, deployment: str, csv: str, fragment: str) -> None:
    status, answer = _post(served, "/invocations", csv, deployment=deployment, content_type="text/csv")
    assert status == 400, answer
    assert fragment in answer["message"]


@pytest.mark.parametrize("body", ['{"input_data": [[NaN, 2, 3]]}', '{"input_data": [[null, 2, 3]]}'])
def test_missing_values_the_estimator_refuses_name_the_cell(served: Served, body: str) -> None:
    status, answer = _post(served, "/score", body, deployment="blue")
    assert status == 400
    assert answer["message"].startswith("row 0, column 'a': a missing value (NaN), which the model does not take")


def test_infinity_the_estimator_refuses_names_the_cell(served: Served) -> None:
    status, answer = _post(served, "/score", '{"input_data": [[1, 2, 3], [1, Infinity, 3]]}', deployment="blue")
    assert status == 400
    assert answer["message"].startswith("row 1, column 'b': an infinite number")


def test_valid_csv_reaches_a_pyfunc_model_typed_by_its_signature(served: Served) -> None:
    csv = "c,a,b\n" + "\n".join(f"{row[2]},{row[0]},{row[1]}" for row in ROWS) + "\n"
    status, answer = _post(served, "/invocations", csv, deployment="custom", content_type="text/csv")
    assert status == 200, answer
    assert answer["predictions"] == pytest.approx([formula_custom(row) for row in ROWS])


def test_a_model_that_raises_on_valid_input_is_a_500(served: Served) -> None:
    fine_status, fine = _post(served, "/score", '{"input_data": [[1, 2, 3]]}', deployment="boom")
    status, answer = _post(served, "/score", '{"input_data": [[13, 2, 3]]}', deployment="boom")
    assert (fine_status, fine) == (200, [1.0])
    assert status == 500
    assert answer["error_code"] == "MODEL_ERROR"
    assert answer["message"] == "deployment 'boom' failed to score the input (RuntimeError)"


def test_integer_columns_on_the_fast_path(tmp_path: Path) -> None:
    """A signature's long column refuses fractions, missing values and numbers beyond 64 bits, by cell."""
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"count": [1, 2, 3, 4], "x": [0.5, 1.5, 2.5, 3.5]})
    mlflow.sklearn.save_model(
        LinearRegression().fit(frame, frame.x),
        str(tmp_path / "model"),
        signature=infer_signature(frame, frame.x),
        pip_requirements=["scikit-learn"],
    )
    model = load_served_model(tmp_path / "model")
    assert model.flavor == "sklearn"
    assert model.predict(Batch(rows=[[2, 1.5]], columns=["count", "x"])) == pytest.approx([1.5])
    for cell, fragment in ((2.5, "2.5 is not an integer"), (None, "a missing value"), (2**70, "out of the long")):
        with pytest.raises(PayloadError, match="row 1, column 'count'") as caught:
            model.predict(Batch(rows=[[1, 1.0], [cell, 1.0]], columns=["count", "x"]))
        assert fragment in str(caught.value)


def test_cell_checks_units() -> None:
    rows, names = align(Batch(rows=[[3, 1, 2]], columns=["c", "a", "b"]), COLUMNS)
    assert (rows, names) == ([[1, 2, 3]], COLUMNS)
    assert align(Batch(rows=[1, 2]), None) == ([[1], [2]], None)
    # the usual request names the signature's columns in order: the batch then holds the signature's
    # own list (the capture hook compares each request's columns with its lane's by identity)
    usual = Batch(rows=[[1, 2, 3]], columns=["a", "b", "c"])
    rows, names = align(usual, COLUMNS)
    assert (rows, names) == ([[1, 2, 3]], COLUMNS)
    assert usual.columns is COLUMNS
    assert names is COLUMNS
    with pytest.raises(PayloadError, match="appear more than once"):  # a signature naming a column twice
        align(Batch(rows=[[1, 2]], columns=["a", "a"]), ["a", "a"])
    assert check_cells([["1.5", " 2 ", "true"]], ["x", "n", "flag"], ["double", "long", "boolean"], csv=True) == [
        [1.5, 2, True]
    ]
    assert check_cells([["", "", "1"]], None, ["double", "string", "boolean"], csv=True) == [[None, "", True]]
    cases = [
        ([[1, 0]], ["string", "double"], "row 0, column 0: 1 is a int, not a string"),
        ([[0, "yes"]], ["double", "boolean"], "row 0, column 1: 'yes' is a string, not a boolean"),
        ([[float("nan")]], ["integer"], "nan is not an integer"),
        ([[2**31]], ["integer"], "out of the integer range"),
    ]
    for cells, types, message in cases:
        with pytest.raises(PayloadError, match="row 0") as caught:
            check_cells(cells, None, types, csv=False)
        assert message in str(caught.value)


# -- the property: thousands of generated requests, never a 5xx, never a dropped connection -----------------

_SCORING = ("/score", "/invocations")
_AUTH = ["primary", "secondary", "missing", "wrong", "admin", "lowercase-scheme", "no-scheme", "truncated", "basic"]
_FRAMINGS = ["exact"] * 8 + ["chunked"] * 3 + ["leading-zeros", "over-limit", "zero", "short", "missing", "invalid"]
_FRAMINGS += ["conflicting"]
_GOOD_TYPES = {
    "application/json": ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
    "text/csv": ["text/csv", "text/csv; charset=utf-8"],
}
_BAD_TYPES = ["text/plain", "application/json; charset=latin-1", "multipart/form-data; boundary=x", "image/png"]
_HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=10)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False) | st.integers(-1000, 1000)
hostile_number = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([10**400, -(10**400), 10**309, 2**63, 2**64])
)
hostile_cell = (
    hostile_number
    | st.booleans()
    | st.none()
    | st.text(max_size=6)
    | st.lists(st.integers(-5, 5), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(-5, 5), max_size=2)
)
column_name = st.sampled_from(COLUMNS) | st.text(max_size=3)
json_value = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@dataclass(frozen=True)
class Body:
    path: str
    content_type: str
    data: bytes
    rows: list[list[float]] | None = None  # valid body: the rows in a, b, c order (the oracle)
    refused_by: tuple[str, ...] = ()  # deployments that must answer 400 (a mutant body)
    mutation: str = ""


_FORMS = ["split", "tensor", "bare", "df_split", "records", "instances", "inputs", "csv"]
_NAMED = {"split", "df_split", "records", "inputs", "csv"}
_MUTATIONS = ["cell", "cell", "cell", "nonfinite", "short-row", "extra-column", "unknown-column", "duplicate", "empty"]
bad_cell = (
    st.sampled_from([10**400, -(10**400), 10**309, True, False])
    | st.text(max_size=4)
    | st.lists(st.integers(-5, 5), max_size=2)
    | st.dictionaries(st.sampled_from(COLUMNS), st.integers(-5, 5), max_size=2)
)
nonfinite = st.sampled_from([float("nan"), float("inf"), float("-inf"), None])


def _csv_cell(value: Any) -> str:
    return "" if value is None else repr(value)


def _render(form: str, columns: list[str], rows: list[list[Any]]) -> tuple[str, str, bytes]:
    """(path, content type, body) of ``rows`` (named by ``columns``) in one of the protocol forms."""
    if form == "csv":
        lines = [",".join(columns)] + [",".join(_csv_cell(value) for value in row) for row in rows]
        return "/invocations", "text/csv", ("\n".join(lines) + "\n").encode()
    payload: Any
    if form == "split":
        payload = {"input_data": {"columns": columns, "index": list(range(len(rows))), "data": rows}}
    elif form in ("tensor", "bare", "instances"):
        payload = {"tensor": {"input_data": rows}, "bare": rows, "instances": {"instances": rows}}[form]
    elif form == "df_split":
        payload = {"dataframe_split": {"columns": columns, "data": rows}}
    elif form == "records":
        payload = {"dataframe_records": [dict(zip(columns, row, strict=False)) for row in rows]}
    else:
        payload = {"inputs": {name: [row[i] for row in rows if i < len(row)] for i, name in enumerate(columns)}}
    path = "/score" if form in ("split", "tensor", "bare") else "/invocations"
    return path, "application/json", json.dumps(payload).encode()


@st.composite
def valid_bodies(draw: st.DrawFn) -> Body:
    """A body every deployment must score (200, right predictions), in one of the eight protocol forms."""
    rows = draw(st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=6))
    form = draw(st.sampled_from(_FORMS))
    order = list(draw(st.permutations(COLUMNS))) if form in _NAMED else list(COLUMNS)
    named = [[row[COLUMNS.index(name)] for name in order] for row in rows]
    return Body(*_render(form, order, named), rows=rows)


@st.composite
def mutant_bodies(draw: st.DrawFn) -> Body:
    """A valid body with one thing wrong that the promise says is a 400 (naming what is wrong)."""
    rows = draw(st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=4))
    mutation = draw(st.sampled_from(_MUTATIONS))
    form = draw(st.sampled_from(sorted(_NAMED) if mutation in ("unknown-column", "duplicate") else _FORMS))
    columns = list(draw(st.permutations(COLUMNS))) if form in _NAMED else list(COLUMNS)
    row = draw(st.integers(0, len(rows) - 1))
    column = draw(st.integers(0, 2))
    refused_by: tuple[str, ...] = ("blue", "custom")
    if mutation == "cell":
        rows[row][column] = draw(bad_cell)
    elif mutation == "nonfinite":  # allowed by the double signature; the estimator refuses it, pyfunc takes it
        rows[row][column] = draw(nonfinite)
        refused_by = ("blue",)
    elif mutation == "short-row":
        del rows[row][column]
    elif mutation == "extra-column":
        columns.append(draw(st.sampled_from(["d", "target", "A"])))
        for item in rows:
            item.append(draw(finite))
    elif mutation == "unknown-column":
        columns[column] = draw(st.text(max_size=4).filter(lambda name: name not in COLUMNS))
    elif mutation == "duplicate":
        columns[column] = columns[(column + 1) % 3]
    else:
        rows = []
    return Body(*_render(form, columns, rows), refused_by=refused_by, mutation=f"{mutation} in {form}")


@st.composite
def hostile_bodies(draw: st.DrawFn) -> Body:
    """Bodies a server can parse (or not) that no model can take as they are."""
    kind = draw(st.sampled_from(["cells", "cells", "cells", "json", "bytes", "csv", "padded"]))
    path = draw(st.sampled_from(_SCORING))
    if kind == "bytes":
        return Body(path, "application/json", draw(st.binary(max_size=200)), None)
    if kind == "padded":  # over the body limit
        return Body(path, "application/json", b'{"input_data": [[1, 2, 3]]' + b" " * MAX_BODY + b"}", None)
    if kind == "csv":
        header = draw(st.lists(column_name, min_size=1, max_size=4))
        rows = draw(st.lists(st.lists(st.text(max_size=5), max_size=4), max_size=4))
        text = "\n".join([",".join(header), *(",".join(row) for row in rows)])
        return Body("/invocations", "text/csv", text.encode("utf-8", "surrogatepass"), None)
    if kind == "json":
        key = draw(st.sampled_from(["input_data", "dataframe_split", "dataframe_records", "instances", "inputs"]))
        payload: Any = {key: draw(json_value)}
        if draw(st.booleans()):
            payload["params"] = draw(json_value)
        return Body(path, "application/json", json.dumps(payload).encode(), None)
    columns = draw(st.lists(column_name, min_size=0, max_size=5))
    rows = draw(st.lists(st.lists(hostile_cell, max_size=5), max_size=4))
    form = draw(st.sampled_from(["split", "tensor", "records", "instances", "inputs"]))
    if form == "split":
        key = "input_data" if path == "/score" else "dataframe_split"
        payload = {key: {"columns": columns, "data": rows}}
    elif form == "records":
        records = [dict(zip(columns, row, strict=False)) for row in rows]
        payload = records if path == "/score" else {"dataframe_records": records}
    elif form == "inputs":
        payload = {"inputs": {name: [row[0] if row else None for row in rows] for name in columns}}
    else:
        payload = {"input_data" if path == "/score" else "instances": rows}
    return Body(path, "application/json", json.dumps(payload).encode(), None)


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    auth: str
    content_type: str | None
    deployment: str | None
    framing: str
    body: Body


@st.composite
def probes(draw: st.DrawFn) -> Probe:
    body = draw([valid_bodies(), mutant_bodies(), mutant_bodies(), hostile_bodies()][draw(st.integers(0, 3))])
    content_type: str | None = draw(st.sampled_from(_GOOD_TYPES[body.content_type]))
    if draw(st.integers(0, 9)) == 0:
        content_type = draw(st.sampled_from([*_BAD_TYPES, None]) | _HEADER_TEXT)
    deployment = draw(st.sampled_from([None, None, None, None, "blue", "custom", "custom", "", "ghost", "text"]))
    if deployment == "text":
        deployment = draw(_HEADER_TEXT.filter(lambda text: text != "boom"))
    path = body.path
    if draw(st.integers(0, 19)) == 0:
        path = draw(st.sampled_from(["/score/", "/Score", "/predict", "/", "/admin/state", f"{path}?x=1"]))
    method = "POST" if draw(st.integers(0, 19)) else draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH"]))
    auth = draw(st.sampled_from(_AUTH)) if draw(st.integers(0, 3)) == 0 else "primary"
    return Probe(method, path, auth, content_type, deployment, draw(st.sampled_from(_FRAMINGS)), body)


def _authorization(probe: Probe, keys: dict[str, str]) -> str | None:
    key = keys["primary_key"]
    return {
        "primary": f"Bearer {key}",
        "secondary": f"Bearer {keys['secondary_key']}",
        "missing": None,
        "wrong": "Bearer not-the-key",
        "admin": f"Bearer {keys['admin_key']}",
        "lowercase-scheme": f"bearer {key}",
        "no-scheme": key,
        "truncated": f"Bearer {key[:-1]}",
        "basic": "Basic dXNlcjpwYXNz",
    }[probe.auth]


def _expected_status(probe: Probe) -> int | None:
    """The status the promise fixes for this request (``None``: any 4xx/2xx is acceptable)."""
    route = probe.path.split("?", 1)[0]
    if probe.framing in ("invalid", "conflicting"):
        return 400  # refused by the HTTP parser before the app sees it
    if probe.framing in ("zero", "short", "missing"):
        return None  # the rest of the body reads as a second, malformed request: the parser may answer 400 first
    if route not in _SCORING:
        return None  # 404 or 405 (or 401 on /admin)
    if probe.method != "POST":
        return 405
    if probe.auth not in ("primary", "secondary"):
        return 401
    known_type = probe.content_type is None or any(probe.content_type in good for good in _GOOD_TYPES.values())
    if not known_type:
        return 415 if probe.content_type in _BAD_TYPES else None
    if probe.framing == "over-limit":
        return 413
    if probe.framing not in ("exact", "chunked", "leading-zeros"):
        return None
    if len(probe.body.data) > MAX_BODY:
        return 413
    usable = probe.content_type is not None or probe.body.content_type == "application/json"
    if not usable or (probe.body.rows is None and not probe.body.refused_by):
        return None  # 400 for most, but a random body may happen to be valid
    target = (probe.deployment or "").strip() or "blue"
    if probe.body.refused_by:
        return None if target not in ("blue", "custom") else 400 if target in probe.body.refused_by else 200
    return 404 if target not in ("blue", "custom") else 200


def test_fuzz_both_protocols_never_5xx_never_drop(served: Served) -> None:
    """>= 2,000 generated bodies and headers against the real server process (seed printed, bounded)."""
    statuses: Counter[int] = Counter()
    keys = served.keys

    @seed(FUZZ_SEED)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(probe=probes())
    def one(probe: Probe) -> None:
        headers: list[tuple[str, str]] = []
        authorization = _authorization(probe, keys)
        if authorization is not None:
            headers.append(("Authorization", authorization))
        if probe.content_type is not None:
            headers.append(("Content-Type", probe.content_type))
        if probe.deployment is not None:
            headers.append(("azureml-model-deployment", probe.deployment))
        raw = request_bytes(
            probe.method, probe.path, served.port, headers, probe.body.data, framing=probe.framing, limit=MAX_BODY
        )
        answer = exchange(served.port, raw)  # raises DroppedConnectionError on a dropped connection
        statuses[answer.status] += 1
        assert answer.status < 500, (answer.status, answer.body[:300])
        expected = _expected_status(probe)
        if expected is not None:
            assert answer.status == expected, (probe.body.mutation, answer.status, answer.body[:300])
        if answer.status == 200:
            predictions = json.loads(answer.body)
            predictions = predictions["predictions"] if isinstance(predictions, dict) else predictions
            if probe.body.rows is not None:
                formula = formula_custom if (probe.deployment or "").strip() == "custom" else formula_a
                assert predictions == pytest.approx([formula(row) for row in probe.body.rows], rel=1e-6, abs=1e-6)
        elif answer.headers.get("content-type") == "application/json":
            error = json.loads(answer.body)
            assert error["error_code"]
            assert error["message"]
        if answer.status == 401:
            assert answer.headers["www-authenticate"] == "Bearer"
        if probe.auth not in ("primary", "secondary"):
            assert answer.status != 200

    print(f"\nfuzz: hypothesis seed {FUZZ_SEED} (MLOPS_FUZZ_SEED), {FUZZ_EXAMPLES} examples (MLOPS_FUZZ_EXAMPLES)")
    started = time.monotonic()
    one()
    print(f"fuzz: {time.monotonic() - started:.1f}s, answers by status {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= FUZZ_EXAMPLES
    assert {200, 400, 401, 404, 405, 413, 415} <= set(statuses)  # the generator reaches every kind of answer
    # Afterwards the same process still answers a valid request correctly.
    assert served.server.running() is not None
    assert served.server.info().pid == served.pid  # type: ignore[union-attr]
    status, answer = _post(served, "/score", json.dumps({"input_data": ROWS}), deployment="blue")
    assert status == 200
    assert answer == pytest.approx([formula_a(row) for row in ROWS])
    assert not any(math.isnan(value) for value in answer)
