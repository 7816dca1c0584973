"""Azure Data Factory through azure-mgmt-datafactory (imported lazily, inside this module's functions).

The management client runs with azure-core's retries OFF (``retry_total=0``): every call goes
through the SDK's one retry policy (which honours ``Retry-After`` and sleeps on the backend's clock).
``createRun`` (not idempotent) carries the idempotency key as pipeline parameter ``mlops_request_id``;
it is sent straight away for a fresh key, and repeated after an ambiguous failure (sent, no answer)
only once a bounded wait for the key to show in ``queryPipelineRuns`` found nothing
(``data_factory_visibility_wait``). See docs/data-factory.md for the remaining risk.

Statuses are Data Factory's free strings (``Queued``, ``InProgress``, ``Canceling``, ``Succeeded``,
``Failed``, ``Cancelled``), mapped onto the one status enum with the native word kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_sdk.backends.azure.errors import azure_errors, is_ambiguous, missing_target
from mlops_sdk.backends.spi.data_factory import WatchedRun, refresh_failure
from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.errors import ConfigurationError, MlopsError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.retry import is_retryable
from mlops_sdk.core.secrets import MASK, reveal
from mlops_sdk.core.status import Status, status_from_adf
from mlops_sdk.models.data_factory import (
    REQUEST_ID_PARAMETER,
    ActivityError,
    ActivityRun,
    Column,
    DataOutput,
    PipelineInfo,
    PipelineParameter,
    RefreshPipeline,
    RefreshRun,
    Schedule,
    StorageEvent,
    TriggerInfo,
)

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["AzureDataFactoryService", "AzureRunMonitor", "create_service"]

T = TypeVar("T")

IDEMPOTENCY_WINDOW = timedelta(days=7)
"""How far back ``mlops_request_id`` is looked up before creating a run with a key that may be in use."""
RETENTION = timedelta(days=45)
"""Data Factory keeps run history this long: the widest useful query window."""
WATERMARK_MARGIN = timedelta(minutes=2)
"""Overlap between consecutive monitoring windows (clock skew, eventual consistency)."""
_FUTURE = timedelta(days=1)
_NATIVE_FOR_STATUS = {
    Status.NOT_STARTED: ["Queued"],
    Status.RUNNING: ["InProgress", "Canceling"],
    Status.SUCCEEDED: ["Succeeded"],
    Status.FAILED: ["Failed"],
    Status.CANCELED: ["Cancelled"],
}
_EVENTS = {"created": "Microsoft.Storage.BlobCreated", "deleted": "Microsoft.Storage.BlobDeleted"}
_FRACTION = re.compile(r"(\.\d{6})\d+")
_log = get_logger(__name__)


def create_service(backend: AzureBackend) -> AzureDataFactoryService:
    """Create the Azure Data Factory service for ``backend``."""
    backend.require("azure.mgmt.datafactory", purpose="Azure Data Factory refreshes")
    return AzureDataFactoryService(backend)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    text = _FRACTION.sub(r"\1", str(value)).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _status(native: str | None, *, default: Status = Status.RUNNING) -> Status:
    if not native:
        return default
    try:
        return status_from_adf(native)
    except ValueError:
        # "Skipped" activities, or a state the service added later: never treat as finished by mistake.
        return Status.CANCELED if native.lower() == "skipped" else default


def _raw(model: Any) -> dict[str, Any]:
    """A response model as its JSON (REST names), whatever the SDK version returns."""
    as_dict = getattr(model, "as_dict", None)
    if callable(as_dict):
        return dict(as_dict())
    return dict(model or {})


class AzureDataFactoryService:
    """``DataFactoryService`` on one Azure Data Factory."""

    def __init__(self, backend: AzureBackend) -> None:
        settings = backend.config.settings
        if not settings.data_factory:
            raise ConfigurationError(
                'client.data_factory on Azure needs the factory name: set data_factory = "<factory>" in '
                'mlops.toml, MLOPS_DATA_FACTORY, or MLOpsClient(..., data_factory="<factory>")',
                backend="azure",
                details={"setting": "data_factory"},
            )
        self._backend = backend
        self.factory: str = settings.data_factory
        self.resource_group: str = settings.data_factory_resource_group or backend.workspace.resource_group
        self._client: Any = None
        self._secure: dict[str, frozenset[str]] = {}
        """Pipeline -> its secure parameters (from the pipeline definitions read so far)."""

    @property
    def client(self) -> Any:
        """The ``DataFactoryManagementClient`` (created on first use; transport retries off)."""
        if self._client is None:
            from azure.mgmt.datafactory import DataFactoryManagementClient

            cloud = self._backend.cloud
            self._client = DataFactoryManagementClient(
                self._backend.get_credential(),
                self._backend.workspace.subscription_id,
                base_url=cloud.resource_manager,
                credential_scopes=[cloud.arm_scope],
                retry_total=0,
                **self._backend.http.core_kwargs(),
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- plumbing ------------------------------------------------------------------------------------

    def _once(self, what: str, fn: Callable[[], T], *, operation_id: str | None = None) -> T:
        with azure_errors(what, operation_id=operation_id):
            return fn()

    def _call(self, what: str, fn: Callable[[], T], *, operation_id: str | None = None) -> T:
        """One call with the SDK's retry policy (only for idempotent calls)."""
        result: T = self._backend.retry_policy.call(self._once, what, fn, operation_id=operation_id)
        return result

    def _query_runs(
        self, body: Mapping[str, Any], *, retry: bool = True, on_page: Callable[[], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """``queryPipelineRuns`` following continuation tokens; yields each run's JSON."""
        token: str | None = None
        while True:
            page_body = {**body, **({"continuationToken": token} if token else {})}

            def query(page: dict[str, Any] = page_body) -> Any:
                return self.client.pipeline_runs.query_by_factory(self.resource_group, self.factory, page)

            what = f"querying pipeline runs of factory {self.factory!r}"
            response = _raw(self._call(what, query) if retry else self._once(what, query))
            if on_page is not None:
                on_page()
            yield from (dict(item) for item in response.get("value") or [])
            token = response.get("continuationToken")
            if not token:
                return

    def _get_raw_run(self, run_id: str) -> dict[str, Any]:
        return _raw(
            self._call(
                f"reading pipeline run {run_id}",
                lambda: self.client.pipeline_runs.get(self.resource_group, self.factory, run_id),
                operation_id=run_id,
            )
        )

    def _activity_runs(self, run: Mapping[str, Any]) -> tuple[ActivityRun, ...]:
        run_id = str(run["runId"])
        started = _time(run.get("runStart")) or (utcnow() - RETENTION)
        body: dict[str, Any] = {
            "lastUpdatedAfter": _iso(started - timedelta(hours=1)),
            "lastUpdatedBefore": _iso(utcnow() + _FUTURE),
        }
        items: list[dict[str, Any]] = []
        while True:
            page = dict(body)

            def query(page: dict[str, Any] = page) -> Any:
                return self.client.activity_runs.query_by_pipeline_run(self.resource_group, self.factory, run_id, page)

            response = _raw(self._call(f"reading the activity runs of {run_id}", query, operation_id=run_id))
            items.extend(dict(item) for item in response.get("value") or [])
            token = response.get("continuationToken")
            if not token:
                break
            body["continuationToken"] = token
        items.sort(key=lambda item: str(item.get("activityRunStart") or ""))
        return tuple(_activity(item) for item in items)

    # -- pipelines -------------------------------------------------------------------------------------

    def _pipeline_names(self) -> list[str]:
        def names() -> list[str]:
            return sorted(
                str(_raw(item).get("name"))
                for item in self.client.pipelines.list_by_factory(self.resource_group, self.factory)
            )

        return self._call(f"listing the pipelines of factory {self.factory!r}", names)

    def describe_pipeline(self, name: str) -> PipelineInfo:
        """``GET .../pipelines/{name}``: declared parameters and activities."""
        try:
            resource = _raw(
                self._call(
                    f"reading pipeline {name!r}",
                    lambda: self.client.pipelines.get(self.resource_group, self.factory, name),
                )
            )
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            known = self._pipeline_names()
            raise ResourceNotFoundError(
                f"pipeline {name!r} does not exist in Data Factory {self.factory!r} "
                f"(resource group {self.resource_group}); known pipelines: {', '.join(known) or 'none'}",
                backend="azure",
                status_code=404,
                request_id=error.request_id,
                details={"pipeline": name, "known": known},
            ) from error
        info = _pipeline_info(name, resource)
        self._secure[name] = frozenset(key for key, spec in info.parameters.items() if spec.is_secret)
        return info

    def _secure_parameters(self, pipeline: str) -> frozenset[str]:
        """The pipeline's ``secureString`` parameters: masked in every run we return, whatever the service echoes."""
        if pipeline not in self._secure:
            try:
                self.describe_pipeline(pipeline)
            except MlopsError as error:  # a deleted pipeline's runs are still readable
                _log.debug("cannot read the definition of pipeline %r: %s", pipeline, error)
                self._secure[pipeline] = frozenset()
        return self._secure[pipeline]

    def _run(self, run: Mapping[str, Any], activities: tuple[ActivityRun, ...]) -> RefreshRun:
        return _refresh_run(run, activities, self._secure_parameters(str(run.get("pipelineName"))))

    def list_pipelines(self) -> list[PipelineInfo]:
        """Every pipeline of the factory."""

        def pipelines() -> list[PipelineInfo]:
            items = [_raw(item) for item in self.client.pipelines.list_by_factory(self.resource_group, self.factory)]
            return [_pipeline_info(str(item.get("name")), item) for item in items]

        return sorted(self._call("listing pipelines", pipelines), key=lambda info: info.name)

    def define_pipeline(self, pipeline: RefreshPipeline) -> PipelineInfo:
        """Refused: pipelines are authored in Data Factory (Studio, ARM/Bicep, or its own SDK)."""
        raise ConfigurationError(
            "define() declares pipelines for the local engine; on Azure author the pipeline in Data Factory "
            "(Studio, ARM/Bicep templates or azure-mgmt-datafactory) and refresh it by name",
            backend="azure",
        )

    # -- runs ------------------------------------------------------------------------------------------

    def _find_by_key(self, pipeline: str, key: str, *, since: datetime) -> str | None:
        """The run of ``pipeline`` whose ``mlops_request_id`` is ``key``, among runs updated since ``since``."""
        body = {
            "lastUpdatedAfter": _iso(since),
            "lastUpdatedBefore": _iso(utcnow() + _FUTURE),
            "filters": [{"operand": "PipelineName", "operator": "Equals", "values": [pipeline]}],
            "orderBy": [{"orderBy": "RunStart", "order": "DESC"}],
        }
        for run in self._query_runs(body, retry=False):
            if (run.get("parameters") or {}).get(REQUEST_ID_PARAMETER) == key:
                return str(run["runId"])
        return None

    def _await_visible(self, what: str, find: Callable[[], str | None]) -> str | None:
        """After an ambiguous ``createRun``: ``find()`` until it finds the run or the visibility wait ends.

        ``queryPipelineRuns`` can lag behind ``createRun``; a single lookup right after a lost answer
        would miss the run and the retry would start a second one. Lookups back off (0.5 s doubling,
        at most 8 s apart) on the backend's clock; a lookup that itself fails transiently counts as
        "not seen yet".
        """
        clock = self._backend.clock
        wait = self._backend.config.settings.data_factory_visibility_wait
        deadline = clock.monotonic() + wait
        delay = 0.5
        while True:
            try:
                found = find()
            except MlopsError as error:
                if not is_retryable(error):
                    raise
                found = None
            if found is not None:
                return found
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                _log.warning(
                    "%s not visible after %gs; creating it again "
                    "(raise data_factory_visibility_wait if the factory lags more)",
                    what,
                    wait,
                )
                return None
            clock.sleep(min(delay, remaining))
            delay = min(delay * 2, 8.0)

    def start_refresh(
        self,
        pipeline: str,
        parameters: Mapping[str, Any],
        *,
        idempotency_key: str,
        lineage: Lineage,
        fresh_key: bool = False,
    ) -> str:
        """``createRun`` straight away; look the key up only when it may already have started a run.

        * ``fresh_key`` (a key generated for this call, or a flow step's first attempt): no lookup
          before creating. Otherwise one lookup over the idempotency window first (re-attach).
        * After an AMBIGUOUS failure (the request was sent but no answer came: dropped connection,
          timeout, 5xx) the key is looked up with a bounded wait (``data_factory_visibility_wait``)
          before creating again. A clean refusal (connection refused, 429, 4xx) needs no lookup.
        """
        # Data Factory takes secureString values in the createRun body; they live only in that request.
        body = {**{name: reveal(value) for name, value in parameters.items()}, REQUEST_ID_PARAMETER: idempotency_key}
        if not fresh_key:
            found = self._call(
                f"looking up runs of pipeline {pipeline!r} keyed {idempotency_key!r}",
                lambda: self._find_by_key(pipeline, idempotency_key, since=utcnow() - IDEMPOTENCY_WINDOW),
            )
            if found is not None:
                _log.info("re-attaching to pipeline run %s (mlops_request_id %s)", found, idempotency_key)
                return found
        first_ambiguous: datetime | None = None

        def attempt() -> str:
            nonlocal first_ambiguous
            if first_ambiguous is not None:
                since = first_ambiguous - WATERMARK_MARGIN
                found = self._await_visible(
                    f"run with mlops_request_id {idempotency_key}",
                    lambda: self._find_by_key(pipeline, idempotency_key, since=since),
                )
                if found is not None:
                    _log.info("the lost createRun had started run %s; re-attached", found)
                    return found
            sent = utcnow()
            try:
                response = self._once(
                    f"starting a run of pipeline {pipeline!r}",
                    lambda: self.client.pipelines.create_run(self.resource_group, self.factory, pipeline, body),
                )
            except MlopsError as error:
                if is_ambiguous(error) and first_ambiguous is None:
                    first_ambiguous = sent
                raise
            return str(_raw(response)["runId"])

        return self._backend.retry_policy.call(attempt)

    def start_rerun(self, run_id: str, *, from_failure: bool, start_activity: str | None) -> tuple[str, str]:
        """``createRun`` in recovery mode; after an ambiguous failure, look for the rerun in the run group
        (with the same bounded visibility wait as :meth:`start_refresh`)."""
        reference = self._get_raw_run(run_id)
        pipeline = str(reference.get("pipelineName"))
        group = str(reference.get("runGroupId") or run_id)
        started = utcnow()
        ambiguous = False

        def attempt() -> str:
            nonlocal ambiguous
            if ambiguous:  # the previous attempt may have started the rerun: find it in the run group
                found = self._await_visible(
                    f"rerun of {run_id}", lambda: self._find_rerun(pipeline, run_id, group, started)
                )
                if found is not None:
                    return found
            try:
                response = self._once(
                    f"rerunning pipeline run {run_id}",
                    lambda: self.client.pipelines.create_run(
                        self.resource_group,
                        self.factory,
                        pipeline,
                        reference_pipeline_run_id=run_id,
                        is_recovery=True,
                        start_activity_name=start_activity,
                        start_from_failure=from_failure if start_activity is None else None,
                    ),
                    operation_id=run_id,
                )
            except MlopsError as error:
                ambiguous = ambiguous or is_ambiguous(error)
                raise
            return str(_raw(response)["runId"])

        return self._backend.retry_policy.call(attempt), pipeline

    def _find_rerun(self, pipeline: str, reference: str, group: str, started: datetime) -> str | None:
        body = {
            "lastUpdatedAfter": _iso(started - WATERMARK_MARGIN),
            "lastUpdatedBefore": _iso(utcnow() + _FUTURE),
            "filters": [
                {"operand": "PipelineName", "operator": "Equals", "values": [pipeline]},
                {"operand": "RunGroupId", "operator": "Equals", "values": [group]},
            ],
        }
        candidates = [run for run in self._query_runs(body, retry=False) if run.get("runId") != reference]
        candidates.sort(key=lambda run: str(run.get("runStart") or ""), reverse=True)
        return str(candidates[0]["runId"]) if candidates else None

    def _poll_result(self, run: Mapping[str, Any], activities: Sequence[ActivityRun] | None = None) -> PollResult:
        native = run.get("status")
        status = _status(native)
        error: MlopsError | None = None
        if status is Status.FAILED:
            error = refresh_failure(
                run_id=str(run["runId"]),
                pipeline=str(run.get("pipelineName")),
                activities=activities if activities is not None else self._activity_runs(run),
                message=run.get("message") or None,
                backend="azure",
            )
        return PollResult(status=status, native_status=native, message=run.get("message") or None, error=error)

    def poll_run(self, run_id: str) -> PollResult:
        """``GET .../pipelineruns/{id}`` (+ ``queryActivityruns`` when it failed)."""
        return self._poll_result(self._get_raw_run(run_id))

    def get_run(self, run_id: str) -> RefreshRun:
        """The run, its activity runs and the outputs they report."""
        run = self._get_raw_run(run_id)
        return self._run(run, self._activity_runs(run))

    def list_runs(self, *, pipeline: str | None, status: Status | None, since: datetime | None) -> list[RefreshRun]:
        """``queryPipelineRuns`` (newest first) over the retention window or since ``since``."""
        filters: list[dict[str, Any]] = []
        if pipeline is not None:
            filters.append({"operand": "PipelineName", "operator": "Equals", "values": [pipeline]})
        if status is not None:
            filters.append({"operand": "Status", "operator": "In", "values": _NATIVE_FOR_STATUS[status]})
        now = utcnow()
        body: dict[str, Any] = {
            "lastUpdatedAfter": _iso(since or now - RETENTION),
            "lastUpdatedBefore": _iso(now + _FUTURE),
            "filters": filters,
            "orderBy": [{"orderBy": "RunStart", "order": "DESC"}],
        }
        return [self._run(run, ()) for run in self._query_runs(body)]

    def cancel(self, run_id: str, *, recursive: bool) -> None:
        """``POST .../pipelineruns/{id}/cancel?isRecursive=``."""
        self._call(
            f"canceling pipeline run {run_id}",
            lambda: self.client.pipeline_runs.cancel(self.resource_group, self.factory, run_id, is_recursive=recursive),
            operation_id=run_id,
        )

    def monitor(self, runs: Sequence[WatchedRun]) -> AzureRunMonitor:
        """One ``queryPipelineRuns`` per poll for all watched runs."""
        return AzureRunMonitor(self, runs)

    # -- triggers ----------------------------------------------------------------------------------------

    def _trigger_raw(self, name: str) -> dict[str, Any]:
        return _raw(
            self._call(
                f"reading trigger {name!r}",
                lambda: self.client.triggers.get(self.resource_group, self.factory, name),
            )
        )

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
        """``PUT .../triggers/{name}`` (stopping a started trigger first), then start it."""
        reference = {
            "pipelineReference": {"referenceName": pipeline, "type": "PipelineReference"},
            "parameters": {name: reveal(value) for name, value in parameters.items()},
        }
        if schedule is not None:
            properties: dict[str, Any] = {
                "type": "ScheduleTrigger",
                "typeProperties": {"recurrence": _recurrence(schedule)},
                "pipelines": [reference],
            }
        else:
            assert storage_event is not None
            properties = {
                "type": "BlobEventsTrigger",
                "typeProperties": _blob_events(storage_event),
                "pipelines": [reference],
            }
        try:
            existing = self._trigger_raw(name)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            existing = {}
        if (existing.get("properties") or {}).get("runtimeState") == "Started":
            self._lro(
                f"stopping trigger {name!r} to update it",
                lambda: self.client.triggers.begin_stop(self.resource_group, self.factory, name),
            )
        self._call(
            f"creating trigger {name!r}",
            lambda: self.client.triggers.create_or_update(
                self.resource_group, self.factory, name, {"properties": properties}
            ),
        )
        return self.start_trigger(name) if start else self.get_trigger(name)

    def _lro(self, what: str, begin: Callable[[], Any]) -> None:
        self._call(what, lambda: begin().result())

    def start_trigger(self, name: str) -> TriggerInfo:
        """Subscribe a storage-event trigger to its events, then ``POST .../start``."""
        raw = self._trigger_raw(name)
        if (raw.get("properties") or {}).get("type") == "BlobEventsTrigger":
            self._lro(
                f"subscribing trigger {name!r} to storage events",
                lambda: self.client.triggers.begin_subscribe_to_events(self.resource_group, self.factory, name),
            )
        self._lro(
            f"starting trigger {name!r}",
            lambda: self.client.triggers.begin_start(self.resource_group, self.factory, name),
        )
        return self.get_trigger(name)

    def stop_trigger(self, name: str) -> TriggerInfo:
        """``POST .../triggers/{name}/stop``."""
        self._lro(
            f"stopping trigger {name!r}",
            lambda: self.client.triggers.begin_stop(self.resource_group, self.factory, name),
        )
        return self.get_trigger(name)

    def get_trigger(self, name: str) -> TriggerInfo:
        """``GET .../triggers/{name}``."""
        return _trigger(self._trigger_raw(name))

    def list_triggers(self) -> list[TriggerInfo]:
        """``GET .../triggers``."""

        def triggers() -> list[TriggerInfo]:
            return [
                _trigger(_raw(item)) for item in self.client.triggers.list_by_factory(self.resource_group, self.factory)
            ]

        return self._call("listing triggers", triggers)

    def delete_trigger(self, name: str) -> None:
        """``DELETE .../triggers/{name}``."""
        self._call(
            f"deleting trigger {name!r}",
            lambda: self.client.triggers.delete(self.resource_group, self.factory, name),
        )


class AzureRunMonitor:
    """Watches many runs with ONE ``queryPipelineRuns`` per poll.

    Each poll asks for the runs of the watched pipelines updated since the previous poll (minus a
    margin), so the answer holds only what changed. A run never seen in any answer (submitted
    before the first window, say) is read once with a GET.
    """

    def __init__(self, service: AzureDataFactoryService, runs: Sequence[WatchedRun]) -> None:
        self._service = service
        self._runs = {run.run_id: run for run in runs}
        self._pending = set(self._runs)
        self._latest: dict[str, dict[str, Any]] = {}
        self._results: dict[str, PollResult] = {}
        self._activities: dict[str, tuple[ActivityRun, ...]] = {}
        submitted = [run.submitted_at for run in runs if run.submitted_at is not None]
        self._since = min(submitted) if len(submitted) == len(runs) and submitted else utcnow() - RETENTION
        self._since -= WATERMARK_MARGIN
        self.requests = 0

    def poll(self) -> Mapping[str, PollResult]:
        """One query for everything still running; returns the latest state of every watched run."""
        if self._pending:
            started = utcnow()
            pipelines = sorted({self._runs[run_id].pipeline for run_id in self._pending if self._runs[run_id].pipeline})
            body: dict[str, Any] = {
                "lastUpdatedAfter": _iso(self._since),
                "lastUpdatedBefore": _iso(started + _FUTURE),
                "filters": [{"operand": "PipelineName", "operator": "In", "values": pipelines}] if pipelines else [],
            }
            for run in self._service._query_runs(body, on_page=self._count):
                run_id = str(run.get("runId"))
                if run_id in self._pending:
                    self._latest[run_id] = run
            for run_id in sorted(self._pending - set(self._latest)):
                self.requests += 1
                self._latest[run_id] = self._service._get_raw_run(run_id)
            self._since = started - WATERMARK_MARGIN
            for run_id in list(self._pending):
                run = self._latest[run_id]
                status = _status(run.get("status"))
                if status.is_terminal:
                    self._pending.discard(run_id)
                    if status is Status.FAILED:
                        self._activities[run_id] = self._service._activity_runs(run)
                    self._results[run_id] = self._service._poll_result(run, self._activities.get(run_id))
                else:
                    self._results[run_id] = PollResult(
                        status=status, native_status=run.get("status"), message=run.get("message") or None
                    )
        return dict(self._results)

    def _count(self) -> None:
        self.requests += 1

    def result(self, run_id: str, *, activities: bool = True) -> RefreshRun:
        """The finished run; its activity runs are read once, and for a succeeded run only if asked."""
        run = self._latest.get(run_id) or self._service._get_raw_run(run_id)
        if run_id not in self._activities:
            if not activities and _status(run.get("status")) is Status.SUCCEEDED:
                return _refresh_run(run, ())
            self._activities[run_id] = self._service._activity_runs(run)
        return self._service._run(run, self._activities[run_id])


# --- JSON -> value types -------------------------------------------------------------------------------


def _pipeline_info(name: str, resource: Mapping[str, Any]) -> PipelineInfo:
    properties = resource.get("properties") or {}
    parameters: dict[str, PipelineParameter] = {}
    for key, spec in (properties.get("parameters") or {}).items():
        kind = str((spec or {}).get("type", "String")).lower()
        if kind not in ("string", "int", "float", "bool", "array", "object", "securestring"):
            kind = "object"
        if "defaultValue" in (spec or {}):
            parameters[key] = PipelineParameter(type=kind, default=spec["defaultValue"])  # type: ignore[arg-type]
        else:
            parameters[key] = PipelineParameter(type=kind)  # type: ignore[arg-type]
    if REQUEST_ID_PARAMETER not in parameters:
        _log.warning(
            "pipeline %r does not declare a String parameter %r; declare it so runs can be found by their "
            "idempotency key",
            name,
            REQUEST_ID_PARAMETER,
        )
    activities = tuple(str(item.get("name")) for item in properties.get("activities") or [])
    return PipelineInfo(
        name=str(resource.get("name") or name),
        parameters=parameters,
        activities=activities,
        description=properties.get("description"),
    )


def _activity(item: Mapping[str, Any]) -> ActivityRun:
    raw_error = item.get("error") or {}
    error = None
    if raw_error.get("message") or raw_error.get("errorCode"):
        error = ActivityError(
            message=str(raw_error.get("message") or ""),
            code=str(raw_error.get("errorCode")) if raw_error.get("errorCode") else None,
            failure_type=str(raw_error.get("failureType")) if raw_error.get("failureType") else None,
        )
    output = item.get("output")
    return ActivityRun(
        name=str(item.get("activityName")),
        type=str(item.get("activityType")),
        status=_status(item.get("status")),
        native_status=item.get("status"),
        started_at=_time(item.get("activityRunStart")),
        ended_at=_time(item.get("activityRunEnd")),
        error=error,
        output=dict(output) if isinstance(output, Mapping) else {},
    )


def _return_values(activity: ActivityRun) -> dict[str, Any]:
    """The pipeline return value an activity reports (Set Variable or Execute Pipeline output)."""
    output = activity.output
    values: Any = None
    if isinstance(output.get("pipelineReturnValue"), Mapping):
        values = output["pipelineReturnValue"]
    elif output.get("name") == "pipelineReturnValue":
        values = output.get("value")
    if isinstance(values, list):
        values = {item.get("key"): item.get("value") for item in values if isinstance(item, Mapping)}
    return dict(values) if isinstance(values, Mapping) else {}


def _output(name: str, value: Any, run_id: str) -> DataOutput | None:
    if isinstance(value, Mapping) and "content" in value and "type" in value:
        value = value["content"]  # {"type": "String", "content": ...} return-value entries
    if isinstance(value, str):
        return DataOutput(name=name, uri=value, version=run_id, run_id=run_id)
    if not isinstance(value, Mapping):
        return None
    uri = value.get("uri") or value.get("path") or value.get("url")
    if not uri:
        return None
    digest = value.get("digest") or value.get("sha256")
    if digest and ":" not in str(digest):
        digest = f"sha256:{digest}"
    version = value.get("version") or (str(digest).split(":", 1)[1][:12] if digest else run_id)
    row_count = value.get("rowCount", value.get("row_count"))
    columns = value.get("columns") or value.get("schema") or []
    return DataOutput(
        name=name,
        uri=str(uri),
        digest=str(digest) if digest else None,
        version=str(version),
        columns=tuple(
            Column(name=str(column.get("name")), type=str(column.get("type")))
            for column in columns
            if isinstance(column, Mapping)
        ),
        row_count=int(row_count) if isinstance(row_count, (int, str)) and str(row_count).isdigit() else None,
        format=value.get("format"),
        run_id=run_id,
    )


def _refresh_run(
    run: Mapping[str, Any], activities: tuple[ActivityRun, ...], secure: frozenset[str] = frozenset()
) -> RefreshRun:
    run_id = str(run.get("runId"))
    outputs: dict[str, DataOutput] = {}
    for activity in activities:
        for name, value in _return_values(activity).items():
            parsed = _output(str(name), value, run_id)
            if parsed is not None:
                outputs[parsed.name] = parsed
    parameters = {name: MASK if name in secure else value for name, value in (run.get("parameters") or {}).items()}
    lineage = Lineage(
        refresh_run_id=run_id,
        data_versions={name: output.version for name, output in outputs.items()},
    )
    return RefreshRun(
        run_id=run_id,
        pipeline=str(run.get("pipelineName")),
        status=_status(run.get("status")),
        native_status=run.get("status"),
        started_at=_time(run.get("runStart")),
        ended_at=_time(run.get("runEnd")),
        parameters=parameters,
        activities=activities,
        outputs=outputs,
        message=run.get("message") or None,
        idempotency_key=parameters.get(REQUEST_ID_PARAMETER),
        reference_run_id=(run.get("runGroupId") if run.get("runGroupId") not in (None, run_id) else None),
        lineage=lineage,
    )


def _recurrence(schedule: Schedule) -> dict[str, Any]:
    recurrence: dict[str, Any] = {
        "frequency": schedule.frequency,
        "interval": schedule.interval,
        "startTime": _iso(schedule.start_time or utcnow()),
        "timeZone": schedule.time_zone,
    }
    if schedule.end_time is not None:
        recurrence["endTime"] = _iso(schedule.end_time)
    details: dict[str, Any] = {}
    if schedule.hours:
        details["hours"] = list(schedule.hours)
    if schedule.minutes:
        details["minutes"] = list(schedule.minutes)
    if schedule.week_days:
        details["weekDays"] = list(schedule.week_days)
    if details:
        recurrence["schedule"] = details
    return recurrence


def _blob_events(event: StorageEvent) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "scope": event.scope,
        "events": [_EVENTS[name] for name in event.events],
        "ignoreEmptyBlobs": event.ignore_empty_blobs,
    }
    if event.blob_path_begins_with:
        properties["blobPathBeginsWith"] = event.blob_path_begins_with
    if event.blob_path_ends_with:
        properties["blobPathEndsWith"] = event.blob_path_ends_with
    return properties


def _trigger(raw: Mapping[str, Any]) -> TriggerInfo:
    properties = raw.get("properties") or {}
    pipelines = properties.get("pipelines") or []
    names = tuple(str((item.get("pipelineReference") or {}).get("referenceName")) for item in pipelines)
    parameters = dict((pipelines[0].get("parameters") or {}) if pipelines else {})
    return TriggerInfo(
        name=str(raw.get("name")),
        type=str(properties.get("type")),
        runtime_state=properties.get("runtimeState"),
        pipelines=names,
        parameters=parameters,
        properties=dict(properties.get("typeProperties") or {}),
    )
