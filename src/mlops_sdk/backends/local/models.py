"""Local model registry: MLflow's registry on the store's SQLite database, plus an alias audit trail.

Registration copies the MLflow model a run wrote to its output folder into the run's MLflow
artifacts (``<store>/artifacts/<experiment>/<mlflow run>/artifacts/<output>``) and creates a model
version from there, tagged with lineage (``mlops.*``). Aliases are MLflow's own; every move is also
recorded (who, when, from which version) in ``mlops.db`` table ``model_alias_events``, because
MLflow keeps no alias history.
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.backends.local._mlflow import MlflowStore, mlflow_errors, mlflow_store
from mlops_sdk.backends.local.store import Migration
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.files import file_lock
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.registry import AliasEvent, ModelRef, ModelVersion
from mlops_sdk.models.training import TrainingRun

__all__ = ["LocalModelService", "create_service"]

MIGRATIONS = [
    Migration(
        1,
        "model alias events",
        """
        CREATE TABLE model_alias_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version TEXT,
            previous_version TEXT,
            action TEXT NOT NULL,
            actor TEXT,
            at TEXT NOT NULL
        );
        CREATE INDEX model_alias_events_name ON model_alias_events (name, seq);
        """,
    )
]


def create_service(backend: LocalBackend) -> LocalModelService:
    """Entry point used by ``Backend.service("models", ...)``."""
    return LocalModelService(backend)


class LocalModelService:
    """The model registry of the local backend (see the module docstring)."""

    def __init__(self, backend: LocalBackend) -> None:
        backend.require_extra("the local model registry", ("mlflow",))
        self._backend = backend
        self._store = backend.store
        self._store.ensure_schema("models", MIGRATIONS)
        self._mlflow: MlflowStore = mlflow_store(backend.folder)

    @property
    def _client(self) -> Any:
        return self._mlflow.client

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
        if run.backend != "local" or not run.mlflow_run_id:
            raise ConfigurationError(
                f"training run {run.id} was not made by the local backend; register it with a client for its target",
                details={"field": "run"},
            )
        folder = Path(run.outputs[output])
        if not (folder / "MLmodel").is_file():
            raise ConfigurationError(
                f"output {output!r} of training run {run.id} ({folder}) holds no MLflow model (no MLmodel file); "
                f"save one there, e.g. mlflow.sklearn.save_model(model, path=<the ${{{{outputs.{output}}}}} argument>)",
                details={"field": "output", "value": output},
            )
        mlflow_run_id = run.mlflow_run_id
        # one registration of a model at a time, across processes: the lookup and the creation are one
        # step, so two processes registering the same run output at once make one version, not two
        with file_lock(self._backend.folder / "locks" / f"model-{_lock_name(name)}.lock"):
            existing = self._existing(name, mlflow_run_id, output)
            if existing is not None:
                return existing
            client = self._client
            all_tags = {
                **dict(tags),
                **lineage.to_tags(),
                "mlops.output": output,
                "mlops.created_by": actor,
            }
            with mlflow_errors(f"registering model {name!r} from training run {run.id}", operation_id=run.id):
                try:
                    client.create_registered_model(name)
                except Exception as error:
                    if getattr(error, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                        raise
                client.log_artifacts(mlflow_run_id, str(folder), artifact_path=output)
                artifact_uri = client.get_run(mlflow_run_id).info.artifact_uri
                version = client.create_model_version(
                    name,
                    f"{artifact_uri.rstrip('/')}/{output}",
                    run_id=mlflow_run_id,
                    tags=all_tags,
                    description=description,
                )
        return self._to_version(version)

    def get(self, name: str, version: str) -> ModelVersion:
        """One version (MLflow numbers versions: any other version string names none)."""
        if not str(version).isdigit() or int(version) > 2**63 - 1:  # beyond SQLite's integers: names none
            raise self._not_found(name, f"version {version}")
        try:
            with mlflow_errors(f"reading model {name}@{version}"):
                return self._to_version(self._client.get_model_version(name, str(version)))
        except ResourceNotFoundError as error:
            raise self._not_found(name, f"version {version}") from error

    def list(self, name: str | None) -> builtins.list[ModelVersion]:
        """All versions of ``name`` (newest first), or the latest version of every model."""
        client = self._client
        if name is not None:
            with mlflow_errors(f"listing versions of model {name!r}"):
                found = client.search_model_versions(f"name = '{_quote(name)}'")
                # search_model_versions leaves aliases empty (only get_model_version fills them):
                # take them from the registered model so list and show agree.
                aliases = dict(getattr(client.get_registered_model(name), "aliases", None) or {}) if found else {}
            by_version: dict[str, list[str]] = {}
            for alias, version in aliases.items():
                by_version.setdefault(str(version), []).append(alias)
            listed = [
                self._to_version(item).model_copy(
                    update={"aliases": tuple(sorted(by_version.get(str(item.version), ())))}
                )
                for item in found
            ]
            return sorted(listed, key=_version_key, reverse=True)
        with mlflow_errors("listing models"):
            models = client.search_registered_models()
        latest = []
        for model in models:
            versions = self.list(model.name)
            if versions:
                latest.append(versions[0])
        return sorted(latest, key=lambda item: item.name)

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> ModelVersion:
        """Add or overwrite tags."""
        self.get(name, version)
        with mlflow_errors(f"tagging model {name}@{version}"):
            for key, value in tags.items():
                self._client.set_model_version_tag(name, str(version), key, str(value))
        return self.get(name, version)

    def set_alias(self, name: str, alias: str, version: str, *, actor: str) -> ModelVersion:
        """Point ``alias`` at ``version`` and record the move."""
        self.get(name, version)
        with self._alias_move() as connection:
            previous = self._alias_target(name, alias)
            if previous != str(version):
                with mlflow_errors(f"setting alias {alias!r} of model {name!r}"):
                    self._client.set_registered_model_alias(name, alias, str(version))
                self._record(connection, name, alias, str(version), previous, "set", actor)
        return self.get(name, version)

    def remove_alias(self, name: str, alias: str, *, actor: str) -> None:
        """Remove ``alias`` (a no-op when it is not set)."""
        with self._alias_move() as connection:
            previous = self._alias_target(name, alias)
            if previous is None:
                return
            with mlflow_errors(f"removing alias {alias!r} of model {name!r}"):
                self._client.delete_registered_model_alias(name, alias)
            self._record(connection, name, alias, None, previous, "removed", actor)

    def get_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at."""
        try:
            with mlflow_errors(f"reading alias {alias!r} of model {name!r}"):
                return self._to_version(self._client.get_model_version_by_alias(name, alias))
        except ResourceNotFoundError as error:
            raise self._not_found(name, f"alias {alias!r}") from error

    def alias_history(self, name: str) -> builtins.list[AliasEvent]:
        """Oldest first."""
        rows = (
            self._store.connection()
            .execute("SELECT * FROM model_alias_events WHERE name = ? ORDER BY seq", (name,))
            .fetchall()
        )
        return [
            AliasEvent(
                name=row["name"],
                alias=row["alias"],
                version=row["version"],
                previous_version=row["previous_version"],
                action=row["action"],
                actor=row["actor"],
                at=datetime.fromisoformat(row["at"]),
            )
            for row in rows
        ]

    # -- internals ---------------------------------------------------------------------------------

    def _existing(self, name: str, mlflow_run_id: str, output: str) -> ModelVersion | None:
        with mlflow_errors(f"looking up model {name!r}"):
            found = self._client.search_model_versions(f"name = '{_quote(name)}' and run_id = '{mlflow_run_id}'")
        for item in found:
            if (item.tags or {}).get("mlops.output") == output:
                return self._to_version(item)
        return None

    def _alias_target(self, name: str, alias: str) -> str | None:
        try:
            return self.get_by_alias(name, alias).version
        except ResourceNotFoundError:
            return None

    def _alias_move(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One alias move at a time, across processes: the store's write lock is held from reading the
        alias to recording the move (two processes setting a new alias at once would otherwise both
        insert it into MLflow's alias table, and one fail on its unique key)."""
        return self._store.transaction()

    def _record(
        self,
        connection: sqlite3.Connection,
        name: str,
        alias: str,
        version: str | None,
        previous: str | None,
        action: str,
        actor: str,
    ) -> None:
        connection.execute(
            "INSERT INTO model_alias_events (name, alias, version, previous_version, action, actor, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, alias, version, previous, action, actor, self._backend.clock.now().isoformat()),
        )

    def _not_found(self, name: str, what: str) -> ResourceNotFoundError:
        try:
            with mlflow_errors(f"reading model {name!r}"):
                model = self._client.get_registered_model(name)
        except ResourceNotFoundError:
            with mlflow_errors("listing models"):
                names = sorted(item.name for item in self._client.search_registered_models())
            return ResourceNotFoundError(
                f"no registered model {name!r} in {self._backend.folder}; models: {', '.join(names) or 'none'}",
                backend="local",
                details={"name": name},
            )
        versions = sorted((item.version for item in self.list(name)), key=int)
        aliases = sorted((getattr(model, "aliases", None) or {}).keys())
        return ResourceNotFoundError(
            f"model {name!r} has no {what}; versions: {', '.join(versions) or 'none'}; "
            f"aliases: {', '.join(aliases) or 'none'}",
            backend="local",
            details={"name": name},
        )

    def _to_version(self, item: Any) -> ModelVersion:
        tags = {str(key): str(value) for key, value in (item.tags or {}).items()}
        created = getattr(item, "creation_timestamp", None)
        return ModelVersion(
            name=item.name,
            version=str(item.version),
            uri=ModelRef(name=item.name, version=str(item.version)).mlflow_uri,
            aliases=tuple(sorted(getattr(item, "aliases", None) or ())),
            tags=tags,
            description=item.description or None,
            created_at=datetime.fromtimestamp(created / 1000, tz=timezone.utc) if created else None,
            created_by=tags.get("mlops.created_by") or getattr(item, "user_id", None) or None,
            run_id=tags.get("mlops.training_run_id") or item.run_id,
            lineage=Lineage.from_tags(tags),
            source=item.source,
            output=tags.get("mlops.output"),
        )


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _version_key(item: ModelVersion) -> tuple[int, str]:
    return (int(item.version), item.version) if item.version.isdigit() else (-1, item.version)


def _lock_name(name: str) -> str:
    """A file name for model ``name`` (names are checked, but a lock file must never leave its folder)."""
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()[:16]
