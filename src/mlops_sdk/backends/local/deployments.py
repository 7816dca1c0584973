"""Local online endpoints: one endpoint server process per endpoint, rollouts by the shared engine.

Each endpoint lives in ``<store>/endpoints/<name>/`` (see :mod:`.serving`). A deployment is an
immutable copy of the MLflow model directory under ``models/`` loaded by the server next to the
others; traffic moves through the server's admin API. History rows (who moved which model version
to what traffic, when, with lineage) are kept in ``mlops.db``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.backends.local.serving.app import write_json_atomic
from mlops_sdk.backends.local.serving.process import EndpointServer, answer_error
from mlops_sdk.backends.local.store import Migration
from mlops_sdk.backends.spi.deployments import ModelSpec, PlatformDeploymentService, ScoreAnswer
from mlops_sdk.backends.spi.endpoints import EndpointDriver
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.errors import (
    ConfigurationError,
    MlopsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from mlops_sdk.core.files import file_lock
from mlops_sdk.core.lineage import Lineage, current_identity
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import check_endpoint_name
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.status import Status
from mlops_sdk.models.deployments import (
    DeploymentInfo,
    Endpoint,
    EndpointKeys,
    HistoryEntry,
)
from mlops_sdk.models.guardrails import GuardrailObservation
from mlops_sdk.models.registry import ModelRef
from mlops_sdk.models.resources import Resources

__all__ = ["LocalDeploymentService", "LocalPlatform", "check_endpoint_name", "create_service"]

_log = get_logger(__name__)

MIGRATIONS = [
    Migration(
        1,
        "deployment history",
        """
        CREATE TABLE deployment_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            endpoint TEXT NOT NULL,
            action TEXT NOT NULL,
            deployment TEXT,
            model TEXT,
            model_uri TEXT,
            traffic TEXT NOT NULL,
            mirror TEXT NOT NULL,
            reason TEXT,
            operation_id TEXT,
            at TEXT NOT NULL,
            by TEXT,
            lineage TEXT NOT NULL
        );
        CREATE INDEX deployment_history_endpoint ON deployment_history (endpoint, id);
        """,
    )
]


def _registry_source(client: Any, uri: str) -> str:
    """Where a ``models:/name/<version>`` or ``models:/name@alias`` URI's files live, asked of OUR registry.

    (``mlflow.artifacts.download_artifacts`` resolves ``models:/`` URIs against the process-global
    registry URI, not the one it is given, so the store's client resolves them first.)
    """
    ref = ModelRef.from_uri(uri.rstrip("/")) if uri.startswith("models:/") else None
    if ref is None:
        return uri
    name = ref.name
    version = ref.version or str(client.get_model_version_by_alias(name, ref.alias).version)
    source = str(client.get_model_version_download_uri(name, version))
    if source.startswith("models:/"):  # an MLflow 3 logged model: its files are at its artifact location
        source = str(client.get_logged_model(source[len("models:/") :]).artifact_location)
    return source


def _digest_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class LocalPlatform:
    """:class:`~mlops_sdk.backends.spi.deployments.EndpointPlatform` on local endpoint servers."""

    backend = "local"

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self.clock: Clock = backend.clock
        self._resolved: dict[str, Path] = {}
        self._schema_ready = False

    # -- helpers ---------------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """``<store>/endpoints``."""
        return self._backend.folder / "endpoints"

    def server(self, endpoint: str) -> EndpointServer:
        """The server handle of ``endpoint`` (which may not exist yet)."""
        return EndpointServer(self.root / endpoint, endpoint)

    def existing(self, endpoint: str) -> EndpointServer:
        """The server handle of an existing endpoint, else :class:`ResourceNotFoundError` listing the others."""
        server = self.server(check_endpoint_name(endpoint))
        if not server.exists:
            known = sorted(path.name for path in self.root.glob("*") if (path / "config.json").is_file())
            raise ResourceNotFoundError(
                f"endpoint {endpoint!r} does not exist on {self._backend.target}; endpoints: {known or 'none'}",
                backend="local",
            )
        return server

    def traffic_lock(self, endpoint: str) -> contextlib.AbstractContextManager[None]:
        """Held by a rollout while it reads, checks and changes ``endpoint``'s traffic: one such change at
        a time, across processes (two rollouts at once would otherwise each write over the other)."""
        return file_lock(self.root / check_endpoint_name(endpoint) / ".traffic.lock")

    def running(self, endpoint: str) -> EndpointServer:
        """An existing endpoint's server, started if it is not running (it restores its deployments)."""
        server = self.existing(endpoint)
        server.start()
        return server

    def _store(self) -> Any:
        store = self._backend.store
        if not self._schema_ready:
            store.ensure_schema("deployments", MIGRATIONS)
            self._schema_ready = True
        return store

    def resolve_model(self, model: ModelSpec) -> Path:
        """A local MLflow model directory for ``model`` (registry URIs are downloaded once)."""
        if model.uri in self._resolved:
            return self._resolved[model.uri]
        if model.uri.startswith(("models:/", "runs:/")):
            from mlops_sdk.backends.local._mlflow import mlflow_errors, mlflow_store, quiet

            self._backend.require_extra("deploying registered models", ("mlflow",))
            store = mlflow_store(self._backend.folder)
            target = Path(tempfile.mkdtemp(prefix="model-", dir=self._staging()))
            import mlflow.artifacts

            with quiet(), mlflow_errors(f"downloading {model.uri} from the local model registry"):
                source = _registry_source(store.client, model.uri)
                if source.startswith("file:"):
                    # The store's artifacts are already on this disk: copy them, no download machinery.
                    local = str(target / "model")
                    shutil.copytree(Path(unquote(urlsplit(source).path)), local)
                else:
                    local = mlflow.artifacts.download_artifacts(
                        artifact_uri=source, dst_path=str(target), tracking_uri=store.uri, registry_uri=store.uri
                    )
            path = Path(local)
        else:
            path = Path(model.uri.removeprefix("file://")).expanduser().resolve()
        if not (path / "MLmodel").is_file():
            raise ConfigurationError(
                f"model {model.ref!r} ({path}) is not an MLflow model directory (no MLmodel file); pass a "
                "ModelVersion, a models:/ URI or a folder written by mlflow.<flavor>.save_model",
                details={"field": "model"},
            )
        self._resolved[model.uri] = path
        return path

    def _staging(self) -> Path:
        folder = self.root / ".staging"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- EndpointPlatform --------------------------------------------------------------------------------

    def begin_endpoint(self, endpoint: str) -> None:
        """Create the endpoint folder and keys if needed and launch its server (without waiting for it)."""
        server = self.server(check_endpoint_name(endpoint))
        if not server.exists:
            server.create()
            _log.info("created local endpoint %s in %s", endpoint, server.folder)
        server.launch()

    def endpoint_status(self, endpoint: str) -> tuple[Status, str | None]:
        """SUCCEEDED once the server answers, RUNNING while it comes up, FAILED (with its log) when it died."""
        server = self.server(endpoint)
        if server.running() is not None:
            return Status.SUCCEEDED, "Running"
        if server.starting():
            return Status.RUNNING, "Starting"
        tail = server.log_tail(20)
        return Status.FAILED, f"the endpoint server is not running. Log tail ({server.log_path}):\n{tail}"

    def model_digest(self, model: ModelSpec) -> str:
        """SHA-256 over the model directory's files (names and content)."""
        return _digest_folder(self.resolve_model(model))

    def deployment_record(self, endpoint: str, deployment: str) -> dict[str, Any] | None:
        """The metadata stored with the deployment by the server, or None."""
        state = self.running(endpoint).admin("GET", "state")
        item = state["deployments"].get(deployment)
        return dict(item.get("metadata") or {}) if item is not None else None

    def begin_deployment(self, endpoint: str, deployment: str, model: ModelSpec, metadata: dict[str, Any]) -> None:
        """Copy the model into the endpoint folder (atomically) and load it in the server."""
        server = self.running(endpoint)
        source = self.resolve_model(model)
        target = server.folder / "models" / f"{deployment}-{metadata['digest'][:16]}"
        if not target.is_dir():
            staged = Path(tempfile.mkdtemp(prefix=f".{deployment}-", dir=server.folder / "models"))
            try:
                shutil.copytree(source, staged, dirs_exist_ok=True)
                staged.rename(target)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
        server.admin("PUT", f"deployments/{deployment}", {"model_path": str(target), "metadata": metadata})

    def ignored_resources(self, resources: Resources) -> dict[str, str]:
        """Every sizing/runtime field is accepted and reported as ignored, with the reason.

        Refusing them would break the promise that one script runs on both backends; ignoring them
        silently would hide that nothing was sized. The rollout result lists them.
        """
        ignored = {name: _LOCAL_IGNORED[name] for name in resources.given() if name in _LOCAL_IGNORED}
        if ignored:
            _log.info("local deployment ignores %s (Azure-only settings)", ", ".join(sorted(ignored)))
        return ignored

    def apply_autoscale(self, endpoint: str, deployment: str, resources: Resources) -> None:
        """Nothing to scale: one local server process serves the endpoint (reported as ignored)."""

    def retry_hint(self, endpoint: str, deployment: str = "") -> float | None:
        """The local server gives no hint: loading is synchronous."""
        return None

    def deployment_status(self, endpoint: str, deployment: str) -> tuple[Status, str | None]:
        """Loading is synchronous in the admin call: loaded means SUCCEEDED."""
        state = self.running(endpoint).admin("GET", "state")
        if deployment in state["deployments"]:
            return Status.SUCCEEDED, "Succeeded"
        return Status.FAILED, f"deployment {deployment!r} is not loaded"

    def get_traffic(self, endpoint: str) -> tuple[dict[str, int], dict[str, int]]:
        """Every deployment's live share (zeros included) and the mirror map."""
        state = self.running(endpoint).admin("GET", "state")
        traffic = {name: int(state["traffic"].get(name, 0)) for name in state["deployments"]}
        return traffic, {name: int(value) for name, value in state["mirror"].items()}

    def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
        *,
        history: HistoryEntry | None = None,
    ) -> None:
        """One admin call swapping both maps, then the history row describing it."""
        self.running(endpoint).admin("PUT", "traffic", {"traffic": dict(traffic), "mirror": dict(mirror)})
        if history is not None:
            self.record(history)

    def score(self, endpoint: str, deployment: str, payload: Any) -> ScoreAnswer:
        """POST the payload to one deployment (``/score`` for ``input_data``, else ``/invocations``)."""
        server = self.running(endpoint)
        path = "/score" if isinstance(payload, list) or "input_data" in payload else "/invocations"
        try:
            answer = server.score(json.dumps(payload).encode(), path=path, deployment=deployment)
        except ServiceRequestError as error:
            return ScoreAnswer(status=0, body=None, elapsed=0.0, message=error.message)
        body = None
        if answer.status == 200:
            body = answer.json()
            if path == "/invocations" and isinstance(body, dict) and "predictions" in body:
                body = body["predictions"]
        return ScoreAnswer(answer.status, body, answer.elapsed, None if answer.status == 200 else answer.message)

    def delete_deployment(self, endpoint: str, deployment: str) -> None:
        """Unload the deployment and remove its model copies."""
        server = self.running(endpoint)
        server.admin("DELETE", f"deployments/{deployment}")
        for folder in (server.folder / "models").glob(f"{deployment}-*"):
            shutil.rmtree(folder, ignore_errors=True)

    def logs(self, endpoint: str, deployment: str, lines: int = 50) -> str:
        """Tail of the endpoint server's log (it holds every deployment's load and prediction errors)."""
        return self.server(endpoint).log_tail(lines)

    def record(self, entry: HistoryEntry) -> None:
        """Insert one history row."""
        with self._store().transaction() as connection:
            connection.execute(
                "INSERT INTO deployment_history (endpoint, action, deployment, model, model_uri, traffic, mirror,"
                " reason, operation_id, at, by, lineage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.endpoint,
                    entry.action,
                    entry.deployment,
                    entry.model,
                    entry.model_uri,
                    json.dumps(entry.traffic, sort_keys=True),
                    json.dumps(entry.mirror, sort_keys=True),
                    entry.reason,
                    entry.operation_id,
                    entry.at.isoformat(),
                    entry.by,
                    entry.lineage.model_dump_json(),
                ),
            )

    def history(self, endpoint: str) -> list[HistoryEntry]:
        """History rows of ``endpoint``, oldest first."""
        rows = (
            self._store()
            .connection()
            .execute("SELECT * FROM deployment_history WHERE endpoint = ? ORDER BY id", (endpoint,))
            .fetchall()
        )
        return [
            HistoryEntry(
                endpoint=row["endpoint"],
                action=row["action"],
                deployment=row["deployment"],
                model=row["model"],
                model_uri=row["model_uri"],
                traffic=json.loads(row["traffic"]),
                mirror=json.loads(row["mirror"]),
                reason=row["reason"],
                operation_id=row["operation_id"],
                at=row["at"],
                by=row["by"],
                lineage=Lineage.model_validate_json(row["lineage"]),
            )
            for row in rows
        ]

    # -- GuardrailMetrics (the server's /metrics) --------------------------------------------------------

    def unsupported_guardrails(self) -> dict[str, str]:
        """Every guardrail is measured by the local server."""
        return {}

    def metrics_mark(self, endpoint: str, deployment: str, baseline: str | None) -> dict[str, Any]:
        """The deployment's cumulative counters now (from ``/metrics``)."""
        from mlops_sdk.backends.local.live_metrics import read_counters

        counters = read_counters(self.running(endpoint)).get(deployment)
        return {"at": self.clock.now().isoformat(), "counters": counters}

    def observe(
        self, endpoint: str, deployment: str, since: Mapping[str, Any], *, baseline: str | None, shift_metric: str
    ) -> tuple[dict[str, Any], GuardrailObservation]:
        """The deployment's traffic since marker ``since``: requests, errors, latency, prediction shift."""
        from mlops_sdk.backends.local.live_metrics import observe, read_counters

        current = read_counters(self.running(endpoint))
        return observe(current, deployment, since, baseline=baseline, shift_metric=shift_metric, now=self.clock.now())

    def scoring_uri(self, endpoint: str) -> str | None:
        """``http://127.0.0.1:<port>/score`` while the server runs."""
        info = self.server(endpoint).info()
        return f"{info.url}/score" if info else None


_LOCAL_IGNORED = {
    "instance_type": "the local endpoint is one server process on this machine; VM sizes apply on Azure",
    "instance_count": "the local endpoint is one server process; instance counts apply on Azure",
    "environment": "local deployments load the model in the SDK's own Python environment",
    "request": "the local server applies no per-request timeout or per-instance concurrency cap",
    "liveness_probe": "the local server has no container to restart; the SDK waits for it to answer instead",
    "readiness_probe": "the local server takes traffic once the model is loaded; no probe is configured",
    "autoscale": "one local server process serves the endpoint; there is nothing to scale",
}
"""Why each :class:`Resources` field is ignored by the local backend."""


class LocalDeploymentService(PlatformDeploymentService[LocalPlatform]):
    """:class:`~mlops_sdk.backends.spi.deployments.DeploymentService` of the local backend.

    Rollouts, rollbacks, endpoint creation, resume and history are the shared ones
    (:class:`~mlops_sdk.backends.spi.deployments.PlatformDeploymentService`); a rollback first checks
    that the endpoint exists, and ``stop_with_client`` ties a new endpoint's server to this client.
    """

    def __init__(self, backend: LocalBackend) -> None:
        backend.require_extra("local online endpoints", ("mlflow", "starlette", "uvicorn"))
        self._backend = backend
        self.platform = LocalPlatform(backend)
        self._owned: set[str] = set()
        self._owned_lock = threading.Lock()

    def close(self) -> None:
        """Stop the servers of the endpoints created with ``stop_with_client=True`` (idempotent)."""
        with self._owned_lock:
            owned, self._owned = sorted(self._owned), set()
        atexit.unregister(self.close)
        for endpoint in owned:
            server = self.platform.server(endpoint)
            try:
                if server.stop():
                    _log.info("stopped endpoint server %s with its client", endpoint)
            except (MlopsError, OSError) as error:  # closing must go on for the other endpoints
                _log.warning("could not stop endpoint server %s: %s", endpoint, error)

    def _tie(self, endpoint: str) -> None:
        """Stop ``endpoint``'s server when this client closes, when this process exits, or (the server
        watching ``owner.json``) when this process dies without a chance to clean up."""
        self.platform.server(endpoint).set_owner(os.getpid())
        with self._owned_lock:
            first = not self._owned
            self._owned.add(endpoint)
        if first:
            atexit.register(self.close)  # also after an uncaught exception; a SIGKILL leaves it to the server

    def create_endpoint(self, endpoint: str, *, stop_with_client: bool = False) -> EndpointDriver:
        """Create the endpoint folder and start its server now (it then preloads the model loaders).

        The server runs detached and outlives this process unless ``stop_with_client`` ties it to the client.
        """
        driver = super().create_endpoint(endpoint)
        if stop_with_client:
            self._tie(endpoint)
        return driver

    def _before_rollback(self, endpoint: str) -> None:
        """The endpoint must exist (:class:`ResourceNotFoundError` naming the others)."""
        self.platform.existing(endpoint)

    def shadow_pairs(self, endpoint: str, deployment: str) -> list[dict[str, Any]]:
        """The mirrored requests the server recorded for shadow ``deployment`` (live and shadow answers)."""
        pairs: list[dict[str, Any]] = self.platform.running(endpoint).admin("GET", f"shadow/{deployment}")
        return pairs

    def invoke(self, endpoint: str, payload: Any, *, deployment: str | None) -> Any:
        """Score ``payload`` (starting the endpoint's server if it is stopped)."""
        server = self.platform.running(endpoint)
        path = "/score" if isinstance(payload, list) or "input_data" in payload else "/invocations"
        answer = server.score(json.dumps(payload).encode(), path=path, deployment=deployment)
        if answer.status != 200:
            raise answer_error(answer, f"invoking endpoint {endpoint!r}")
        body = answer.json()
        if path == "/invocations" and isinstance(body, dict) and "predictions" in body:
            return body["predictions"]
        return body

    def get_endpoint(self, name: str) -> Endpoint:
        """The endpoint's state (from the running server, else from its last persisted state)."""
        server = self.platform.existing(name)
        info = server.running()
        if info is not None:
            state = server.admin("GET", "state")
        else:
            try:
                state = json.loads((server.folder / "state.json").read_text(encoding="utf-8"))
            except FileNotFoundError:
                state = {"deployments": {}, "traffic": {}, "mirror": {}}
        deployments = [
            DeploymentInfo(
                name=deployment,
                model=(item.get("metadata") or {}).get("model"),
                model_uri=(item.get("metadata") or {}).get("model_uri"),
                state="Succeeded" if info is not None else "Stopped",
                details={key: item[key] for key in ("flavor", "fast_path", "model_path") if key in item},
            )
            for deployment, item in sorted(state["deployments"].items())
        ]
        return Endpoint(
            name=name,
            backend="local",
            scoring_uri=f"{info.url}/score" if info else None,
            state="Running" if info else "Stopped",
            traffic={deployment.name: int(state["traffic"].get(deployment.name, 0)) for deployment in deployments},
            mirror={key: int(value) for key, value in state.get("mirror", {}).items()},
            deployments=deployments,
        )

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint under the store."""
        root = self.platform.root
        if not root.is_dir():
            return []
        names = sorted(path.name for path in root.glob("*") if (path / "config.json").is_file())
        return [self.get_endpoint(name) for name in names]

    def delete_endpoint(self, name: str) -> None:
        """Stop the server and remove the endpoint folder (history rows stay)."""
        server = self.platform.existing(name)
        traffic: dict[str, int] = {}
        with contextlib.suppress(MlopsError):
            traffic = self.get_endpoint(name).traffic
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)
        self.platform.record(
            HistoryEntry(
                endpoint=name,
                action="delete",
                traffic=traffic,
                reason="endpoint deleted",
                at=self.platform.clock.now(),
                by=current_identity(),
            )
        )

    def stop_endpoint(self, name: str) -> bool:
        """Stop the server (deployments and traffic are kept and restored on the next start)."""
        return self.platform.existing(name).stop()

    def start_endpoint(self, name: str) -> Endpoint:
        """Start the server of an existing endpoint."""
        self.platform.running(name)
        return self.get_endpoint(name)

    def get_logs(self, endpoint: str, *, deployment: str | None = None, lines: int = 50) -> str:
        """Tail of the endpoint server's log."""
        return self.platform.existing(endpoint).log_tail(lines)

    def get_keys(self, endpoint: str) -> EndpointKeys:
        """The keys in the endpoint's ``secrets.json`` (mode 0600)."""
        keys = self.platform.existing(endpoint).keys()
        return EndpointKeys.model_validate(
            {"endpoint": endpoint, "primary_key": keys["primary_key"], "secondary_key": keys.get("secondary_key")}
        )

    def regenerate_keys(self, endpoint: str, *, key: Literal["primary", "secondary"]) -> EndpointKeys:
        """Rewrite ``secrets.json`` (0600, atomically) with a new key; a running server is restarted to use it.

        The server reads its keys when it starts, so the restart is what retires the old key: its
        deployments and traffic come back as they were (a request in the short gap is refused).
        """
        server = self.platform.existing(endpoint)
        keys = dict(server.keys())
        keys[f"{key}_key"] = secrets.token_urlsafe(32)
        register_secret(keys[f"{key}_key"])
        write_json_atomic(server.folder / "secrets.json", keys, mode=0o600)
        if server.running() is not None:
            server.stop()
            server.start()
        return self.get_keys(endpoint)


def create_service(backend: LocalBackend) -> LocalDeploymentService:
    """Entry point used by :meth:`Backend.service`."""
    return LocalDeploymentService(backend)
