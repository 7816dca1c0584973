"""An MLflow model folder loaded for validation: pyfunc, with the signature's input columns.

Shared by the local backend (models load from the registry's artifact folder) and the Azure backend
(models are downloaded from the workspace first). MLflow is imported when a model is loaded.

MLflow's own check that the environment meets the model's requirements is switched off
(``suppress_warnings=True``) and done by :mod:`._requirements` instead: the same warning, without
MLflow's scan of every installed package (about a second per validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_sdk.backends._requirements import python_version_mismatch, requirement_mismatches
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import get_logger

_log = get_logger(__name__)

__all__ = ["MlflowPredictor", "find_mlmodel_folder"]


def find_mlmodel_folder(root: Path) -> Path:
    """The folder under ``root`` (itself included) that holds an ``MLmodel`` file, shallowest first.

    Raises:
        ConfigurationError: none does.
    """
    if (root / "MLmodel").is_file():
        return root
    found = sorted(root.rglob("MLmodel"), key=lambda path: len(path.parts))
    if not found:
        raise ConfigurationError(
            f"{root} holds no MLflow model (no MLmodel file); register models in MLflow format "
            "(mlflow.<flavor>.save_model / log_model)",
            details={"path": str(root)},
        )
    return found[0].parent


class MlflowPredictor:
    """An MLflow pyfunc model with the input columns its signature names.

    Args:
        path: A folder holding an MLflow model (``MLmodel`` file), or a parent of one.
        ref: ``name@version`` for messages.

    Attributes:
        requirement_mismatches: The model's requirements this environment does not meet (also
            logged as a warning), e.g. ``scikit-learn (current: 1.8.0, required: scikit-learn==1.9.1)``.
    """

    def __init__(self, path: Path, *, ref: str) -> None:
        from mlops_sdk.backends.base import require_modules

        require_modules(("mlflow", "pandas"), extra="local", purpose="loading MLflow models for validation")
        import warnings

        import mlflow.pyfunc

        folder = find_mlmodel_folder(path)
        self.ref = ref
        self.path = folder
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            try:
                self._model: Any = mlflow.pyfunc.load_model(str(folder), suppress_warnings=True)
            except Exception as error:
                raise ConfigurationError(
                    f"cannot load {ref} from {folder} as an MLflow model: {type(error).__name__}: {error}",
                    details={"model": ref},
                ) from error
        self.requirement_mismatches = requirement_mismatches(folder)
        if self.requirement_mismatches:
            _log.warning(
                "%s: this environment does not meet the model's requirements: %s. Predictions may differ "
                "from the ones seen in training; install the model's requirements.txt to validate like for like",
                ref,
                "; ".join(self.requirement_mismatches),
            )
        python = python_version_mismatch(self._model.metadata.flavors.get("python_function", {}).get("python_version"))
        if python is not None:
            _log.warning("%s: %s", ref, python)
        schema = self._model.metadata.get_input_schema()
        names = schema.input_names() if schema is not None and schema.has_input_names() else None
        self._columns: list[str] | None = [str(name) for name in names] if names else None

    @property
    def input_columns(self) -> list[str] | None:
        """Input columns from the signature (``None`` without a column-based signature)."""
        return self._columns

    def predict(self, frame: Any) -> Any:
        """Predictions as a numpy array (a single-column frame or matrix is flattened)."""
        import numpy as np

        output = self._model.predict(frame)
        values = output.to_numpy() if hasattr(output, "to_numpy") else np.asarray(output)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        return values
