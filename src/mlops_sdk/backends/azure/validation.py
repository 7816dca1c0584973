"""Validation on Azure ML: models are downloaded from the workspace and scored on this machine.

``load_model`` downloads the version's files from its datastore with the backend's own blob client
(its HTTP configuration and endpoint settings apply, see ``_storage``) into a temporary folder owned
by this service, then loads the MLflow model like the local backend does. Training metrics come from
the training service (the job's MLflow metrics). Data on a datastore (``azureml://datastores/<name>/paths/
<file>``, e.g. a refresh output) is copied into the same folder by ``fetch_data`` for checks to read, with
the same blob client. The report is recorded as tags on the model version
through the Azure model service (``mlops.validation.*`` and the lineage tag ``mlops.validation_digest``);
Azure keeps no whole report, so write ``report.to_json()`` / ``to_html()`` to your pipeline's artifacts.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._mlflow_model import MlflowPredictor
from mlops_sdk.backends.azure._aml_shim import storage_settings
from mlops_sdk.backends.azure._storage import download_file, download_folder, parse_datastore_uri
from mlops_sdk.backends.azure.training import aml_errors
from mlops_sdk.backends.spi.keys import MODELS, TRAINING
from mlops_sdk.backends.spi.models import ModelService
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.validation import ValidationReport

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["AzureValidationService", "create_service"]


def create_service(backend: AzureBackend) -> AzureValidationService:
    """Entry point used by ``Backend.service("validation", ...)``."""
    return AzureValidationService(backend)


class AzureValidationService:
    """See the module docstring."""

    def __init__(self, backend: AzureBackend) -> None:
        backend.require("azure.ai.ml", purpose="validation on Azure ML")
        self._backend = backend
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def _models(self) -> ModelService:
        return self._backend.service(MODELS)

    def _ml(self) -> Any:
        models: Any = self._models()
        return models.ml

    def _download_folder(self) -> Path:
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="mlops-validation-"))
            return self._folder

    def load_model(self, model: ModelVersion) -> MlflowPredictor:
        """Download the version from the workspace (once per service) and load it."""
        target = self._download_folder() / model.name / model.version
        if not target.is_dir():
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            self._backend.retry_policy.call(self._download, model, partial)  # reads: transient errors retried
            partial.replace(target)
        return MlflowPredictor(target, ref=model.ref)

    def _download(self, model: ModelVersion, folder: Path) -> None:
        """Datastore paths with our own blob client (HTTP configuration, endpoint settings), others via azure-ai-ml."""
        ml = self._ml()
        with aml_errors(f"downloading model {model.ref} from Azure ML", operation_id=model.ref):
            uri = str(ml.models.get(model.name, model.version).path or "")
            location = parse_datastore_uri(uri)
            if location is not None:
                download_folder(self._backend, ml, location, folder)
            else:  # registry assets: azure-ai-ml's own download, its blob clients given our configuration
                with storage_settings(self._backend.http.core_kwargs()):
                    ml.models.download(model.name, model.version, download_path=str(folder))

    def fetch_data(self, uri: str) -> Path:
        """Copy one datastore file (``azureml://datastores/<name>/paths/<file>``) here, once per service."""
        location = parse_datastore_uri(uri)
        if location is None or not location.path or location.path.endswith("/"):
            raise ConfigurationError(
                f"cannot read {uri}: on Azure, checks read one file on a workspace datastore "
                "(azureml://datastores/<name>/paths/<file>), a DataFrame or a local file",
                backend="azure",
                details={"uri": uri},
            )
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        target = self._download_folder() / "data" / digest / Path(location.path).name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")

            def read() -> None:
                with aml_errors(f"reading {uri}", operation_id=uri):
                    download_file(self._backend, self._ml(), location, partial)

            self._backend.retry_policy.call(read)
            partial.replace(target)
        return target

    def training_metrics(self, model: ModelVersion) -> dict[str, float]:
        """The metrics of the Azure ML job the version was registered from."""
        if not model.run_id:
            return {}
        training = self._backend.service(TRAINING)
        return dict(training.get_run(model.run_id).metrics)

    def record_report(self, model: ModelVersion, report: ValidationReport) -> None:
        """Tag the version with the report's facts."""
        self._models().set_tags(model.name, model.version, report.to_tags())

    def get_report(self, digest: str) -> ValidationReport:
        """Azure ML keeps only the report's tags: whole reports are not stored there."""
        raise ResourceNotFoundError(
            f"Azure ML keeps a validation report's facts as model tags (mlops.validation.*), not the report {digest} "
            "itself; keep report.to_json() as a pipeline artifact and read it with ValidationReport.from_json",
            backend="azure",
            details={"digest": digest},
        )

    def close(self) -> None:
        """Delete downloaded models."""
        with self._lock:
            folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
