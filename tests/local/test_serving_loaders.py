"""The endpoint server's model loaders: the scikit-learn fast path reads MLflow models without MLflow,
and loads exactly what ``mlflow.sklearn.load_model`` loads; the server preloads it in the background."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_sdk.backends.local.serving.models import ModelLoadError, SklearnModel, load_served_model
from mlops_sdk.backends.local.serving.payloads import Batch
from tests.local._deploy import COLUMNS, ROWS


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same Ridge model saved in each serialization format MLflow's sklearn flavor writes."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge

    folder = tmp_path_factory.mktemp("loaders")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=COLUMNS)
    model = Ridge(alpha=0.3).fit(frame, frame.a * 2 - frame.c)
    paths = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for serialization in ("skops", "pickle", "cloudpickle"):
            path = folder / serialization
            mlflow.sklearn.save_model(
                model,
                str(path),
                serialization_format=serialization,
                signature=infer_signature(frame, model.predict(frame)),
                pip_requirements=["scikit-learn"],
            )
            paths[serialization] = path
    return paths


@pytest.mark.parametrize("serialization", ["skops", "pickle", "cloudpickle"])
def test_fast_path_loads_what_mlflow_loads(saved: dict[str, Path], serialization: str) -> None:
    import mlflow.sklearn

    served = load_served_model(saved[serialization])
    assert isinstance(served, SklearnModel)
    assert served.columns == COLUMNS
    reference = mlflow.sklearn.load_model(str(saved[serialization]))
    expected = reference.predict(pd.DataFrame(ROWS, columns=COLUMNS)).tolist()
    assert served.predict(Batch(rows=ROWS, columns=COLUMNS)) == pytest.approx(expected, rel=1e-12)


def test_fast_path_does_not_import_mlflow(saved: dict[str, Path]) -> None:
    script = (
        "import sys, json\n"
        "from mlops_sdk.backends.local.serving.models import load_served_model\n"
        "model = load_served_model(sys.argv[1])\n"
        "print(json.dumps({'flavor': model.flavor, 'mlflow': 'mlflow' in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(saved["skops"])], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"flavor": "sklearn", "mlflow": False}


def test_mlflows_deserialization_switch_is_honoured(saved: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    with pytest.raises(ModelLoadError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        load_served_model(saved["pickle"])


def test_unreadable_mlmodel_and_signature_are_load_errors(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: [unclosed\n", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not an MLflow model directory"):
        load_served_model(tmp_path)
    (tmp_path / "MLmodel").write_text("artifact_path: model\n", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="names no flavors"):
        load_served_model(tmp_path)
    (tmp_path / "MLmodel").write_text(
        "flavors:\n  sklearn: {pickled_model: model.pkl}\nsignature:\n  inputs: '[{not json'\n", encoding="utf-8"
    )
    with pytest.raises(ModelLoadError, match="unreadable signature"):
        load_served_model(tmp_path)
