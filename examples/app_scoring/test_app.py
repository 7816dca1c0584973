"""The app's integration test: a real model on a real local endpoint, through the SDK's pytest fixtures.

Run with ``pytest examples/app_scoring`` once mlops-sdk[local] is installed (its pytest plugin provides
``mlops_client`` and ``served_model``).
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
from app import FEATURES, create_app
from starlette.testclient import TestClient


def _price_model(folder: Path) -> Path:
    """An MLflow scikit-learn model pricing ``2a + b`` exactly."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 5.0]})
    model = LinearRegression().fit(frame[FEATURES], 2 * frame.a + frame.b)
    model.coef_, model.intercept_ = np.array([2.0, 1.0]), 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(frame[FEATURES], model.predict(frame[FEATURES]))
        mlflow.sklearn.save_model(model, str(folder / "model"), signature=signature, pip_requirements=["scikit-learn"])
    return folder / "model"


@pytest.mark.mlops_backend("local")
def test_quotes_come_from_the_champion_model(mlops_client, served_model, tmp_path: Path) -> None:
    # Train and register the model the way the data scientists do (here the script copies a saved model).
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(
        textwrap.dedent(
            f"""
            import shutil, sys
            shutil.copytree({str(_price_model(tmp_path))!r}, sys.argv[1], dirs_exist_ok=True)
            """
        )
    )
    run = mlops_client.training.begin_train(
        {"code": code, "command": "python train.py ${{outputs.model}}", "outputs": {"model": "mlflow_model"}}
    ).result()
    version = mlops_client.models.register(run, name="pricing")
    mlops_client.models.set_alias("pricing", "champion", version.version)

    served = served_model("pricing:champion")
    assert served.model is not None
    assert served.model.version == version.version

    app = TestClient(create_app(served.url, served.key))
    answer = app.post("/quote", json={"items": [{"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 0.0}]})
    assert answer.status_code == 200
    assert answer.json() == {"prices": [4.0, 1.0]}
