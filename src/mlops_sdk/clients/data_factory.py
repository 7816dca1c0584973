"""``DataFactoryClient``: data refreshes on Azure Data Factory or on the embedded local engine.

.. code-block:: python

    from mlops_sdk import DataFactoryClient

    with DataFactoryClient("local://.mlops") as factory:
        run = factory.begin_refresh("sales", parameters={"min_amount": 10.0}).result()
        print(run.output("clean").uri, run.output("clean").version)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from mlops_sdk.backends.spi.data_factory import REFRESH_KIND, DataFactoryService, RefreshDriver, WatchedRun
from mlops_sdk.backends.spi.keys import DATA_FACTORY
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.clients._ids import resolve_prefix
from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.context import ambient_idempotency_key, ambient_key_is_fresh
from mlops_sdk.core.errors import ConfigurationError, OperationTimeoutError
from mlops_sdk.core.invalid_input import validate_input
from mlops_sdk.core.lineage import collect_lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import check_idempotency_key, require_text
from mlops_sdk.core.operation import Operation, ProgressEvent, decode_token
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.core.status import Status
from mlops_sdk.models.data_factory import (
    PipelineInfo,
    RefreshPipeline,
    RefreshRun,
    Schedule,
    StorageEvent,
    TriggerInfo,
    check_parameters,
    parse_pipeline,
)

__all__ = ["REFRESH_KIND", "DataFactoryClient"]

T = TypeVar("T")

_log = get_logger(__name__)


class DataFactoryClient(BaseClient):
    """Start, watch, cancel and rerun data refreshes; schedule them with triggers.

    On an ``azureml://`` target it drives the Azure Data Factory named by the ``data_factory``
    setting (resource group: ``data_factory_resource_group``, else the workspace's); on ``local://``
    it runs pipelines declared with :meth:`define` or in ``pipelines.toml`` in worker processes.
    Construct it standalone (``DataFactoryClient("local://.mlops")``) or use ``MLOpsClient(...).data_factory``.
    """

    _capability = "data_factory"

    def _svc(self) -> DataFactoryService:
        return self._service(DATA_FACTORY)

    # -- pipelines ---------------------------------------------------------------------------------

    def define(self, pipeline: RefreshPipeline | Mapping[str, Any]) -> PipelineInfo:
        """Register (or replace) a local refresh pipeline; it is kept in the store.

        Raises:
            ConfigurationError: a malformed declaration (the message names the field), or an Azure
                target (author pipelines in Data Factory there).
        """
        return self._svc().define_pipeline(parse_pipeline(pipeline))

    def get_pipeline(self, name: str) -> PipelineInfo:
        """A pipeline and its declared parameters (``ResourceNotFoundError`` lists the known ones)."""
        return self._svc().describe_pipeline(require_text(name, "pipeline"))

    def list_pipelines(self) -> ItemPaged[PipelineInfo]:
        """Every pipeline the backend knows."""
        return ItemPaged.of(self._svc().list_pipelines())

    # -- runs --------------------------------------------------------------------------------------

    def begin_refresh(
        self,
        pipeline: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        coerce_strings: bool = False,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
    ) -> Operation[RefreshRun]:
        """Start a run of ``pipeline`` and return its operation.

        The idempotency key travels as pipeline parameter ``mlops_request_id``; a run already started
        with the same key is re-attached instead of starting a second one (a crashed script re-run
        with the same key waits for the first run). Without a key every call starts a new run.
        A generated key, or a flow step's key (``step.key`` or the ambient one) on the step's first
        attempt, cannot have started a run yet: the run is then created with no lookup first (on
        Azure: no ``queryPipelineRuns``).

        Args:
            pipeline: Pipeline name.
            parameters: Parameter values; checked against the pipeline's declared types.
            idempotency_key: Key of this refresh (e.g. ``f"{flow_run_id}:refresh"``).
            coerce_strings: Convert string values to the declared types (for CLI input).
            progress: Called after every poll while waiting.
            show_progress: Force the progress bar on/off (default: terminals and notebooks).

        Raises:
            ResourceNotFoundError: unknown pipeline (the message lists the known ones).
            ConfigurationError: unknown parameter, wrong type or missing required parameter.
        """
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        service = self._svc()
        info = service.describe_pipeline(require_text(pipeline, "pipeline"))
        values = check_parameters(info, parameters, coerce_strings=coerce_strings)
        key = idempotency_key or ambient_idempotency_key()
        fresh = key is not None and ambient_key_is_fresh(key)
        if key is None:
            key, fresh = uuid.uuid4().hex, True
        submitted_at = utcnow()
        run_id = service.start_refresh(
            pipeline,
            values,
            idempotency_key=key,
            lineage=collect_lineage(self._context.config.base_dir),
            fresh_key=fresh,
        )
        driver = RefreshDriver(service, run_id, pipeline=pipeline, submitted_at=submitted_at, idempotency_key=key)
        return self._operation(
            driver, description=f"refresh of {pipeline!r}", progress=progress, show_progress=show_progress
        )

    def begin_rerun(
        self,
        run_id: str,
        *,
        from_failure: bool = True,
        start_activity: str | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
    ) -> Operation[RefreshRun]:
        """Rerun a finished run in recovery mode: from its failed activity, or from ``start_activity``.

        Parameters are those of the original run; activities skipped keep their outputs.
        """
        require_text(run_id, "run_id")
        if start_activity is not None:
            require_text(start_activity, "start_activity")
        service = self._svc()
        submitted_at = utcnow()
        new_id, pipeline = service.start_rerun(run_id, from_failure=from_failure, start_activity=start_activity)
        driver = RefreshDriver(service, new_id, pipeline=pipeline, submitted_at=submitted_at, idempotency_key=None)
        return self._operation(
            driver, description=f"rerun of {pipeline!r}", progress=progress, show_progress=show_progress
        )

    def get_run(self, run_id: str) -> RefreshRun:
        """A run with its activity runs and outputs (``ResourceNotFoundError`` if unknown).

        ``run_id`` may be a unique prefix of a listed run's id (as ``mlops data runs`` prints them).
        """
        return self._by_id(run_id, self._svc().get_run)

    def _by_id(self, run_id: str, call: Callable[[str], T]) -> T:
        """``call(id)``; when the id is not found, ``call`` on the one run id it is a unique prefix of."""
        return resolve_prefix(
            require_text(run_id, "run_id"),
            get=call,
            candidates=lambda: [run.run_id for run in self._svc().list_runs(pipeline=None, status=None, since=None)],
            what="refresh run",
        )

    def list_runs(
        self, pipeline: str | None = None, *, status: Status | str | None = None, since: datetime | None = None
    ) -> ItemPaged[RefreshRun]:
        """Runs, newest first, optionally of one pipeline, in one state, or updated since a time.

        Activities and outputs are not filled in; use :meth:`get_run` for one run's details.
        """
        wanted: Status | None = None
        if status is not None:
            try:
                wanted = Status(status) if not isinstance(status, Status) else status
            except ValueError:
                raise ConfigurationError(
                    f"status {status!r} is not one of {[s.value for s in Status]}", details={"status": status}
                ) from None
        if since is not None and since.tzinfo is None:
            raise ConfigurationError("since must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return ItemPaged.of(self._svc().list_runs(pipeline=pipeline, status=wanted, since=since))

    def cancel(self, run_id: str, *, recursive: bool = True) -> None:
        """Ask for cancellation (``recursive`` also cancels child pipelines on Azure); does not wait."""
        self._by_id(run_id, lambda full_id: self._svc().cancel(full_id, recursive=recursive))

    def wait_all(
        self,
        operations: Sequence[Operation[RefreshRun]],
        *,
        timeout: float | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        with_outputs: bool = False,
    ) -> list[RefreshRun]:
        """Wait for many refreshes with ONE status request per poll cycle (not one per run).

        Returns the finished runs in the order given; failed and canceled runs are returned (check
        ``run.status``), not raised, with their activities (the failed one named). Succeeded runs
        carry their activities and outputs only with ``with_outputs=True`` on Azure (one
        ``queryActivityruns`` per run); ``get_run(run_id)`` reads them for one run later.

        Raises:
            OperationTimeoutError: ``timeout`` seconds passed first (the runs keep going);
                ``details["pending"]`` lists the unfinished run ids.
        """
        watched = []
        for operation in operations:
            token = decode_token(operation.continuation_token())
            if token.kind != REFRESH_KIND:
                raise ConfigurationError(
                    f"wait_all takes refresh operations; got one of kind {token.kind!r}",
                    details={"kind": token.kind},
                )
            submitted = token.state.get("submitted_at")
            watched.append(
                WatchedRun(
                    run_id=token.id,
                    pipeline=str(token.state.get("pipeline") or ""),
                    submitted_at=datetime.fromisoformat(submitted) if submitted else None,
                )
            )
        if not watched:
            return []
        monitor = self._svc().monitor(watched)
        clock = self._context.clock
        polling = self._polling()
        start = clock.monotonic()
        interval = polling.initial_interval
        seen: dict[str, Status] = {}
        while True:
            states = monitor.poll()
            elapsed = clock.monotonic() - start
            changed = False
            for run_id, state in states.items():
                if seen.get(run_id) is not state.status:
                    changed = True
                    seen[run_id] = state.status
                    if progress is not None:
                        event = ProgressEvent(
                            run_id, REFRESH_KIND, state.status, state.native_status, state.message, elapsed
                        )
                        progress(event)
            pending = [
                run.run_id for run in watched if run.run_id not in states or not states[run.run_id].status.is_terminal
            ]
            if not pending:
                break
            if timeout is not None and elapsed >= timeout:
                raise OperationTimeoutError(
                    f"{len(pending)} of {len(watched)} refresh runs still running after {timeout:g}s; "
                    "they keep running",
                    details={"pending": pending},
                )
            if changed:
                interval = polling.initial_interval
            delay = interval if timeout is None else min(interval, max(0.0, timeout - elapsed))
            clock.sleep(delay)
            interval = min(polling.max_interval, interval * polling.factor)
        _log.info("wait_all: %d runs finished after %d status requests", len(watched), monitor.requests)
        return [monitor.result(run.run_id, activities=with_outputs) for run in watched]

    def resume_operation(self, token: str) -> Operation[RefreshRun]:
        """Rebuild a refresh operation from its continuation token."""

        def refresh(run_id: str, state: dict[str, Any]) -> Operation[RefreshRun]:
            submitted = state.get("submitted_at")
            driver = RefreshDriver(
                self._svc(),
                run_id,
                pipeline=str(state.get("pipeline") or ""),
                submitted_at=datetime.fromisoformat(submitted) if submitted else None,
                idempotency_key=state.get("idempotency_key"),
            )
            return self._operation(driver, description=f"refresh of {driver.pipeline!r}")

        resumed: Operation[RefreshRun] = self._resume(token, {REFRESH_KIND: refresh})
        return resumed

    # -- triggers ----------------------------------------------------------------------------------

    def create_trigger(
        self,
        name: str,
        pipeline: str,
        *,
        schedule: Schedule | Mapping[str, Any] | None = None,
        storage_event: StorageEvent | Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        start: bool = True,
    ) -> TriggerInfo:
        """Create (or replace) a schedule trigger or a storage-event trigger for ``pipeline``.

        Exactly one of ``schedule`` and ``storage_event`` is given. The trigger is started unless
        ``start=False``. Azure only: the local backend raises ``ConfigurationError``.
        """
        require_text(name, "name")
        require_text(pipeline, "pipeline")
        if (schedule is None) == (storage_event is None):
            raise ConfigurationError("create_trigger needs exactly one of schedule=... or storage_event=...")
        what = f"trigger {name!r}"
        parsed_schedule = (
            validate_input(Schedule, schedule, what=what, field="schedule") if schedule is not None else None
        )
        parsed_event = (
            validate_input(StorageEvent, storage_event, what=what, field="storage_event")
            if storage_event is not None
            else None
        )
        service = self._svc()
        values = check_parameters(service.describe_pipeline(pipeline), parameters)
        return service.create_trigger(
            name, pipeline, schedule=parsed_schedule, storage_event=parsed_event, parameters=values, start=start
        )

    def start_trigger(self, name: str) -> TriggerInfo:
        """Start a trigger."""
        return self._svc().start_trigger(require_text(name, "name"))

    def stop_trigger(self, name: str) -> TriggerInfo:
        """Stop a trigger."""
        return self._svc().stop_trigger(require_text(name, "name"))

    def get_trigger(self, name: str) -> TriggerInfo:
        """A trigger (``ResourceNotFoundError`` if unknown)."""
        return self._svc().get_trigger(require_text(name, "name"))

    def list_triggers(self) -> ItemPaged[TriggerInfo]:
        """Every trigger of the factory."""
        return ItemPaged.of(self._svc().list_triggers())

    def delete_trigger(self, name: str) -> None:
        """Delete a trigger (stop it first)."""
        self._svc().delete_trigger(require_text(name, "name"))
