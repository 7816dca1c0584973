"""``TrainingClient``: run the data scientist's own training code locally or as an Azure ML job."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from mlops_sdk.backends.spi.keys import TRAINING, TRAINING_PIPELINE
from mlops_sdk.backends.spi.training import TRAIN_KIND, LogCallback, TrainingService
from mlops_sdk.backends.spi.training_pipeline import PIPELINE_KIND, TrainingPipelineService
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.clients._ids import resolve_prefix
from mlops_sdk.core.context import ambient_idempotency_key
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.lineage import Lineage, collect_lineage
from mlops_sdk.core.names import check_idempotency_key
from mlops_sdk.core.operation import Operation, ProgressEvent
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.core.tracing import annotate
from mlops_sdk.models.training import TrainingJob, TrainingRun
from mlops_sdk.models.training_pipeline import PipelineRunResult, TrainingPipeline

__all__ = ["TrainingClient"]

T = TypeVar("T")


class TrainingClient(BaseClient):
    """Submit, watch, list and cancel training runs.

    ``TrainingClient("local://.mlops")`` runs jobs as local subprocesses with the embedded MLflow
    store; on an ``azureml://`` target they are Azure ML command jobs. Also available as
    ``MLOpsClient(...).training``.
    """

    _capability = "training"

    def _svc(self) -> TrainingService:
        return self._service(TRAINING)

    def begin_train(
        self,
        job: TrainingJob | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        on_log: LogCallback | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
        cancel_on_interrupt: bool | None = None,
    ) -> Operation[TrainingRun]:
        """Start a training run and return its operation.

        Args:
            job: The job spec (a :class:`TrainingJob` or a plain dict of its fields).
            idempotency_key: Makes the submission safe to repeat: a run already started with this key
                (by this process, a crashed one, or another machine sharing the target) is
                re-attached to instead of started again. On Azure the job name derives from it.
            on_log: Called with every new line the script prints (local runs).
            progress: Called after every poll with a :class:`ProgressEvent`.
            show_progress: Force the progress display on/off (default: terminals and notebooks).
            cancel_on_interrupt: On Ctrl-C while waiting: True cancels the run, False leaves it running,
                ``None`` asks in a terminal and leaves it running otherwise (printing a resume command).

        Raises:
            ConfigurationError: invalid spec (unknown placeholder, missing code folder or input, ...).
        """
        spec = TrainingJob.build(job)
        if not spec.code.is_dir():
            raise ConfigurationError(
                f"code folder {spec.code} does not exist; set 'code' to the folder holding your training script",
                details={"field": "code", "value": str(spec.code)},
            )
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        lineage = _lineage(spec)
        annotate({"experiment": spec.experiment, "backend": self.backend_name})
        key = idempotency_key or ambient_idempotency_key()
        driver = self._svc().submit(spec, idempotency_key=key, lineage=lineage, on_log=on_log)
        return self._operation(
            driver,
            description="training run",
            progress=progress,
            show_progress=show_progress,
            cancel_on_interrupt=cancel_on_interrupt,
        )

    def get_run(self, run_id: str) -> TrainingRun:
        """Return a run with its status, metrics, params and outputs.

        ``run_id`` may be a unique prefix of a recent run's id.

        Raises:
            ResourceNotFoundError: no such run.
            ConfigurationError: a prefix matching several runs.
        """
        return self._by_id(run_id, self._svc().get_run)

    def _by_id(self, run_id: str, call: Callable[[str], T]) -> T:
        """``call(id)``; when the id is not found, ``call`` on the one recent run id it is a unique prefix of."""
        return resolve_prefix(
            _require_id(run_id),
            get=call,
            candidates=lambda: [run.id for run in self._svc().list_runs(experiment=None, limit=500)],
            what="training run",
        )

    def list_runs(self, *, experiment: str | None = None, limit: int = 50) -> ItemPaged[TrainingRun]:
        """The most recent runs first (optionally of one experiment)."""
        if limit < 1:
            raise ConfigurationError("limit must be at least 1", details={"field": "limit"})
        return ItemPaged.of(self._svc().list_runs(experiment=experiment, limit=limit))

    def cancel(self, run_id: str) -> None:
        """Ask the run to stop and return at once; the run then ends as CANCELED."""
        self._by_id(run_id, self._svc().cancel)

    def resume_operation(self, token: str, *, on_log: LogCallback | None = None) -> Operation[Any]:
        """Rebuild a training (or training pipeline) operation from its continuation token (in any process)."""

        def attach(run_id: str, state: dict[str, Any]) -> Operation[Any]:
            return self._operation(self._svc().attach(run_id, state, on_log=on_log), description="training run")

        def attach_pipeline(run_id: str, state: dict[str, Any]) -> Operation[Any]:
            return self._operation(self._pipelines().attach(run_id, state), description="pipeline run")

        return self._resume(token, {TRAIN_KIND: attach, PIPELINE_KIND: attach_pipeline})

    # -- pipelines ---------------------------------------------------------------------------------

    def _pipelines(self) -> TrainingPipelineService:
        return self._service(TRAINING_PIPELINE)

    def begin_pipeline(
        self,
        pipeline: TrainingPipeline | Mapping[str, Any] | str | Path,
        *,
        idempotency_key: str | None = None,
        max_parallel: int = 4,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
        cancel_on_interrupt: bool | None = None,
    ) -> Operation[PipelineRunResult]:
        """Run a training pipeline and return its operation.

        Locally the steps run as training runs (independent ones in parallel, up to ``max_parallel``);
        a step whose cache key matches an earlier successful step's is not run again (its outputs are
        reused, ``StepRunResult.cached``). On Azure ML it is one pipeline job.

        Args:
            pipeline: A :class:`TrainingPipeline`, a dict of its fields, or the path of a pipeline YAML.
            idempotency_key: A run already started with this key is re-attached to instead of started again.
            max_parallel: How many steps run at once (local backends).
            progress: Called after every poll with a :class:`ProgressEvent`.
            show_progress: Force the progress display on/off.
            cancel_on_interrupt: On Ctrl-C while waiting (see :meth:`begin_train`).

        Raises:
            PipelineSpecError: a cycle, a dangling binding or a type mismatch (named), before anything runs.
            ConfigurationError: another invalid argument.
        """
        spec = _pipeline(pipeline)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        annotate({"pipeline": spec.name, "backend": self.backend_name})
        driver = self._pipelines().submit(
            spec,
            idempotency_key=idempotency_key or ambient_idempotency_key(),
            lineage=_pipeline_lineage(spec),
            max_parallel=max_parallel,
        )
        return self._operation(
            driver,
            description="pipeline run",
            progress=progress,
            show_progress=show_progress,
            cancel_on_interrupt=cancel_on_interrupt,
        )

    def begin_resume_pipeline(
        self,
        run_id: str,
        *,
        pipeline: TrainingPipeline | Mapping[str, Any] | str | Path | None = None,
        idempotency_key: str | None = None,
        max_parallel: int | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
    ) -> Operation[PipelineRunResult]:
        """Run a failed or canceled pipeline run again from its failed step, keeping its succeeded steps.

        The new run (``resumed_from`` = ``run_id``) reuses every step that succeeded (``reused``) and runs
        the others with the code as it is now. Pass ``pipeline`` to resume with a changed spec.

        Raises:
            ConflictError: the run is still running or succeeded, or was already resumed by a run that
                ended (resume that one).
            ResourceNotFoundError: no such run.
        """
        spec = _pipeline(pipeline) if pipeline is not None else None
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        driver = self._pipelines().resume(
            _require_id(run_id),
            pipeline=spec,
            idempotency_key=idempotency_key,
            lineage=_pipeline_lineage(spec) if spec is not None else collect_lineage(),
            max_parallel=max_parallel,
        )
        return self._operation(driver, description="pipeline run", progress=progress, show_progress=show_progress)

    def get_pipeline_run(self, run_id: str) -> PipelineRunResult:
        """The pipeline run with its steps (each with its training run, metrics, outputs and cached flag)."""
        return self._pipelines().get_run(_require_id(run_id))

    def list_pipeline_runs(self, *, name: str | None = None, limit: int = 50) -> list[PipelineRunResult]:
        """The most recent pipeline runs first (optionally of one pipeline)."""
        if limit < 1:
            raise ConfigurationError("limit must be at least 1", details={"field": "limit"})
        return self._pipelines().list_runs(name=name, limit=limit)

    def cancel_pipeline(self, run_id: str) -> None:
        """Ask every running step of the pipeline run to stop; the run then ends CANCELED."""
        self._pipelines().cancel(_require_id(run_id))


def _require_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not run_id.strip():
        raise ConfigurationError("run_id must be a non-empty string", details={"field": "run_id"})
    return run_id.strip()


def _lineage(spec: TrainingJob) -> Lineage:
    return collect_lineage(cwd=spec.code).with_inputs(**spec.data_lineage())


def _pipeline(pipeline: TrainingPipeline | Mapping[str, Any] | str | Path) -> TrainingPipeline:
    if isinstance(pipeline, str | Path):
        return TrainingPipeline.from_yaml(pipeline)
    return TrainingPipeline.build(pipeline)


def _pipeline_lineage(spec: TrainingPipeline) -> Lineage:
    versions = {name: item.data_version for name, item in spec.inputs.items() if item.data_version}
    refresh = next((item.refresh_run_id for item in spec.inputs.values() if item.refresh_run_id), None)
    cwd = spec.code or next((step.code for step in spec.steps if step.code), None)
    return collect_lineage(cwd=cwd).with_inputs(data_versions=versions or None, refresh_run_id=refresh)
