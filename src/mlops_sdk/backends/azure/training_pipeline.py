"""Azure ML pipeline jobs: a :class:`TrainingPipeline` becomes one pipeline job of command components.

* **Build**: each step is an azure-ai-ml ``command()`` node (its own code snapshot with the shared
  rules, environment, compute, ``display_name`` = the step name, tag ``mlops.pipeline_step``) whose
  inputs are the same ``${{parent.inputs.X}}`` / ``${{parent.jobs.S.outputs.Y}}`` bindings and whose
  outputs bound to pipeline outputs are ``${{parent.outputs.Z}}``; azure-ai-ml registers the anonymous
  components and uploads the code, then PUTs the job (``jobType: Pipeline``).
* **Caching**: Azure ML reuses a step's earlier result when the step is ``is_deterministic`` and its
  component (command, code, environment) and inputs are unchanged; ``Step.cache`` maps to
  ``is_deterministic`` and ``TrainingPipeline.force_rerun`` to ``settings.force_rerun``. Azure ML has no
  per-input exclusion: ``cache_ignore`` is not sent (every input counts there).
* **Idempotency**: as for training jobs, the job name derives from the idempotency key and is
  looked up before the create (and before every retry of it).
* **Status**: one operation on the pipeline job; each step's state comes from the job's child runs
  (run history ``runs/{name}/children``), matched by the step tag, else the display name. A failed
  run's error names the first failed step and carries its run-history error (the service puts the tail
  of the user log there).
* **Resume**: neither the REST API (2025-12-01) nor azure-ai-ml has a rerun-from-failed operation, so
  ``resume`` is refused with that reason; submitting the same pipeline again reuses the outputs of its
  deterministic steps that succeeded, which is Azure ML's nearest equivalent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends._snapshot import copy_snapshot
from mlops_sdk.backends.azure._aml_shim import run_children
from mlops_sdk.backends.azure._jobs import (
    AmlJobs,
    aml_errors,
    created_at,
    guess_type,
    job_input,
    job_tags,
    string_tags,
)
from mlops_sdk.backends.spi.training_pipeline import TrainingPipelineDriver
from mlops_sdk.core.errors import ConfigurationError, MlopsError, OperationFailedError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.secrets import reveal
from mlops_sdk.core.status import Status, status_from_aml
from mlops_sdk.models.training import TrainingInput
from mlops_sdk.models.training_pipeline import (
    Binding,
    PipelineRunResult,
    StepRunResult,
    TrainingPipeline,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mlops_sdk.backends.azure import AzureBackend
    from mlops_sdk.backends.spi.training_pipeline import ResumeOptions, SubmitOptions

__all__ = ["AzureTrainingPipelineService", "create_service"]

_log = get_logger(__name__)
STEP_TAG = "mlops.pipeline_step"
ORDER_TAG = "mlops.pipeline_steps"


def create_service(backend: AzureBackend) -> AzureTrainingPipelineService:
    """Entry point used by ``Backend.service("training_pipeline", ...)``."""
    return AzureTrainingPipelineService(backend)


class AzureTrainingPipelineService:
    """Training pipelines as Azure ML pipeline jobs (see the module docstring)."""

    def __init__(self, backend: AzureBackend) -> None:
        self._backend = backend
        self.jobs = AmlJobs(backend, lambda: self.ml, noun="pipeline job")

    @property
    def ml(self) -> Any:
        """The MLClient shared with the training service."""
        from mlops_sdk.backends.azure.training import AzureTrainingService
        from mlops_sdk.backends.spi.keys import TRAINING

        training = self._backend.service(TRAINING)
        assert isinstance(training, AzureTrainingService)
        return training.ml

    # -- SPI ---------------------------------------------------------------------------------------

    def submit(self, pipeline: TrainingPipeline, **options: Unpack[SubmitOptions]) -> AzurePipelineDriver:
        """Create the pipeline job, or re-attach to the job the key names."""
        idempotency_key, lineage = options["idempotency_key"], options["lineage"]
        missing = [step.name for step in pipeline.steps if not (step.environment or pipeline.environment)]
        if missing:
            raise ConfigurationError(
                f"Azure ML steps need an environment; step(s) {missing} have none: set Step.environment or "
                "TrainingPipeline.environment (e.g. 'azureml:sklearn-env:1')",
                details={"step": missing[0], "field": "environment"},
            )
        name = self.jobs.create(
            idempotency_key,
            lambda name, staging: self._pipeline_job(pipeline, name, lineage, idempotency_key, staging),
            prefix="mlops-pipe",
            guard=_validation_errors,
        )
        return AzurePipelineDriver(self, name)

    def resume(self, run_id: str, **options: Unpack[ResumeOptions]) -> AzurePipelineDriver:
        """Refused: Azure ML has no rerun-from-failed operation (see the module docstring)."""
        raise ConfigurationError(
            f"resuming pipeline run {run_id} is not supported on Azure ML: its REST API and azure-ai-ml have no "
            "rerun-from-failed operation. Submit the pipeline again: Azure ML reuses the outputs of every "
            "deterministic step (Step.cache=True) whose code, environment and inputs did not change",
            backend="azure",
            operation_id=run_id,
            details={"field": "run_id", "unsupported": "resume"},
        )

    def attach(self, run_id: str, state: dict[str, Any]) -> AzurePipelineDriver:
        """Driver of an existing pipeline job."""
        return AzurePipelineDriver(self, run_id)

    def get_run(self, run_id: str) -> PipelineRunResult:
        """The pipeline job with one entry per step (from its child runs)."""
        job = self.jobs.get(run_id)
        return self._to_result(job, self._children(run_id))

    def list_runs(self, *, name: str | None = None, limit: int = 50) -> list[PipelineRunResult]:
        """Most recent pipeline jobs first (steps not read: one call per job; use ``get_run``)."""
        jobs = self.jobs.list(
            lambda job: getattr(job, "type", None) == "pipeline" and (name is None or job.display_name == name), limit
        )
        return [self._to_result(job, None) for job in jobs]

    def cancel(self, run_id: str) -> None:
        """``POST {ws}/jobs/{name}/cancel``: Azure ML cancels the running child jobs."""
        self.jobs.cancel(run_id)

    # -- internals ---------------------------------------------------------------------------------

    def _children(self, name: str) -> dict[str, Any]:
        """The pipeline job's child runs by step name (``GET /history/.../runs/{name}/children``)."""

        def read() -> list[Any]:
            with aml_errors(f"reading the steps of Azure ML pipeline job {name}", operation_id=name):
                return run_children(self.ml, name)

        children: dict[str, Any] = {}
        for child in self._backend.retry_policy.call(read):
            tags = getattr(child, "tags", None) or {}
            step = tags.get(STEP_TAG) or getattr(child, "display_name", None)
            if step:
                children[str(step)] = child
        return children

    def _pipeline_job(
        self, pipeline: TrainingPipeline, name: str, lineage: Lineage, key: str | None, staging: Path
    ) -> Any:
        from azure.ai.ml import Output, command
        from azure.ai.ml.entities import PipelineJob
        from azure.ai.ml.entities._job.pipeline.pipeline_job_settings import PipelineJobSettings

        snapshots: dict[Path, Path] = {}
        bound_outputs = {(o.step, o.output): out for out, o in pipeline.outputs.items()}
        nodes: dict[str, Any] = {}
        with aml_errors("building the Azure ML pipeline job"):
            for position, step in enumerate(pipeline.steps):
                spec = pipeline.effective(step)
                code = Path(spec.code or Path.cwd()).resolve()
                if code not in snapshots:
                    snapshots[code] = staging / f"code-{len(snapshots)}"
                    copy_snapshot(code, snapshots[code])
                inputs: dict[str, Any] = {}
                for input_name, item in step.inputs.items():
                    inputs[input_name] = _declared_input(item, pipeline)
                node = command(
                    name=step.name,
                    display_name=step.name,
                    code=str(snapshots[code]),
                    command=step.command,
                    inputs=inputs,
                    outputs={
                        out: Output(**{k: v for k, v in {"type": o.type, "mode": o.mode}.items() if v})
                        for out, o in step.outputs.items()
                    },
                    environment=spec.environment,
                    compute=spec.compute,
                    environment_variables={k: reveal(v) for k, v in step.environment_variables.items()} or None,
                    is_deterministic=step.cache,
                    tags={STEP_TAG: step.name},
                )
                for input_name, item in step.inputs.items():
                    if isinstance(item, Binding):
                        setattr(node.inputs, input_name, item.expression)
                    elif not item.is_literal and item.uri:
                        setattr(node.inputs, input_name, job_input(item))
                for out in step.outputs:
                    parent = bound_outputs.get((step.name, out))
                    if parent is not None:
                        setattr(node.outputs, out, f"${{{{parent.outputs.{parent}}}}}")
                if step.timeout:
                    node.set_limits(timeout=int(step.timeout))
                nodes[step.name] = node
                _log.debug("pipeline %s step %d: %s", name, position, step.name)
            order = {ORDER_TAG: ",".join(pipeline.order())}
            tags = job_tags({**pipeline.tags, **order}, lineage, key, pipeline_run_id=name)
            return PipelineJob(
                name=name,
                display_name=pipeline.name,
                description=pipeline.description,
                experiment_name=pipeline.experiment,
                jobs=nodes,
                inputs={input_name: _pipeline_input(item) for input_name, item in pipeline.inputs.items()},
                outputs={
                    out: Output(type=pipeline.step(o.step).outputs[o.output].type)
                    for out, o in pipeline.outputs.items()
                },
                settings=PipelineJobSettings(
                    default_compute=pipeline.compute, force_rerun=pipeline.force_rerun or None
                ),
                tags=tags,
            )

    def failure(self, name: str) -> str:
        """The run-history error of a failed run (code and message, which holds the user log's tail)."""
        text, unread = self.jobs.run_error(name, noun="run")
        if unread is not None:
            return f"its error details could not be read: {unread.message}"
        return text or "no error details"

    def _to_result(self, job: Any, children: dict[str, Any] | None) -> PipelineRunResult:
        tags = string_tags(job)
        order = [s for s in tags.get(ORDER_TAG, "").split(",") if s] or list(getattr(job, "jobs", None) or {})
        status = status_from_aml(job.status or "Unknown")
        steps: dict[str, StepRunResult] = {}
        failed: str | None = None
        nodes: dict[str, Any] = getattr(job, "jobs", None) or {}
        for step in order:
            child = (children or {}).get(step)
            error = None
            outputs: dict[str, str] = {}
            child_status = Status.NOT_STARTED
            if child is not None:
                child_status = status_from_aml(child.status or "Unknown")
                if child_status is Status.FAILED:
                    error = self.failure(child.name)
                    failed = failed or step
                node = nodes.get(step)
                declared = (getattr(node, "outputs", None) or {}) if node is not None else {}
                outputs = {out: f"azureml://jobs/{child.name}/outputs/{out}" for out in declared}
            steps[step] = StepRunResult(name=step, status=child_status, outputs=outputs, error=error)
        error_text = None
        if status is Status.FAILED:
            error_text = (
                f"step {failed!r} of Azure ML pipeline job {job.name} failed: {steps[failed].error}"
                if failed
                else f"Azure ML pipeline job {job.name} failed ({self.failure(job.name)})"
            )
        return PipelineRunResult(
            id=job.name,
            backend="azure",
            name=job.display_name or job.name,
            status=status,
            native_status=job.status,
            steps=steps,
            outputs={out: f"azureml://jobs/{job.name}/outputs/{out}" for out in (job.outputs or {})},
            idempotency_key=tags.get("mlops.idempotency_key"),
            lineage=Lineage.from_tags(tags),
            created_at=created_at(job),
            error=error_text,
            log_location=job.studio_url,
        )


@contextlib.contextmanager
def _validation_errors(name: str) -> Iterator[None]:
    """azure-ai-ml's validation of a pipeline job (an unknown compute, say) as a :class:`ConfigurationError`.

    The SDK re-raises its ``ValidationException`` as a bare ``MlException`` whose message lists each
    failing field (``jobs.<step>.compute``), so the cause chain is searched for it.
    """
    try:
        yield
    except ConfigurationError:
        raise
    except MlopsError as error:
        from azure.ai.ml.exceptions import UserErrorException, ValidationException

        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, (ValidationException, UserErrorException)) or "validation failed" in str(cause):
                raise ConfigurationError(
                    f"Azure ML refused pipeline job {name}: {error.message}", backend="azure", operation_id=name
                ) from error
            cause = cause.__cause__ or cause.__context__
        raise


def _pipeline_input(item: TrainingInput) -> Any:
    """A pipeline-level input: the literal value, or an azure-ai-ml ``Input``."""
    return item.value if item.is_literal else job_input(item)


def _declared_input(item: TrainingInput | Binding, pipeline: TrainingPipeline) -> Any:
    """The component's declaration of an input (its type), from the value or the binding's source."""
    from azure.ai.ml import Input

    if isinstance(item, TrainingInput):
        if item.is_literal:
            return item.value
        return Input(type=item.type or guess_type(str(item.uri)))
    if item.source == "parent_input":
        source = pipeline.inputs[item.name]
        if source.is_literal:
            return source.value
        return Input(type=item.type or source.type or guess_type(str(source.uri)))
    produced = pipeline.step(str(item.step)).outputs[item.name].type
    return Input(type=item.type or ("uri_file" if produced == "uri_file" else "uri_folder"))


class AzurePipelineDriver(TrainingPipelineDriver):
    """Operation driver of one Azure ML pipeline job."""

    _service: AzureTrainingPipelineService

    def poll(self) -> PollResult:
        """``GET {ws}/jobs/{name}``; while running, the running steps; on failure, the failed step's error."""
        job, native, status = self._service.jobs.status(self._run_id)
        message = None
        error = None
        if status is Status.RUNNING:
            with contextlib.suppress(MlopsError):
                running = [
                    step
                    for step, child in self._service._children(self._run_id).items()
                    if status_from_aml(child.status or "Unknown") is Status.RUNNING
                ]
                message = f"running {', '.join(running)}" if running else None
        if status is Status.FAILED:
            result = self._service._to_result(job, self._service._children(self._run_id))
            failed = result.failed_step
            error = OperationFailedError(
                result.error or f"Azure ML pipeline job {self._run_id} failed",
                backend="azure",
                operation_id=self._run_id,
                details={"step": failed, "native_status": native, "studio_url": job.studio_url},
            )
        return PollResult(status=status, native_status=native, message=message, error=error)
