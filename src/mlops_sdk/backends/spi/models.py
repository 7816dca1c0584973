"""Service protocol for the model registry: what the ``models`` module of every backend provides."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Protocol

from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.registry import AliasEvent, ModelVersion
from mlops_sdk.models.training import TrainingRun

__all__ = ["ModelService"]


class ModelService(Protocol):
    """Registers MLflow-format models and manages versions, tags and aliases on one backend."""

    def register(
        self,
        run: TrainingRun,
        *,
        output: str,
        name: str,
        description: str | None,
        tags: Mapping[str, str],
        lineage: Lineage,
        actor: str,
    ) -> ModelVersion:
        """Register the MLflow model in ``run``'s output ``output`` as a new version of ``name``.

        Registering the same run output again returns the version it already produced.
        """
        ...

    def get(self, name: str, version: str) -> ModelVersion:
        """One version; :class:`~mlops_sdk.core.errors.ResourceNotFoundError` if missing."""
        ...

    def list(self, name: str | None) -> builtins.list[ModelVersion]:
        """Every version of ``name`` (newest first), or the latest version of every model."""
        ...

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> ModelVersion:
        """Add or overwrite tags on a version and return it."""
        ...

    def set_alias(self, name: str, alias: str, version: str, *, actor: str) -> ModelVersion:
        """Point ``alias`` at ``version`` (moving it from wherever it was) and record the move."""
        ...

    def remove_alias(self, name: str, alias: str, *, actor: str) -> None:
        """Remove ``alias`` from whichever version holds it, recording the removal."""
        ...

    def get_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at; :class:`~mlops_sdk.core.errors.ResourceNotFoundError` if unset."""
        ...

    def alias_history(self, name: str) -> builtins.list[AliasEvent]:
        """Every recorded alias move of ``name``, oldest first."""
        ...
