"""Service protocol for training pipelines: the ``training_pipeline`` capability of a backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from mlops_sdk.backends.spi._driver import RunDriver
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import OperationDriver
from mlops_sdk.models.training_pipeline import PipelineRunResult, TrainingPipeline

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["PIPELINE_KIND", "ResumeOptions", "SubmitOptions", "TrainingPipelineDriver", "TrainingPipelineService"]

PIPELINE_KIND = "training.pipeline"
"""Operation kind of pipeline runs (routing key of their continuation tokens)."""


class SubmitOptions(TypedDict):
    """The keyword arguments of :meth:`TrainingPipelineService.submit` (declared once for every layer)."""

    idempotency_key: str | None
    """Key of the run: submitting again with the same key re-attaches to it."""
    lineage: Lineage
    """Lineage of the run."""
    max_parallel: int
    """Steps running at once (at least 1)."""


class ResumeOptions(TypedDict):
    """The keyword arguments of :meth:`TrainingPipelineService.resume` (declared once for every layer)."""

    pipeline: TrainingPipeline | None
    """The changed pipeline to run, or None for the run's own."""
    idempotency_key: str | None
    """Key of the resumption: the same key re-attaches to it."""
    lineage: Lineage
    """Lineage of the new run."""
    max_parallel: int | None
    """Steps running at once, or None for the old run's setting."""


class TrainingPipelineService(Protocol):
    """Runs training pipelines on one backend; drivers produce a :class:`PipelineRunResult`."""

    def submit(
        self, pipeline: TrainingPipeline, **options: Unpack[SubmitOptions]
    ) -> OperationDriver[PipelineRunResult]:
        """Start the pipeline, or re-attach to the run already started with ``idempotency_key``."""
        ...

    def resume(self, run_id: str, **options: Unpack[ResumeOptions]) -> OperationDriver[PipelineRunResult]:
        """Run a failed/canceled run again from its failed steps, keeping the succeeded ones."""
        ...

    def attach(self, run_id: str, state: dict[str, Any]) -> OperationDriver[PipelineRunResult]:
        """Rebuild the driver of an existing run."""
        ...

    def get_run(self, run_id: str) -> PipelineRunResult:
        """The run; :class:`~mlops_sdk.core.errors.ResourceNotFoundError` if unknown."""
        ...

    def list_runs(self, *, name: str | None = None, limit: int = 50) -> list[PipelineRunResult]:
        """Most recent first."""
        ...

    def cancel(self, run_id: str) -> None:
        """Ask every running step to stop, without waiting."""
        ...


class TrainingPipelineDriver(RunDriver[PipelineRunResult]):
    """A pipeline run's driver: ``kind == "training.pipeline"``, the run id (Azure ML job name) as operation id.

    A subclass implements ``poll`` of :class:`~mlops_sdk.core.operation.OperationDriver`.
    """

    KIND = PIPELINE_KIND
