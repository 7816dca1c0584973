"""Validation on the local backend: models load straight from the registry's artifact folders.

Reports are kept whole in ``mlops.db`` (table ``validation_reports``, keyed by digest) and their facts
are written as tags on the model version through the local model registry, the digest included as the
lineage tag ``mlops.validation_digest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlops_sdk.backends._mlflow_model import MlflowPredictor
from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.backends.local._mlflow import MlflowStore, mlflow_errors, mlflow_store
from mlops_sdk.backends.local.store import Migration
from mlops_sdk.backends.spi.keys import MODELS
from mlops_sdk.backends.spi.models import ModelService
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.validation import ValidationReport

__all__ = ["MIGRATIONS", "LocalValidationService", "create_service"]

_log = get_logger(__name__)

MIGRATIONS = [
    Migration(
        1,
        "validation reports",
        """
        CREATE TABLE validation_reports (
            digest TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            outcome TEXT NOT NULL,
            champion_version TEXT,
            created_at TEXT NOT NULL,
            report TEXT NOT NULL
        );
        CREATE INDEX validation_reports_model ON validation_reports (model_name, model_version);
        """,
    )
]


def create_service(backend: LocalBackend) -> LocalValidationService:
    """Entry point used by ``Backend.service("validation", ...)``."""
    return LocalValidationService(backend)


class LocalValidationService:
    """See the module docstring."""

    def __init__(self, backend: LocalBackend) -> None:
        backend.require_extra("validation on the local backend", ("mlflow", "pandas", "scipy"))
        self._backend = backend
        self._store = backend.store
        self._store.ensure_schema("validation", MIGRATIONS)
        self._mlflow: MlflowStore = mlflow_store(backend.folder)

    def _models(self) -> ModelService:
        return self._backend.service(MODELS)

    def _model_path(self, model: ModelVersion) -> Path:
        source = model.source
        if not source or ("://" in source and not source.startswith("file:")):
            # The registry knows where a version's files are; in the local store that is a folder on
            # disk, so nothing needs copying (a `models:/m-...` source would be downloaded otherwise).
            with mlflow_errors(f"locating the files of {model.ref}"):
                source = str(self._mlflow.client.get_model_version_download_uri(model.name, model.version))
        if source.startswith("file:"):
            return Path(unquote(urlsplit(source).path))
        if "://" not in source:
            return Path(source)
        import mlflow.artifacts

        with mlflow_errors(f"downloading {model.ref}"):
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=self._mlflow.uri))

    def load_model(self, model: ModelVersion) -> MlflowPredictor:
        """Load the version's MLflow model from the store."""
        return MlflowPredictor(self._model_path(model), ref=model.ref)

    def training_metrics(self, model: ModelVersion) -> dict[str, float]:
        """Metrics of the MLflow run the version was created from."""
        client: Any = self._mlflow.client
        with mlflow_errors(f"reading model {model.ref}"):
            run_id = client.get_model_version(model.name, model.version).run_id
        if not run_id:
            return {}
        with mlflow_errors(f"reading the training metrics of {model.ref}", operation_id=run_id):
            return {str(key): float(value) for key, value in client.get_run(run_id).data.metrics.items()}

    def fetch_data(self, uri: str) -> Path:
        """Local data are files: a remote URI is refused with what to pass instead."""
        raise ConfigurationError(
            f"{uri} is not local data; the local backend reads DataFrames and Parquet/CSV/JSON files "
            "(refresh outputs of a local:// target are files)",
            backend="local",
            details={"uri": uri},
        )

    def record_report(self, model: ModelVersion, report: ValidationReport) -> None:
        """Keep the report in ``mlops.db``, then tag the version with its facts."""
        with self._store.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO validation_reports"
                " (digest, model_name, model_version, outcome, champion_version, created_at, report)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    report.digest,
                    model.name,
                    model.version,
                    report.outcome,
                    report.champion.version if report.champion else None,
                    report.created_at.isoformat(),
                    report.to_json(indent=None),
                ),
            )
        self._models().set_tags(model.name, model.version, report.to_tags())

    def get_report(self, digest: str) -> ValidationReport:
        """A recorded report."""
        row = (
            self._store.connection()
            .execute("SELECT report FROM validation_reports WHERE digest = ?", (digest,))
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(
                f"no validation report with digest {digest} in {self._backend.folder}",
                backend="local",
                details={"digest": digest},
            )
        return ValidationReport.from_json(row["report"])
