"""The ``validation`` capability of the memory backend.

Models load in process through the same MLflow loader as on ``local://`` (the version's files are the
training run's output folder); training metrics come from the in-memory run; reports are kept by
digest and their facts tagged onto the version.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_sdk.backends._mlflow_model import MlflowPredictor
from mlops_sdk.backends.spi.keys import MODELS, TRAINING
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.validation import ValidationReport

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryValidationService", "create_service"]


def create_service(backend: MemoryBackend) -> MemoryValidationService:
    """The backend's validation service."""
    return MemoryValidationService(backend)


class MemoryValidationService:
    """Implements :class:`~mlops_sdk.backends.spi.validation.ValidationService` in memory."""

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._faults = backend.faults
        with self._store.lock:
            reports = self._store.state.setdefault("validation", {})
        self._reports: dict[str, ValidationReport] = reports

    def load_model(self, model: ModelVersion) -> MlflowPredictor:
        """Load the version's MLflow model from its folder."""
        self._faults.before("validation.load_model")
        if not model.source or "://" in model.source:
            raise ConfigurationError(
                f"{model.ref} has no files on the memory backend (source {model.source!r})",
                details={"model": model.ref},
            )
        return MlflowPredictor(Path(model.source), ref=model.ref)

    def fetch_data(self, uri: str) -> Path:
        """Memory data are DataFrames and files: a remote URI is refused with what to pass instead."""
        self._faults.before("validation.fetch_data")
        raise ConfigurationError(
            f"{uri} is not local data; the memory backend reads DataFrames and Parquet/CSV/JSON files",
            backend="memory",
            details={"uri": uri},
        )

    def training_metrics(self, model: ModelVersion) -> dict[str, float]:
        """Metrics the version's training run logged."""
        self._faults.before("validation.training_metrics")
        if not model.run_id:
            return {}
        training = self._backend.service(TRAINING)
        try:
            return dict(training.get_run(model.run_id).metrics)
        except ResourceNotFoundError:
            return {}

    def record_report(self, model: ModelVersion, report: ValidationReport) -> None:
        """Keep the report by digest and tag the version with its facts."""
        self._faults.before("validation.record_report")
        with self._store.lock:
            self._reports[report.digest] = report
        models = self._backend.service(MODELS)
        models.set_tags(model.name, model.version, report.to_tags())
        self._faults.after("validation.record_report")

    def get_report(self, digest: str) -> ValidationReport:
        """A recorded report."""
        self._faults.before("validation.get_report")
        with self._store.lock:
            report = self._reports.get(digest)
        if report is None:
            raise ResourceNotFoundError(
                f"no validation report with digest {digest} in {self._backend.target}",
                backend="memory",
                details={"digest": digest},
            )
        return report
