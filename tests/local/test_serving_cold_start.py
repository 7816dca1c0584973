"""Cold start of the endpoint server: a restarted endpoint scores its linear models from the kernel
cache (``kernels/`` in the endpoint folder) without importing scikit-learn, gives the answers it gave
before the restart bit for bit, and never trusts a cache file that does not match the model files."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlops_sdk.backends.local.serving.models import (
    LinearKernelModel,
    ModelLoadError,
    SklearnModel,
    load_served_model,
)
from mlops_sdk.backends.local.serving.payloads import Batch, PayloadError
from mlops_sdk.backends.local.serving.process import EndpointServer

COLUMNS = ["a", "b", "c", "d"]
ROWS = np.random.default_rng(11).normal(scale=3.0, size=(25, 4)).tolist()


def _save(estimator: Any, frame: pd.DataFrame, path: Path, **options: Any) -> Path:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            estimator,
            str(path),
            signature=infer_signature(frame, estimator.predict(frame)),
            pip_requirements=["scikit-learn"],
            **options,
        )
    return path


def _frame(seed: int, columns: list[str] = COLUMNS) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(60, len(columns))), columns=columns)


@dataclass(frozen=True)
class Saved:
    """Models saved once for the module, with their estimators (the reference answers)."""

    ridge: Path
    ridge_estimator: Any
    other_ridge_estimator: Any
    tree: Path
    tree_estimator: Any
    logistic: Path
    logistic_estimator: Any


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeRegressor

    folder = tmp_path_factory.mktemp("cold-models")
    frame = _frame(1)
    ridge = Ridge(alpha=0.7).fit(frame, frame.a * 1.5 - frame.c + 0.25 * frame.d + 4)
    other = Ridge(alpha=0.1).fit(frame, -3 * frame.b + frame.d - 1)
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(frame, frame.a - frame.b)
    logistic = LogisticRegression().fit(frame, (frame.a + frame.c > 0).astype(int))
    return Saved(
        ridge=_save(ridge, frame, folder / "ridge"),
        ridge_estimator=ridge,
        other_ridge_estimator=other,
        tree=_save(tree, frame, folder / "tree", skops_trusted_types=["sklearn.tree._tree.Tree"]),
        tree_estimator=tree,
        logistic=_save(logistic, frame, folder / "logistic"),
        logistic_estimator=logistic,
    )


@pytest.fixture
def no_preload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers started by the test do not import scikit-learn in the background: what a process maps
    is then what serving needed."""
    monkeypatch.setenv("MLOPS_ENDPOINT_PRELOAD", "0")


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[EndpointServer]:
    server = EndpointServer(tmp_path / "endpoints" / "ep-cold", "ep-cold")
    server.create()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _deploy(server: EndpointServer, path: Path, name: str = "blue") -> None:
    server.admin("PUT", f"deployments/{name}", {"model_path": str(path)})
    server.admin("PUT", "traffic", {"traffic": {name: 100}})


def _score(server: EndpointServer, rows: list[list[float]] = ROWS) -> bytes:
    answer = server.score(json.dumps({"input_data": {"columns": COLUMNS, "data": rows}}).encode())
    assert answer.status == 200, answer.body
    return answer.body


def _restart(server: EndpointServer) -> int:
    assert server.stop() is True
    info = server.start()
    return info.pid


def _kernel(server: EndpointServer, name: str = "blue") -> Any:
    return server.admin("GET", "state")["deployments"][name].get("kernel")


def _maps_sklearn(pid: int) -> bool:
    """Whether process ``pid`` has scikit-learn's compiled extensions mapped (it imported scikit-learn)."""
    maps = Path(f"/proc/{pid}/maps")
    if not maps.is_file():
        pytest.skip("needs /proc/<pid>/maps (Linux) to see what a server process imported")
    return "/sklearn/" in maps.read_text(encoding="utf-8", errors="replace")


def _expected(estimator: Any, rows: list[list[float]] = ROWS) -> list[float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [float(value) for value in estimator.predict(np.asarray(rows))]


def _kernel_files(server: EndpointServer) -> list[Path]:
    return sorted((server.folder / "kernels").glob("*.npz"))


# -- (a) a restart serves the same answers without scikit-learn ------------------------------------------


def test_a_restarted_endpoint_answers_the_same_without_importing_scikit_learn(
    no_preload: None, endpoint: EndpointServer, saved: Saved
) -> None:
    _deploy(endpoint, saved.ridge)
    first = endpoint.info()
    assert first is not None
    before = _score(endpoint)
    assert _maps_sklearn(first.pid)  # the first load needed scikit-learn: the observation can see it
    assert _kernel(endpoint) == "linear"
    key = hashlib.sha256(str(saved.ridge.resolve()).encode()).hexdigest()
    assert [item.name for item in _kernel_files(endpoint)] == [f"{key}.npz"]

    pid = _restart(endpoint)
    after = _score(endpoint)
    assert after == before  # the same bytes: the same arithmetic on the same coefficients
    assert json.loads(after) == pytest.approx(_expected(saved.ridge_estimator), rel=1e-12, abs=1e-12)
    state = endpoint.admin("GET", "state")["deployments"]["blue"]
    assert state["kernel"] == "cached"
    assert (state["flavor"], state["fast_path"], state["columns"]) == ("sklearn", True, COLUMNS)
    assert not _maps_sklearn(pid)


def test_a_kernel_served_restart_still_preloads_once_idle_for_the_next_new_model(
    endpoint: EndpointServer, saved: Saved
) -> None:
    _deploy(endpoint, saved.ridge)
    _restart(endpoint)
    assert _kernel(endpoint) == "cached"
    log_start = len(endpoint.log_path.read_bytes())
    # a real process: bounded wait, not a timing assertion; the preload runs at the lowest priority,
    # so on a busy machine it takes minutes
    deadline = time.monotonic() + 240
    while b"preloaded" not in endpoint.log_path.read_bytes()[log_start:] and time.monotonic() < deadline:
        time.sleep(0.2)
    log = endpoint.log_path.read_bytes()[log_start:].decode()
    assert "preloaded sklearn.base, skops.io" in log
    endpoint.admin("PUT", "deployments/tree", {"model_path": str(saved.tree)})
    answer = endpoint.score(json.dumps({"input_data": {"columns": COLUMNS, "data": ROWS}}).encode(), deployment="tree")
    assert answer.json() == pytest.approx(_expected(saved.tree_estimator))


# -- (b) the cache is for the files it was written from ---------------------------------------------------


def test_replacing_the_model_files_at_the_same_path_serves_the_new_model(
    endpoint: EndpointServer, saved: Saved, tmp_path: Path
) -> None:
    path = tmp_path / "model"
    shutil.copytree(saved.ridge, path)
    _deploy(endpoint, path)
    _restart(endpoint)
    assert _kernel(endpoint) == "cached"
    assert json.loads(_score(endpoint)) == pytest.approx(_expected(saved.ridge_estimator), rel=1e-12)

    endpoint.stop()
    shutil.rmtree(path)
    _save(saved.other_ridge_estimator, _frame(1), path)
    endpoint.start()
    assert _kernel(endpoint) == "linear"  # loaded from the files again, not from the outdated cache
    assert json.loads(_score(endpoint)) == pytest.approx(_expected(saved.other_ridge_estimator), rel=1e-12)
    assert "the model files changed" in endpoint.log_tail(20)

    _restart(endpoint)  # the cache was rewritten for the new files
    assert _kernel(endpoint) == "cached"
    assert json.loads(_score(endpoint)) == pytest.approx(_expected(saved.other_ridge_estimator), rel=1e-12)


# -- (c) a damaged cache file is never used -------------------------------------------------------------


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: len(file.read_bytes()) // 2])


def _wrong_shape(file: Path) -> None:
    with np.load(file, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["coef"] = np.concatenate([arrays["coef"], [1.0]])  # one coefficient too many, fingerprint intact
    with file.open("wb") as stream:
        np.savez(stream, **arrays)


def _other_format(file: Path) -> None:
    with np.load(file, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"][()]))
    arrays["meta"] = np.array(json.dumps({**meta, "format": 999}))
    with file.open("wb") as stream:
        np.savez(stream, **arrays)


@pytest.mark.parametrize("damage", [_truncate, _wrong_shape, _other_format, lambda file: file.write_bytes(b"\0" * 64)])
def test_a_damaged_cache_file_falls_back_to_the_model_files_and_is_rewritten(
    endpoint: EndpointServer, saved: Saved, damage: Any
) -> None:
    _deploy(endpoint, saved.ridge)
    before = _score(endpoint)
    endpoint.stop()
    (file,) = _kernel_files(endpoint)
    damage(file)
    endpoint.start()
    assert _kernel(endpoint) == "linear"
    assert _score(endpoint) == before
    assert "is not used" in endpoint.log_tail(20)
    _restart(endpoint)
    assert _kernel(endpoint) == "cached"
    assert _score(endpoint) == before


# -- (d) bad input on the kernel path -------------------------------------------------------------------


def test_non_finite_input_on_the_kernel_path_is_a_400_naming_row_and_column(
    endpoint: EndpointServer, saved: Saved
) -> None:
    _deploy(endpoint, saved.ridge)
    _restart(endpoint)
    assert _kernel(endpoint) == "cached"
    for literal, what in (("NaN", "a missing value (NaN)"), ("Infinity", "an infinite number")):
        body = f'{{"input_data": {{"columns": {json.dumps(COLUMNS)}, "data": [[1, 2, 3, 4], [1, 2, {literal}, 4]]}}}}'
        answer = endpoint.score(body.encode())
        assert answer.status == 400
        assert answer.json()["error_code"] == "BAD_REQUEST"
        assert answer.message.startswith(f"row 1, column 'c': {what}, which the model does not take")
    for rows, message in (([[1.0, 2.0, 3.0]], "each row must have 4 values"), ([[1, 2, "x", 4]], "'c'")):
        answer = endpoint.score(json.dumps({"input_data": rows}).encode())
        assert answer.status == 400
        assert message in answer.message
    assert json.loads(_score(endpoint)) == pytest.approx(_expected(saved.ridge_estimator), rel=1e-12)


# -- (e) other models are loaded from their files as before -----------------------------------------------


def test_non_linear_models_write_no_cache_and_still_serve_after_a_restart(
    endpoint: EndpointServer, saved: Saved
) -> None:
    _deploy(endpoint, saved.tree, "tree")
    endpoint.admin("PUT", "deployments/logistic", {"model_path": str(saved.logistic)})
    body = json.dumps({"input_data": {"columns": COLUMNS, "data": ROWS}}).encode()
    before = {name: endpoint.score(body, deployment=name).body for name in ("tree", "logistic")}
    assert _kernel_files(endpoint) == []
    _restart(endpoint)
    assert _kernel_files(endpoint) == []
    for name, estimator in (("tree", saved.tree_estimator), ("logistic", saved.logistic_estimator)):
        answer = endpoint.score(body, deployment=name)
        assert answer.body == before[name]
        assert answer.json() == pytest.approx(_expected(estimator))
        assert _kernel(endpoint, name) is None


# -- (f) the kernel answers what the estimator answers ----------------------------------------------------


@dataclass(frozen=True)
class Linear:
    path: Path
    estimator: Any
    columns: list[str]


def _linear_models(folder: Path) -> list[Linear]:
    """A seeded sweep: widths 1-30, one and several outputs, with and without intercept, integer columns."""
    from sklearn.linear_model import LinearRegression, Ridge

    rng = np.random.default_rng(5)
    models = []
    for index in range(10):
        width = int(rng.integers(1, 31))
        columns = [f"x{column}" for column in range(width)]
        frame = pd.DataFrame(rng.normal(scale=rng.uniform(0.1, 100), size=(80, width)), columns=columns)
        if index == 3:  # integer columns: the signature says long
            frame = frame.round().astype("int64")
        weights = rng.normal(size=(width, 3 if index % 4 == 1 else 1))
        target = frame.to_numpy(dtype=float) @ weights + rng.normal()
        target = target if index % 4 == 1 else target[:, 0]
        kind = Ridge(alpha=float(rng.uniform(0.01, 5))) if index % 2 else LinearRegression()
        if index % 3 == 2:
            kind.set_params(fit_intercept=False)
        estimator = kind.fit(frame, target)
        models.append(Linear(_save(estimator, frame, folder / f"linear-{index}"), estimator, columns))
    return models


@pytest.fixture(scope="module")
def linear_models(tmp_path_factory: pytest.TempPathFactory) -> list[Linear]:
    return _linear_models(tmp_path_factory.mktemp("sweep"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_kernel_answers_equal_the_estimators_and_the_full_loads_bit_for_bit(
    linear_models: list[Linear], tmp_path: Path, data: st.DataObject
) -> None:
    cache = tmp_path / "kernels"
    shutil.rmtree(cache, ignore_errors=True)
    model = data.draw(st.sampled_from(linear_models))
    loaded = load_served_model(model.path, kernel_cache=cache)
    assert isinstance(loaded, SklearnModel)
    assert loaded._linear is not None
    cached = load_served_model(model.path, kernel_cache=cache)
    assert isinstance(cached, LinearKernelModel)
    assert cached.describe() == {**loaded.describe(), "kernel": "cached"}
    elements = st.floats(-1e6, 1e6, allow_nan=False)
    matrix = data.draw(arrays(np.float64, (data.draw(st.integers(1, 40)), len(model.columns)), elements=elements))
    if "long" in loaded._types:  # integer columns take whole numbers
        matrix = np.round(matrix)
    rows = matrix.tolist()
    full = loaded.predict_raw(Batch(rows=rows, columns=model.columns))
    fast = cached.predict_raw(Batch(rows=rows, columns=model.columns))
    assert full.dtype == fast.dtype == np.float64
    assert np.array_equal(full, fast)  # bit for bit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = model.estimator.predict(np.asarray(rows))
    assert np.allclose(fast, reference, rtol=1e-9, atol=1e-6 * max(1.0, float(np.abs(reference).max())))


def test_a_cached_kernel_loads_without_importing_scikit_learn(linear_models: list[Linear], tmp_path: Path) -> None:
    cache = tmp_path / "kernels"
    model = linear_models[1]  # several outputs
    load_served_model(model.path, kernel_cache=cache)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from mlops_sdk.backends.local.serving.models import load_served_model\n"
        "from mlops_sdk.backends.local.serving.payloads import Batch\n"
        "model = load_served_model(sys.argv[1], kernel_cache=Path(sys.argv[2]))\n"
        "out = model.predict(Batch(rows=json.loads(sys.argv[3]), columns=None))\n"
        "imported = sorted({n.split('.')[0] for n in sys.modules} & {'sklearn', 'skops', 'mlflow'})\n"
        "print(json.dumps({'kernel': model.describe()['kernel'], 'out': out, 'imported': imported}))\n"
    )
    rows = np.random.default_rng(3).normal(size=(4, len(model.columns))).tolist()
    out = subprocess.run(
        [sys.executable, "-c", script, str(model.path), str(cache), json.dumps(rows)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kernel"] == "cached"
    assert result["imported"] == []
    assert np.asarray(result["out"]).shape == (4, 3)
    assert np.allclose(result["out"], model.estimator.predict(np.asarray(rows)), rtol=1e-9)


def test_the_kernel_cache_honours_mlflows_deserialization_switch(
    linear_models: list[Linear], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model MLflow would refuse to deserialize is refused with a cache too (as it was without one)."""
    cache = tmp_path / "kernels"
    load_served_model(linear_models[0].path, kernel_cache=cache)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    with pytest.raises(ModelLoadError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        load_served_model(linear_models[0].path, kernel_cache=cache)


def test_the_kernel_path_refuses_non_finite_cells_in_process(linear_models: list[Linear], tmp_path: Path) -> None:
    model = linear_models[2]
    load_served_model(model.path, kernel_cache=tmp_path)
    cached = load_served_model(model.path, kernel_cache=tmp_path)
    assert isinstance(cached, LinearKernelModel)
    rows = [[0.0] * len(model.columns) for _ in range(3)]
    rows[2][-1] = float("inf")
    with pytest.raises(PayloadError, match=rf"^row 2, column '{model.columns[-1]}': an infinite number"):
        cached.predict(Batch(rows=rows, columns=model.columns))
