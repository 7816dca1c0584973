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

import math
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._snapshot import copy_snapshot
from mlops_sdk.backends.azure._jobs import (
    AmlJobs,
    aml_errors,
    created_at,
    job_input,
    job_name_for_key,
    job_tags,
    string_tags,
)
from mlops_sdk.backends.azure._mlclient import create_ml_client
from mlops_sdk.backends.spi.training import LogCallback, TrainingDriver
from mlops_sdk.core.errors import ConfigurationError, OperationFailedError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.secrets import reveal
from mlops_sdk.core.status import Status, status_from_aml
from mlops_sdk.models.training import TrainingJob, TrainingRun

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["AzureTrainingService", "aml_errors", "create_service", "job_name_for_key"]

_log = get_logger(__name__)


def create_service(backend: AzureBackend) -> AzureTrainingService:
    """Entry point used by ``Backend.service("training", ...)``."""
    return AzureTrainingService(backend)


class AzureTrainingService:
    """Training on Azure ML (see the module docstring)."""

    def __init__(self, backend: AzureBackend) -> None:
        self._backend = backend
        self._ml: Any = None
        self._mlflow: tuple[Any, str] | None = None
        self._lock = threading.Lock()
        self.jobs = AmlJobs(backend, lambda: self.ml, noun="job")

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
        name = self.jobs.create(
            idempotency_key,
            lambda name, staging: self._command(job, name, lineage, idempotency_key, staging / "code"),
            prefix="mlops-train",
        )
        return AzureTrainingDriver(self, name)

    def attach(self, run_id: str, state: dict[str, Any], *, on_log: LogCallback | None = None) -> AzureTrainingDriver:
        """Driver of an existing job."""
        return AzureTrainingDriver(self, run_id)

    def get_run(self, run_id: str) -> TrainingRun:
        """The job with its MLflow metrics and params (and its error when it failed)."""
        job = self.jobs.get(run_id)
        status = status_from_aml(job.status or "Unknown")
        metrics, params = self._mlflow_data(run_id) if status is not Status.NOT_STARTED else ({}, {})
        error = self.failure(run_id) if status is Status.FAILED else None
        return self._to_run(job, metrics=metrics, params=params, error=error)

    def list_runs(self, *, experiment: str | None = None, limit: int = 50) -> list[TrainingRun]:
        """Most recent first (without metrics: those cost one MLflow call per run; use ``get_run``)."""
        jobs = self.jobs.list(lambda job: experiment is None or job.experiment_name == experiment, limit)
        return [self._to_run(job) for job in jobs]

    def cancel(self, run_id: str) -> None:
        """``POST {ws}/jobs/{name}/cancel`` (not waited for)."""
        self.jobs.cancel(run_id)

    # -- internals ---------------------------------------------------------------------------------

    def _command(self, job: TrainingJob, name: str, lineage: Lineage, key: str | None, snapshot: Path) -> Any:
        from azure.ai.ml import Output, command

        copy_snapshot(job.code, snapshot)
        inputs: dict[str, Any] = {}
        for input_name, item in job.inputs.items():
            if item.is_literal:
                inputs[input_name] = item.value
                continue
            inputs[input_name] = job_input(item)
        outputs = {
            output_name: Output(**{k: v for k, v in {"type": o.type, "path": o.path, "mode": o.mode}.items() if v})
            for output_name, o in job.outputs.items()
        }
        tags = job_tags(job.tags, lineage, key, training_run_id=name)
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
        text, unread = self.jobs.run_error(name, noun="job")
        if unread is not None:
            _log.info("no run history details for %s: %s", name, unread)
            return f"Azure ML job {name} failed (its error details could not be read: {unread.message})"
        if text is None:
            return f"Azure ML job {name} failed without error details"
        return f"Azure ML job {name} failed: {text}"

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
        tags = string_tags(job)
        native = job.status or "Unknown"
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
            created_at=created_at(job),
            error=error,
        )


class AzureTrainingDriver(TrainingDriver):
    """Operation driver of one Azure ML job."""

    _service: AzureTrainingService

    def poll(self) -> PollResult:
        """``GET {ws}/jobs/{name}``; on ``Failed`` also the run history error."""
        job, native, status = self._service.jobs.status(self._run_id)
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
