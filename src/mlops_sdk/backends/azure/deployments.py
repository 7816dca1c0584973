"""Azure ML managed online endpoints and deployments through azure-ai-ml, rollouts by the shared engine.

* Deployments are MLflow models with no scoring script or environment (Azure builds the serving
  image), created with 0 % traffic; long provisioning runs as an LRO our Operation polls.
* Every traffic change is a read-modify-write of the WHOLE endpoint: GET the endpoint (with every
  deployment's share), change only what the step changes, PUT it back with ``traffic`` and
  ``mirror_traffic``. Azure has no PATCH for traffic; writing a partial map is how other deployments
  silently drop to 0 %.
* Endpoint keys are fetched (listKeys) for smoke tests and registered for redaction at once.
* History (who moved which model to what traffic, when) is kept in the endpoint's own tags
  (``mlops.history.<n>``, the most recent entries), written in the same PUT as the traffic change
  it describes; the SDK metadata of a deployment (model digest, previous traffic) in its tags.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from mlops_sdk.backends.azure import AzureBackend
from mlops_sdk.backends.azure._aml_shim import initial_retry_after, regenerate_endpoint_key
from mlops_sdk.backends.azure._mlclient import create_ml_client, quiet_azure
from mlops_sdk.backends.azure.errors import azure_errors, missing_target, translate_error
from mlops_sdk.backends.spi.deployments import ModelSpec, PlatformDeploymentService, RolloutDriver, ScoreAnswer
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
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.retry import is_retryable, parse_retry_after
from mlops_sdk.core.status import Status, status_from_aml
from mlops_sdk.models.deployments import (
    Capture,
    DeploymentInfo,
    Endpoint,
    EndpointKeys,
    HistoryEntry,
)
from mlops_sdk.models.guardrails import GuardrailObservation
from mlops_sdk.models.resources import Probe, Resources

__all__ = ["AzureDeploymentService", "AzurePlatform", "create_service"]

T = TypeVar("T")
_log = get_logger(__name__)
HISTORY_PREFIX = "mlops.history."
HISTORY_KEEP = 20
_META = "mlops.deployment"
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"


def _drop_failed_poller(what: str, error: MlopsError) -> None:
    """Log why a creation's poller is dropped: the look at the resource's provisioning state replaces it.

    azure-core's LRO poller runs without transport retries (the MLClient has ``retry_total=0``) and,
    once one status request failed (throttled, reset), re-raises that error on every look; the
    provisioning itself goes on, so a transient failure there must not fail the operation.
    """
    _log.info("creating %s: a status request failed (%s); reading its provisioning state instead", what, error)


def _compact(entry: HistoryEntry) -> str:
    """A history entry as compact JSON within Azure's 256-character tag value limit."""
    data: dict[str, Any] = {
        "t": entry.at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "a": entry.action,
        "d": entry.deployment,
        "m": entry.model,
        "tr": {name: weight for name, weight in entry.traffic.items() if weight},
        "mi": entry.mirror or None,
        "by": entry.by,
        "op": entry.operation_id,
        "r": (entry.reason or "")[:60] or None,
    }
    data = {key: value for key, value in data.items() if value not in (None, {}, "")}
    text = json.dumps(data, separators=(",", ":"))
    for key in ("r", "op", "m"):
        if len(text) <= 256:
            break
        data.pop(key, None)
        text = json.dumps(data, separators=(",", ":"))
    return text[:256]


def _expand(endpoint: str, text: str) -> HistoryEntry | None:
    try:
        data = json.loads(text)
        return HistoryEntry(
            endpoint=endpoint,
            action=data["a"],
            deployment=data.get("d"),
            model=data.get("m"),
            traffic=data.get("tr", {}),
            mirror=data.get("mi") or {},
            reason=data.get("r"),
            operation_id=data.get("op"),
            at=datetime.fromisoformat(data["t"].replace("Z", "+00:00")),
            by=data.get("by"),
        )
    except (ValueError, KeyError, TypeError):
        return None


class AzurePlatform:
    """:class:`~mlops_sdk.backends.spi.deployments.EndpointPlatform` on Azure ML online endpoints."""

    backend = "azure"

    def __init__(self, backend: AzureBackend) -> None:
        self._backend = backend
        self.clock: Clock = backend.clock
        self._client: Any = None
        self._pollers: dict[tuple[str, str], Any] = {}
        self._hints: dict[tuple[str, str], float | None] = {}
        self._pending: dict[str, list[HistoryEntry]] = {}
        self._keys: dict[str, str] = {}

    @property
    def ml(self) -> Any:
        """The ``MLClient`` (created on first use)."""
        if self._client is None:
            self._client = create_ml_client(self._backend)
        return self._client

    # -- helpers -------------------------------------------------------------------------------------------

    def get_endpoint(self, endpoint: str) -> Any:
        """The endpoint entity (``traffic`` lists every deployment, zeros included); transient errors retried."""

        def get() -> Any:
            with quiet_azure(), azure_errors(f"reading online endpoint {endpoint!r}"):
                return self.ml.online_endpoints.get(endpoint)

        return self._backend.retry_policy.call(get)

    def _exists(self, endpoint: str) -> bool:
        try:
            self.get_endpoint(endpoint)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            return False
        return True

    def _put_endpoint(self, entity: Any, what: str, *, wait_busy: bool = True) -> Any:
        def put() -> Any:
            with quiet_azure(), azure_errors(what):
                return self.ml.online_endpoints.begin_create_or_update(entity).result()

        return self._while_busy(put, what) if wait_busy else put()

    def _while_busy(self, send: Callable[[], T], what: str) -> T:
        """``send()``, repeated while the endpoint answers 409 (another operation in progress on it).

        Azure ML refuses a PUT on an endpoint (or one of its deployments) while another operation runs
        on it; that operation takes minutes. The 409 is waited out (honouring ``Retry-After``, else
        backing off from 5 s to 60 s) until ``endpoint_busy_wait`` seconds passed, then raised as is.
        """
        clock = self.clock
        deadline = clock.monotonic() + self._backend.config.settings.endpoint_busy_wait
        delay = 5.0
        while True:
            try:
                return send()
            except ConflictError as error:
                remaining = deadline - clock.monotonic()
                if error.status_code != 409 or remaining <= 0:
                    raise
                wait = min(error.retry_after or delay, remaining)
                _log.info("%s: the endpoint is busy (409); trying again in %.0fs", what, wait)
                clock.sleep(wait)
                delay = min(delay * 2, 60.0)

    def _model_reference(self, model: ModelSpec) -> Any:
        uri = model.uri
        if uri.startswith("azureml:") or uri.startswith("azureml://"):
            return uri
        if model.name and model.version and not uri.startswith(("models:/", "runs:/")):
            return f"azureml:{model.name}:{model.version}"
        if uri.startswith(("models:/", "runs:/")):
            raise ConfigurationError(
                f"model {model.ref!r} ({uri}) lives in a local MLflow registry; register it in the Azure ML "
                "workspace (client.models on the azureml:// target) and deploy that version",
                details={"field": "model"},
            )
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model

        return Model(path=uri, type=AssetTypes.MLFLOW_MODEL, name=model.name)

    # -- EndpointPlatform -----------------------------------------------------------------------------------

    def begin_endpoint(self, endpoint: str) -> None:
        """PUT a key-authenticated managed endpoint unless it exists (the LRO is polled by endpoint_status)."""
        if self._exists(endpoint):
            return
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        entity = ManagedOnlineEndpoint(name=endpoint, auth_mode="key", tags={"mlops.created_by": current_identity()})
        what = f"creating online endpoint {endpoint!r}"

        def put() -> Any:
            with quiet_azure(), azure_errors(what):
                return self.ml.online_endpoints.begin_create_or_update(entity)

        # A PUT of the same endpoint is idempotent: transient failures are retried (the MLClient itself does not).
        poller = self._backend.retry_policy.call(self._while_busy, put, what)
        self._pollers[(endpoint, "")] = poller
        self._hints[(endpoint, "")] = initial_retry_after(poller)

    def ignored_resources(self, resources: Resources) -> dict[str, str]:
        """Azure honours every field."""
        return {}

    def apply_autoscale(self, endpoint: str, deployment: str, resources: Resources) -> None:
        """PUT the deployment's Azure Monitor autoscale setting (target: the deployment's ARM id)."""
        from mlops_sdk.backends.azure.autoscale import put_autoscale

        with quiet_azure(), azure_errors(f"reading deployment {deployment!r}"):
            entity = self.ml.online_deployments.get(deployment, endpoint_name=endpoint)
        location = str(getattr(entity, "location", None) or self.get_endpoint(endpoint).location)
        put_autoscale(
            self._backend,
            endpoint=endpoint,
            deployment=deployment,
            deployment_id=str(entity.id),
            location=location,
            resources=resources,
        )

    def retry_hint(self, endpoint: str, deployment: str = "") -> float | None:
        """The ``Retry-After`` of the create answer, once: the first status look waits that long."""
        return self._hints.pop((endpoint, deployment), None)

    def endpoint_status(self, endpoint: str) -> tuple[Status, str | None]:
        """From the creation poller in this process, else from the endpoint's provisioning state."""
        poller = self._pollers.get((endpoint, ""))
        if poller is not None:
            try:
                with quiet_azure(), azure_errors(f"creating online endpoint {endpoint!r}"):
                    poller.wait(timeout=1.0)
                    if not poller.done():
                        return Status.RUNNING, "Creating"
                    self._pollers.pop((endpoint, ""), None)
                    poller.result()
            except MlopsError as error:
                self._pollers.pop((endpoint, ""), None)
                if not is_retryable(error):
                    raise
                _drop_failed_poller(f"endpoint {endpoint!r}", error)
        state = _state(self.get_endpoint(endpoint).provisioning_state)
        return status_from_aml(state), state

    def model_digest(self, model: ModelSpec) -> str:
        """The model asset reference: Azure ML model versions are immutable."""
        reference = self._model_reference(model)
        return reference if isinstance(reference, str) else f"path:{model.uri}"

    def deployment_record(self, endpoint: str, deployment: str) -> dict[str, Any] | None:
        """The SDK metadata kept in the deployment's ``mlops.deployment`` tag."""
        try:
            with quiet_azure(), azure_errors(f"reading deployment {deployment!r}"):
                entity = self.ml.online_deployments.get(deployment, endpoint_name=endpoint)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            return None
        try:
            record: dict[str, Any] = json.loads((entity.tags or {}).get(_META, "{}"))
        except ValueError:
            record = {}
        return record

    def begin_deployment(self, endpoint: str, deployment: str, model: ModelSpec, metadata: dict[str, Any]) -> None:
        """PUT a managed deployment of the MLflow model (no scoring script) and keep its poller."""
        from azure.ai.ml.entities import ManagedOnlineDeployment

        tag = {
            "digest": metadata["digest"],
            "model": metadata.get("model"),
            "previous": {
                "traffic": {k: v for k, v in metadata["previous"]["traffic"].items() if v},
                "mirror": metadata["previous"].get("mirror", {}),
            },
        }
        resources = read_stored(Resources, metadata.get("resources") or {})
        entity = ManagedOnlineDeployment(
            name=deployment,
            endpoint_name=endpoint,
            model=self._model_reference(model),
            tags={_META: json.dumps(tag, separators=(",", ":"))[:256], "mlops.by": str(metadata.get("by"))},
            **_sizing(resources),
            **_data_collector(metadata.get("capture")),
        )
        what = f"creating deployment {deployment!r} on {endpoint!r}"

        def put() -> Any:
            with quiet_azure(), azure_errors(what):
                return self.ml.online_deployments.begin_create_or_update(entity)

        poller = self._while_busy(put, what)
        self._pollers[(endpoint, deployment)] = poller
        self._hints[(endpoint, deployment)] = initial_retry_after(poller)

    def deployment_status(self, endpoint: str, deployment: str) -> tuple[Status, str | None]:
        """From the creation poller in this process, else from the deployment's provisioning state."""
        poller = self._pollers.get((endpoint, deployment))
        if poller is not None:
            try:
                with quiet_azure(), azure_errors(f"creating deployment {deployment!r}"):
                    poller.wait(timeout=1.0)  # re-raises the LRO's failure once it is known
                    if not poller.done():
                        return Status.RUNNING, "Creating"
                    poller.result()
            except MlopsError as error:  # the deployment failed: a state, with the service's reason
                self._pollers.pop((endpoint, deployment), None)
                if error.status_code in (401, 403, 409):
                    raise  # a refusal whose class (and code, request id) the caller must see
                if not is_retryable(error):
                    return Status.FAILED, error.message
                _drop_failed_poller(f"deployment {deployment!r}", error)
            self._pollers.pop((endpoint, deployment), None)

        def get() -> Any:
            with quiet_azure(), azure_errors(f"reading deployment {deployment!r}"):
                return self.ml.online_deployments.get(deployment, endpoint_name=endpoint)

        entity = self._backend.retry_policy.call(get)
        state = _state(entity.provisioning_state)
        return status_from_aml(state), state

    def get_traffic(self, endpoint: str) -> tuple[dict[str, int], dict[str, int]]:
        """The full maps, as the service holds them (every deployment listed)."""
        entity = self.get_endpoint(endpoint)
        traffic = {str(k): int(v) for k, v in (entity.traffic or {}).items()}
        mirror = {str(k): int(v) for k, v in (entity.mirror_traffic or {}).items() if int(v)}
        return traffic, mirror

    def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
        *,
        history: HistoryEntry | None = None,
    ) -> None:
        """GET the endpoint, replace both maps whole, add the history tags, PUT it back (waits for the LRO).

        ``history`` and entries queued before ride on this PUT; if it fails they stay queued.
        """
        entity = self.get_endpoint(endpoint)
        entity.traffic = {name: int(weight) for name, weight in traffic.items()}
        entity.mirror_traffic = {name: int(weight) for name, weight in mirror.items() if weight}
        queued = list(self._pending.get(endpoint, []))
        if history is not None:
            self._pending[endpoint] = [*queued, history]
        self._apply_history(endpoint, entity)
        try:
            self._put_endpoint(entity, f"updating the traffic of endpoint {endpoint!r}")
        except BaseException:
            if queued:  # the change did not happen: its own entry is dropped, older ones wait
                self._pending[endpoint] = queued + self._pending.get(endpoint, [])
            raise

    def score(self, endpoint: str, deployment: str, payload: Any) -> ScoreAnswer:
        """POST to the scoring URI with the endpoint key (and ``azureml-model-deployment`` unless empty)."""
        uri = self.scoring_uri(endpoint)
        if not uri:
            return ScoreAnswer(status=0, body=None, elapsed=0.0, message="the endpoint has no scoring URI yet")
        key = self._key(endpoint)
        from azure.core.exceptions import AzureError
        from azure.core.pipeline.policies import HeadersPolicy
        from azure.core.rest import HttpRequest

        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        # azure-core, not http.client: the configured CA bundle, proxy and timeouts apply (HTTPS_PROXY otherwise).
        client = self._backend.http.pipeline_client(uri, policies=[HeadersPolicy(headers)])
        start = time.perf_counter()
        try:
            with client:
                response = client.send_request(HttpRequest("POST", uri, content=json.dumps(payload).encode()))
                data = response.read()
        except AzureError as error:
            elapsed = time.perf_counter() - start
            return ScoreAnswer(status=0, body=None, elapsed=elapsed, message=str(error), error=error)
        elapsed = time.perf_counter() - start
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        if response.status_code != 200:
            message = parsed.get("message") if isinstance(parsed, dict) else data.decode("utf-8", "replace")[:300]
            hint = parse_retry_after({str(key): str(value) for key, value in response.headers.items()})
            return ScoreAnswer(response.status_code, None, elapsed, str(message), retry_after=hint)
        return ScoreAnswer(200, parsed, elapsed)

    def forget_key(self, endpoint: str) -> None:
        """Drop the cached key of ``endpoint`` (after it was regenerated)."""
        self._keys.pop(endpoint, None)

    def _key(self, endpoint: str) -> str:
        if endpoint not in self._keys:
            with quiet_azure(), azure_errors(f"fetching the keys of endpoint {endpoint!r}"):
                keys = self.ml.online_endpoints.get_keys(endpoint)
            key = str(getattr(keys, "primary_key", None) or "")
            if not key:
                raise ConfigurationError(
                    f"endpoint {endpoint!r} does not use key authentication; smoke tests need auth_mode='key'"
                )
            register_secret(key)
            register_secret(getattr(keys, "secondary_key", None))
            self._keys[endpoint] = key
        return self._keys[endpoint]

    def delete_deployment(self, endpoint: str, deployment: str) -> None:
        """DELETE the deployment and wait for the LRO (a 409 busy endpoint is waited out)."""
        what = f"deleting deployment {deployment!r}"

        def delete() -> None:
            with quiet_azure(), azure_errors(what):
                self.ml.online_deployments.begin_delete(deployment, endpoint_name=endpoint).result()

        self._while_busy(delete, what)

    def logs(self, endpoint: str, deployment: str, lines: int = 50) -> str:
        """The inference server container's log tail (getLogs)."""
        with quiet_azure(), azure_errors(f"reading the logs of deployment {deployment!r}"):
            return str(self.ml.online_deployments.get_logs(deployment, endpoint_name=endpoint, lines=lines) or "")

    def record(self, entry: HistoryEntry) -> None:
        """Queue an entry; it is written with the next endpoint PUT (traffic change or :meth:`flush`)."""
        self._pending.setdefault(entry.endpoint, []).append(entry)

    def flush(self, endpoint: str, *, wait_busy: bool = True) -> None:
        """Write queued history entries that no traffic change carried (one endpoint PUT).

        ``wait_busy=False``: a 409 (endpoint busy) is not waited out (after a failed rollout).
        """
        if not self._pending.get(endpoint):
            return
        try:
            entity = self.get_endpoint(endpoint)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            self._pending.pop(endpoint, None)
            return
        queued = list(self._pending.get(endpoint, []))
        self._apply_history(endpoint, entity)
        try:
            self._put_endpoint(entity, f"recording the history of endpoint {endpoint!r}", wait_busy=wait_busy)
        except BaseException:
            self._pending[endpoint] = queued + self._pending.get(endpoint, [])
            raise

    def _apply_history(self, endpoint: str, entity: Any) -> None:
        pending = self._pending.pop(endpoint, [])
        if not pending:
            return
        tags = dict(entity.tags or {})
        numbers = sorted(
            int(key[len(HISTORY_PREFIX) :])
            for key in tags
            if key.startswith(HISTORY_PREFIX) and key[len(HISTORY_PREFIX) :].isdigit()
        )
        next_number = (numbers[-1] + 1) if numbers else 1
        for entry in pending:
            tags[f"{HISTORY_PREFIX}{next_number:06d}"] = _compact(entry)
            numbers.append(next_number)
            next_number += 1
        for old in numbers[:-HISTORY_KEEP]:
            tags.pop(f"{HISTORY_PREFIX}{old:06d}", None)
        entity.tags = tags

    def history(self, endpoint: str) -> list[HistoryEntry]:
        """Entries from the endpoint's tags (most recent ones kept), oldest first, plus unwritten ones."""
        try:
            tags = dict(self.get_endpoint(endpoint).tags or {})
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            tags = {}
        entries = [_expand(endpoint, tags[key]) for key in sorted(tags) if key.startswith(HISTORY_PREFIX)]
        return [entry for entry in entries if entry is not None] + list(self._pending.get(endpoint, []))

    # -- GuardrailMetrics (Azure Monitor platform metrics of the endpoint) -----------------------------

    def unsupported_guardrails(self) -> dict[str, str]:
        """Prediction shift: the endpoint's metrics carry no predictions."""
        from mlops_sdk.backends.azure.live_metrics import PREDICTION_SHIFT_UNSUPPORTED

        return {"prediction_shift": PREDICTION_SHIFT_UNSUPPORTED}

    def metrics_mark(self, endpoint: str, deployment: str, baseline: str | None) -> dict[str, Any]:
        """Azure Monitor answers time ranges: a marker is the time."""
        return {"at": self.clock.now().isoformat()}

    def observe(
        self, endpoint: str, deployment: str, since: Mapping[str, Any], *, baseline: str | None, shift_metric: str
    ) -> tuple[dict[str, Any], GuardrailObservation]:
        """Requests, 5xx and latency percentiles of the deployment since the marker (Azure Monitor)."""
        from mlops_sdk.backends.azure.live_metrics import observe

        endpoint_id = str(self.get_endpoint(endpoint).id)
        return observe(self._backend, endpoint_id, deployment, since, now=self.clock.now())

    def scoring_uri(self, endpoint: str) -> str | None:
        """The endpoint's scoring URI."""
        uri = self.get_endpoint(endpoint).scoring_uri
        return str(uri) if uri else None


class _FlushingDriver(RolloutDriver):
    """The shared engine, writing queued history tags when the operation ends."""

    def poll(self) -> Any:
        result = super().poll()
        if result.status.is_terminal:
            platform = self._platform
            assert isinstance(platform, AzurePlatform)
            try:
                platform.flush(self._state["endpoint"], wait_busy=result.status is not Status.FAILED)
            except MlopsError as error:  # the history must not hide the rollout's own outcome
                _log.warning("history of endpoint %r not written: %s", self._state["endpoint"], error)
        return result


class AzureDeploymentService(PlatformDeploymentService[AzurePlatform]):
    """:class:`~mlops_sdk.backends.spi.deployments.DeploymentService` on Azure ML.

    Rollouts, rollbacks, endpoint creation, resume and history are the shared ones
    (:class:`~mlops_sdk.backends.spi.deployments.PlatformDeploymentService`), with drivers that write
    the queued history tags when the operation ends (deployment LROs are followed by provisioning state).
    ``create_endpoint`` ignores ``stop_with_client``: a managed endpoint runs in Azure, not in the client's machine.
    """

    driver_class = _FlushingDriver

    def __init__(self, backend: AzureBackend) -> None:
        backend.require("azure.ai.ml", purpose="Azure ML online endpoints")
        self._backend = backend
        self.platform = AzurePlatform(backend)

    def _endpoint_name(self, endpoint: str) -> str:
        """Taken as is: the client checked it, and Azure ML answers a name it does not accept."""
        return endpoint

    def invoke(self, endpoint: str, payload: Any, *, deployment: str | None) -> Any:
        """Score through the endpoint (by weights unless ``deployment`` is given).

        Scoring has no side effect on the service, so throttling, 5xx answers and dropped connections are
        retried by the SDK's retry policy.
        """

        def score() -> Any:
            answer = self.platform.score(endpoint, deployment or "", payload)
            if answer.status == 0 and answer.error is not None:  # no answer: say which setting to change
                raise translate_error(answer.error, what=f"invoking endpoint {endpoint!r}") from answer.error
            if answer.status != 200:
                raise error_for_status(
                    answer.status or 503,
                    f"invoking endpoint {endpoint!r}: {answer.message}",
                    retry_after=answer.retry_after,
                    backend="azure",
                )
            return answer.body

        return self._backend.retry_policy.call(score)

    def get_endpoint(self, name: str) -> Endpoint:
        """The endpoint with its deployments."""
        entity = self.platform.get_endpoint(name)
        with quiet_azure(), azure_errors(f"listing the deployments of {name!r}"):
            deployments = list(self.platform.ml.online_deployments.list(endpoint_name=name))
        return self._endpoint(entity, deployments)

    @staticmethod
    def _endpoint(entity: Any, deployments: list[Any]) -> Endpoint:
        infos = []
        for item in deployments:
            meta = {}
            try:
                meta = json.loads((item.tags or {}).get(_META, "{}"))
            except ValueError:
                meta = {}
            model = item.model if isinstance(item.model, str) else getattr(item.model, "id", None)
            infos.append(
                DeploymentInfo(
                    name=item.name, model=meta.get("model"), model_uri=model, state=_state(item.provisioning_state)
                )
            )
        return Endpoint(
            name=entity.name,
            backend="azure",
            scoring_uri=entity.scoring_uri,
            state=_state(entity.provisioning_state),
            traffic={str(k): int(v) for k, v in (entity.traffic or {}).items()},
            mirror={str(k): int(v) for k, v in (entity.mirror_traffic or {}).items()},
            deployments=sorted(infos, key=lambda info: info.name),
            auth_mode=str(entity.auth_mode or "key").lower(),
        )

    def list_endpoints(self) -> list[Endpoint]:
        """Every online endpoint of the workspace (deployments not listed, for speed)."""

        def listing() -> list[Endpoint]:
            with quiet_azure(), azure_errors("listing online endpoints"):
                return [self._endpoint(entity, []) for entity in self.platform.ml.online_endpoints.list()]

        result: list[Endpoint] = self._backend.retry_policy.call(listing)
        return result

    def delete_endpoint(self, name: str) -> None:
        """DELETE the endpoint (and its deployments) and wait for the LRO."""
        with quiet_azure(), azure_errors(f"deleting online endpoint {name!r}"):
            self.platform.ml.online_endpoints.begin_delete(name=name).result()

    def stop_endpoint(self, name: str) -> bool:
        """Managed endpoints cannot be stopped."""
        raise ConfigurationError(
            "Azure ML managed online endpoints cannot be stopped; delete the endpoint or its deployments instead"
        )

    def start_endpoint(self, name: str) -> Endpoint:
        """Managed endpoints are always running."""
        return self.get_endpoint(name)

    def get_logs(self, endpoint: str, *, deployment: str | None = None, lines: int = 50) -> str:
        """A deployment's container log (default: the production deployment's)."""
        if deployment is None:
            deployment = self.get_endpoint(endpoint).production
            if deployment is None:
                raise ConfigurationError(f"endpoint {endpoint!r} has no live traffic; name the deployment")
        return self.platform.logs(endpoint, deployment, lines)

    def get_keys(self, endpoint: str) -> EndpointKeys:
        """``listKeys`` of the endpoint (the keys are registered for redaction at once)."""
        with quiet_azure(), azure_errors(f"fetching the keys of endpoint {endpoint!r}"):
            keys = self.platform.ml.online_endpoints.get_keys(endpoint)
        primary = str(getattr(keys, "primary_key", None) or "")
        if not primary:
            raise ConfigurationError(
                f"endpoint {endpoint!r} does not use key authentication (auth_mode is not 'key'); it has no keys",
                details={"endpoint": endpoint},
            )
        secondary = getattr(keys, "secondary_key", None) or None
        register_secret(primary)
        register_secret(secondary)
        return EndpointKeys.model_validate({"endpoint": endpoint, "primary_key": primary, "secondary_key": secondary})

    def regenerate_keys(self, endpoint: str, *, key: Literal["primary", "secondary"]) -> EndpointKeys:
        """``regenerateKeys`` without a ``keyValue`` (the service makes the new key), waited for.

        Not ``MLClient.online_endpoints.begin_regenerate_keys``: it sends the *current* key as
        ``keyValue``, which the spec defines as "the value the key is set to", so the key would
        not change. The workspace's generated operations client takes the request as the spec has it.
        """
        with quiet_azure(), azure_errors(f"regenerating the {key} key of endpoint {endpoint!r}"):
            regenerate_endpoint_key(self.platform.ml, endpoint, key.capitalize()).result()
        self.platform.forget_key(endpoint)
        return self.get_keys(endpoint)


def _sizing(resources: Resources) -> dict[str, Any]:
    """``ManagedOnlineDeployment`` keyword arguments for ``resources`` (Azure's defaults where unset)."""
    from azure.ai.ml.entities import OnlineRequestSettings, ProbeSettings

    def probe(settings: Probe | None) -> Any:
        if settings is None:
            return None
        return ProbeSettings(
            failure_threshold=settings.failure_threshold,
            success_threshold=settings.success_threshold,
            timeout=settings.timeout,
            period=settings.period,
            initial_delay=settings.initial_delay,
        )

    arguments: dict[str, Any] = {
        "instance_type": resources.instance_type or DEFAULT_INSTANCE_TYPE,
        "instance_count": resources.instance_count,
    }
    if resources.environment is not None:
        arguments["environment"] = resources.environment
    if resources.request is not None:
        arguments["request_settings"] = OnlineRequestSettings(
            request_timeout_ms=round(resources.request.request_timeout * 1000),
            max_concurrent_requests_per_instance=resources.request.max_concurrent_requests_per_instance,
        )
    if resources.liveness_probe is not None:
        arguments["liveness_probe"] = probe(resources.liveness_probe)
    if resources.readiness_probe is not None:
        arguments["readiness_probe"] = probe(resources.readiness_probe)
    return arguments


def _state(value: Any) -> str:
    """A provisioning state as the service's word (azure-ai-ml hands out enums or strings)."""
    value = getattr(value, "value", value)
    return str(value) if value else "Succeeded"


def create_service(backend: AzureBackend) -> AzureDeploymentService:
    """Entry point used by :meth:`Backend.service`."""
    return AzureDeploymentService(backend)


def _data_collector(capture: dict[str, Any] | None) -> dict[str, Any]:
    """``data_collector=`` of a deployment that captures: Azure ML's ``model_inputs`` / ``model_outputs``
    collections (what an MLflow deployment without a scoring script logs by itself) and the sampling rate.

    The collector writes to the workspace's default blob datastore under
    ``modelDataCollector/<endpoint>/<deployment>/<collection>/<yyyy>/<MM>/<dd>/<HH>/*.jsonl``; the
    local-only settings (durability, queue size, flush interval) have no Azure counterpart.
    """
    if not capture:
        return {}
    from azure.ai.ml.entities import DataCollector, DeploymentCollection

    settings = read_stored(Capture, capture)
    collections = {}
    if settings.inputs:
        collections["model_inputs"] = DeploymentCollection(enabled="true")
    if settings.outputs:
        collections["model_outputs"] = DeploymentCollection(enabled="true")
    # hourly folders: what client.monitoring reads back (the local server's partitions are hourly too)
    collector = DataCollector(collections=collections, sampling_rate=settings.sample_rate, rolling_rate="Hour")
    return {"data_collector": collector}
