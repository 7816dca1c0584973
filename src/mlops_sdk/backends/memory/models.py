"""The ``models`` capability of the memory backend: versions, tags and aliases in dictionaries."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.registry import AliasEvent, ModelRef, ModelVersion
from mlops_sdk.models.training import TrainingRun

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryModelService", "create_service"]


@dataclass
class _Registry:
    versions: dict[str, list[ModelVersion]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    history: dict[str, list[AliasEvent]] = field(default_factory=dict)


def create_service(backend: MemoryBackend) -> MemoryModelService:
    """The backend's model registry."""
    return MemoryModelService(backend)


class MemoryModelService:
    """Implements :class:`~mlops_sdk.backends.spi.models.ModelService` in memory (same rules as local)."""

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._faults = backend.faults
        with self._store.lock:
            registry = self._store.state.setdefault("models", _Registry())
        self._registry: _Registry = registry

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
        """Register the MLflow model in the run's output folder (idempotent per run and output)."""
        self._faults.before("models.register")
        if run.backend != "memory":
            raise ConfigurationError(
                f"training run {run.id} was not made by the memory backend; register it with a client for its target",
                details={"field": "run"},
            )
        folder = Path(run.outputs[output])
        if not (folder / "MLmodel").is_file():
            raise ConfigurationError(
                f"output {output!r} of training run {run.id} ({folder}) holds no MLflow model (no MLmodel file); "
                f"save one there, e.g. mlflow.sklearn.save_model(model, path=<the ${{{{outputs.{output}}}}} argument>)",
                details={"field": "output", "value": output},
            )
        with self._store.lock:
            existing = [
                item
                for item in self._registry.versions.get(name, [])
                if item.run_id == run.id and item.output == output
            ]
            if existing:
                result = self._with_aliases(existing[0])
            else:
                versions = self._registry.versions.setdefault(name, [])
                all_tags = {**dict(tags), **lineage.to_tags(), "mlops.output": output, "mlops.created_by": actor}
                version = ModelVersion(
                    name=name,
                    version=str(len(versions) + 1),
                    uri=ModelRef(name=name, version=str(len(versions) + 1)).mlflow_uri,
                    tags=all_tags,
                    description=description,
                    created_at=self._backend.clock.now(),
                    created_by=actor,
                    run_id=run.id,
                    lineage=Lineage.from_tags(all_tags),
                    source=str(folder),
                    output=output,
                )
                versions.append(version)
                result = version
        self._faults.after("models.register")
        return result

    def get(self, name: str, version: str) -> ModelVersion:
        """One version."""
        self._faults.before("models.get")
        with self._store.lock:
            return self._with_aliases(self._find(name, version))

    def list(self, name: str | None) -> builtins.list[ModelVersion]:
        """All versions of ``name`` (newest first), or the latest version of every model."""
        self._faults.before("models.list")
        with self._store.lock:
            if name is not None:
                return [self._with_aliases(item) for item in reversed(self._registry.versions.get(name, []))]
            return [
                self._with_aliases(versions[-1]) for _, versions in sorted(self._registry.versions.items()) if versions
            ]

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> ModelVersion:
        """Add or overwrite tags."""
        self._faults.before("models.set_tags")
        with self._store.lock:
            item = self._find(name, version)
            merged = {**item.tags, **{key: str(value) for key, value in tags.items()}}
            # Lineage is read from the tags (as on local://), so a validation digest tag shows in it.
            updated = item.model_copy(update={"tags": merged, "lineage": Lineage.from_tags(merged)})
            versions = self._registry.versions[name]
            versions[versions.index(item)] = updated
            result = self._with_aliases(updated)
        self._faults.after("models.set_tags")
        return result

    def set_alias(self, name: str, alias: str, version: str, *, actor: str) -> ModelVersion:
        """Point ``alias`` at ``version`` and record the move (not recorded when nothing moves)."""
        self._faults.before("models.set_alias")
        with self._store.lock:
            item = self._find(name, version)
            aliases = self._registry.aliases.setdefault(name, {})
            previous = aliases.get(alias)
            if previous != item.version:
                aliases[alias] = item.version
                self._record(name, alias, item.version, previous, "set", actor)
            result = self._with_aliases(item)
        self._faults.after("models.set_alias")
        return result

    def remove_alias(self, name: str, alias: str, *, actor: str) -> None:
        """Remove ``alias`` (a no-op when it is not set)."""
        self._faults.before("models.remove_alias")
        with self._store.lock:
            previous = self._registry.aliases.get(name, {}).pop(alias, None)
            if previous is not None:
                self._record(name, alias, None, previous, "removed", actor)
        self._faults.after("models.remove_alias")

    def get_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at."""
        self._faults.before("models.get_by_alias")
        with self._store.lock:
            version = self._registry.aliases.get(name, {}).get(alias)
            if version is None:
                raise self._not_found(name, f"alias {alias!r}")
            return self._with_aliases(self._find(name, version))

    def alias_history(self, name: str) -> builtins.list[AliasEvent]:
        """Oldest first."""
        self._faults.before("models.alias_history")
        with self._store.lock:
            return list(self._registry.history.get(name, []))

    # -- internals ---------------------------------------------------------------------------------

    def _find(self, name: str, version: str) -> ModelVersion:
        for item in self._registry.versions.get(name, []):
            if item.version == str(version):
                return item
        raise self._not_found(name, f"version {version}")

    def _with_aliases(self, item: ModelVersion) -> ModelVersion:
        held = sorted(
            alias for alias, version in self._registry.aliases.get(item.name, {}).items() if version == item.version
        )
        return item.model_copy(update={"aliases": tuple(held)})

    def _record(
        self, name: str, alias: str, version: str | None, previous: str | None, action: str, actor: str
    ) -> None:
        event = AliasEvent.model_validate(
            {
                "name": name,
                "alias": alias,
                "version": version,
                "previous_version": previous,
                "action": action,
                "actor": actor,
                "at": self._backend.clock.now(),
            }
        )
        self._registry.history.setdefault(name, []).append(event)

    def _not_found(self, name: str, what: str) -> ResourceNotFoundError:
        versions = self._registry.versions.get(name)
        if not versions:
            names = sorted(key for key, items in self._registry.versions.items() if items)
            return ResourceNotFoundError(
                f"no registered model {name!r} in {self._backend.target}; models: {', '.join(names) or 'none'}",
                backend="memory",
                details={"name": name},
            )
        aliases = sorted(self._registry.aliases.get(name, {}))
        return ResourceNotFoundError(
            f"model {name!r} has no {what}; versions: {', '.join(item.version for item in versions)}; "
            f"aliases: {', '.join(aliases) or 'none'}",
            backend="memory",
            details={"name": name},
        )
