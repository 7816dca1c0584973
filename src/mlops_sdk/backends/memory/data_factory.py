"""The ``data_factory`` capability of the memory backend: refreshes run in process at submission.

Activities execute with the local engine's own functions (DuckDB in memory for Copy and Sql, the
user's function for Python) and snapshots are content-addressed Parquet files in the backend's
scratch folder. A refresh runs synchronously inside ``begin_refresh``, so there is never a running
refresh to cancel; rerun-from-failure and triggers are not implemented here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlops_sdk.backends.spi.data_factory import TriggersUnsupported, WatchedRun, refresh_failure
from mlops_sdk.core.errors import ConfigurationError, ConflictError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.models.data_factory import (
    REQUEST_ID_PARAMETER,
    ActivityError,
    ActivityRun,
    Column,
    CopyActivity,
    DataOutput,
    PipelineInfo,
    RefreshPipeline,
    RefreshRun,
    SqlActivity,
)

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryDataFactoryService", "create_service"]

_NOT_HERE = (
    "{what} is not implemented on the memory backend (refreshes run synchronously in process); "
    "use local:// or Azure Data Factory"
)


@dataclass
class _Factory:
    pipelines: dict[str, RefreshPipeline] = field(default_factory=dict)
    runs: dict[str, RefreshRun] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def create_service(backend: MemoryBackend) -> MemoryDataFactoryService:
    """The backend's data factory service."""
    return MemoryDataFactoryService(backend)


class MemoryDataFactoryService(TriggersUnsupported):
    """Implements :class:`~mlops_sdk.backends.spi.data_factory.DataFactoryService` in process."""

    triggers_refusal: ClassVar[str] = _NOT_HERE.format(what="triggers")
    backend_label: ClassVar[str] = "memory"

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._faults = backend.faults
        with self._store.lock:
            factory = self._store.state.setdefault("data_factory", _Factory())
        self._factory: _Factory = factory

    # -- pipelines ---------------------------------------------------------------------------------------

    def _pipeline(self, name: str) -> RefreshPipeline:
        with self._store.lock:
            pipeline = self._factory.pipelines.get(name)
            known = sorted(self._factory.pipelines)
        if pipeline is None:
            raise ResourceNotFoundError(
                f"refresh pipeline {name!r} does not exist on the memory backend; known pipelines: "
                f"{', '.join(known) or 'none'}. Define it with client.data_factory.define(...)",
                backend="memory",
                status_code=404,
                details={"pipeline": name, "known": known},
            )
        return pipeline

    @staticmethod
    def _info(pipeline: RefreshPipeline) -> PipelineInfo:
        return PipelineInfo(
            name=pipeline.name,
            parameters=dict(pipeline.parameters),
            activities=tuple(activity.name for activity in pipeline.activities),
            description=pipeline.description,
        )

    def describe_pipeline(self, name: str) -> PipelineInfo:
        """The pipeline's declaration summary."""
        self._faults.before("data_factory.describe_pipeline")
        return self._info(self._pipeline(name))

    def list_pipelines(self) -> list[PipelineInfo]:
        """Every defined pipeline, by name."""
        self._faults.before("data_factory.list_pipelines")
        with self._store.lock:
            return [self._info(pipeline) for _, pipeline in sorted(self._factory.pipelines.items())]

    def define_pipeline(self, pipeline: RefreshPipeline) -> PipelineInfo:
        """Keep (or replace) a declaration."""
        self._faults.before("data_factory.define_pipeline")
        with self._store.lock:
            self._factory.pipelines[pipeline.name] = pipeline
        return self._info(pipeline)

    # -- runs --------------------------------------------------------------------------------------------

    def start_refresh(
        self,
        pipeline: str,
        parameters: Mapping[str, Any],
        *,
        idempotency_key: str,
        lineage: Lineage,
        fresh_key: bool = False,
    ) -> str:
        """Run the pipeline now (or return the run already made with ``idempotency_key``)."""
        self._faults.before("data_factory.start_refresh")
        spec = self._pipeline(pipeline)
        with self._store.lock:
            existing = self._factory.keys.get(idempotency_key)
            if existing is not None:
                if self._factory.runs[existing].pipeline != pipeline:
                    raise ConflictError(
                        f"idempotency key {idempotency_key!r} was already used for a run of pipeline "
                        f"{self._factory.runs[existing].pipeline!r} ({existing}); use another key for {pipeline!r}",
                        backend="memory",
                        operation_id=existing,
                    )
                return existing
            run_id = f"memory-refresh-{next(self._factory.counter)}"
            defaults = {name: item.default for name, item in spec.parameters.items() if not item.required}
            values = {**defaults, **parameters, REQUEST_ID_PARAMETER: idempotency_key}
            self._factory.keys[idempotency_key] = run_id
            self._factory.runs[run_id] = RefreshRun(
                run_id=run_id,
                pipeline=pipeline,
                status=Status.RUNNING,
                native_status="InProgress",
                started_at=self._backend.clock.now(),
                parameters=values,
                idempotency_key=idempotency_key,
                lineage=lineage.with_inputs(refresh_run_id=run_id),
            )
        self._execute(run_id, spec, values)
        self._faults.after("data_factory.start_refresh")
        return run_id

    def _execute(self, run_id: str, spec: RefreshPipeline, parameters: dict[str, Any]) -> None:
        import duckdb
        import pyarrow.parquet as pq

        from mlops_sdk.backends.local.data_factory import worker
        from mlops_sdk.backends.local.data_factory.snapshots import write_snapshot

        datasets = self._store.scratch / "datasets"
        base = Path(self._backend.config.base_dir)
        connection = duckdb.connect(":memory:")
        activities: list[ActivityRun] = []
        outputs: dict[str, DataOutput] = {}
        tables: dict[str, Any] = {}
        status, message = Status.SUCCEEDED, None
        try:
            for activity in spec.activities:
                started = self._backend.clock.now()
                try:
                    if isinstance(activity, CopyActivity):
                        table = worker._copy(activity, connection, parameters, base)
                    elif isinstance(activity, SqlActivity):
                        table = worker._sql(activity, connection, parameters)
                    else:
                        table = worker._python(activity, tables, parameters)
                except Exception as error:
                    code = error.code if isinstance(error, worker.ActivityFailedError) else type(error).__name__
                    text = str(error) or type(error).__name__
                    activities.append(
                        ActivityRun(
                            name=activity.name,
                            type=activity.type.capitalize(),
                            status=Status.FAILED,
                            native_status="Failed",
                            started_at=started,
                            ended_at=self._backend.clock.now(),
                            error=ActivityError(message=text, code=code, failure_type="UserError"),
                        )
                    )
                    status, message = Status.FAILED, f"Operation on target {activity.name} failed: {text}"
                    break
                output: dict[str, Any] = {}
                if table is not None:
                    snapshot = write_snapshot(table, datasets, self._store.scratch / "tmp")
                    tables[activity.name] = pq.ParquetFile(snapshot.path).read()
                    connection.register(activity.name, tables[activity.name])
                    outputs[activity.name] = DataOutput(
                        name=activity.name,
                        uri=str(snapshot.path),
                        digest=snapshot.digest,
                        version=snapshot.version,
                        columns=tuple(Column(**column) for column in snapshot.columns),
                        row_count=snapshot.row_count,
                        format="parquet",
                        run_id=run_id,
                    )
                    output = {"digest": snapshot.digest, "uri": str(snapshot.path), "rowCount": snapshot.row_count}
                activities.append(
                    ActivityRun(
                        name=activity.name,
                        type=activity.type.capitalize(),
                        status=Status.SUCCEEDED,
                        native_status="Succeeded",
                        started_at=started,
                        ended_at=self._backend.clock.now(),
                        output=output,
                    )
                )
        finally:
            connection.close()
        with self._store.lock:
            run = self._factory.runs[run_id]
            lineage = run.lineage
            if status is Status.SUCCEEDED and outputs:
                versions = {**lineage.data_versions, **{name: out.version for name, out in outputs.items()}}
                lineage = lineage.with_inputs(data_versions=versions)
            self._factory.runs[run_id] = run.model_copy(
                update={
                    "status": status,
                    "native_status": "Succeeded" if status is Status.SUCCEEDED else "Failed",
                    "ended_at": self._backend.clock.now(),
                    "activities": tuple(activities),
                    "outputs": outputs if status is Status.SUCCEEDED else {},
                    "message": message,
                    "lineage": lineage,
                }
            )

    def start_rerun(self, run_id: str, *, from_failure: bool, start_activity: str | None) -> tuple[str, str]:
        """Not implemented here."""
        raise ConfigurationError(_NOT_HERE.format(what="rerun"), backend="memory")

    def _run(self, run_id: str) -> RefreshRun:
        with self._store.lock:
            run = self._factory.runs.get(run_id)
        if run is None:
            raise ResourceNotFoundError(
                f"no refresh run {run_id!r} in {self._backend.target}",
                backend="memory",
                status_code=404,
                operation_id=run_id,
            )
        return run

    def poll_run(self, run_id: str) -> PollResult:
        """The run's state; a failed run's error names the failed activity."""
        self._faults.before("data_factory.poll_run")
        run = self._run(run_id)
        error = None
        if run.status is Status.FAILED:
            error = refresh_failure(
                run_id=run_id, pipeline=run.pipeline, activities=run.activities, message=run.message, backend="memory"
            )
        return PollResult(status=run.status, native_status=run.native_status, message=run.message, error=error)

    def get_run(self, run_id: str) -> RefreshRun:
        """The run with its activities and outputs."""
        self._faults.before("data_factory.get_run")
        return self._run(run_id)

    def list_runs(self, *, pipeline: str | None, status: Status | None, since: datetime | None) -> list[RefreshRun]:
        """Runs, newest first (without activities, like the other backends)."""
        self._faults.before("data_factory.list_runs")
        with self._store.lock:
            runs = list(reversed(self._factory.runs.values()))
        return [
            run.model_copy(update={"activities": (), "outputs": {}})
            for run in runs
            if (pipeline is None or run.pipeline == pipeline)
            and (status is None or run.status is status)
            and (since is None or (run.started_at is not None and run.started_at >= since))
        ]

    def cancel(self, run_id: str, *, recursive: bool) -> None:
        """Runs finish inside ``start_refresh``: there is nothing left to cancel (unknown ids raise)."""
        self._faults.before("data_factory.cancel")
        self._run(run_id)

    def monitor(self, runs: Sequence[WatchedRun]) -> _Monitor:
        """A monitor over finished-at-submission runs."""
        return _Monitor(self, [run.run_id for run in runs])


class _Monitor:
    """Watches memory runs (each poll reads them all)."""

    def __init__(self, service: MemoryDataFactoryService, run_ids: list[str]) -> None:
        self._service = service
        self._run_ids = list(dict.fromkeys(run_ids))
        self.requests = 0

    def poll(self) -> Mapping[str, PollResult]:
        """The state of every watched run."""
        self.requests += 1
        return {run_id: self._service.poll_run(run_id) for run_id in self._run_ids}

    def result(self, run_id: str, *, activities: bool = True) -> RefreshRun:
        """The run with activities and outputs."""
        return self._service.get_run(run_id)
