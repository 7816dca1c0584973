"""Service protocol of the ``data_factory`` capability (implemented by the local engine and Azure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from mlops_sdk.core.errors import ConfigurationError, OperationFailedError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.models.data_factory import (
    ActivityRun,
    PipelineInfo,
    RefreshPipeline,
    RefreshRun,
    Schedule,
    StorageEvent,
    TriggerInfo,
)

__all__ = [
    "REFRESH_KIND",
    "DataFactoryService",
    "RefreshDriver",
    "RunMonitor",
    "TriggersUnsupported",
    "WatchedRun",
    "refresh_failure",
]


def refresh_failure(
    *,
    run_id: str,
    pipeline: str,
    activities: Sequence[ActivityRun],
    message: str | None,
    backend: str,
) -> OperationFailedError:
    """The error a failed run raises: it names the failed activity, its type and the service's error."""
    failed = [activity for activity in activities if activity.status is Status.FAILED]
    details: dict[str, Any] = {"pipeline": pipeline}
    if failed:
        parts = []
        for activity in failed:
            error = activity.error
            reason = (error.message if error and error.message else None) or message or "no error reported"
            code = f"{error.code}: " if error and error.code else ""
            parts.append(f"activity {activity.name!r} ({activity.type}) failed: {code}{reason}")
        details["failed_activities"] = [
            {"name": a.name, "type": a.type, "error": a.error.model_dump() if a.error else None} for a in failed
        ]
        text = "; ".join(parts)
    else:
        text = message or "the service gave no reason"
    return OperationFailedError(
        f"refresh run {run_id} of pipeline {pipeline!r} failed: {text}",
        backend=backend,
        operation_id=run_id,
        details=details,
    )


@dataclass(frozen=True)
class WatchedRun:
    """A run :meth:`DataFactoryService.monitor` watches.

    Attributes:
        run_id: The run.
        pipeline: Its pipeline (lets Azure filter ``queryPipelineRuns`` by pipeline name).
        submitted_at: Wall-clock time it was submitted, if known (start of the query window).
    """

    run_id: str
    pipeline: str
    submitted_at: datetime | None = None


class RunMonitor(Protocol):
    """Watches many runs at once: one service request (or one SQL query) per :meth:`poll`."""

    @property
    def requests(self) -> int:
        """Service requests (or queries) made so far, for diagnostics and benchmarks."""
        ...

    def poll(self) -> Mapping[str, PollResult]:
        """Look at every watched run that is not finished yet; return the latest state of each."""
        ...

    def result(self, run_id: str, *, activities: bool = True) -> RefreshRun:
        """The run once :meth:`poll` reported it finished.

        With ``activities=False`` a backend may leave the activities (and the outputs they report) of a
        SUCCEEDED run empty to save a request per run; failed and canceled runs always carry them.
        """
        ...


class DataFactoryService(Protocol):
    """What a backend implements for data refreshes."""

    def describe_pipeline(self, name: str) -> PipelineInfo:
        """The pipeline and its declared parameters.

        Raises:
            ResourceNotFoundError: no such pipeline; the message lists the known ones.
        """
        ...

    def list_pipelines(self) -> list[PipelineInfo]:
        """Every pipeline the backend knows."""
        ...

    def define_pipeline(self, pipeline: RefreshPipeline) -> PipelineInfo:
        """Register (or replace) a pipeline declaration (local engine; Azure refuses)."""
        ...

    def start_refresh(
        self,
        pipeline: str,
        parameters: Mapping[str, Any],
        *,
        idempotency_key: str,
        lineage: Lineage,
        fresh_key: bool = False,
    ) -> str:
        """Start a run (or re-attach to the run already started with ``idempotency_key``); return its id.

        ``fresh_key`` says the key cannot have started a run yet (generated for this call, or a flow
        step's first attempt): a backend whose lookup costs requests may then skip it.
        """
        ...

    def start_rerun(self, run_id: str, *, from_failure: bool, start_activity: str | None) -> tuple[str, str]:
        """Start a recovery run of ``run_id``; return ``(new run id, pipeline)``."""
        ...

    def poll_run(self, run_id: str) -> PollResult:
        """Look at a run once; a failed run's ``error`` names the failed activity and its error."""
        ...

    def get_run(self, run_id: str) -> RefreshRun:
        """The run with its activities and outputs (``ResourceNotFoundError`` if unknown)."""
        ...

    def list_runs(self, *, pipeline: str | None, status: Status | None, since: datetime | None) -> list[RefreshRun]:
        """Runs, newest first (activities are not filled in: use :meth:`get_run` for those)."""
        ...

    def cancel(self, run_id: str, *, recursive: bool) -> None:
        """Ask for cancellation; returns without waiting."""
        ...

    def monitor(self, runs: Sequence[WatchedRun]) -> RunMonitor:
        """A monitor for many runs (one request per poll)."""
        ...

    def create_trigger(
        self,
        name: str,
        pipeline: str,
        *,
        schedule: Schedule | None,
        storage_event: StorageEvent | None,
        parameters: Mapping[str, Any],
        start: bool,
    ) -> TriggerInfo:
        """Create or replace a trigger (schedule or storage event) and optionally start it."""
        ...

    def start_trigger(self, name: str) -> TriggerInfo:
        """Start a trigger."""
        ...

    def stop_trigger(self, name: str) -> TriggerInfo:
        """Stop a trigger."""
        ...

    def get_trigger(self, name: str) -> TriggerInfo:
        """A trigger (``ResourceNotFoundError`` if unknown)."""
        ...

    def list_triggers(self) -> list[TriggerInfo]:
        """Every trigger of the factory."""
        ...

    def delete_trigger(self, name: str) -> None:
        """Delete a trigger (stop it first)."""
        ...


class TriggersUnsupported:
    """The trigger half of :class:`DataFactoryService` for a backend that has no triggers.

    Each method raises :class:`~mlops_sdk.core.errors.ConfigurationError` with the class's
    ``triggers_refusal`` (why, and what to use instead), attributed to ``backend_label``.
    """

    triggers_refusal: ClassVar[str]
    backend_label: ClassVar[str]

    def _refuse(self) -> ConfigurationError:
        return ConfigurationError(self.triggers_refusal, backend=self.backend_label)

    def create_trigger(
        self,
        name: str,
        pipeline: str,
        *,
        schedule: Schedule | None,
        storage_event: StorageEvent | None,
        parameters: Mapping[str, Any],
        start: bool,
    ) -> TriggerInfo:
        """Refused (see ``triggers_refusal``)."""
        raise self._refuse()

    def start_trigger(self, name: str) -> TriggerInfo:
        """Refused."""
        raise self._refuse()

    def stop_trigger(self, name: str) -> TriggerInfo:
        """Refused."""
        raise self._refuse()

    def get_trigger(self, name: str) -> TriggerInfo:
        """Refused."""
        raise self._refuse()

    def list_triggers(self) -> list[TriggerInfo]:
        """Refused."""
        raise self._refuse()

    def delete_trigger(self, name: str) -> None:
        """Refused."""
        raise self._refuse()


REFRESH_KIND = "data_factory.refresh"
"""Operation kind of a refresh (continuation tokens name it)."""


class RefreshDriver:
    """Operation driver of one refresh run, the same on every backend: it only asks the service.

    Its state (pipeline, submission time, idempotency key) is what a continuation token carries.
    """

    def __init__(
        self,
        service: DataFactoryService,
        run_id: str,
        *,
        pipeline: str,
        submitted_at: datetime | None,
        idempotency_key: str | None,
    ) -> None:
        self._service = service
        self._run_id = run_id
        self.pipeline = pipeline
        self.submitted_at = submitted_at
        self.idempotency_key = idempotency_key

    @property
    def kind(self) -> str:
        """``data_factory.refresh``."""
        return REFRESH_KIND

    @property
    def id(self) -> str:
        """The run id."""
        return self._run_id

    def poll(self) -> PollResult:
        """The run's status (one request)."""
        return self._service.poll_run(self._run_id)

    def result(self) -> RefreshRun:
        """The finished run with its activities and outputs."""
        return self._service.get_run(self._run_id)

    def cancel(self) -> None:
        """Cancel the run and the pipelines it started."""
        self._service.cancel(self._run_id, recursive=True)

    def state(self) -> dict[str, Any]:
        """What a continuation token carries besides the run id."""
        return {
            "pipeline": self.pipeline,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "idempotency_key": self.idempotency_key,
        }
