"""The ``deployments`` capability of the memory backend: online endpoints held in a dictionary.

Rollouts run through the shared engine (:class:`~mlops_sdk.backends.spi.deployments.RolloutDriver`),
so steps, smoke tests, automatic rollback, re-runs and history follow exactly the rules of the other
backends. Models are loaded and scored in this process by the local endpoint server's own code: the
loaders of :mod:`~mlops_sdk.backends.local.serving.models`, the request parsing of
:mod:`~mlops_sdk.backends.local.serving.payloads` (with the signature checks of ``schema``) and the
deterministic weighted routing of :mod:`~mlops_sdk.backends.local.serving.routing`. Nothing listens on
a port: ``invoke`` is the way in. A deployment rolled out with ``capture=Capture(...)`` keeps every
request it scores (sampled by ``sample_rate``; inputs and outputs as configured) in the store's
monitoring tables before the answer returns, with the columns and ids of the local server's capture
files (:func:`~mlops_sdk.backends.local.serving.capture_tables.capture_table`).

Fault injection (``faults(client)``) knows these operations: ``deployments.create_endpoint``,
``deployments.create_deployment``, ``deployments.set_traffic``, ``deployments.score`` (smoke tests and
``invoke``), ``deployments.delete_deployment``, ``deployments.delete_endpoint``, ``deployments.get_keys``,
``deployments.regenerate_keys``, and ``deployments.provision``: a failure there makes the new deployment
fail to start (its log says why), a hang keeps it provisioning until released.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_sdk.backends.local.deployments import _digest_folder
from mlops_sdk.backends.local.serving.models import ModelLoadError, ServedModel, load_served_model
from mlops_sdk.backends.local.serving.payloads import PayloadError, parse_json_body
from mlops_sdk.backends.local.serving.routing import RoutingTable, TrafficError, validate_traffic
from mlops_sdk.backends.spi.deployments import ModelSpec, PlatformDeploymentService, ScoreAnswer
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.errors import (
    ConfigurationError,
    ConflictError,
    MlopsError,
    ResourceNotFoundError,
    error_for_status,
)
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.lineage import current_identity
from mlops_sdk.core.names import check_endpoint_name
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.status import Status
from mlops_sdk.models.deployments import (
    DeploymentInfo,
    Endpoint,
    EndpointKeys,
    HistoryEntry,
)
from mlops_sdk.models.resources import Resources

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryDeploymentService", "MemoryPlatform", "create_service"]

_IGNORED = {
    "instance_type": "memory endpoints score in the test's own process; VM sizes apply on Azure",
    "instance_count": "memory endpoints score in the test's own process; instance counts apply on Azure",
    "environment": "memory deployments load the model in the SDK's own Python environment",
    "request": "memory endpoints apply no per-request timeout or concurrency cap",
    "liveness_probe": "memory endpoints have no container to probe",
    "readiness_probe": "memory endpoints take traffic once the model is loaded",
    "autoscale": "memory endpoints score in process; there is nothing to scale",
}
"""Why each :class:`Resources` field is ignored by the memory backend (accepted and reported, as on local)."""


@dataclass
class _Deployment:
    name: str
    model_path: str
    metadata: dict[str, Any]
    state: str = "Creating"
    model: ServedModel | None = None


@dataclass
class _Endpoint:
    name: str
    keys: dict[str, str]
    deployments: dict[str, _Deployment] = field(default_factory=dict)
    table: RoutingTable = field(default_factory=lambda: RoutingTable({}, {}, {}))
    log: list[str] = field(default_factory=list)


@dataclass
class _Endpoints:
    endpoints: dict[str, _Endpoint] = field(default_factory=dict)
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)


class MemoryPlatform:
    """:class:`~mlops_sdk.backends.spi.deployments.EndpointPlatform` in memory."""

    backend = "memory"

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self.clock: Clock = backend.clock
        self._store = backend.store
        self._faults = backend.faults
        with self._store.lock:
            state = self._store.state.setdefault("deployments", _Endpoints())
        self._state: _Endpoints = state

    # -- helpers ---------------------------------------------------------------------------------------

    def existing(self, endpoint: str) -> _Endpoint:
        """The endpoint, else :class:`ResourceNotFoundError` naming the others (call under the store lock)."""
        item = self._state.endpoints.get(endpoint)
        if item is None:
            known = sorted(self._state.endpoints)
            raise ResourceNotFoundError(
                f"endpoint {endpoint!r} does not exist on {self._backend.target}; endpoints: {known or 'none'}",
                backend="memory",
                details={"endpoint": endpoint},
            )
        return item

    def resolve_model(self, model: ModelSpec) -> Path:
        """The MLflow model folder of ``model``: a version of this backend's registry, or a folder."""
        if model.uri.startswith("models:/"):
            from mlops_sdk.backends.memory.models import MemoryModelService

            registry: MemoryModelService = self._backend.service("models", MemoryModelService)
            name, _, version = model.uri[len("models:/") :].partition("/")
            source = registry.get(name, version).source or ""
            path = Path(source)
        elif "://" in model.uri or model.uri.startswith(("runs:/", "azureml:")):
            raise ConfigurationError(
                f"model {model.ref!r} ({model.uri}) is not in the memory backend's registry; register it with "
                "client.models on memory://, or pass an MLflow model folder",
                details={"field": "model"},
            )
        else:
            path = Path(model.uri).expanduser().resolve()
        if not (path / "MLmodel").is_file():
            raise ConfigurationError(
                f"model {model.ref!r} ({path}) is not an MLflow model directory (no MLmodel file); pass a "
                "ModelVersion, a models:/ URI or a folder written by mlflow.<flavor>.save_model",
                details={"field": "model"},
            )
        return path

    def _load(self, endpoint: _Endpoint, item: _Deployment) -> None:
        """Load the deployment's model (the endpoint server's loader); a failure is the deployment's state."""
        try:
            self._faults.before("deployments.provision")
            item.model = load_served_model(item.model_path)
        except (ModelLoadError, MlopsError) as error:
            message = error.message if isinstance(error, MlopsError) else str(error)
            item.state = "Failed"
            endpoint.log.append(f"deployment {item.name}: {message}")
            return
        item.state = "Succeeded"
        endpoint.log.append(f"deployment {item.name}: loaded {item.model_path} ({item.model.flavor})")

    # -- EndpointPlatform --------------------------------------------------------------------------------

    def begin_endpoint(self, endpoint: str) -> None:
        """Create the endpoint with two fresh keys unless it exists."""
        check_endpoint_name(endpoint)
        self._faults.before("deployments.create_endpoint")
        with self._store.lock:
            if endpoint in self._state.endpoints:
                return
            keys = {"primary_key": secrets.token_urlsafe(32), "secondary_key": secrets.token_urlsafe(32)}
            for key in keys.values():
                register_secret(key)
            self._state.endpoints[endpoint] = _Endpoint(endpoint, keys)
        self._faults.after("deployments.create_endpoint")

    def endpoint_status(self, endpoint: str) -> tuple[Status, str | None]:
        """An endpoint exists as soon as it is created."""
        with self._store.lock:
            self.existing(endpoint)
        return Status.SUCCEEDED, "Succeeded"

    def model_digest(self, model: ModelSpec) -> str:
        """SHA-256 over the model folder's files (names and content), as on local://."""
        return _digest_folder(self.resolve_model(model))

    def deployment_record(self, endpoint: str, deployment: str) -> dict[str, Any] | None:
        """The metadata stored with the deployment, or None."""
        with self._store.lock:
            item = self.existing(endpoint).deployments.get(deployment)
            return dict(item.metadata) if item is not None else None

    def begin_deployment(self, endpoint: str, deployment: str, model: ModelSpec, metadata: dict[str, Any]) -> None:
        """Add or replace the deployment (keeping its traffic) and load the model unless provisioning hangs."""
        path = str(self.resolve_model(model))
        self._faults.before("deployments.create_deployment")
        with self._store.lock:
            item = self.existing(endpoint)
            record = _Deployment(deployment, path, dict(metadata))
            item.deployments[deployment] = record
            item.table = RoutingTable(dict(item.deployments), item.table.traffic, item.table.mirror)
            if not self._faults.is_hung("deployments.provision"):
                self._load(item, record)
        self._faults.after("deployments.create_deployment")

    def ignored_resources(self, resources: Resources) -> dict[str, str]:
        """Every sizing/runtime field is accepted and reported as ignored, with the reason."""
        return {name: _IGNORED[name] for name in resources.given() if name in _IGNORED}

    def apply_autoscale(self, endpoint: str, deployment: str, resources: Resources) -> None:
        """Nothing to scale (reported as ignored)."""

    def retry_hint(self, endpoint: str, deployment: str = "") -> float | None:
        """No hint: creation is immediate."""
        return None

    def deployment_status(self, endpoint: str, deployment: str) -> tuple[Status, str | None]:
        """Creating while ``deployments.provision`` hangs, then loaded (SUCCEEDED) or FAILED with the reason."""
        with self._store.lock:
            item = self.existing(endpoint)
            record = item.deployments.get(deployment)
            if record is None:
                return Status.FAILED, f"deployment {deployment!r} does not exist"
            if record.state == "Creating":
                if self._faults.is_hung("deployments.provision"):
                    return Status.RUNNING, "Creating"
                self._load(item, record)
            if record.state == "Failed":
                return Status.FAILED, item.log[-1] if item.log else "Failed"
            return Status.SUCCEEDED, "Succeeded"

    def get_traffic(self, endpoint: str) -> tuple[dict[str, int], dict[str, int]]:
        """Every deployment's live share (zeros included) and the mirror map."""
        with self._store.lock:
            item = self.existing(endpoint)
            traffic = {name: int(item.table.traffic.get(name, 0)) for name in item.deployments}
            return traffic, dict(item.table.mirror)

    def traffic_lock(self, endpoint: str) -> contextlib.AbstractContextManager[Any]:
        """Held by a rollout while it reads, checks and changes the traffic (the store's lock)."""
        return self._store.lock

    def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
        *,
        history: HistoryEntry | None = None,
    ) -> None:
        """Swap both maps (Azure ML's rules, checked by the endpoint server's code) with the history entry."""
        self._faults.before("deployments.set_traffic")
        with self._store.lock:
            item = self.existing(endpoint)
            try:
                clean, mirrored = validate_traffic(traffic, mirror, set(item.deployments))
            except TrafficError as error:
                raise ConfigurationError(str(error), backend="memory", details={"endpoint": endpoint}) from None
            item.table = RoutingTable(dict(item.deployments), clean, mirrored)
            if history is not None:
                self._state.history.setdefault(endpoint, []).append(history)
        self._faults.after("deployments.set_traffic")

    def score(self, endpoint: str, deployment: str, payload: Any) -> ScoreAnswer:
        """Score ``payload`` on one deployment directly; a refusal is an answer (status and message)."""
        started = self.clock.monotonic()
        try:
            body = self.predict(endpoint, payload, deployment=deployment)
        except MlopsError as error:
            return ScoreAnswer(error.status_code or 0, None, self.clock.monotonic() - started, error.message)
        return ScoreAnswer(200, body, self.clock.monotonic() - started)

    def predict(self, endpoint: str, payload: Any, *, deployment: str | None) -> Any:
        """Parse ``payload`` as the endpoint server does, route it (weights, or ``deployment``) and predict.

        Mirrored deployments get a copy whose answer (or failure) is discarded, as on the server.
        """
        self._faults.before("deployments.score")
        protocol = "azureml" if isinstance(payload, list) or "input_data" in payload else "mlflow"
        with self._store.lock:
            item = self.existing(endpoint)
            table = item.table
            name = deployment if deployment is not None else table.pick()
            mirrors = table.mirrors() if deployment is None else ()
        if name is None:
            raise error_for_status(
                503,
                f"endpoint {endpoint!r} has no live traffic set; name a deployment, or set traffic",
                backend="memory",
            )
        record = table.deployments.get(name)
        if record is None or record.model is None:
            state = "does not exist" if record is None else f"is not ready ({record.state})"
            raise error_for_status(
                404,
                f"deployment {name!r} of endpoint {endpoint!r} {state}",
                backend="memory",
                details={"deployment": name},
            )
        try:
            batch = parse_json_body(json.dumps(payload).encode(), protocol=protocol)
            predictions = record.model.predict(batch)
        except PayloadError as error:
            raise error_for_status(400, f"invoking endpoint {endpoint!r}: {error}", backend="memory") from None
        except Exception as error:  # a model bug, not the caller's input: 500, as on the server
            item.log.append(f"deployment {name}: prediction failed: {type(error).__name__}: {error}")
            raise error_for_status(
                500, f"deployment {name!r} failed to score the input ({type(error).__name__})", backend="memory"
            ) from None
        for mirror in mirrors:
            self._mirror(item, table, mirror, batch)
        self._capture(endpoint, record, batch, predictions)
        self._faults.after("deployments.score")
        return predictions if protocol == "azureml" else {"predictions": predictions}

    def _capture(self, endpoint: str, record: _Deployment, batch: Any, predictions: Any) -> None:
        """Keep a scored request of a deployment loaded with ``Capture`` (as the server's capture does)."""
        raw = record.metadata.get("capture")
        if not isinstance(raw, dict):
            return
        from mlops_sdk.backends.local.serving.capture_tables import capture_table
        from mlops_sdk.backends.memory.monitoring import keep_capture
        from mlops_sdk.models.monitoring import Capture

        settings = read_stored(Capture, raw)
        if settings.sample_rate < 1.0 and random.random() >= settings.sample_rate:  # noqa: S311 - sampling
            keep_capture(self._store, endpoint, record.name, sampled_out=len(batch))
            return
        columns = batch.columns
        if columns is None and record.model is not None:  # positional rows, in the signature's order
            columns = record.model.columns
        table = capture_table(
            uuid.uuid4().hex,
            self.clock.now().timestamp(),
            record.name,
            record.metadata.get("model"),
            count=len(batch),
            columns=columns if settings.inputs else None,
            rows=batch.rows if settings.inputs else None,
            predictions=predictions if settings.outputs else None,
        )
        keep_capture(self._store, endpoint, record.name, table)

    @staticmethod
    def _mirror(item: _Endpoint, table: RoutingTable, name: str, batch: Any) -> None:
        record = table.deployments.get(name)
        if record is None or record.model is None:
            return
        try:
            record.model.predict(batch)
        except Exception as error:  # a shadow deployment's failure never reaches the caller
            item.log.append(f"mirrored request to {name} failed: {type(error).__name__}: {error}")

    def delete_deployment(self, endpoint: str, deployment: str) -> None:
        """Remove a deployment that receives no traffic."""
        self._faults.before("deployments.delete_deployment")
        with self._store.lock:
            item = self.existing(endpoint)
            if item.table.traffic.get(deployment, 0) > 0 or item.table.mirror.get(deployment, 0) > 0:
                raise ConflictError(
                    f"deployment {deployment!r} still receives traffic; move its traffic first",
                    backend="memory",
                    status_code=409,
                )
            item.deployments.pop(deployment, None)
            traffic = {k: v for k, v in item.table.traffic.items() if k != deployment}
            mirror = {k: v for k, v in item.table.mirror.items() if k != deployment}
            item.table = RoutingTable(dict(item.deployments), traffic, mirror)
            item.log.append(f"deployment {deployment}: removed")
        self._faults.after("deployments.delete_deployment")

    def logs(self, endpoint: str, deployment: str, lines: int = 50) -> str:
        """The endpoint's log lines (loads, load failures, prediction errors), last ``lines``."""
        with self._store.lock:
            log = list(self.existing(endpoint).log)
        return "\n".join(log[-lines:] if lines > 0 else log)

    def record(self, entry: HistoryEntry) -> None:
        """Append a history entry."""
        with self._store.lock:
            self._state.history.setdefault(entry.endpoint, []).append(entry)

    def history(self, endpoint: str) -> list[HistoryEntry]:
        """History entries, oldest first (kept after the endpoint is deleted)."""
        with self._store.lock:
            return list(self._state.history.get(endpoint, []))

    def scoring_uri(self, endpoint: str) -> str | None:
        """``memory://endpoints/<name>/score``: a name for results and history, not a network address."""
        return f"memory://endpoints/{endpoint}/score"


class MemoryDeploymentService(PlatformDeploymentService[MemoryPlatform]):
    """:class:`~mlops_sdk.backends.spi.deployments.DeploymentService` of the memory backend.

    Rollouts, rollbacks, endpoint creation (``stop_with_client`` is meaningless in memory and ignored),
    resume and history are the shared ones
    (:class:`~mlops_sdk.backends.spi.deployments.PlatformDeploymentService`); a rollout refuses
    a rollback first checks that the endpoint exists.
    """

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self.platform = MemoryPlatform(backend)
        self._store = backend.store
        self._faults = backend.faults

    def _before_rollback(self, endpoint: str) -> None:
        """The endpoint must exist (:class:`ResourceNotFoundError` naming the others)."""
        with self._store.lock:
            self.platform.existing(endpoint)

    def invoke(self, endpoint: str, payload: Any, *, deployment: str | None) -> Any:
        """Score ``payload`` in process; MLflow bodies answer their predictions, as on local://."""
        body = self.platform.predict(endpoint, payload, deployment=deployment)
        if isinstance(body, dict) and "predictions" in body:
            return body["predictions"]
        return body

    def get_endpoint(self, name: str) -> Endpoint:
        """The endpoint with its deployments, traffic and mirror maps."""
        with self._store.lock:
            item = self.platform.existing(name)
            deployments = [
                DeploymentInfo(
                    name=record.name,
                    model=record.metadata.get("model"),
                    model_uri=record.metadata.get("model_uri"),
                    state=record.state,
                    details={"model_path": record.model_path, **(record.model.describe() if record.model else {})},
                )
                for record in sorted(item.deployments.values(), key=lambda record: record.name)
            ]
            traffic = {record.name: int(item.table.traffic.get(record.name, 0)) for record in deployments}
            mirror = dict(item.table.mirror)
        return Endpoint(
            name=name,
            backend="memory",
            scoring_uri=self.platform.scoring_uri(name),
            state="Succeeded",
            traffic=traffic,
            mirror=mirror,
            deployments=deployments,
        )

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint of the store, by name."""
        with self._store.lock:
            names = sorted(self.platform._state.endpoints)
        return [self.get_endpoint(name) for name in names]

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint with its deployments (its history stays, with a ``delete`` entry)."""
        self._faults.before("deployments.delete_endpoint")
        with self._store.lock:
            item = self.platform.existing(name)
            traffic = {key: int(item.table.traffic.get(key, 0)) for key in item.deployments}
            del self.platform._state.endpoints[name]
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
        self._faults.after("deployments.delete_endpoint")

    def stop_endpoint(self, name: str) -> bool:
        """Memory endpoints are no servers: like managed endpoints they cannot be stopped."""
        raise ConfigurationError(
            "memory endpoints score in process and cannot be stopped; delete the endpoint or its deployments instead",
            backend="memory",
            details={"endpoint": name},
        )

    def start_endpoint(self, name: str) -> Endpoint:
        """Memory endpoints are always running."""
        return self.get_endpoint(name)

    def get_logs(self, endpoint: str, *, deployment: str | None = None, lines: int = 50) -> str:
        """Tail of the endpoint's log."""
        return self.platform.logs(endpoint, deployment or "", lines)

    def get_keys(self, endpoint: str) -> EndpointKeys:
        """The endpoint's keys (secrets: shown as ``***``; registered for redaction)."""
        self._faults.before("deployments.get_keys")
        with self._store.lock:
            keys = dict(self.platform.existing(endpoint).keys)
        return EndpointKeys.model_validate({"endpoint": endpoint, **keys})

    def regenerate_keys(self, endpoint: str, *, key: Literal["primary", "secondary"]) -> EndpointKeys:
        """Replace one key; the other stays valid."""
        self._faults.before("deployments.regenerate_keys")
        with self._store.lock:
            item = self.platform.existing(endpoint)
            item.keys[f"{key}_key"] = secrets.token_urlsafe(32)
            register_secret(item.keys[f"{key}_key"])
        self._faults.after("deployments.regenerate_keys")
        return self.get_keys(endpoint)


def create_service(backend: MemoryBackend) -> MemoryDeploymentService:
    """The backend's deployment service."""
    return MemoryDeploymentService(backend)
