"""An MLflow model folder loaded for validation: pyfunc, with the signature's input columns.

Shared by the local backend (models load from the registry's artifact folder) and the Azure backend
(models are downloaded from the workspace first). MLflow is imported when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError

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
                self._model: Any = mlflow.pyfunc.load_model(str(folder))
            except Exception as error:
                raise ConfigurationError(
                    f"cannot load {ref} from {folder} as an MLflow model: {type(error).__name__}: {error}",
                    details={"model": ref},
                ) from error
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
