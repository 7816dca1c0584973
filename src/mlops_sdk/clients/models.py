"""``ModelClient``: the model registry (MLflow format) with versions, tags, aliases and their history."""

from __future__ import annotations

import builtins
from collections.abc import Mapping

from mlops_sdk.backends.spi.keys import MODELS, TRAINING
from mlops_sdk.backends.spi.models import ModelService
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.clients._ids import resolve_prefix
from mlops_sdk.core.deprecation import deprecated
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.lineage import current_identity
from mlops_sdk.core.names import check_alias, check_model_name, check_model_version, check_tags
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.status import Status
from mlops_sdk.core.tracing import annotate
from mlops_sdk.models.registry import AliasEvent, ModelRef, ModelVersion
from mlops_sdk.models.training import TrainingRun
from mlops_sdk.models.training_pipeline import PipelineRunResult

__all__ = ["ModelClient"]


class ModelClient(BaseClient):
    """Register models from training runs; read versions; move aliases such as ``champion``.

    Locally this is MLflow's registry on the store's SQLite database; on Azure ML the workspace's
    model registry (aliases are kept in tags, see the docs). Also ``MLOpsClient(...).models``.
    """

    _capability = "models"

    def _svc(self) -> ModelService:
        return self._service(MODELS)

    def register(
        self,
        run: TrainingRun | PipelineRunResult | str,
        *,
        name: str,
        output: str = "model",
        step: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Register the MLflow model a training run wrote to its output ``output``.

        The new version carries lineage tags (git commit, CI build, input data versions, training
        run id) and who registered it. Registering the same run output again returns the version
        it produced the first time instead of a new one.

        Args:
            run: The finished :class:`TrainingRun` or its id (a unique prefix of a recent run's id will do),
                or a finished :class:`PipelineRunResult` with ``step`` naming the step whose output to register.
            name: Registered model name.
            output: Name of the job output holding the MLflow model.
            description: Description of the version.
            tags: Extra tags.
            step: With a pipeline run: the step that produced the model (its lineage records the
                pipeline run and the step). A cached step registers the run that produced its outputs.

        Raises:
            ConfigurationError: the run did not succeed, has no such output, or it holds no MLflow model.
            ResourceNotFoundError: no training run with this id (or unique id prefix).
        """
        check_model_name(name)
        pipeline_lineage: dict[str, str] = {}
        if isinstance(run, PipelineRunResult):
            pipeline_lineage = {"pipeline_run_id": run.id}
            run = _pipeline_step_run(run, step)
            pipeline_lineage["pipeline_step"] = str(step)
        elif step is not None:
            raise ConfigurationError(
                "step= only applies when registering from a pipeline run", details={"field": "step"}
            )
        if isinstance(run, str):
            training = self._service(TRAINING)
            run = resolve_prefix(
                run,
                get=training.get_run,
                candidates=lambda: [item.id for item in training.list_runs(experiment=None, limit=500)],
                what="training run",
            )
        _check_registrable(run, output)
        clean_tags = check_tags(tags or {})
        annotate({"model": name})
        return self._svc().register(
            run,
            output=output,
            name=name,
            description=redact(description) if description else description,
            tags=clean_tags,
            lineage=run.lineage.with_inputs(training_run_id=run.id, **pipeline_lineage),
            actor=current_identity(),
        )

    def get(self, name: str, version: str | int) -> ModelVersion:
        """One version. Raises ``ResourceNotFoundError`` (listing what exists) when missing."""
        check_model_name(name)
        annotate({"model": name})
        return self._svc().get(name, check_model_version(version))

    def list_versions(self, name: str) -> ItemPaged[ModelVersion]:
        """Every version of model ``name``, newest first."""
        check_model_name(name)
        return ItemPaged.of(self._svc().list(name))

    def list_models(self) -> ItemPaged[ModelVersion]:
        """The latest version of every registered model."""
        return ItemPaged.of(self._svc().list(None))

    def list(self, name: str | None = None) -> ItemPaged[ModelVersion]:
        """Deprecated: use :meth:`list_versions` (with a name) or :meth:`list_models` (without)."""
        if name is None:
            deprecated("ModelClient.list()", "ModelClient.list_models()")
            return self.list_models()
        deprecated("ModelClient.list(name)", "ModelClient.list_versions(name)")
        return self.list_versions(name)

    def set_tags(self, name: str, version: str | int, tags: Mapping[str, str]) -> ModelVersion:
        """Add or overwrite tags on a version (validation and approval digests are written this way)."""
        check_model_name(name)
        clean = check_tags(tags)
        if not clean:
            raise ConfigurationError("tags must not be empty", details={"field": "tags"})
        annotate({"model": name})
        return self._svc().set_tags(name, check_model_version(version), clean)

    def set_alias(self, name: str, alias: str, version: str | int) -> ModelVersion:
        """Point ``alias`` (e.g. ``champion``) at ``version``, moving it from the version that had it.

        The move is recorded with who made it and when (see :meth:`alias_history`).
        """
        check_model_name(name)
        check_alias(alias)
        annotate({"model": name, "alias": alias})
        return self._svc().set_alias(name, alias, check_model_version(version), actor=current_identity())

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from the model (recorded in the history); a no-op when it is not set."""
        check_model_name(name)
        check_alias(alias)
        annotate({"model": name, "alias": alias})
        self._svc().remove_alias(name, alias, actor=current_identity())

    def get_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at. Raises ``ResourceNotFoundError`` when it is not set."""
        check_model_name(name)
        check_alias(alias)
        annotate({"model": name, "alias": alias})
        return self._svc().get_by_alias(name, alias)

    def alias_history(self, name: str) -> builtins.list[AliasEvent]:
        """Who moved which alias of ``name`` to which version, and when (oldest first)."""
        check_model_name(name)
        annotate({"model": name})
        return self._svc().alias_history(name)

    def resolve(self, ref: str | ModelVersion) -> ModelVersion:
        """Resolve ``name@version`` (e.g. ``diabetes@3``) or ``name:alias`` (e.g. ``diabetes:champion``)."""
        if isinstance(ref, ModelVersion):
            return ref
        parsed = ModelRef.parse(ref, field="ref")
        if parsed.version is not None:
            return self.get(parsed.name, parsed.version)
        return self.get_by_alias(parsed.name, parsed.alias or "")


def _pipeline_step_run(run: PipelineRunResult, step: str | None) -> TrainingRun:
    """The training run behind a pipeline step (outputs where the pipeline keeps them)."""
    if step is None:
        raise ConfigurationError(
            f"registering from pipeline run {run.id} needs step= (one of: {', '.join(run.steps)})",
            details={"field": "step"},
        )
    found = run.step(step)
    if found.run is None or found.status is not Status.SUCCEEDED:
        raise ConfigurationError(
            f"step {step!r} of pipeline run {run.id} is {found.status.value}; only a succeeded step can be registered",
            details={"field": "step", "status": found.status.value},
        )
    return found.run


def _check_registrable(run: TrainingRun, output: str) -> None:
    """Only a succeeded run's existing output can become a model version (same rule on every backend)."""
    if run.status is not Status.SUCCEEDED:
        raise ConfigurationError(
            f"training run {run.id} is {run.status.value}; only a succeeded (completed) run can be registered",
            details={"field": "run", "status": run.status.value},
        )
    if output not in run.outputs:
        raise ConfigurationError(
            f"training run {run.id} has no output {output!r}; its outputs: {', '.join(sorted(run.outputs)) or 'none'}",
            details={"field": "output", "value": output},
        )
