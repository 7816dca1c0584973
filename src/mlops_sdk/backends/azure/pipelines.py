"""Azure DevOps pipeline runs through the azure-devops package (Pipelines - Runs, Build - Timeline/Update).

Starting a run is a POST that msrest never retries; our retry policy retries it only after looking
the run up by its idempotency key (the ``mlops_request_id`` template parameter, which the YAML
pipeline must declare as a string parameter), so a lost answer never starts a second run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.azure._devops import DevOps, devops_errors
from mlops_sdk.core.errors import (
    ConfigurationError,
    OperationFailedError,
    ServiceRequestError,
    ServiceResponseError,
)
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.retry import is_retryable
from mlops_sdk.core.secrets import is_secret
from mlops_sdk.core.status import Status, status_from_devops
from mlops_sdk.models.pipelines import FailedTask, PipelineRun

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

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
        with devops_errors(f"reading run {run_id} of pipeline {pipeline_id}", operation_id=str(run_id)):
            run = self._backend.retry_policy.call(self._devops.pipelines().get_run, self._project, pipeline_id, run_id)
        return self._convert(run, pipeline_id)

    def list_runs(self, pipeline_id: int, *, top: int) -> list[PipelineRun]:
        """The most recent runs, newest first (Azure DevOps answers at most 10,000)."""
        with devops_errors(f"listing runs of pipeline {pipeline_id}"):
            runs = self._backend.retry_policy.call(self._devops.pipelines().list_runs, self._project, pipeline_id)
        converted = [self._convert(run, pipeline_id) for run in runs or []]
        converted.sort(key=lambda run: run.id, reverse=True)
        return converted[:top]

    def failed_tasks(self, run_id: int) -> tuple[FailedTask, ...]:
        """Tasks of a run whose result is ``failed``, with their issue messages (from the build timeline)."""
        with devops_errors(f"reading the timeline of run {run_id}", operation_id=str(run_id)):
            timeline = self._backend.retry_policy.call(self._devops.build().get_build_timeline, self._project, run_id)
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

    def start_run(
        self,
        pipeline_id: int,
        *,
        branch: str | None,
        parameters: Mapping[str, str],
        variables: Mapping[str, str],
        idempotency_key: str | None,
    ) -> PipelineRunDriver:
        """Start a run, or re-attach to the one already started with ``idempotency_key``."""
        if idempotency_key is not None:
            existing = self._find_by_key(pipeline_id, idempotency_key)
            if existing is not None:
                _log.info("pipeline %s: re-attaching to run %s (key %s)", pipeline_id, existing.id, idempotency_key)
                return PipelineRunDriver(self, pipeline_id, existing.id)
        from azure.devops.v7_1.pipelines.models import (
            RepositoryResourceParameters,
            RunPipelineParameters,
            RunResourcesParameters,
            Variable,
        )

        template = dict(parameters)
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
                elif is_retryable(error):
                    raise ConfigurationError(
                        f"starting pipeline {pipeline_id} failed ({error.message}) and without an "
                        "idempotency_key a retry could start a second run; pass idempotency_key= to retry safely",
                        backend="azure",
                    ) from error
                raise

        run = self._backend.retry_policy.call(attempt)
        run_id = run.id if isinstance(run, PipelineRun) else int(run.id)
        return PipelineRunDriver(self, pipeline_id, run_id)

    def resume(self, pipeline_id: int, run_id: int) -> PipelineRunDriver:
        """A driver for an existing run."""
        return PipelineRunDriver(self, pipeline_id, run_id)

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


class PipelineRunDriver:
    """Operation driver following one pipeline run."""

    kind = "pipelines.run"

    def __init__(self, service: AzurePipelineService, pipeline_id: int, run_id: int) -> None:
        self._service = service
        self._pipeline_id = pipeline_id
        self._run_id = run_id
        self._last: PipelineRun | None = None

    @property
    def id(self) -> str:
        """The run id."""
        return str(self._run_id)

    def poll(self) -> PollResult:
        """Read the run once; a failed run's error names the failed tasks and their messages."""
        run = self._service.get_run(self._pipeline_id, self._run_id)
        if run.status is Status.FAILED:
            run = run.model_copy(update={"failed_tasks": self._service.failed_tasks(self._run_id)})
        self._last = run
        error = None
        if run.status is Status.FAILED:
            tasks = "; ".join(
                f"task {task.name!r}: {' / '.join(task.messages) or 'no message'}" for task in run.failed_tasks
            )
            error = OperationFailedError(
                f"pipeline run {run.id} of {run.pipeline_name or run.pipeline_id} ended {run.native_result}"
                + (f": {tasks}" if tasks else "")
                + (f" ({run.url})" if run.url else ""),
                backend="azure",
                operation_id=self.id,
                details={"url": run.url, "failed_tasks": [task.model_dump() for task in run.failed_tasks]},
            )
        message = f"{run.name}" if run.name else None
        return PollResult(run.status, native_status=run.native_result or run.native_state, message=message, error=error)

    def result(self) -> PipelineRun:
        """The finished run."""
        assert self._last is not None
        return self._last

    def cancel(self) -> None:
        """Cancel the run."""
        self._service.cancel(self._pipeline_id, self._run_id)

    def state(self) -> dict[str, Any]:
        """Pipeline and run id."""
        return {"pipeline_id": self._pipeline_id, "run_id": self._run_id}
