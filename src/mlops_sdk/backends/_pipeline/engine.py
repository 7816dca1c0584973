"""The DAG executor of training pipelines, over a backend's training service.

A pipeline run is a record plus one record per step. Nothing runs in the background: every look at
the run (:meth:`PipelineEngine.advance`, called by the operation's ``poll``) reconciles it with its
step runs and moves it on: finished step runs are recorded (outputs copied into the content-addressed
store, the cache entry written), and steps whose upstream steps all succeeded are started, up to
``max_parallel`` at once. Step runs are training runs with their own supervisors, so they keep running
while nobody looks; the next look picks up from the records, in this process or another one.

Each step follows the keyed state machine of docs/flows.md: ``Pending -> Submitting`` is a
compare-and-set (one process wins), the training run is submitted with the idempotency key
``pipeline:<run id>:<step>`` (so a submitter killed between the claim and recording the run id
re-attaches to the same training run instead of starting a second one), then ``Running`` and a
terminal state. A step whose cache key matches a succeeded step's goes straight to ``Succeeded``
with that step's outputs (``cached``); ``resume`` starts a new run that keeps the succeeded steps of
a failed one (``reused``) and runs the rest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlops_sdk.backends._pipeline.digests import cache_key, code_digest, input_digest, store_output
from mlops_sdk.backends.spi.training import TrainingService
from mlops_sdk.core.errors import ConfigurationError, ConflictError, MlopsError, ResourceNotFoundError
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import OperationDriver
from mlops_sdk.core.secrets import is_masked, reveal
from mlops_sdk.core.status import Status
from mlops_sdk.models.training import TrainingInput, TrainingRun
from mlops_sdk.models.training_pipeline import Binding, PipelineRunResult, StepRunResult, TrainingPipeline

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mlops_sdk.backends.spi.training_pipeline import ResumeOptions, SubmitOptions

__all__ = ["CacheEntry", "PipelineEngine", "PipelineRecord", "PipelineStateStore", "StepRecord"]

_log = get_logger(__name__)
TERMINAL = ("Succeeded", "Failed", "Canceled")
IN_FLIGHT = ("Submitting", "Running")


@dataclass(frozen=True)
class StepRecord:
    """The stored state of one step of one pipeline run."""

    step: str
    status: str = "Pending"  # Pending, Submitting, Running, Succeeded, Failed, Canceled, Skipped
    training_run_id: str | None = None
    cache_key: str | None = None
    cached: bool = False
    reused: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    run: str | None = None  # the step's TrainingRun (JSON) as it ended: results never re-read the tracking store


@dataclass(frozen=True)
class PipelineRecord:
    """The stored state of one pipeline run."""

    id: str
    name: str
    spec: str  # TrainingPipeline JSON
    status: str  # Running, Succeeded, Failed, Canceled
    lineage: str
    created_at: str
    idempotency_key: str | None = None
    resumed_from: str | None = None
    max_parallel: int = 4
    cancel_requested: bool = False
    ended_at: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CacheEntry:
    """A succeeded step's result, found again by its cache key."""

    training_run_id: str
    outputs: dict[str, str]
    digests: dict[str, str]
    run: str | None = None


class PipelineStateStore(Protocol):
    """Where a backend keeps pipeline runs (SQLite locally, dictionaries in memory).

    Every update is a compare-and-set on the current status, so concurrent reconcilers never both
    win a transition.
    """

    def create(self, record: PipelineRecord, steps: list[StepRecord]) -> PipelineRecord:
        """Insert the run and its steps; with a key already used, return the existing run instead."""
        ...

    def get(self, run_id: str) -> PipelineRecord | None:
        """The run, or ``None``."""
        ...

    def by_key(self, key: str) -> PipelineRecord | None:
        """The run submitted with ``key``, or ``None``."""
        ...

    def resumed_by(self, run_id: str) -> list[PipelineRecord]:
        """Runs that resumed ``run_id``, newest first."""
        ...

    def list(self, name: str | None, limit: int) -> list[PipelineRecord]:
        """Most recent first."""
        ...

    def steps(self, run_id: str) -> dict[str, StepRecord]:
        """The run's steps by name."""
        ...

    def update_step(self, run_id: str, step: str, expect: tuple[str, ...], **changes: Any) -> bool:
        """Apply ``changes`` if the step's status is one of ``expect``; True if it did."""
        ...

    def update_run(self, run_id: str, expect: tuple[str, ...], **changes: Any) -> bool:
        """Apply ``changes`` if the run's status is one of ``expect``; True if it did."""
        ...

    def cache_get(self, key: str) -> CacheEntry | None:
        """The cached result of a step with this cache key."""
        ...

    def cache_put(self, key: str, entry: CacheEntry) -> None:
        """Record a succeeded step's result under its cache key (the first one stays)."""
        ...


class PipelineEngine:
    """Runs pipeline runs stored in ``store`` with ``training`` (see the module docstring).

    Args:
        store: The backend's pipeline state.
        training: Returns the backend's training service (each step is one training run); called on
            first use, since a backend creates services one at a time.
        outputs_root: Folder of the content-addressed step outputs.
        backend: Backend name for results and errors.
        now: Current time as an ISO string (the backend's clock).
        exclude: Folders never part of a code snapshot (the local store).
    """

    def __init__(
        self,
        store: PipelineStateStore,
        training: Callable[[], TrainingService],
        *,
        outputs_root: Path,
        backend: str,
        now: Callable[[], datetime],
        exclude: tuple[Path, ...] = (),
    ) -> None:
        self._store = store
        self._training_factory = training
        self._training_service: TrainingService | None = None
        self._outputs_root = outputs_root
        self._backend = backend
        self._now = now
        self._exclude = exclude
        self._drivers: dict[str, OperationDriver[TrainingRun]] = {}
        # The submitted specs, with their secret environment values (the stored JSON has them masked).
        self._specs: dict[str, TrainingPipeline] = {}
        # Cache keys of ready steps waiting for a free slot (max_parallel): hashed once, not at every look.
        self._keys: dict[tuple[str, str], str] = {}

    @property
    def _training(self) -> TrainingService:
        if self._training_service is None:
            self._training_service = self._training_factory()
        return self._training_service

    # -- starting ----------------------------------------------------------------------------------

    def submit(self, pipeline: TrainingPipeline, **options: Unpack[SubmitOptions]) -> PipelineRecord:
        """Record a new run (or return the one ``idempotency_key`` made) and start its first steps."""
        idempotency_key, lineage, max_parallel = options["idempotency_key"], options["lineage"], options["max_parallel"]
        check_max_parallel(max_parallel)
        if idempotency_key is not None:
            existing = self._store.by_key(idempotency_key)
            if existing is not None:
                return existing
        steps = [StepRecord(step=name) for name in pipeline.order()]
        return self._create(pipeline, steps, lineage, idempotency_key, max_parallel=max_parallel)

    def _create(
        self,
        spec: TrainingPipeline,
        steps: list[StepRecord],
        lineage: Lineage,
        idempotency_key: str | None,
        *,
        max_parallel: int,
        resumed_from: str | None = None,
    ) -> PipelineRecord:
        """Store a new running run with its steps and remember its spec (with its secret values)."""
        run_id = f"pipe-{uuid.uuid4().hex[:12]}"
        record = PipelineRecord(
            id=run_id,
            name=spec.name,
            spec=spec.model_dump_json(),
            status="Running",
            lineage=lineage.with_inputs(pipeline_run_id=run_id).model_dump_json(),
            created_at=self._now().isoformat(),
            idempotency_key=idempotency_key,
            resumed_from=resumed_from,
            max_parallel=max_parallel,
        )
        created = self._store.create(record, steps)
        self._specs.setdefault(created.id, spec)
        return created

    def resume(self, run_id: str, **options: Unpack[ResumeOptions]) -> PipelineRecord:
        """A new run of a failed or canceled run's pipeline that keeps its succeeded steps.

        Without a key, resuming a run that was already resumed returns that resumption while it is in
        flight or succeeded (a re-run of a crashed script re-attaches), and refuses when it ended
        otherwise (resume the newer run instead).
        """
        pipeline, idempotency_key, lineage = options["pipeline"], options["idempotency_key"], options["lineage"]
        max_parallel = options["max_parallel"]
        if max_parallel is not None:
            check_max_parallel(max_parallel)
        old = self.record(run_id)
        if old.status not in ("Failed", "Canceled"):
            raise ConflictError(
                f"pipeline run {run_id} is {old.status}; only a failed or canceled run can be resumed",
                backend=self._backend,
                operation_id=run_id,
                details={"status": old.status},
            )
        if idempotency_key is None:
            for newer in self._store.resumed_by(run_id):
                if newer.status in ("Running", "Succeeded"):
                    return newer
                raise ConflictError(
                    f"pipeline run {run_id} was already resumed as {newer.id}, which is {newer.status}; "
                    f"resume {newer.id} instead",
                    backend=self._backend,
                    operation_id=run_id,
                    details={"resumed_by": newer.id},
                )
        else:
            existing = self._store.by_key(idempotency_key)
            if existing is not None:
                return existing
        spec = pipeline or self._spec(old)
        old_steps = self._store.steps(run_id)
        steps = []
        for name in spec.order():
            kept = old_steps.get(name)
            if kept is not None and kept.status == "Succeeded":
                steps.append(replace(kept, reused=True))
            else:
                steps.append(StepRecord(step=name))
        return self._create(
            spec, steps, lineage, idempotency_key, max_parallel=max_parallel or old.max_parallel, resumed_from=run_id
        )

    # -- looking at a run --------------------------------------------------------------------------

    def record(self, run_id: str) -> PipelineRecord:
        """The run's record; ``ResourceNotFoundError`` when unknown."""
        record = self._store.get(run_id)
        if record is None:
            recent = [r.id for r in self._store.list(None, 5)]
            raise ResourceNotFoundError(
                f"no pipeline run {run_id!r}; recent runs: {', '.join(recent) or 'none'}",
                backend=self._backend,
                operation_id=run_id,
            )
        return record

    def advance(self, run_id: str) -> PipelineRecord:
        """Reconcile the run with its step runs and start what is ready; returns the record after it."""
        record = self.record(run_id)
        if record.status in TERMINAL:
            return record
        pipeline = self._spec(record)
        changed = True
        while changed:  # cached steps finish at once and make their consumers ready in the same look
            changed = self._reconcile(record, pipeline)
            record = self.record(run_id)
            if record.status in TERMINAL:
                break
            changed = self._start_ready(record, pipeline) or changed
        return self._conclude(self.record(run_id), pipeline)

    def _spec(self, record: PipelineRecord) -> TrainingPipeline:
        spec = self._specs.get(record.id)
        return spec if spec is not None else read_stored(TrainingPipeline, record.spec)

    def _reconcile(self, record: PipelineRecord, pipeline: TrainingPipeline) -> bool:
        changed = False
        for name, step in self._store.steps(record.id).items():
            if step.status == "Submitting" and step.training_run_id is None:
                # The claimer died before recording the run: the key re-attaches to it (or starts it once).
                self._launch(record, pipeline, name, step.cache_key)
                changed = True
                continue
            if step.status not in IN_FLIGHT or step.training_run_id is None:
                continue
            if record.cancel_requested:
                self._cancel_training(step.training_run_id)
            poll = self._driver(step.training_run_id).poll()
            if not poll.status.is_terminal:
                continue
            changed = True
            if poll.status is Status.SUCCEEDED:
                self._finish_succeeded(record, pipeline, name, step)
            else:
                status = "Canceled" if poll.status is Status.CANCELED else "Failed"
                error = None
                if poll.error is not None:
                    error = poll.error.message
                elif status == "Failed":
                    error = f"training run {step.training_run_id} failed ({poll.native_status})"
                run = self._training.get_run(step.training_run_id).model_dump_json()
                self._store.update_step(record.id, name, IN_FLIGHT, status=status, error=error, run=run)
        return changed

    def _finish_succeeded(
        self, record: PipelineRecord, pipeline: TrainingPipeline, name: str, step: StepRecord
    ) -> None:
        run = self._training.get_run(str(step.training_run_id))
        outputs: dict[str, str] = {}
        digests: dict[str, str] = {}
        for output_name in pipeline.step(name).outputs:
            where = run.outputs.get(output_name)
            if where is None or not Path(where).exists():
                outputs[output_name] = where or ""
                continue
            digest, stored = store_output(Path(where), self._outputs_root)
            outputs[output_name], digests[output_name] = str(stored), digest
        snapshot = run.model_copy(update={"outputs": {**run.outputs, **outputs}}).model_dump_json()
        finished = self._store.update_step(
            record.id, name, IN_FLIGHT, status="Succeeded", outputs=outputs, digests=digests, run=snapshot
        )
        if finished and step.cache_key and pipeline.step(name).cache:
            self._store.cache_put(step.cache_key, CacheEntry(str(step.training_run_id), outputs, digests, snapshot))

    def _start_ready(self, record: PipelineRecord, pipeline: TrainingPipeline) -> bool:
        if record.cancel_requested:
            return False
        steps = self._store.steps(record.id)
        if any(step.status in ("Failed", "Canceled") for step in steps.values()):
            return False  # no new step starts once one failed; the running ones finish
        running = sum(step.status in IN_FLIGHT for step in steps.values())
        changed = False
        for name in pipeline.order():
            step = steps[name]
            if step.status != "Pending":
                continue
            spec = pipeline.step(name)
            if any(steps[upstream].status != "Succeeded" for upstream in spec.upstream()):
                continue
            inputs = self._inputs(pipeline, name, steps)
            key = self._keys.get((record.id, name))
            if key is None:
                key = self._keys[(record.id, name)] = cache_key(
                    spec,
                    code=code_digest(pipeline.step_code(spec), exclude=self._exclude),
                    inputs={item: input_digest(value) for item, value in inputs.items()},
                )
            cached = None if (pipeline.force_rerun or not spec.cache) else self._cached(key)
            if cached is not None:
                hit: dict[str, Any] = {
                    "status": "Succeeded",
                    "cached": True,
                    "cache_key": key,
                    "training_run_id": cached.training_run_id,
                    "outputs": cached.outputs,
                    "digests": cached.digests,
                    "run": cached.run,
                }
                if self._store.update_step(record.id, name, ("Pending",), **hit):
                    steps[name] = replace(step, **hit)
                    changed = True
                continue
            if running >= record.max_parallel:
                continue
            if self._store.update_step(record.id, name, ("Pending",), status="Submitting", cache_key=key):
                running += 1
                changed = True
                self._launch(record, pipeline, name, key, inputs)
        return changed

    def _cached(self, key: str) -> CacheEntry | None:
        entry = self._store.cache_get(key)
        if entry is None or not all(Path(path).exists() for path in entry.outputs.values()):
            return None  # outputs deleted since: the step runs again
        return entry

    def _inputs(
        self, pipeline: TrainingPipeline, name: str, steps: Mapping[str, StepRecord]
    ) -> dict[str, TrainingInput]:
        spec = pipeline.step(name)
        resolved: dict[str, TrainingInput] = {}
        for input_name, item in spec.inputs.items():
            if not isinstance(item, Binding):
                resolved[input_name] = item
            elif item.source == "parent_input":
                resolved[input_name] = pipeline.inputs[item.name]
            else:
                upstream = steps[str(item.step)]
                resolved[input_name] = TrainingInput.model_validate(
                    {
                        "uri": upstream.outputs[item.name],
                        "type": item.type if item.type != "literal" else None,
                        "data_version": (upstream.digests.get(item.name) or "").split(":", 1)[-1][:12] or None,
                    }
                )
        return resolved

    def _launch(
        self,
        record: PipelineRecord,
        pipeline: TrainingPipeline,
        name: str,
        key: str | None,
        inputs: dict[str, TrainingInput] | None = None,
    ) -> None:
        spec = pipeline.effective(pipeline.step(name))
        if inputs is None:
            inputs = self._inputs(pipeline, name, self._store.steps(record.id))
        lineage = Lineage.model_validate_json(record.lineage).with_inputs(pipeline_step=name)
        tags = {**pipeline.tags, "mlops.pipeline_run_id": record.id, "mlops.pipeline_step": name}
        hidden = sorted(name for name, value in spec.environment_variables.items() if is_masked(str(reveal(value))))
        try:
            if hidden:
                raise ConfigurationError(
                    f"step {name!r} needs the secret environment variable(s) {hidden}, whose values are never stored "
                    "and are not known to this process; resume the run from a process that builds the pipeline "
                    "with them (begin_resume_pipeline(id, pipeline=...))",
                    details={"step": name, "field": "environment_variables"},
                )
            job = spec.training_job(inputs, experiment=pipeline.experiment, tags=tags)
            job_lineage = lineage.with_inputs(**job.data_lineage())
            driver = self._training.submit(
                job, idempotency_key=f"pipeline:{record.id}:{name}", lineage=job_lineage, on_log=None
            )
        except MlopsError as error:
            self._store.update_step(record.id, name, ("Submitting",), status="Failed", error=error.message)
            return
        self._drivers[driver.id] = driver
        self._store.update_step(record.id, name, ("Submitting",), status="Running", training_run_id=driver.id)

    def _driver(self, training_run_id: str) -> OperationDriver[TrainingRun]:
        driver = self._drivers.get(training_run_id)
        if driver is None:
            driver = self._drivers[training_run_id] = self._training.attach(training_run_id, {}, on_log=None)
        return driver

    def _cancel_training(self, training_run_id: str) -> None:
        try:
            self._training.cancel(training_run_id)
        except MlopsError as error:  # a run that just ended: its poll tells
            _log.info("canceling step run %s: %s", training_run_id, error)

    def _conclude(self, record: PipelineRecord, pipeline: TrainingPipeline) -> PipelineRecord:
        if record.status in TERMINAL:
            return record
        steps = self._store.steps(record.id)
        if any(step.status in IN_FLIGHT for step in steps.values()):
            return record
        statuses = {step.status for step in steps.values()}
        failed = next((name for name in pipeline.order() if steps[name].status == "Failed"), None)
        now = self._now().isoformat()
        if record.cancel_requested or (failed is None and "Canceled" in statuses):
            for name, step in steps.items():
                if step.status == "Pending":
                    self._store.update_step(record.id, name, ("Pending",), status="Canceled")
            self._store.update_run(record.id, ("Running",), status="Canceled", ended_at=now)
        elif failed is not None:
            for name, step in steps.items():
                if step.status == "Pending":
                    self._store.update_step(record.id, name, ("Pending",), status="Skipped")
            message = f"step {failed!r} of pipeline run {record.id} failed: {steps[failed].error or 'no reason given'}"
            self._store.update_run(record.id, ("Running",), status="Failed", ended_at=now, error=message)
        elif statuses == {"Succeeded"}:
            self._store.update_run(record.id, ("Running",), status="Succeeded", ended_at=now)
        return self.record(record.id)

    # -- cancel and results ------------------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        """Record the request and cancel every running step's training run (their process groups stop)."""
        record = self.record(run_id)
        if record.status in TERMINAL:
            return
        self._store.update_run(run_id, ("Running",), cancel_requested=True)
        for step in self._store.steps(run_id).values():
            if step.status in IN_FLIGHT and step.training_run_id:
                self._cancel_training(step.training_run_id)

    def result(self, run_id: str) -> PipelineRunResult:
        """The run with each step's training run, metrics, outputs and cached/reused flags."""
        record = self.record(run_id)
        pipeline = read_stored(TrainingPipeline, record.spec)
        steps = self._store.steps(run_id)
        results: dict[str, StepRunResult] = {}
        for name in pipeline.order():
            step = steps[name]
            run = None
            if step.run is not None:
                run = TrainingRun.model_validate_json(step.run)
            elif step.training_run_id and step.status != "Submitting":
                try:
                    run = self._training.get_run(step.training_run_id)
                except ResourceNotFoundError:
                    run = None
            results[name] = StepRunResult(
                name=name,
                status=_STEP_STATUS[step.status],
                run=run,
                cached=step.cached,
                reused=step.reused,
                cache_key=step.cache_key,
                outputs=dict(step.outputs),
                output_digests=dict(step.digests),
                metrics=dict(run.metrics) if run is not None else {},
                error=step.error,
            )
        outputs = {
            name: steps[output.step].outputs.get(output.output, "")
            for name, output in pipeline.outputs.items()
            if steps[output.step].status == "Succeeded"
        }
        return PipelineRunResult(
            id=record.id,
            backend=self._backend,
            name=record.name,
            status=Status(record.status) if record.status in TERMINAL else Status.RUNNING,
            native_status=record.status,
            steps=results,
            outputs=outputs,
            idempotency_key=record.idempotency_key,
            resumed_from=record.resumed_from,
            lineage=Lineage.model_validate_json(record.lineage),
            created_at=datetime.fromisoformat(record.created_at),
            ended_at=datetime.fromisoformat(record.ended_at) if record.ended_at else None,
            error=record.error,
        )

    def list(self, name: str | None, limit: int) -> list[PipelineRunResult]:
        """Most recent runs first."""
        return [self.result(record.id) for record in self._store.list(name, limit)]

    def running_step(self, run_id: str) -> str | None:
        """A short line naming the steps in flight (for progress displays)."""
        names = [name for name, step in self._store.steps(run_id).items() if step.status in IN_FLIGHT]
        return f"running {', '.join(names)}" if names else None


_STEP_STATUS = {
    "Pending": Status.NOT_STARTED,
    "Skipped": Status.NOT_STARTED,
    "Submitting": Status.RUNNING,
    "Running": Status.RUNNING,
    "Succeeded": Status.SUCCEEDED,
    "Failed": Status.FAILED,
    "Canceled": Status.CANCELED,
}


def dumps(value: Mapping[str, str]) -> str:
    """Compact JSON of a string mapping (stored outputs and digests)."""
    return json.dumps(dict(value), sort_keys=True)


def check_max_parallel(value: int) -> int:
    """``max_parallel`` must be at least 1."""
    if value < 1:
        raise ConfigurationError("max_parallel must be at least 1", details={"field": "max_parallel"})
    return value
