"""``PipelineClient``: trigger and follow Azure DevOps pipelines (the app team's own CI/CD) from Python."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import SecretStr

from mlops_sdk.backends.spi.keys import PIPELINES
from mlops_sdk.backends.spi.pipelines import PipelineService
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.core.context import ambient_idempotency_key
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.names import check_idempotency_key, check_positive_id
from mlops_sdk.core.operation import Operation, ProgressEvent
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.models.pipelines import PipelineRun

__all__ = ["PipelineClient"]


def _check_strings(values: Mapping[str, Any] | None, name: str) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (values or {}).items():
        if isinstance(value, SecretStr):  # building it registered the value: the backend still knows it is secret
            value = value.get_secret_value()
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigurationError(
                f"{name}[{key!r}] must be a string, number or boolean (Azure DevOps passes them as strings), "
                f"got {type(value).__name__}"
            )
        checked[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return checked


class PipelineClient(BaseClient):
    """Azure DevOps pipeline runs: start (idempotently), wait, read, list, cancel.

    Needs an Azure target with the ``devops`` setting (``https://dev.azure.com/<org>/<project>``);
    authenticates with ``devops_pat``, the job's ``SYSTEM_ACCESSTOKEN`` inside a pipeline, or a
    Microsoft Entra token from the credential.
    """

    _capability = "pipelines"

    def _pipelines(self) -> PipelineService:
        return self._service(PIPELINES)

    def begin_run(
        self,
        pipeline_id: int,
        *,
        branch: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> Operation[PipelineRun]:
        """Start a run of a YAML pipeline and return an operation that follows it.

        Args:
            pipeline_id: The pipeline (definition) id.
            branch: Branch or ref to run (``main`` or ``refs/heads/main``); default: the pipeline's default.
            parameters: Template parameters (declared in the YAML ``parameters:`` block).
            variables: Queue-time variables (must be settable at queue time).
            idempotency_key: Passed as template parameter ``mlops_request_id`` (declare it as a string
                parameter); a re-run with the same key re-attaches instead of starting another run,
                and a start whose answer was lost is retried safely.
            progress: Called after every poll.

        Raises:
            OperationFailedError (from ``result()``): the run failed; the message names failed tasks.
        """
        checked_id = check_positive_id(pipeline_id, "pipeline_id")
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        driver = self._pipelines().start_run(
            checked_id,
            branch=branch,
            parameters=_check_strings(parameters, "parameters"),
            variables=_check_strings(variables, "variables"),
            idempotency_key=idempotency_key or ambient_idempotency_key(),
        )
        return self._operation(driver, description=f"pipeline {checked_id} run", progress=progress)

    def get_run(self, pipeline_id: int, run_id: int) -> PipelineRun:
        """One run; ``ResourceNotFoundError`` when it does not exist."""
        return self._pipelines().get_run(
            check_positive_id(pipeline_id, "pipeline_id"), check_positive_id(run_id, "run_id")
        )

    def list_runs(self, pipeline_id: int, *, top: int = 50) -> ItemPaged[PipelineRun]:
        """The most recent runs of a pipeline, newest first."""
        return ItemPaged.of(self._pipelines().list_runs(check_positive_id(pipeline_id, "pipeline_id"), top=top))

    def cancel(self, pipeline_id: int, run_id: int) -> None:
        """Ask Azure DevOps to cancel a run."""
        self._pipelines().cancel(check_positive_id(pipeline_id, "pipeline_id"), check_positive_id(run_id, "run_id"))

    def resume_operation(self, token: str) -> Operation[PipelineRun]:
        """Rebuild a ``begin_run`` operation from its continuation token."""

        def rebuild(_id: str, state: dict[str, Any]) -> Operation[PipelineRun]:
            driver = self._pipelines().resume(int(state["pipeline_id"]), int(state["run_id"]))
            return self._operation(driver, description=f"pipeline {state['pipeline_id']} run")

        return self._resume(token, {"pipelines.run": rebuild})
