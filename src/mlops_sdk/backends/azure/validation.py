"""Validation on Azure ML: models are downloaded from the workspace and scored on this machine.

``load_model`` downloads the version's files with azure-ai-ml (``MLClient.models.download``, which
reads the workspace datastore) into a temporary folder owned by this service, then loads the MLflow
model like the local backend does. Training metrics come from the training service (the job's MLflow
metrics). Data on a datastore (``azureml://datastores/<name>/paths/<path>``, e.g. a refresh output) is
copied to the same folder for checks to read: the datastore's account, container and key or SAS come
from ``MLClient.datastores.get(..., include_secrets=True)`` and the blob is read with azure-storage-blob
at the configured blob endpoint (``blob_endpoint`` / ``storage_suffix``), with the backend's HTTP settings. The report is recorded as tags on the model version through the Azure model service
(``mlops.validation.*`` and the lineage tag ``mlops.validation_digest``); Azure keeps no whole report,
so write ``report.to_json()`` / ``to_html()`` to your pipeline's artifacts.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._mlflow_model import MlflowPredictor
from mlops_sdk.backends.azure.training import aml_errors
from mlops_sdk.backends.spi.models import ModelService
from mlops_sdk.backends.spi.training import TrainingService
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.validation import ValidationReport

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["AzureValidationService", "create_service"]

_DATASTORE_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
    r"datastores/(?P<datastore>[^/]+)/paths/(?P<path>[^?#]+)$",
    re.IGNORECASE,
)


def create_service(backend: AzureBackend) -> AzureValidationService:
    """Entry point used by ``Backend.service("validation", ...)``."""
    return AzureValidationService(backend)


def _account_url(backend: AzureBackend, account: str) -> str:
    """The blob endpoint of ``account``: the ``blob_endpoint`` template, else ``https://<account>.blob.<suffix>``."""
    template = backend.config.settings.blob_endpoint
    if template:
        return template.replace("{account}", account)
    return f"https://{account}.blob.{backend.cloud.storage_suffix}"


class AzureValidationService:
    """See the module docstring."""

    def __init__(self, backend: AzureBackend) -> None:
        backend.require("azure.ai.ml", purpose="validation on Azure ML")
        self._backend = backend
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def _models(self) -> ModelService:
        return self._backend.service("models", ModelService)  # type: ignore[type-abstract]

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
            with aml_errors(f"downloading model {model.ref} from Azure ML", operation_id=model.ref):
                self._ml().models.download(model.name, model.version, download_path=str(partial))
            partial.replace(target)
        return MlflowPredictor(target, ref=model.ref)

    def fetch_data(self, uri: str) -> Path:
        """Copy one datastore file (``azureml://datastores/<name>/paths/<path>``) here, once per service."""
        match = _DATASTORE_URI.match(uri)
        if match is None or match["path"].endswith("/"):
            raise ConfigurationError(
                f"cannot read {uri}: on Azure, checks read one file on a workspace datastore "
                "(azureml://datastores/<name>/paths/<file>), a DataFrame or a local file",
                backend="azure",
                details={"uri": uri},
            )
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        target = self._download_folder() / "data" / digest / Path(match["path"]).name
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with aml_errors(f"reading {uri}", operation_id=uri):
            blob = self._blob(match["datastore"], match["path"])
            with partial.open("wb") as handle:
                blob.download_blob().readinto(handle)
        partial.replace(target)
        return target

    def _blob(self, datastore: str, path: str) -> Any:
        from azure.storage.blob import BlobClient

        store = self._ml().datastores.get(datastore, include_secrets=True)
        account = str(store.account_name)
        secrets = getattr(store, "credentials", None)
        credential: Any = getattr(secrets, "account_key", None)
        if credential:
            credential = {"account_name": account, "account_key": credential}
        else:
            credential = getattr(secrets, "sas_token", None) or self._backend.get_credential()
        return BlobClient(
            _account_url(self._backend, account),
            container_name=str(store.container_name),
            blob_name=path,
            credential=credential,
            **self._backend.http.core_kwargs(),
        )

    def training_metrics(self, model: ModelVersion) -> dict[str, float]:
        """The metrics of the Azure ML job the version was registered from."""
        if not model.run_id:
            return {}
        training = self._backend.service("training", TrainingService)  # type: ignore[type-abstract]
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
