"""Service protocol for training pipelines: the ``training_pipeline`` capability of a backend."""

from __future__ import annotations

from typing import Any, Protocol

from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import OperationDriver
from mlops_sdk.models.training_pipeline import PipelineRunResult, TrainingPipeline

__all__ = ["PIPELINE_KIND", "TrainingPipelineService"]

PIPELINE_KIND = "training.pipeline"
"""Operation kind of pipeline runs (routing key of their continuation tokens)."""


class TrainingPipelineService(Protocol):
    """Runs training pipelines on one backend; drivers produce a :class:`PipelineRunResult`."""

    def submit(
        self,
        pipeline: TrainingPipeline,
        *,
        idempotency_key: str | None,
        lineage: Lineage,
        max_parallel: int,
    ) -> OperationDriver[PipelineRunResult]:
        """Start the pipeline, or re-attach to the run already started with ``idempotency_key``."""
        ...

    def resume(
        self,
        run_id: str,
        *,
        pipeline: TrainingPipeline | None,
        idempotency_key: str | None,
        lineage: Lineage,
        max_parallel: int | None,
    ) -> OperationDriver[PipelineRunResult]:
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
