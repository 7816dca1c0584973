"""Service protocol of ``client.pipelines`` (Azure DevOps pipeline runs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mlops_sdk.core.operation import OperationDriver
from mlops_sdk.models.pipelines import PipelineRun

__all__ = ["PipelineService"]


class PipelineService(Protocol):
    """What a backend provides to run and follow CI/CD pipelines."""

    def start_run(
        self,
        pipeline_id: int,
        *,
        branch: str | None,
        parameters: Mapping[str, str],
        variables: Mapping[str, str],
        idempotency_key: str | None,
    ) -> OperationDriver[PipelineRun]:
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
