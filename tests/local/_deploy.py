"""Small real MLflow models for the serving and deployment tests (saved once per session)."""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ["a", "b", "c"]
ROWS = [[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]


def formula_a(row: list[float]) -> float:
    """Model A: y = 2a + b."""
    return 2 * row[0] + row[1]


def formula_b(row: list[float]) -> float:
    """Model B: y = 3a - c."""
    return 3 * row[0] - row[2]


@dataclass(frozen=True)
class Models:
    """Paths of the saved models."""

    a: Path
    b: Path
    pyfunc: Path
    broken: Path


_PYFUNC = textwrap.dedent(
    """
    import mlflow.pyfunc
    from mlflow.models import set_model

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["a"] * 10 + model_input["b"]).tolist()

    set_model(Doubler())
    """
)


def save_models(folder: Path) -> Models:
    """Fit and save two linear models (exact coefficients), a pyfunc model and a broken one."""
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=COLUMNS)
    paths = {}
    for name, target in (("a", 2 * frame.a + frame.b), ("b", 3 * frame.a - frame.c)):
        model = LinearRegression().fit(frame, target)
        path = folder / f"model_{name}"
        mlflow.sklearn.save_model(
            model, str(path), signature=infer_signature(frame, model.predict(frame)), pip_requirements=["scikit-learn"]
        )
        paths[name] = path
    code = folder / "pyfunc_model.py"
    code.write_text(_PYFUNC)
    pyfunc = folder / "model_pyfunc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "add type hints", "no input example": by design here
        mlflow.pyfunc.save_model(
            str(pyfunc), python_model=str(code), signature=infer_signature(frame, frame.a), pip_requirements=["pandas"]
        )
    broken = folder / "model_broken"
    mlflow.sklearn.save_model(LinearRegression().fit(frame, frame.a), str(broken), pip_requirements=["scikit-learn"])
    for item in broken.iterdir():
        if item.name.startswith("model."):
            item.write_bytes(b"not a model")
    return Models(a=paths["a"], b=paths["b"], pyfunc=pyfunc, broken=broken)
