"""Azure DevOps pipeline runs through the azure-devops package (Pipelines - Runs, Build - Timeline/Update).

Starting a run is a POST that msrest never retries; our retry policy retries it only after looking
the run up by its idempotency key (the ``mlops_request_id`` template parameter, which the YAML
pipeline must declare as a string parameter), so a lost answer never starts a second run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.azure._devops import DevOps, devops_call, devops_errors
from mlops_sdk.backends.azure.errors import is_ambiguous
from mlops_sdk.backends.spi.pipelines import PipelineRunDriver
from mlops_sdk.core.errors import (
    ConfigurationError,
    ServiceRequestError,
    ServiceResponseError,
)
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.retry import is_retryable
from mlops_sdk.core.secrets import is_secret
from mlops_sdk.core.status import status_from_devops
from mlops_sdk.models.pipelines import FailedTask, PipelineRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mlops_sdk.backends.azure import AzureBackend
    from mlops_sdk.backends.spi.pipelines import StartOptions

__all__ = ["IDEMPOTENCY_PARAMETER", "AzurePipelineService", "create_service"]

IDEMPOTENCY_PARAMETER = "mlops_request_id"
_LOOKUP_DEPTH = 25  # recent runs searched for an idempotency key
_log = get_logger(__name__)


def create_service(backend: AzureBackend) -> AzurePipelineService:
    """Entry point used by :meth:`Backend.service`."""
    return AzurePipelineService(backend, DevOps.from_backend(backend))


def _to_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


class AzurePipelineService:
    """Runs, reads and cancels pipeline runs of the configured Azure DevOps project."""

    def __init__(self, backend: AzureBackend, devops: DevOps) -> None:
        self._backend = backend
        self._devops = devops
        self._project = devops.project.project

    # -- reading --------------------------------------------------------------------------------

    def _convert(self, run: Any, pipeline_id: int) -> PipelineRun:
        state = str(getattr(run, "state", None) or "inProgress")
        result = getattr(run, "result", None)
        # msrest drops `_links` (its model expects a nested "links" key): build the web URL the service uses.
        url = f"{self._devops.project.url}/_build/results?buildId={run.id}"
        pipeline = getattr(run, "pipeline", None)
        resources = getattr(run, "resources", None)
        repositories = getattr(resources, "repositories", None) or {}
        self_repo = repositories.get("self") if isinstance(repositories, dict) else None
        branch = getattr(self_repo, "ref_name", None) if self_repo is not None else None
        return PipelineRun(
            id=int(run.id),
            pipeline_id=int(getattr(pipeline, "id", None) or pipeline_id),
            pipeline_name=getattr(pipeline, "name", None),
            name=getattr(run, "name", None),
            status=status_from_devops(state, result),
            native_state=state,
            native_result=result,
            created_at=_to_datetime(getattr(run, "created_date", None)),
            finished_at=_to_datetime(getattr(run, "finished_date", None)),
            url=url,
            branch=branch,
            template_parameters={
                str(key): str(value) for key, value in (getattr(run, "template_parameters", None) or {}).items()
            },
        )

    def get_run(self, pipeline_id: int, run_id: int) -> PipelineRun:
        """One run (``ResourceNotFoundError`` when it does not exist)."""
        run = devops_call(
            self._backend.retry_policy,
            f"reading run {run_id} of pipeline {pipeline_id}",
            self._devops.pipelines().get_run,
            self._project,
            pipeline_id,
            run_id,
            operation_id=str(run_id),
        )
        return self._convert(run, pipeline_id)

    def list_runs(self, pipeline_id: int, *, top: int) -> list[PipelineRun]:
        """The most recent runs, newest first (Azure DevOps answers at most 10,000)."""
        runs = devops_call(
            self._backend.retry_policy,
            f"listing runs of pipeline {pipeline_id}",
            self._devops.pipelines().list_runs,
            self._project,
            pipeline_id,
        )
        converted = [self._convert(run, pipeline_id) for run in runs or []]
        converted.sort(key=lambda run: run.id, reverse=True)
        return converted[:top]

    def failed_tasks(self, run_id: int) -> tuple[FailedTask, ...]:
        """Tasks of a run whose result is ``failed``, with their issue messages (from the build timeline)."""
        timeline = devops_call(
            self._backend.retry_policy,
            f"reading the timeline of run {run_id}",
            self._devops.build().get_build_timeline,
            self._project,
            run_id,
            operation_id=str(run_id),
        )
        failed = []
        for record in getattr(timeline, "records", None) or []:
            if getattr(record, "result", None) == "failed" and getattr(record, "type", None) == "Task":
                issues = getattr(record, "issues", None) or []
                messages = tuple(
                    str(getattr(issue, "message", "")) for issue in issues if getattr(issue, "message", "")
                )
                failed.append(FailedTask(name=str(getattr(record, "name", "?")), messages=messages))
        return tuple(failed)

    # -- starting and stopping --------------------------------------------------------------------

    def _find_by_key(self, pipeline_id: int, key: str) -> PipelineRun | None:
        # List answers carry no template parameters: read the recent runs one by one.
        for summary in self.list_runs(pipeline_id, top=_LOOKUP_DEPTH):
            run = self.get_run(pipeline_id, summary.id)
            if run.template_parameters.get(IDEMPOTENCY_PARAMETER) == key:
                return run
        return None

    def start_run(self, pipeline_id: int, **options: Unpack[StartOptions]) -> AzurePipelineRunDriver:
        """Start a run, or re-attach to the one already started with ``idempotency_key``."""
        idempotency_key, branch = options["idempotency_key"], options["branch"]
        parameters, variables = options["parameters"], options["variables"]
        if idempotency_key is not None:
            existing = self._find_by_key(pipeline_id, idempotency_key)
            if existing is not None:
                _log.info("pipeline %s: re-attaching to run %s (key %s)", pipeline_id, existing.id, idempotency_key)
                return AzurePipelineRunDriver(self, pipeline_id, existing.id)
        from azure.devops.v7_1.pipelines.models import (
            RepositoryResourceParameters,
            RunPipelineParameters,
            RunResourcesParameters,
            Variable,
        )

        template = dict(parameters)
        for name, value in [*variables.items(), *parameters.items()]:
            if is_secret(value, name=name):  # masked wherever a library quotes the request body
                register_secret(value if isinstance(value, str) else value.get_secret_value())
        if idempotency_key is not None:
            template[IDEMPOTENCY_PARAMETER] = idempotency_key
        body = RunPipelineParameters(
            template_parameters=template or None,
            # A variable that is secret by name, shape or registration is sent as a secret variable.
            variables={
                name: Variable(value=value, is_secret=True if is_secret(value, name=name) else None)
                for name, value in variables.items()
            }
            or None,
            resources=(
                RunResourcesParameters(repositories={"self": RepositoryResourceParameters(ref_name=_ref(branch))})
                if branch is not None
                else None
            ),
        )

        def attempt() -> Any:
            try:
                with devops_errors(f"starting a run of pipeline {pipeline_id}"):
                    return self._devops.pipelines().run_pipeline(body, self._project, pipeline_id)
            except (ServiceRequestError, ServiceResponseError) as error:
                # The run may have started although the answer was lost: never start a second one.
                if idempotency_key is not None and is_retryable(error):
                    found = self._find_by_key(pipeline_id, idempotency_key)
                    if found is not None:
                        return found
                elif is_retryable(error) and is_ambiguous(error):  # a 429 started nothing: retried below
                    raise ConfigurationError(
                        f"starting pipeline {pipeline_id} failed ({error.message}) and without an "
                        "idempotency_key a retry could start a second run; pass idempotency_key= to retry safely",
                        backend="azure",
                    ) from error
                raise

        run = self._backend.retry_policy.call(attempt)
        run_id = run.id if isinstance(run, PipelineRun) else int(run.id)
        return AzurePipelineRunDriver(self, pipeline_id, run_id)

    def resume(self, pipeline_id: int, run_id: int) -> AzurePipelineRunDriver:
        """A driver for an existing run."""
        return AzurePipelineRunDriver(self, pipeline_id, run_id)

    def cancel(self, pipeline_id: int, run_id: int) -> None:
        """Ask Azure DevOps to cancel the run (it moves to ``canceling``, then ``completed``/``canceled``)."""
        from azure.devops.v7_1.build.models import Build

        with devops_errors(f"canceling run {run_id}", operation_id=str(run_id)):
            self._devops.build().update_build(Build(status="cancelling"), self._project, run_id)

    def close(self) -> None:
        """Close the REST session."""
        self._devops.close()


def _ref(branch: str) -> str:
    return branch if branch.startswith("refs/") else f"refs/heads/{branch}"


class AzurePipelineRunDriver(PipelineRunDriver):
    """Operation driver following one Azure DevOps pipeline run."""

    BACKEND = "azure"
    _service: AzurePipelineService

    def failed_tasks(self) -> tuple[FailedTask, ...]:
        """The failed tasks and their issue messages, from the build timeline."""
        return self._service.failed_tasks(self._run_id)
