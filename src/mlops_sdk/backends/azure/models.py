"""Azure ML model registry through ``MLClient.models`` (azure-ai-ml imported lazily).

**Registration** creates an ``mlflow_model`` version straight from the job output
(``azureml://jobs/<job>/outputs/<output>``): nothing is uploaded, and Azure ML can deploy the version
without a scoring script. The version's tags carry lineage (``mlops.*``), the output name and who
registered it; registering the same job output again returns the existing version.

**Aliases**: Azure ML model versions have no aliases (labels are limited to the service-managed
``latest``), so an alias lives in the tags of the version it points at, through public API only:

* ``mlops.alias.<alias>`` = UTC ISO time it was assigned; present exactly on the version(s) holding it.
  Moving an alias writes the new holder first, then removes the tag from the previous one; should a
  crash leave two holders, the most recent assignment wins (and the next ``set_alias`` repairs it).
* ``mlops.alias_history`` = a JSON list of the alias events that happened to this version
  (``{"alias", "action": "set"|"removed", "at", "by", "previous"}``); ``alias_history(name)`` merges the
  lists of all versions, oldest first.

Both tag families are hidden from :attr:`ModelVersion.tags` (they surface as ``aliases`` and
:meth:`alias_history`).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.azure._mlclient import create_ml_client
from mlops_sdk.backends.azure.errors import missing_target
from mlops_sdk.backends.azure.training import aml_errors
from mlops_sdk.core.errors import ConfigurationError, MlopsError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.registry import AliasEvent, ModelVersion
from mlops_sdk.models.training import TrainingRun

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["ALIAS_HISTORY_TAG", "ALIAS_TAG_PREFIX", "AzureModelService", "create_service"]

ALIAS_TAG_PREFIX = "mlops.alias."
ALIAS_HISTORY_TAG = "mlops.alias_history"


def create_service(backend: AzureBackend) -> AzureModelService:
    """Entry point used by ``Backend.service("models", ...)``."""
    return AzureModelService(backend)


class AzureModelService:
    """The workspace model registry (see the module docstring)."""

    def __init__(self, backend: AzureBackend) -> None:
        self._backend = backend
        self._ml: Any = None

    @property
    def ml(self) -> Any:
        """The ``MLClient`` (shared with the training service when it exists)."""
        if self._ml is None:
            training = self._backend._services.get("training")
            self._ml = training.ml if training is not None else create_ml_client(self._backend)
        return self._ml

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
        """Create an ``mlflow_model`` version from the job output (idempotent per job output)."""
        if run.backend != "azure":
            raise ConfigurationError(
                f"training run {run.id} was not made on Azure ML; register it with a client for its target",
                details={"field": "run"},
            )
        existing = self._existing(name, run.id, output)
        if existing is not None:
            return existing
        from azure.ai.ml.entities import Model

        entity = Model(
            name=name,
            path=f"azureml://jobs/{run.id}/outputs/{output}",
            type="mlflow_model",
            description=description,
            tags={**dict(tags), **lineage.to_tags(), "mlops.output": output, "mlops.created_by": actor},
        )
        first = True

        def create() -> Any:
            nonlocal first
            if not first:
                found = self._existing(name, run.id, output)
                if found is not None:
                    return found
            first = False
            with aml_errors(f"registering model {name!r} from Azure ML job {run.id}", operation_id=run.id):
                return self._to_version(self.ml.models.create_or_update(entity))

        result: ModelVersion = self._backend.retry_policy.call(create)
        return result

    def get(self, name: str, version: str) -> ModelVersion:
        """``GET {ws}/models/{name}/versions/{version}``."""
        return self._to_version(self._get_entity(name, version))

    def list(self, name: str | None) -> builtins.list[ModelVersion]:
        """All versions of ``name`` newest first, or the latest version of every model."""
        if name is not None:
            return [self._to_version(item) for item in self._entities(name)]
        with aml_errors("listing models"):
            containers = builtins.list(self.ml.models.list())
        latest = []
        for container in containers:
            versions = self._entities(container.name)
            if versions:
                latest.append(self._to_version(versions[0]))
        return sorted(latest, key=lambda item: item.name)

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> ModelVersion:
        """Read the version, merge the tags, write it back (same path, so the service accepts it)."""
        entity = self._get_entity(name, version)
        entity.tags = {**(entity.tags or {}), **dict(tags)}
        return self._to_version(self._put(entity))

    def set_alias(self, name: str, alias: str, version: str, *, actor: str) -> ModelVersion:
        """Tag the new holder first, then untag the previous one(s); record the event on the new holder."""
        versions = self._entities(name)
        target = next((item for item in versions if str(item.version) == str(version)), None)
        if target is None:
            raise self._not_found(name, f"version {version}", versions)
        holders = _holders(versions, alias)
        if [str(item.version) for item in holders] == [str(version)]:
            return self._to_version(target)
        previous = next((str(item.version) for item in holders if str(item.version) != str(version)), None)
        now = self._backend.clock.now().isoformat()
        tags = dict(target.tags or {})
        tags[ALIAS_TAG_PREFIX + alias] = now
        tags[ALIAS_HISTORY_TAG] = _append_event(
            tags, {"alias": alias, "action": "set", "at": now, "by": actor, "previous": previous}
        )
        target.tags = tags
        updated = self._put(target)
        for holder in holders:
            if str(holder.version) != str(version):
                holder.tags = {k: v for k, v in (holder.tags or {}).items() if k != ALIAS_TAG_PREFIX + alias}
                self._put(holder)
        return self._to_version(updated, aliases=_aliases_of(updated))

    def remove_alias(self, name: str, alias: str, *, actor: str) -> None:
        """Untag every holder, recording a ``removed`` event on the current one."""
        holders = _holders(self._entities(name), alias)
        now = self._backend.clock.now().isoformat()
        for index, holder in enumerate(holders):
            tags = {k: v for k, v in (holder.tags or {}).items() if k != ALIAS_TAG_PREFIX + alias}
            if index == 0:
                tags[ALIAS_HISTORY_TAG] = _append_event(
                    holder.tags or {}, {"alias": alias, "action": "removed", "at": now, "by": actor, "previous": None}
                )
            holder.tags = tags
            self._put(holder)

    def get_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version holding ``alias`` (the most recently assigned, should there be two)."""
        versions = self._entities(name)
        holders = _holders(versions, alias)
        if not holders:
            raise self._not_found(name, f"alias {alias!r}", versions)
        return self._to_version(holders[0])

    def alias_history(self, name: str) -> builtins.list[AliasEvent]:
        """Events of every version, oldest first."""
        events = []
        for entity in reversed(self._entities(name)):  # oldest version first: a stable order for equal times
            for event in _events(entity.tags or {}):
                removed = event.get("action") == "removed"
                events.append(
                    AliasEvent(
                        name=name,
                        alias=str(event["alias"]),
                        version=None if removed else str(entity.version),
                        previous_version=str(entity.version) if removed else event.get("previous"),
                        action="removed" if removed else "set",
                        actor=event.get("by"),
                        at=datetime.fromisoformat(str(event["at"])),
                    )
                )
        return sorted(events, key=lambda item: item.at)

    # -- internals ---------------------------------------------------------------------------------

    def _get_entity(self, name: str, version: str) -> Any:
        def get() -> Any:
            with aml_errors(f"reading model {name}@{version}"):
                return self.ml.models.get(name, version=str(version))

        try:
            return self._backend.retry_policy.call(get)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            raise self._not_found(name, f"version {version}", None) from None

    def _entities(self, name: str) -> builtins.list[Any]:
        def fetch() -> builtins.list[Any]:
            with aml_errors(f"listing versions of model {name!r}"):
                return builtins.list(self.ml.models.list(name=name))

        try:
            entities: builtins.list[Any] = self._backend.retry_policy.call(fetch)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            return []
        return sorted(entities, key=lambda item: _version_number(item.version), reverse=True)

    def _put(self, entity: Any) -> Any:
        """PUT an existing version again (tags): the same body twice is one change, so transient errors are retried."""

        def put() -> Any:
            with aml_errors(f"updating model {entity.name}@{entity.version}"):
                return self.ml.models.create_or_update(entity)

        return self._backend.retry_policy.call(put)

    def _existing(self, name: str, job: str, output: str) -> ModelVersion | None:
        for entity in self._entities(name):
            tags = entity.tags or {}
            if tags.get("mlops.training_run_id") == job and tags.get("mlops.output") == output:
                return self._to_version(entity)
        return None

    def _not_found(self, name: str, what: str, versions: builtins.list[Any] | None) -> MlopsError:
        if versions is None:
            versions = self._entities(name)
        if not versions:
            return ResourceNotFoundError(
                f"no registered model {name!r} in workspace {self._backend.workspace.workspace}",
                backend="azure",
                details={"name": name},
            )
        aliases = sorted({alias for item in versions for alias in _aliases_of(item)})
        return ResourceNotFoundError(
            f"model {name!r} has no {what}; versions: {', '.join(_ascending(str(v.version) for v in versions))}; "
            f"aliases: {', '.join(aliases) or 'none'}",
            backend="azure",
            details={"name": name},
        )

    def _to_version(self, entity: Any, *, aliases: builtins.list[str] | None = None) -> ModelVersion:
        tags = {str(k): str(v) for k, v in (entity.tags or {}).items()}
        visible = {k: v for k, v in tags.items() if not k.startswith(ALIAS_TAG_PREFIX) and k != ALIAS_HISTORY_TAG}
        context = getattr(entity, "creation_context", None)
        return ModelVersion(
            name=entity.name,
            version=str(entity.version),
            uri=f"azureml:{entity.name}:{entity.version}",
            aliases=tuple(sorted(aliases if aliases is not None else _aliases_of(entity))),
            tags=visible,
            description=entity.description or None,
            created_at=getattr(context, "created_at", None),
            created_by=tags.get("mlops.created_by") or getattr(context, "created_by", None),
            run_id=tags.get("mlops.training_run_id"),
            lineage=Lineage.from_tags(tags),
            source=str(entity.path) if entity.path else None,
            output=tags.get("mlops.output"),
        )


def _aliases_of(entity: Any) -> builtins.list[str]:
    return [key[len(ALIAS_TAG_PREFIX) :] for key in (entity.tags or {}) if key.startswith(ALIAS_TAG_PREFIX)]


def _holders(entities: builtins.list[Any], alias: str) -> builtins.list[Any]:
    key = ALIAS_TAG_PREFIX + alias
    found = [item for item in entities if key in (item.tags or {})]
    return sorted(found, key=lambda item: str(item.tags[key]), reverse=True)


def _events(tags: Mapping[str, str]) -> builtins.list[dict[str, Any]]:
    try:
        events = json.loads(tags.get(ALIAS_HISTORY_TAG) or "[]")
    except json.JSONDecodeError:
        return []
    return [event for event in events if isinstance(event, dict) and "alias" in event and "at" in event]


def _append_event(tags: Mapping[str, str], event: dict[str, Any]) -> str:
    return json.dumps([*_events(tags), event], separators=(",", ":"))


def _version_number(version: Any) -> int:
    text = str(version)
    return int(text) if text.isdigit() else -1


def _ascending(versions: Iterable[str]) -> builtins.list[str]:
    """Versions oldest first, numerically where they are numbers (the order local:// names them in)."""
    return sorted(versions, key=lambda item: (not item.isdigit(), int(item) if item.isdigit() else 0, item))
