"""``DeploymentClient``: online endpoints with progressive blue/green, asserting smoke tests and rollback.

Safe rollout is the default: ``begin_deploy(model, endpoint="e")`` creates the deployment with 0 %
traffic, smoke-tests it directly (by name) before every step of ``BlueGreen(steps=[10, 50, 100])``,
moves traffic by rewriting the WHOLE traffic map (other deployments keep their share), and restores
the previous map automatically when a check fails. Works on Azure ML managed online endpoints and on
the local endpoint server alike.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from mlops_sdk.backends.spi.deployments import DEPLOY_KIND, ROLLBACK_KIND, DeploymentService, ModelSpec
from mlops_sdk.backends.spi.endpoints import ENDPOINT_KIND
from mlops_sdk.backends.spi.keys import DEPLOYMENTS, MODELS
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.invalid_input import inside, invalid_input, validate_input
from mlops_sdk.core.lineage import collect_lineage
from mlops_sdk.core.names import check_deployment_name, check_endpoint_name
from mlops_sdk.core.operation import Operation, ProgressEvent
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.core.tracing import annotate
from mlops_sdk.core.user_files import is_existing_path
from mlops_sdk.models.deployments import (
    AllAtOnce,
    AnyStrategy,
    BlueGreen,
    Canary,
    Capture,
    DeploymentResult,
    Endpoint,
    EndpointKeys,
    HistoryEntry,
    Linear,
    Replace,
    Shadow,
    SmokeTest,
    Strategy,
)
from mlops_sdk.models.guardrails import Guardrails
from mlops_sdk.models.registry import ModelRef, ModelVersion
from mlops_sdk.models.resources import Resources
from mlops_sdk.models.shadow import ShadowReport

__all__ = ["DeploymentClient", "default_deployment_name"]

_STRATEGY: TypeAdapter[AnyStrategy] = TypeAdapter(Strategy)
_STRATEGIES = (BlueGreen, Replace, Shadow, Canary, Linear, AllAtOnce)
_BY_KIND: dict[str, type[AnyStrategy]] = {cls.model_fields["kind"].default: cls for cls in _STRATEGIES}


def default_deployment_name(model: ModelSpec) -> str:
    """A deployment name derived from the model: ``<name>-v<version>``, or ``<folder>-<hash>`` for a path.

    Names follow Azure ML's rule (letters, digits, '-', 2-32 characters, starting with a letter),
    so the same model always lands on the same deployment and a re-run is a no-op.
    """
    import hashlib

    if model.name and model.version:
        base, suffix = model.name, f"v{model.version}"
    else:
        base = Path(model.uri.rstrip("/")).name or "model"
        suffix = hashlib.sha256(model.uri.encode()).hexdigest()[:6]
    base = re.sub(r"[^A-Za-z0-9-]+", "-", base).strip("-") or "model"
    if not base[0].isalpha():
        base = f"m-{base}"
    base = base[: 31 - len(suffix)].rstrip("-")
    return f"{base}-{suffix}"


class DeploymentClient(BaseClient):
    """Deploy models to online endpoints and operate those endpoints. Also ``MLOpsClient(...).deployments``."""

    _capability = "deployments"

    def _svc(self) -> DeploymentService:
        return self._service(DEPLOYMENTS)

    # -- inputs --------------------------------------------------------------------------------------------

    def _model_spec(self, model: ModelVersion | str | Path) -> ModelSpec:
        if isinstance(model, ModelVersion):
            return ModelSpec(ref=model.ref, uri=model.uri, name=model.name, version=model.version)
        if isinstance(model, Path):
            return ModelSpec(ref=str(model), uri=str(model.expanduser().resolve()))
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(
                "model must be a ModelVersion, a model URI (models:/name/1, azureml:name:1) or an MLflow model "
                f"folder; got {model!r}",
                details={"field": "model"},
            )
        text = model.strip()
        if "://" in text or text.startswith(("models:/", "runs:/", "azureml:")):
            named = ModelRef.from_uri(text)
            if named is None or named.version is None:  # an alias URI is resolved by the platform
                return ModelSpec(ref=text, uri=text)
            return ModelSpec(ref=text, uri=text, name=named.name, version=named.version)
        if is_existing_path(text):
            return ModelSpec(ref=text, uri=str(Path(text).expanduser().resolve()))
        ref = ModelRef.try_parse(text)
        if ref is None:
            raise ConfigurationError(
                f"model {_short(text)} is not a registered model (name@version, name:alias), a model URI "
                "(models:/name/1, azureml:name:1) or an existing MLflow model folder",
                details={"field": "model"},
            )
        models = self._service(MODELS)
        found = (
            models.get(ref.name, ref.version)
            if ref.version is not None
            else models.get_by_alias(ref.name, ref.alias or "")
        )
        return ModelSpec(ref=found.ref, uri=found.uri, name=found.name, version=found.version)

    @staticmethod
    def _strategy(strategy: AnyStrategy | dict[str, Any] | None) -> AnyStrategy:
        if strategy is None:
            return BlueGreen()
        if isinstance(strategy, _STRATEGIES):
            return strategy
        if isinstance(strategy, dict):
            data = {"kind": "blue_green", **strategy}
            kind = data["kind"]
            known = _BY_KIND.get(kind) if isinstance(kind, str) else None
            if known is not None and all(isinstance(key, str) and key.isidentifier() for key in data):
                # the class itself checks it: the same line and field ("Canary.percent") as Canary(...)
                return known(**data)
            try:
                with inside():
                    return _STRATEGY.validate_python(data)
            except ValidationError as error:
                raise invalid_input(error, what="strategy", field="strategy", model=AnyStrategy) from None
        raise ConfigurationError(
            "strategy must be Canary(...), Linear(...), AllAtOnce(...), BlueGreen(...), Replace() or Shadow(...) "
            f"(or a dict), got {type(strategy).__name__}",
            details={"field": "strategy"},
        )

    @staticmethod
    def _with_guardrails(strategy: AnyStrategy, guardrails: Guardrails | dict[str, Any] | None) -> AnyStrategy:
        if guardrails is None:
            return strategy
        if isinstance(guardrails, dict):
            guardrails = validate_input(Guardrails, guardrails, what="guardrails", field="guardrails")
        if not isinstance(guardrails, Guardrails):
            raise ConfigurationError(
                f"guardrails must be Guardrails(...) or a dict, got {type(guardrails).__name__}",
                details={"field": "guardrails"},
            )
        if float(getattr(strategy, "bake_time", 0.0)) <= 0:
            raise ConfigurationError(
                f"guardrails watch the new deployment during a bake, but the {strategy.kind} strategy has none; "
                "give it a bake time (Canary(bake=..), Linear(interval=..), AllAtOnce(bake=..), "
                "BlueGreen(bake_time=..))",
                details={"field": "strategy.bake"},
            )
        return strategy.model_copy(update={"guardrails": guardrails})  # keeps the smoke test's predicate

    @staticmethod
    def _resources(resources: Resources | dict[str, Any] | None) -> Resources | None:
        if resources is None or isinstance(resources, Resources):
            return resources
        if isinstance(resources, dict):
            return validate_input(Resources, resources, what="resources", field="resources")
        raise ConfigurationError(
            f"resources must be Resources(...) or a dict, got {type(resources).__name__}",
            details={"field": "resources"},
        )

    @staticmethod
    def _capture(capture: Capture | dict[str, Any] | None) -> Capture | None:
        if capture is None or isinstance(capture, Capture):
            return capture
        if isinstance(capture, dict):
            return validate_input(Capture, capture, what="capture", field="capture")
        raise ConfigurationError(
            f"capture must be Capture(...) or a dict, got {type(capture).__name__}", details={"field": "capture"}
        )

    @staticmethod
    def _smoke(smoke_test: SmokeTest | dict[str, Any] | None) -> SmokeTest | None:
        if smoke_test is None or isinstance(smoke_test, SmokeTest):
            return smoke_test
        return validate_input(SmokeTest, smoke_test, what="smoke_test", field="smoke_test")

    @staticmethod
    def _name(value: str, field: str) -> str:
        """The endpoint name, checked before any backend call (bad input never reaches a backend)."""
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{field} must be a non-empty name", details={"field": field})
        return check_endpoint_name(value.strip(), field)

    # -- operations ------------------------------------------------------------------------------------------

    def begin_deploy(
        self,
        model: ModelVersion | str | Path,
        *,
        endpoint: str,
        deployment: str | None = None,
        strategy: AnyStrategy | dict[str, Any] | None = None,
        resources: Resources | dict[str, Any] | None = None,
        capture: Capture | dict[str, Any] | None = None,
        guardrails: Guardrails | dict[str, Any] | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
    ) -> Operation[DeploymentResult]:
        """Roll ``model`` out to ``endpoint`` with ``strategy`` (default ``BlueGreen()``: 10 -> 50 -> 100 %).

        The endpoint is created when missing. The deployment (default name: ``<model>-v<version>``)
        is created with 0 % traffic; the smoke test (if any) runs against it directly before every
        traffic step; every traffic change rewrites the whole map. When a check fails the previous
        map is restored and the result says ``rolled_back=True`` with the reason (a rollback is a
        result, not an exception; ``result.raise_for_rollback()`` turns it into one). Re-running
        with the same model changes nothing (``result.changed is False``).

        Args:
            model: A :class:`ModelVersion`, a model URI (``models:/name/3``, ``azureml:name:3``), a
                reference ``name@3`` / ``name:champion``, or an MLflow model folder.
            endpoint: Endpoint name (3-32 letters, digits, '-').
            deployment: Deployment name (default derived from the model).
            strategy: ``BlueGreen(...)``, ``Replace()``, ``Shadow(mirror_percent=..)`` or a dict.
            guardrails: Live thresholds watched during every bake (:class:`Guardrails` or a dict); they
                replace the strategy's own ``guardrails``. The strategy needs a bake time.
            resources: Sizing and runtime settings of the NEW deployment (``Resources(instance_type=..,
                instance_count=.., environment=.., request=.., liveness_probe=.., readiness_probe=..,
                autoscale=..)`` or a dict). Applied when the deployment is created; the local backend
                accepts them and lists what it ignores in ``result.resources_ignored``.
            capture: Inference capture of the NEW deployment (``Capture(sample_rate=.., inputs=..,
                outputs=..)`` or a dict; default off): the local server writes captured rows to
                Parquet under the endpoint folder, Azure ML's data collector to the workspace
                datastore. Read them back and monitor them with ``client.monitoring``.
            progress: Callback receiving a :class:`ProgressEvent` after every poll.
            show_progress: Force the progress bar on or off.

        Raises:
            ConfigurationError: invalid model, names or strategy.
            ResourceNotFoundError: the model reference names a version or alias that is not registered.
        """
        endpoint = self._name(endpoint, "endpoint")
        chosen = self._with_guardrails(self._strategy(strategy), guardrails)
        sizing = self._resources(resources)
        capturing = self._capture(capture)
        spec = self._model_spec(model)
        given = deployment.strip() if isinstance(deployment, str) else ""
        name = given or default_deployment_name(spec)
        check_deployment_name(name)
        lineage = collect_lineage()
        if isinstance(model, ModelVersion):
            lineage = model.lineage.model_copy(
                update={
                    key: getattr(lineage, key)
                    for key in ("user", "ci_provider", "ci_build_id", "ci_build_url")
                    if getattr(lineage, key) is not None
                }
            )
        annotate({"endpoint": endpoint, "deployment": name})
        extra: dict[str, Any] = {"capture": capturing} if capturing is not None else {}
        driver = self._svc().deploy(
            spec, endpoint=endpoint, deployment=name, strategy=chosen, lineage=lineage, resources=sizing, **extra
        )
        return self._operation(
            driver, description=f"deployment {name} to {endpoint}", progress=progress, show_progress=show_progress
        )

    def shadow_report(
        self, endpoint: str, deployment: str | None = None, *, tolerance: float = 1e-6, slices: int = 4
    ) -> ShadowReport:
        """Compare what the shadow deployment answered to mirrored requests with the live answers.

        Pairs are matched by the request's correlation id (``x-ms-client-request-id`` or
        ``x-request-id``, else one the server assigns and returns in ``x-request-id``). The report gives
        the agreement rate (numeric outputs agree within ``tolerance``; labels must be equal), the
        distribution of ``shadow - live``, both latencies and error counts, and the agreement per
        quantile slice (``slices`` bins) of every numeric input feature. Local endpoints keep the
        last 5,000 mirrored requests per shadow deployment in memory (a server restart starts afresh).

        Args:
            endpoint: Endpoint name.
            deployment: The shadow deployment (default: the endpoint's mirrored deployment).
            tolerance: Absolute difference under which two numeric outputs agree.
            slices: Quantile slices per input feature.

        Raises:
            ConfigurationError: no shadow deployment, bad arguments, or a backend that cannot pair
                answers (Azure ML discards mirrored answers; see docs/deployments.md).
            ResourceNotFoundError: no such endpoint, or no such deployment on it.
        """
        from mlops_sdk.backends.spi.shadow import ShadowPairs, build_report

        endpoint = self._name(endpoint, "endpoint")
        if not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise ConfigurationError(
                f"tolerance must be a number >= 0, got {tolerance!r}", details={"field": "tolerance"}
            )
        if not isinstance(slices, int) or not 1 <= slices <= 20:
            raise ConfigurationError(
                f"slices must be an integer from 1 to 20, got {slices!r}", details={"field": "slices"}
            )
        service = self._svc()
        if not isinstance(service, ShadowPairs):
            raise ConfigurationError(
                f"the {self._context.backend.name} backend cannot compare shadow answers: its endpoints discard "
                "mirrored answers (on Azure ML they would come from the data collector, not wired yet); "
                "use a local endpoint for shadow reports",
                details={"field": "endpoint"},
            )
        if deployment is None:
            mirrored = [name for name, share in self.get_endpoint(endpoint).mirror.items() if share > 0]
            if len(mirrored) != 1:
                raise ConfigurationError(
                    f"endpoint {endpoint!r} mirrors to {mirrored or 'no deployment'}; pass deployment=<shadow>",
                    details={"field": "deployment"},
                )
            deployment = mirrored[0]
        name = check_deployment_name(deployment)
        self._existing_deployment(endpoint, name)
        pairs = service.shadow_pairs(endpoint, name)
        return build_report(endpoint, name, pairs, tolerance=float(tolerance), slices=slices)

    def begin_promote_shadow(
        self,
        endpoint: str,
        deployment: str | None = None,
        *,
        strategy: AnyStrategy | dict[str, Any] | None = None,
        guardrails: Guardrails | dict[str, Any] | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
    ) -> Operation[DeploymentResult]:
        """Turn a shadow deployment into a live one through the normal guarded rollout.

        The shadow's model is rolled out under the same deployment name (nothing is recreated: the
        model is the same) with ``strategy`` (default ``Canary()``), its mirror share removed with
        the first step. A failed smoke test or a tripped guardrail restores exactly the maps it
        started from, the mirror included.

        Args:
            endpoint: Endpoint name.
            deployment: The shadow deployment (default: the endpoint's mirrored deployment).
            strategy: Any strategy but ``Shadow`` (default ``Canary()``: 10 %, bakes of 300 s).
            guardrails: Live thresholds watched during every bake.
            progress: Callback receiving a :class:`ProgressEvent` after every poll.
            show_progress: Force the progress bar on or off.

        Raises:
            ConfigurationError: no single mirrored deployment to default to, a deployment without a known
                model, or a ``Shadow`` strategy.
            ResourceNotFoundError: no such endpoint, or ``deployment`` names no deployment of it.
        """
        endpoint = self._name(endpoint, "endpoint")
        info = self.get_endpoint(endpoint)
        if deployment is None:
            mirrored = [name for name, share in info.mirror.items() if share > 0]
            if len(mirrored) != 1:
                raise ConfigurationError(
                    f"endpoint {endpoint!r} mirrors to {mirrored or 'no deployment'}; pass deployment=<shadow>",
                    details={"field": "deployment"},
                )
            deployment = mirrored[0]
        found = next((item for item in info.deployments if item.name == deployment), None)
        if found is None:
            self._existing_deployment(endpoint, check_deployment_name(deployment), info)
        if found is None or not (found.model_uri or found.model):
            raise ConfigurationError(
                f"endpoint {endpoint!r} has no deployment {deployment!r} with a known model; "
                f"deployments: {[item.name for item in info.deployments]}",
                details={"field": "deployment"},
            )
        chosen = self._strategy(strategy if strategy is not None else Canary())
        if isinstance(chosen, Shadow):
            raise ConfigurationError(
                "promote_shadow makes the shadow live: pass Canary, Linear, AllAtOnce, BlueGreen or Replace",
                details={"field": "strategy"},
            )
        model = found.model_uri or found.model or ""
        return self.begin_deploy(
            model,
            endpoint=endpoint,
            deployment=deployment,
            strategy=chosen,
            guardrails=guardrails,
            progress=progress,
            show_progress=show_progress,
        )

    def begin_create_endpoint(
        self,
        name: str,
        *,
        stop_with_client: bool = False,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
    ) -> Operation[Endpoint]:
        """Create the endpoint ``name`` now, ahead of its first deployment.

        ``begin_deploy`` creates a missing endpoint itself, but an endpoint started early is ready
        when the model is: Azure ML takes minutes to create one, and a local endpoint's server
        imports the model-loading libraries in the background, so the first deployment loads in a
        fraction of a second. Start it while data refreshes and the model trains, and wait for it
        (or not) later; the creation has begun when this method returns. When the endpoint exists
        nothing is created (a stopped local endpoint's server is started). Cancelling the operation
        stops the waiting only: an endpoint being created is left to finish.

        On ``local://`` the endpoint's server is a detached process: it keeps running after your
        script ends, also when the script crashes, so that later scripts and ``mlops endpoints
        invoke`` find it. Stop it with ``client.deployments.stop_endpoint(name)`` or
        ``mlops endpoints stop NAME``, or pass ``stop_with_client=True``: the server then stops when
        this client closes (``close()``, or the end of a ``with MLOpsClient(...)`` block), when the
        process exits (also on an uncaught exception), and, checked by the server itself every
        second, when the process is killed. Azure ML endpoints are managed resources and ignore it.

        Args:
            name: Endpoint name (3-32 letters, digits, '-', starting with a letter).
            stop_with_client: Tie a local endpoint server's life to this client (see above).
            progress: Callback receiving a :class:`ProgressEvent` after every poll.
            show_progress: Force the progress bar on or off.

        Returns:
            An operation whose result is the :class:`Endpoint`.
        """
        name = self._name(name, "endpoint")
        annotate({"endpoint": name})
        driver = self._svc().create_endpoint(name, stop_with_client=stop_with_client)
        return self._operation(driver, description=f"endpoint {name}", progress=progress, show_progress=show_progress)

    def begin_rollback(
        self,
        endpoint: str,
        *,
        to: str | None = None,
        smoke_test: SmokeTest | dict[str, Any] | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> Operation[DeploymentResult]:
        """Put the previous production deployment (or ``to``) back to 100 % in one traffic change.

        "Previous production" comes from the endpoint's history: the deployment that had the largest
        share before the current one took over.

        Raises:
            ResourceNotFoundError: no such endpoint, or ``to`` names no deployment of it.
        """
        endpoint = self._name(endpoint, "endpoint")
        annotate({"endpoint": endpoint})
        if to is not None:
            self._existing_deployment(endpoint, check_deployment_name(to, "to"))
        driver = self._svc().rollback(endpoint, to=to, smoke_test=self._smoke(smoke_test), lineage=collect_lineage())
        return self._operation(driver, description=f"rollback of {endpoint}", progress=progress)

    def resume_operation(self, token: str, *, smoke_test: SmokeTest | None = None) -> Operation[Any]:
        """Rebuild a deploy, rollback or endpoint-creation operation from its token.

        Pass ``smoke_test`` again if the deployment's smoke test had a predicate.
        """

        def attach(op_id: str, state: dict[str, Any], kind: str) -> Operation[Any]:
            driver = self._svc().resume(kind, op_id, state, smoke_test)
            what = "creation" if kind == ENDPOINT_KIND else kind.split(".")[1]
            return self._operation(driver, description=f"{what} of endpoint {state.get('endpoint')}")

        resumed: Operation[Any] = self._resume(
            token,
            {
                DEPLOY_KIND: lambda op_id, state: attach(op_id, state, DEPLOY_KIND),
                ROLLBACK_KIND: lambda op_id, state: attach(op_id, state, ROLLBACK_KIND),
                ENDPOINT_KIND: lambda op_id, state: attach(op_id, state, ENDPOINT_KIND),
            },
        )
        return resumed

    # -- endpoints --------------------------------------------------------------------------------------------

    def history(self, endpoint: str) -> builtins.list[HistoryEntry]:
        """Who moved which model version to what traffic, when, and why (oldest first)."""
        checked = self._name(endpoint, "endpoint")
        return self._svc().history(checked)

    def invoke(self, endpoint: str, payload: Any, *, deployment: str | None = None) -> Any:
        """Score ``payload`` (Azure ML ``input_data`` or an MLflow body) and return the predictions.

        ``deployment`` sends it to that deployment regardless of the traffic weights.
        """
        if not isinstance(payload, (dict, list)):
            raise ConfigurationError(
                "payload must be a JSON-like dict ({'input_data': ...} or an MLflow body) or a list of rows",
                details={"field": "payload"},
            )
        annotate({"endpoint": endpoint})
        checked = self._name(endpoint, "endpoint")
        return self._svc().invoke(checked, payload, deployment=deployment)

    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint with its deployments and traffic; ``ResourceNotFoundError`` when missing."""
        checked = self._name(name, "endpoint")
        return self._svc().get_endpoint(checked)

    def list_endpoints(self) -> ItemPaged[Endpoint]:
        """Every endpoint of the target."""
        return ItemPaged.of(self._svc().list_endpoints())

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint with its deployments (its history stays)."""
        checked = self._name(name, "endpoint")
        self._svc().delete_endpoint(checked)

    def stop_endpoint(self, name: str) -> bool:
        """Stop a local endpoint's server (deployments and traffic come back on the next start or invoke)."""
        checked = self._name(name, "endpoint")
        return self._svc().stop_endpoint(checked)

    def start_endpoint(self, name: str) -> Endpoint:
        """Start a stopped local endpoint's server."""
        checked = self._name(name, "endpoint")
        return self._svc().start_endpoint(checked)

    def get_logs(self, endpoint: str, *, deployment: str | None = None, lines: int = 50) -> str:
        """Tail of the endpoint's (local server) or a deployment's (Azure container) log.

        Raises:
            ConfigurationError: ``lines`` is not a whole number >= 1.
            ResourceNotFoundError: no such endpoint, or no such deployment on it.
        """
        checked = self._name(endpoint, "endpoint")
        if lines < 1:  # a tail of 0 lines would read as the whole log (``lines[-0:]``)
            raise ConfigurationError(
                f"DeploymentClient.get_logs: lines must be 1 or more, got {lines}", details={"field": "lines"}
            )
        if deployment is not None:
            self._existing_deployment(checked, check_deployment_name(deployment))
        return self._svc().get_logs(checked, deployment=deployment, lines=lines)

    def _existing_deployment(self, endpoint: str, deployment: str, info: Endpoint | None = None) -> None:
        """Raise ``ResourceNotFoundError`` (listing what exists) when ``endpoint`` has no ``deployment``."""
        names = [item.name for item in (info or self.get_endpoint(endpoint)).deployments]
        if deployment not in names:
            raise ResourceNotFoundError(
                f"endpoint {endpoint!r} has no deployment {deployment!r}; deployments: {names}",
                backend=self._context.backend.name,
                status_code=404,
                details={"endpoint": endpoint, "deployment": deployment},
            )

    def get_keys(self, endpoint: str) -> EndpointKeys:
        """The endpoint's scoring keys (``Authorization: Bearer <key>``); shown as ``***`` unless asked for.

        Locally they live in the endpoint folder's ``secrets.json`` (mode 0600); on Azure they come
        from ``listKeys``. ``keys.primary_key.get_secret_value()`` is the key itself.
        """
        checked = self._name(endpoint, "endpoint")
        return self._svc().get_keys(checked)

    def regenerate_keys(self, endpoint: str, *, key: Literal["primary", "secondary"] = "primary") -> EndpointKeys:
        """Replace the ``primary`` or ``secondary`` key; on return the endpoint accepts the new key, not the old.

        Rotate without downtime by moving clients to the other key first. Locally the endpoint's
        server restarts to read its new key (deployments and traffic are kept); on Azure this is
        ``regenerateKeys``.

        Raises:
            ConfigurationError: ``key`` is not ``primary`` or ``secondary``.
            ResourceNotFoundError: no such endpoint.
        """
        if key not in ("primary", "secondary"):
            raise ConfigurationError(f"key must be 'primary' or 'secondary', got {key!r}", details={"field": "key"})
        checked = self._name(endpoint, "endpoint")
        return self._svc().regenerate_keys(checked, key=key)


def _short(text: str) -> str:
    """``text`` quoted, cut to a length a message can hold."""
    return repr(text) if len(text) <= 120 else repr(text[:117] + "...")
