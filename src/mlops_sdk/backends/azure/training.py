"""Azure ML training: ``command()`` jobs through azure-ai-ml's ``MLClient`` (imported lazily).

* **Idempotency**: with a key, the job name is ``mlops-<key slug>-<hash of key>``. Submission first
  looks the name up (``GET {ws}/jobs/{name}``) and re-attaches when it exists; a create that failed
  with a transient error is retried only after another lookup proved the job does not exist. Without
  a key the name is random (still looked up before every retry).
* **Code**: the job's ``code`` folder is snapshotted with the shared rules (``.amlignore`` /
  ``.gitignore``, no virtualenvs or caches, a warning above 100 MiB) into a temporary folder that
  azure-ai-ml uploads as a code asset.
* **Metrics and params** are read from the workspace's MLflow tracking URI (the workspace's
  ``mlFlowTrackingUri``, ``azureml://`` turned into ``https://``; MLflow's REST ``runs/get``) with an
  azure-core client carrying the backend's HTTP configuration and a bearer token from the backend's
  credential (MLflow itself is not needed): the MLflow run id of an Azure ML job is the job name.
* **Failure details** come from the run history service (``.../runs/{name}/details`` on the
  workspace's discovery ``api`` endpoint), the same call ``MLClient.jobs.stream`` makes, because the
  job resource itself carries no error.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._snapshot import copy_snapshot
from mlops_sdk.backends.azure._aml_shim import run_details, storage_settings
from mlops_sdk.backends.azure._mlclient import create_ml_client, quiet_azure
from mlops_sdk.backends.azure.errors import azure_errors
from mlops_sdk.backends.spi.training import LogCallback, TrainingDriver
from mlops_sdk.core.errors import ConfigurationError, MlopsError, OperationFailedError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.secrets import reveal
from mlops_sdk.core.status import Status, status_from_aml
from mlops_sdk.models.training import TrainingJob, TrainingRun

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["AzureTrainingService", "create_service", "job_name_for_key"]

_log = get_logger(__name__)
_FILE_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".txt", ".tsv", ".pkl", ".npy", ".npz")


def create_service(backend: AzureBackend) -> AzureTrainingService:
    """Entry point used by ``Backend.service("training", ...)``."""
    return AzureTrainingService(backend)


def job_name_for_key(key: str) -> str:
    """The Azure ML job name an idempotency key maps to (stable, valid, collision-resistant)."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:60] or "job"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"mlops-{slug}-{digest}"


_UPLOAD_RETRY = {"retry_total": 3, "initial_backoff": 0.2, "increment_base": 1.2, "random_jitter_range": 0.2}
"""The storage SDK's retry for each code blob: 3 retries ~1.4-2 s apart (its default waits 15 s and more).

Re-uploading a whole code folder because one of its blobs failed once would rarely get through a flaky
connection (every blob must succeed in the same attempt); a failed upload fails the create, which the
SDK's policy retries (idempotent by job name: the code asset is content-addressed).
"""


@contextlib.contextmanager
def aml_errors(what: str, *, operation_id: str | None = None) -> Iterator[None]:
    """Like ``azure_errors``, and azure-ai-ml's validation errors become :class:`ConfigurationError`."""
    with quiet_azure():
        try:
            with azure_errors(what, operation_id=operation_id):
                yield
        except MlopsError as error:
            from azure.ai.ml.exceptions import UserErrorException, ValidationException

            cause = error.__cause__
            if isinstance(cause, (ValidationException, UserErrorException)):
                raise ConfigurationError(f"{what}: {cause}", backend="azure", operation_id=operation_id) from cause
            raise


class AzureTrainingService:
    """Training on Azure ML (see the module docstring)."""

    def __init__(self, backend: AzureBackend) -> None:
        self._backend = backend
        self._ml: Any = None
        self._mlflow: tuple[Any, str] | None = None
        self._lock = threading.Lock()

    @property
    def ml(self) -> Any:
        """The shared ``MLClient``."""
        with self._lock:
            if self._ml is None:
                self._ml = create_ml_client(self._backend)
            return self._ml

    # -- SPI ---------------------------------------------------------------------------------------

    def submit(
        self,
        job: TrainingJob,
        *,
        idempotency_key: str | None,
        lineage: Lineage,
        on_log: LogCallback | None = None,
    ) -> AzureTrainingDriver:
        """Create the command job, or re-attach to the job the key names."""
        if not job.environment:
            raise ConfigurationError(
                "Azure ML jobs need an environment; set TrainingJob.environment, e.g. 'azureml:sklearn-env:1' "
                "or a curated one like 'azureml://registries/azureml/environments/sklearn-1.5/labels/latest'",
                details={"field": "environment"},
            )
        name = job_name_for_key(idempotency_key) if idempotency_key else f"mlops-train-{uuid.uuid4().hex[:12]}"
        if self._find(name) is not None:
            _log.info("Azure ML job %s already exists for key %r; re-attaching", name, idempotency_key)
            return AzureTrainingDriver(self, name)
        with tempfile.TemporaryDirectory(prefix="mlops-code-") as staging:
            entity = self._command(job, name, lineage, idempotency_key, Path(staging) / "code")
            first = True

            def create() -> None:
                nonlocal first
                if not first and self._find(name) is not None:
                    return  # the earlier attempt did create it; its answer was lost
                first = False
                # The code upload's blob clients are built inside azure-ai-ml: the shim hands them our settings
                # and a short storage retry per blob; past it, this whole create is retried by our policy.
                with (
                    aml_errors(f"creating Azure ML job {name}", operation_id=name),
                    storage_settings({**self._backend.http.core_kwargs(), **_UPLOAD_RETRY}),
                ):
                    self.ml.jobs.create_or_update(entity)

            self._backend.retry_policy.call(create)
        return AzureTrainingDriver(self, name)

    def attach(self, run_id: str, state: dict[str, Any], *, on_log: LogCallback | None = None) -> AzureTrainingDriver:
        """Driver of an existing job."""
        return AzureTrainingDriver(self, run_id)

    def get_run(self, run_id: str) -> TrainingRun:
        """The job with its MLflow metrics and params (and its error when it failed)."""
        job = self._get(run_id)
        status = status_from_aml(job.status or "Unknown")
        metrics, params = self._mlflow_data(run_id) if status is not Status.NOT_STARTED else ({}, {})
        error = self.failure(run_id) if status is Status.FAILED else None
        return self._to_run(job, metrics=metrics, params=params, error=error)

    def list_runs(self, *, experiment: str | None = None, limit: int = 50) -> list[TrainingRun]:
        """Most recent first (without metrics: those cost one MLflow call per run; use ``get_run``)."""
        runs = []
        with aml_errors("listing Azure ML jobs"):
            for job in self.ml.jobs.list():
                if experiment is not None and job.experiment_name != experiment:
                    continue
                runs.append(self._to_run(job))
                if len(runs) >= limit:
                    break
        return runs

    def cancel(self, run_id: str) -> None:
        """``POST {ws}/jobs/{name}/cancel`` (not waited for)."""
        with aml_errors(f"canceling Azure ML job {run_id}", operation_id=run_id):
            self.ml.jobs.begin_cancel(run_id)

    # -- internals ---------------------------------------------------------------------------------

    def _find(self, name: str) -> Any | None:
        try:
            return self._get(name)
        except ResourceNotFoundError:
            return None

    def _get(self, name: str) -> Any:
        def get() -> Any:
            with aml_errors(f"reading Azure ML job {name}", operation_id=name):
                return self.ml.jobs.get(name)

        return self._backend.retry_policy.call(get)

    def _command(self, job: TrainingJob, name: str, lineage: Lineage, key: str | None, snapshot: Path) -> Any:
        from azure.ai.ml import Input, Output, command

        copy_snapshot(job.code, snapshot)
        inputs: dict[str, Any] = {}
        for input_name, item in job.inputs.items():
            if item.is_literal:
                inputs[input_name] = item.value
                continue
            uri = str(item.uri)
            kind = item.type or _guess_type(uri)
            inputs[input_name] = Input(type=kind, path=uri, mode=item.mode) if item.mode else Input(type=kind, path=uri)
        outputs = {
            output_name: Output(**{k: v for k, v in {"type": o.type, "path": o.path, "mode": o.mode}.items() if v})
            for output_name, o in job.outputs.items()
        }
        from mlops_sdk._version import __version__

        tags = {**job.tags, **lineage.with_inputs(training_run_id=name).to_tags(), "mlops.sdk_version": __version__}
        if key:
            tags["mlops.idempotency_key"] = key
        with aml_errors("building the Azure ML command job"):
            entity = command(
                name=name,
                code=str(snapshot),
                command=job.command,
                inputs=inputs,
                outputs=outputs,
                environment=job.environment,
                compute=job.compute,
                experiment_name=job.experiment,
                display_name=job.display_name,
                description=job.description,
                tags=tags,
                # Azure ML needs the real values (it has no secret variables; Key Vault is the better place).
                environment_variables={name: reveal(value) for name, value in job.environment_variables.items()}
                or None,
            )
            if job.timeout:
                entity.set_limits(timeout=math.ceil(job.timeout))
        return entity

    def failure(self, name: str) -> str:
        """The error the run history reports for a failed job (code and message)."""
        try:
            with aml_errors(f"reading the error of Azure ML job {name}", operation_id=name):
                details = run_details(self.ml, name)
        except MlopsError as error:
            _log.info("no run history details for %s: %s", name, error)
            return f"Azure ML job {name} failed (its error details could not be read: {error.message})"
        root = getattr(getattr(details, "error", None), "error", None)
        if root is None:
            return f"Azure ML job {name} failed without error details"
        code = f"{root.code}: " if getattr(root, "code", None) else ""
        return f"Azure ML job {name} failed: {code}{root.message}"

    def _mlflow_data(self, name: str) -> tuple[dict[str, float], dict[str, str]]:
        """Latest metrics and params of the job's MLflow run (``GET .../api/2.0/mlflow/runs/get``)."""
        from azure.core.rest import HttpRequest

        client, host = self._mlflow_client()
        url = f"{host}/api/2.0/mlflow/runs/get"

        def get() -> Any:
            with aml_errors(f"reading MLflow metrics of Azure ML job {name}", operation_id=name):
                response = client.send_request(HttpRequest("GET", url, params={"run_id": name}))
                if response.status_code == 404:
                    return None  # no MLflow run (yet): the job logged nothing
                response.raise_for_status()
                return response.json()

        body = self._backend.retry_policy.call(get)
        data = (body or {}).get("run", {}).get("data", {})
        metrics = {str(m["key"]): float(m["value"]) for m in data.get("metrics", [])}
        params = {str(p["key"]): str(p["value"]) for p in data.get("params", [])}
        return metrics, params

    def _mlflow_client(self) -> tuple[Any, str]:
        """A PipelineClient for the workspace's MLflow tracking URI (and that URI as https), HTTP config applied."""
        with self._lock:
            if self._mlflow is not None:
                return self._mlflow

        def read_workspace() -> Any:
            with aml_errors("reading the workspace's MLflow tracking URI"):
                return self.ml.workspaces.get(self._backend.workspace.workspace)

        workspace = self._backend.retry_policy.call(read_workspace)
        uri = workspace.mlflow_tracking_uri
        if not uri:
            raise ConfigurationError(f"workspace {self._backend.workspace.workspace} reports no MLflow tracking URI")
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy

        host = re.sub(r"^azureml://", "https://", uri).rstrip("/")
        policy = BearerTokenCredentialPolicy(self._backend.get_credential(), self._backend.cloud.arm_scope)
        client = self._backend.http.pipeline_client(host, policies=[policy])
        with self._lock:
            self._mlflow = (client, host)
        return client, host

    def _to_run(
        self,
        job: Any,
        *,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        error: str | None = None,
    ) -> TrainingRun:
        tags = {str(k): str(v) for k, v in (job.tags or {}).items()}
        native = job.status or "Unknown"
        created = getattr(getattr(job, "creation_context", None), "created_at", None)
        return TrainingRun(
            id=job.name,
            backend="azure",
            status=status_from_aml(native),
            native_status=native,
            experiment=job.experiment_name,
            display_name=job.display_name,
            idempotency_key=tags.get("mlops.idempotency_key"),
            metrics=metrics or {},
            params=params or {},
            outputs={name: f"azureml://jobs/{job.name}/outputs/{name}" for name in (job.outputs or {})},
            log_location=job.studio_url,
            lineage=Lineage.from_tags(tags),
            tags=tags,
            mlflow_run_id=job.name,
            created_at=created,
            error=error,
        )


def _guess_type(uri: str) -> str:
    path = uri.split("?", 1)[0].rstrip("/")
    if "://" not in uri and Path(uri).is_file():
        return "uri_file"
    return "uri_file" if path.lower().endswith(_FILE_SUFFIXES) else "uri_folder"


class AzureTrainingDriver(TrainingDriver):
    """Operation driver of one Azure ML job."""

    _service: AzureTrainingService

    def __init__(self, service: AzureTrainingService, name: str) -> None:
        self._service = service
        self._run_id = name

    def poll(self) -> PollResult:
        """``GET {ws}/jobs/{name}``; on ``Failed`` also the run history error."""
        job = self._service._get(self._run_id)
        native = job.status or "Unknown"
        status = status_from_aml(native)
        error = None
        if status is Status.FAILED:
            message = self._service.failure(self._run_id)
            error = OperationFailedError(
                message,
                backend="azure",
                operation_id=self._run_id,
                details={"native_status": native, "studio_url": job.studio_url},
            )
        return PollResult(status=status, native_status=native, error=error)
