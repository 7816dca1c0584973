"""The ``training_pipeline`` service of backends that run pipelines with :class:`PipelineEngine`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._pipeline.engine import PipelineEngine
from mlops_sdk.backends.spi.training_pipeline import TrainingPipelineDriver
from mlops_sdk.core.errors import OperationFailedError
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.models.training_pipeline import PipelineRunResult, TrainingPipeline

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mlops_sdk.backends.spi.training_pipeline import ResumeOptions, SubmitOptions

__all__ = ["EnginePipelineDriver", "EnginePipelineService"]


class EnginePipelineService:
    """Implements :class:`~mlops_sdk.backends.spi.training_pipeline.TrainingPipelineService` over an engine.

    Args:
        engine: The DAG executor.
        backend: Backend name (errors).
        poll_seconds: How soon to look again while steps run.
    """

    def __init__(self, engine: PipelineEngine, *, backend: str, poll_seconds: float) -> None:
        self.engine = engine
        self._backend = backend
        self._poll_seconds = poll_seconds

    def submit(self, pipeline: TrainingPipeline, **options: Unpack[SubmitOptions]) -> EnginePipelineDriver:
        """Record the run (or find it by key) and start its first steps."""
        record = self.engine.submit(pipeline, **options)
        self.engine.advance(record.id)
        return EnginePipelineDriver(self, record.id)

    def resume(self, run_id: str, **options: Unpack[ResumeOptions]) -> EnginePipelineDriver:
        """A new run keeping the succeeded steps of ``run_id``."""
        record = self.engine.resume(run_id, **options)
        self.engine.advance(record.id)
        return EnginePipelineDriver(self, record.id)

    def attach(self, run_id: str, state: dict[str, Any]) -> EnginePipelineDriver:
        """Driver of an existing run."""
        self.engine.record(run_id)
        return EnginePipelineDriver(self, run_id)

    def get_run(self, run_id: str) -> PipelineRunResult:
        """The run as it is now (moved on first)."""
        self.engine.advance(run_id)
        return self.engine.result(run_id)

    def list_runs(self, *, name: str | None = None, limit: int = 50) -> list[PipelineRunResult]:
        """Most recent first."""
        return self.engine.list(name, limit)

    def cancel(self, run_id: str) -> None:
        """Stop every running step."""
        self.engine.cancel(run_id)


class EnginePipelineDriver(TrainingPipelineDriver):
    """Operation driver of one pipeline run: each poll moves the run on."""

    _service: EnginePipelineService

    def poll(self) -> PollResult:
        """Reconcile and start ready steps; a failed run's error names the failed step."""
        engine = self._service.engine
        record = engine.advance(self._run_id)
        status = Status(record.status) if record.status != "Running" else Status.RUNNING
        error = None
        if status is Status.FAILED:
            steps = engine.result(self._run_id).steps
            failed = next((name for name, step in steps.items() if step.status is Status.FAILED), None)
            error = OperationFailedError(
                record.error or f"pipeline run {self._run_id} failed",
                backend=self._service._backend,
                operation_id=self._run_id,
                details={"step": failed},
            )
        return PollResult(
            status=status,
            native_status=record.status,
            message=engine.running_step(self._run_id) if not status.is_terminal else None,
            retry_after=None if status.is_terminal else self._service._poll_seconds,
            error=error,
        )

    def result(self) -> PipelineRunResult:
        """The finished run (not moved on again: it is terminal)."""
        return self._service.engine.result(self._run_id)
