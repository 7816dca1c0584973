"""Service protocol of ``client.pipelines`` (Azure DevOps pipeline runs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict

from mlops_sdk.core.errors import OperationFailedError
from mlops_sdk.core.operation import OperationDriver, PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.models.pipelines import FailedTask, PipelineRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["RUN_KIND", "PipelineRunDriver", "PipelineService", "StartOptions"]

RUN_KIND = "pipelines.run"
"""Operation kind of CI pipeline runs (routing key of their continuation tokens)."""


class StartOptions(TypedDict):
    """The keyword arguments of :meth:`PipelineService.start_run` (declared once for every backend)."""

    branch: str | None
    """Source branch to run (``main`` or ``refs/heads/main``), or None for the pipeline's default."""
    parameters: Mapping[str, str]
    """Template parameters."""
    variables: Mapping[str, str]
    """Run variables (secret ones are sent as secret variables)."""
    idempotency_key: str | None
    """Key of the run: starting again with the same key re-attaches to it."""


class PipelineService(Protocol):
    """What a backend provides to run and follow CI/CD pipelines."""

    def start_run(self, pipeline_id: int, **options: Unpack[StartOptions]) -> OperationDriver[PipelineRun]:
        """Start a run (or re-attach to the run started with the same key) and return its driver."""
        ...

    def resume(self, pipeline_id: int, run_id: int) -> OperationDriver[PipelineRun]:
        """A driver for an existing run."""
        ...

    def get_run(self, pipeline_id: int, run_id: int) -> PipelineRun:
        """One run; ``ResourceNotFoundError`` when it does not exist."""
        ...

    def list_runs(self, pipeline_id: int, *, top: int) -> list[PipelineRun]:
        """The most recent runs of a pipeline, newest first."""
        ...

    def cancel(self, pipeline_id: int, run_id: int) -> None:
        """Ask Azure DevOps to cancel a run."""
        ...


class PipelineRunDriver:
    """Base of the drivers that follow one CI pipeline run: the same shape on every backend.

    Each poll reads the run; a failed run gets its failed tasks (``failed_tasks``, which a backend
    overrides when it can read them) and an :class:`~mlops_sdk.core.errors.OperationFailedError`
    naming them. The state is the pipeline and run id. A subclass sets ``BACKEND``.
    """

    BACKEND: ClassVar[str]
    kind = RUN_KIND

    def __init__(self, service: PipelineService, pipeline_id: int, run_id: int) -> None:
        self._service = service
        self._pipeline_id = pipeline_id
        self._run_id = run_id
        self._last: PipelineRun | None = None

    @property
    def id(self) -> str:
        """The run id."""
        return str(self._run_id)

    def failed_tasks(self) -> tuple[FailedTask, ...]:
        """The failed run's failed tasks with their messages (none known by default)."""
        return ()

    def poll(self) -> PollResult:
        """Read the run once; a failed run's error names the failed tasks and their messages."""
        run = self._service.get_run(self._pipeline_id, self._run_id)
        if run.status is Status.FAILED:
            run = run.model_copy(update={"failed_tasks": self.failed_tasks()})
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
                backend=self.BACKEND,
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
