"""Value types of Azure DevOps pipeline runs (``client.pipelines``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlops_sdk.core.secrets import MASK, is_secret
from mlops_sdk.core.status import Status

__all__ = ["FailedTask", "PipelineRun"]


class FailedTask(BaseModel):
    """A task (step) that failed in a run, with the issues Azure DevOps reported for it."""

    model_config = ConfigDict(frozen=True)

    name: str
    messages: tuple[str, ...] = ()


class PipelineRun(BaseModel):
    """One run of an Azure DevOps YAML pipeline.

    Attributes:
        id: Run id (the build id).
        pipeline_id: Pipeline (definition) id.
        pipeline_name: Pipeline name.
        name: Run name (build number).
        status: The one status enum.
        native_state: ``inProgress``, ``canceling`` or ``completed``.
        native_result: ``succeeded``, ``failed``, ``canceled`` ... once completed.
        created_at: When it was queued.
        finished_at: When it completed.
        url: The run's page in the web UI.
        branch: Source branch (``refs/heads/main``) when known.
        template_parameters: Template parameters it was started with (absent from list answers).
        failed_tasks: For failed runs: the tasks that failed and their error messages.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    pipeline_id: int
    pipeline_name: str | None = None
    name: str | None = None
    status: Status
    native_state: str
    native_result: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    url: str | None = None
    branch: str | None = None
    template_parameters: dict[str, str] = Field(default_factory=dict)
    failed_tasks: tuple[FailedTask, ...] = ()

    @field_validator("template_parameters")
    @classmethod
    def _mask(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: MASK if is_secret(item) else item for name, item in value.items()}
