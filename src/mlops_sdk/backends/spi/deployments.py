"""Deployment SPI: the service protocol the client calls, the platform primitives each backend
implements, and the one rollout engine both backends share.

The rollout logic (smoke test before each step, read-modify-write of the WHOLE traffic map,
bake times, automatic rollback, idempotent re-runs, history) is identical on Azure ML and on the
local endpoint server, so it lives here once: :class:`RolloutDriver` is an
:class:`~mlops_sdk.core.operation.OperationDriver` whose every ``poll()`` performs at most one
step and whose state is plain JSON (continuation tokens carry it). Backends only provide the
primitives of :class:`EndpointPlatform`.
"""

from __future__ import annotations

import abc
import contextlib
import statistics
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import TypeAdapter

from mlops_sdk.backends.spi.guardrails import GuardrailMetrics, evaluate
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.errors import (
    ConfigurationError,
    ConflictError,
    MlopsError,
    OperationFailedError,
    ServiceResponseError,
    error_from_dict,
)
from mlops_sdk.core.input_spec import read_stored, stored_data
from mlops_sdk.core.invalid_input import inside
from mlops_sdk.core.lineage import Lineage, current_identity
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import check_endpoint_name
from mlops_sdk.core.operation import OperationDriver, PollResult
from mlops_sdk.core.retry import is_retryable
from mlops_sdk.core.status import Status
from mlops_sdk.models.deployments import (
    AnyStrategy,
    Capture,
    DeploymentResult,
    Endpoint,
    EndpointKeys,
    HistoryEntry,
    Shadow,
    SmokeResult,
    SmokeTest,
    StepResult,
    Strategy,
)
from mlops_sdk.models.guardrails import GuardrailBreach, GuardrailObservation, Guardrails
from mlops_sdk.models.resources import Resources

if TYPE_CHECKING:
    from mlops_sdk.backends.spi.endpoints import EndpointDriver

__all__ = [
    "DEPLOY_KIND",
    "ROLLBACK_KIND",
    "DeploymentService",
    "EndpointPlatform",
    "ModelSpec",
    "PlatformDeploymentService",
    "RolloutDriver",
    "ScoreAnswer",
    "previous_production",
    "shift_traffic",
]

DEPLOY_KIND = "deployments.deploy"
ROLLBACK_KIND = "deployments.rollback"
_NOT_READY = {0, 404, 408, 429, 502, 503, 504}
_SAMPLE_TRIES = 3
"""Sends of one smoke-test latency sample whose answer was transient."""
_REFUSALS = {401, 403, 409}
"""Statuses a rollout fails with as the service's own error class (not ``OperationFailedError``)."""
_STRATEGY: TypeAdapter[AnyStrategy] = TypeAdapter(Strategy)
_log = get_logger(__name__)


def _stored_strategy(data: Any) -> AnyStrategy:
    """The strategy an operation token carries (keys another SDK version added are ignored)."""
    with stored_data(), inside():
        return _STRATEGY.validate_python(data)


@dataclass(frozen=True)
class ModelSpec:
    """The model to deploy, normalised by the client.

    Attributes:
        ref: Human reference (``name@version``, or the path/URI as given).
        uri: ``models:/name/version`` (local registry), ``azureml:name:version`` / ``azureml://...``,
            or an MLflow model directory.
        name: Registered model name, when known.
        version: Registered version, when known.
    """

    ref: str
    uri: str
    name: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (tokens, metadata)."""
        return {"ref": self.ref, "uri": self.uri, "name": self.name, "version": self.version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(ref=data["ref"], uri=data["uri"], name=data.get("name"), version=data.get("version"))


@dataclass(frozen=True)
class ScoreAnswer:
    """One scoring call's answer (``status`` 0: the request did not reach the deployment).

    ``retry_after`` is the wait the endpoint asked for (``Retry-After`` of a 429/503), ``error`` the
    transport failure behind a ``status`` 0, so a caller that raises can say what to change.
    """

    status: int
    body: Any
    elapsed: float
    message: str | None = None
    retry_after: float | None = None
    error: BaseException | None = None


class EndpointPlatform(Protocol):
    """Primitives a backend provides to :class:`RolloutDriver`.

    Optional: ``traffic_lock(endpoint) -> context manager``, held while a rollout reads, checks and
    changes the traffic, so that each such step is one step for every process using the endpoint (the
    local and memory platforms have one; without it the check before each change still catches
    another operation's change, and a service such as Azure ML refuses concurrent updates itself).
    """

    backend: str
    clock: Clock

    def begin_endpoint(self, endpoint: str) -> None:
        """Start creating the endpoint if it does not exist (idempotent, does not wait)."""
        ...

    def endpoint_status(self, endpoint: str) -> tuple[Status, str | None]:
        """Provisioning state of the endpoint."""
        ...

    def model_digest(self, model: ModelSpec) -> str:
        """A value that changes exactly when the model content changes (idempotency key)."""
        ...

    def deployment_record(self, endpoint: str, deployment: str) -> dict[str, Any] | None:
        """The SDK metadata stored with an existing deployment (``digest``, ``model``, ``previous_traffic``)."""
        ...

    def begin_deployment(self, endpoint: str, deployment: str, model: ModelSpec, metadata: dict[str, Any]) -> None:
        """Start creating or updating a deployment with 0 % traffic (does not wait)."""
        ...

    def ignored_resources(self, resources: Resources) -> dict[str, str]:
        """The fields of ``resources`` this platform cannot honour, each with the reason (accepted anyway)."""
        ...

    def apply_autoscale(self, endpoint: str, deployment: str, resources: Resources) -> None:
        """Create or update the deployment's autoscale rules (``resources.autoscale``), once it is ready."""
        ...

    def retry_hint(self, endpoint: str, deployment: str = "") -> float | None:
        """Seconds the service asked to wait before the first status look at what was just created
        (``Retry-After`` of its 201/202), handed out once; ``None`` when it said nothing."""
        ...

    def deployment_status(self, endpoint: str, deployment: str) -> tuple[Status, str | None]:
        """Provisioning state of the deployment."""
        ...

    def get_traffic(self, endpoint: str) -> tuple[dict[str, int], dict[str, int]]:
        """The full live traffic map and mirror map, read fresh."""
        ...

    def set_traffic(
        self,
        endpoint: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
        *,
        history: HistoryEntry | None = None,
    ) -> None:
        """Replace BOTH maps with the given full maps and wait until the change is in effect.

        ``history`` describes the change: it is written together with it (on Azure in the same
        endpoint PUT, as a tag), never by a separate request.
        """
        ...

    def score(self, endpoint: str, deployment: str, payload: Any) -> ScoreAnswer:
        """Send ``payload`` to one deployment directly (bypassing the weights)."""
        ...

    def delete_deployment(self, endpoint: str, deployment: str) -> None:
        """Delete a deployment that has no traffic (waits)."""
        ...

    def logs(self, endpoint: str, deployment: str, lines: int = 50) -> str:
        """Tail of the deployment's container/server log."""
        ...

    def record(self, entry: HistoryEntry) -> None:
        """Append a history entry."""
        ...

    def history(self, endpoint: str) -> list[HistoryEntry]:
        """History entries, oldest first."""
        ...

    def scoring_uri(self, endpoint: str) -> str | None:
        """The endpoint's scoring URI."""
        ...


class DeploymentService(Protocol):
    """What :class:`~mlops_sdk.clients.deployments.DeploymentClient` calls on a backend."""

    def deploy(
        self,
        model: ModelSpec,
        *,
        endpoint: str,
        deployment: str,
        strategy: AnyStrategy,
        lineage: Lineage,
        resources: Resources | None = None,
        capture: Capture | None = None,
    ) -> OperationDriver[DeploymentResult]:
        """Driver of a new rollout (``resources``: sizing and runtime settings of the new deployment;
        ``capture``: its inference capture, given only when asked for)."""
        ...

    def rollback(
        self, endpoint: str, *, to: str | None, smoke_test: SmokeTest | None, lineage: Lineage
    ) -> OperationDriver[DeploymentResult]:
        """Driver of a rollback to the previous production deployment (or ``to``)."""
        ...

    def create_endpoint(self, endpoint: str, *, stop_with_client: bool = False) -> OperationDriver[Endpoint]:
        """Start creating ``endpoint`` unless it exists (no deployment, no traffic); driver of the wait.

        ``stop_with_client``: a backend that runs the endpoint in the user's machine (local servers)
        stops it when the client closes or its process ends; managed endpoints ignore it.
        """
        ...

    def resume(
        self, kind: str, op_id: str, state: dict[str, Any], smoke_test: SmokeTest | None
    ) -> OperationDriver[Any]:
        """Rebuild a driver from a continuation token's state."""
        ...

    def history(self, endpoint: str) -> list[HistoryEntry]:
        """History entries of ``endpoint``, oldest first."""
        ...

    def invoke(self, endpoint: str, payload: Any, *, deployment: str | None) -> Any:
        """Score ``payload`` on the endpoint (by weights, or on one deployment)."""
        ...

    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint (``ResourceNotFoundError`` when missing)."""
        ...

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint and its deployments."""
        ...

    def stop_endpoint(self, name: str) -> bool:
        """Stop serving (local servers); backends that cannot stop raise :class:`ConfigurationError`."""
        ...

    def start_endpoint(self, name: str) -> Endpoint:
        """Start serving again (local servers)."""
        ...

    def get_logs(self, endpoint: str, *, deployment: str | None = None, lines: int = 50) -> str:
        """Tail of the endpoint's (or one deployment's) log."""
        ...

    def get_keys(self, endpoint: str) -> EndpointKeys:
        """The endpoint's scoring keys (registered for redaction)."""
        ...

    def regenerate_keys(self, endpoint: str, *, key: Literal["primary", "secondary"]) -> EndpointKeys:
        """Replace one scoring key; the endpoint accepts the new key (and no longer the old one) on return."""
        ...


# -- traffic math -----------------------------------------------------------------------------------


def shift_traffic(current: Mapping[str, int], deployment: str, percent: int) -> dict[str, int]:
    """Give ``deployment`` ``percent`` of live traffic; the others share the rest in their current proportions.

    Every deployment in ``current`` stays in the result (zeros included): the map is read,
    modified and written back whole, so no other deployment silently drops to 0 %. Rounding uses
    the largest remainder, so the result always sums to exactly 100. When no other deployment has
    traffic, the deployment gets 100 % (a split needs somebody to split with).
    """
    others = {name: weight for name, weight in current.items() if name != deployment}
    live = {name: weight for name, weight in others.items() if weight > 0}
    result = dict.fromkeys(others, 0)
    if not live:
        result[deployment] = 100
        return result
    remaining = 100 - percent
    total = sum(live.values())
    shares = {name: weight * remaining / total for name, weight in live.items()}
    floors = {name: int(share) for name, share in shares.items()}
    leftover = remaining - sum(floors.values())
    for name in sorted(shares, key=lambda key: (-(shares[key] - floors[key]), key))[:leftover]:
        floors[name] += 1
    result.update(floors)
    result[deployment] = percent
    return result


def _production(traffic: Mapping[str, int]) -> str | None:
    live = {name: weight for name, weight in traffic.items() if weight > 0}
    return max(sorted(live), key=lambda name: live[name]) if live else None


def previous_production(history: Sequence[HistoryEntry], traffic: Mapping[str, int]) -> str | None:
    """The deployment that served production before the current one, from the history (newest first)."""
    current = _production(traffic)
    for entry in reversed(history):
        candidate = _production(entry.traffic)
        if candidate is not None and candidate != current and candidate in traffic:
            return candidate
    return None


def _check_guardrails(platform: EndpointPlatform, guardrails: Guardrails) -> None:
    """Refuse, before anything changes, guardrails this backend cannot measure."""
    if not isinstance(platform, GuardrailMetrics):
        raise ConfigurationError(
            f"the {platform.backend} backend cannot watch live traffic, so guardrails cannot be used there; "
            "deploy without guardrails= (smoke tests still run) or use the local or azure backend",
            details={"field": "guardrails"},
        )
    unsupported = platform.unsupported_guardrails()
    for name in guardrails.active:
        if name in unsupported:
            raise ConfigurationError(
                f"guardrail {name} is not available on the {platform.backend} backend: {unsupported[name]}",
                details={"field": f"guardrails.{name}"},
            )


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


# -- the rollout engine -----------------------------------------------------------------------------


def _initial_state(
    platform: EndpointPlatform,
    mode: str,
    endpoint: str,
    deployment: str | None,
    smoke: SmokeTest | None,
    lineage: Lineage,
    *,
    phase: str,
) -> dict[str, Any]:
    """The JSON state every rollout starts from (deploy and rollback add their own fields)."""
    return {
        "mode": mode,
        "endpoint": endpoint,
        "deployment": deployment,
        "smoke_test": smoke.model_dump(mode="json") if smoke else None,
        "smoke_predicate": bool(smoke and smoke.has_predicate),
        "phase": phase,
        "step": 0,
        "steps": [],
        "changed": True,
        "started_at": _iso(platform.clock.now()),
        "by": current_identity(),
        "lineage": lineage.model_dump(mode="json"),
    }


class RolloutDriver:
    """Runs a deployment (or a rollback) as a resumable state machine, one action per ``poll()``.

    Args:
        platform: The backend's primitives.
        op_id: Operation id.
        state: The JSON state (new or from a token).
        smoke_test: The smoke test with its predicate (tokens keep everything but the predicate).
    """

    def __init__(
        self, platform: EndpointPlatform, op_id: str, state: dict[str, Any], smoke_test: SmokeTest | None = None
    ) -> None:
        self._platform = platform
        self._id = op_id
        self._state = state
        self._strategy = _stored_strategy(state["strategy"]) if state.get("strategy") else None
        stored = state.get("smoke_test")
        if smoke_test is None and stored is not None:
            if state.get("smoke_predicate"):
                raise ConfigurationError(
                    "this operation's smoke test has a predicate, which continuation tokens cannot carry; "
                    "pass it again: resume_operation(token, smoke_test=SmokeTest(..., predicate=...))"
                )
            smoke_test = read_stored(SmokeTest, stored)
        self._smoke = smoke_test

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def new_deploy(
        cls,
        platform: EndpointPlatform,
        op_id: str,
        *,
        model: ModelSpec,
        endpoint: str,
        deployment: str,
        strategy: AnyStrategy,
        lineage: Lineage,
        resources: Resources | None = None,
        capture: Capture | None = None,
    ) -> RolloutDriver:
        """A driver for a new rollout."""
        smoke = strategy.smoke_test
        if strategy.guardrails is not None:
            _check_guardrails(platform, strategy.guardrails)
        state = _initial_state(platform, "deploy", endpoint, deployment, smoke, lineage, phase="endpoint")
        state.update(
            model=model.to_dict(),
            digest=platform.model_digest(model),
            strategy=strategy.model_dump(mode="json", exclude={"smoke_test"}),
        )
        if resources is not None:
            state["resources"] = resources.model_dump(mode="json", exclude_unset=True)
            state["resources_ignored"] = platform.ignored_resources(resources)
        if capture is not None:
            state["capture"] = capture.model_dump(mode="json")
        return cls(platform, op_id, state, smoke)

    @classmethod
    def new_rollback(
        cls,
        platform: EndpointPlatform,
        op_id: str,
        *,
        endpoint: str,
        to: str | None,
        smoke_test: SmokeTest | None,
        lineage: Lineage,
    ) -> RolloutDriver:
        """A driver for a rollback."""
        state = _initial_state(platform, "rollback", endpoint, to, smoke_test, lineage, phase="target")
        state.update(model=None, strategy=None)
        return cls(platform, op_id, state, smoke_test)

    # -- OperationDriver ----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``deployments.deploy`` or ``deployments.rollback``."""
        return DEPLOY_KIND if self._state["mode"] == "deploy" else ROLLBACK_KIND

    @property
    def id(self) -> str:
        """The operation id."""
        return self._id

    def state(self) -> dict[str, Any]:
        """The JSON state (everything needed to resume)."""
        return dict(self._state)

    def cancel(self) -> None:
        """Ask for cancellation: the next poll restores the previous traffic map and ends CANCELED."""
        self._state["cancel_requested"] = True

    def result(self) -> DeploymentResult:
        """The result, once the operation ended."""
        s = self._state
        model = ModelSpec.from_dict(s["model"]) if s.get("model") else None
        previous = (s.get("previous") or {}).get("traffic", {})
        return DeploymentResult(
            endpoint=s["endpoint"],
            deployment=s.get("deployment") or "",
            model=model.ref if model else s.get("target_model"),
            model_uri=model.uri if model else None,
            strategy=self._strategy.kind if self._strategy else "rollback",
            succeeded=s.get("outcome") == "succeeded",
            rolled_back=s.get("outcome") == "rolled_back",
            reason=s.get("reason"),
            changed=bool(s.get("changed", True)),
            traffic=s.get("final_traffic", {}),
            mirror=s.get("final_mirror", {}),
            previous_traffic=previous,
            steps=[StepResult.model_validate(step) for step in s.get("steps", [])],
            log_tail=s.get("log_tail"),
            scoring_uri=s.get("scoring_uri"),
            operation_id=self._id,
            started_at=s.get("started_at"),
            finished_at=s.get("finished_at"),
            lineage=Lineage.model_validate(s.get("lineage") or {}),
            resources=self._resources(),
            resources_ignored=dict(s.get("resources_ignored") or {}),
            breach=GuardrailBreach.model_validate(s["breach"]) if s.get("breach") else None,
        )

    def poll(self) -> PollResult:
        """Perform the next action (at most one traffic change) and report the state."""
        s = self._state
        if s.get("outcome") is not None:
            return self._final()
        if s.get("cancel_requested"):
            return self._cancel_now()
        try:
            handler = getattr(self, f"_phase_{s['phase']}")
            result: PollResult = handler()
            return result
        except MlopsError as error:
            if is_retryable(error):
                raise  # transient: Operation looks again (with backoff) and the step is redone idempotently
            return self._fail(str(error.message), error=error)

    # -- phases of a deploy ------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._platform.clock.now().timestamp()

    def _phase_endpoint(self) -> PollResult:
        s = self._state
        if not s.get("endpoint_begun"):
            self._platform.begin_endpoint(s["endpoint"])
            s["endpoint_begun"] = True
            hint = self._platform.retry_hint(s["endpoint"])
            if hint:  # the create answer's Retry-After: the first look waits for it
                return PollResult(
                    Status.RUNNING,
                    native_status="Creating",
                    message=f"creating endpoint {s['endpoint']}",
                    retry_after=hint,
                )
        status, message = self._platform.endpoint_status(s["endpoint"])
        if status is Status.FAILED:
            return self._fail(f"creating endpoint {s['endpoint']!r} failed: {message}")
        if status is not Status.SUCCEEDED:
            return PollResult(
                Status.RUNNING,
                native_status=message,
                message=f"creating endpoint {s['endpoint']}",
            )
        s["phase"] = "deployment"
        return self._phase_deployment()

    def _final_reached(self, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> bool:
        name = self._state["deployment"]
        if isinstance(self._strategy, Shadow):
            return mirror.get(name, 0) == self._strategy.mirror_percent and traffic.get(name, 0) == 0
        return traffic.get(name, 0) == 100

    def _phase_deployment(self) -> PollResult:
        s = self._state
        platform, endpoint, name = self._platform, s["endpoint"], s["deployment"]
        if not s.get("deployment_begun"):
            traffic, mirror = platform.get_traffic(endpoint)
            record = platform.deployment_record(endpoint, name)
            previous = {"traffic": traffic, "mirror": mirror}
            if record is not None and record.get("digest") == s["digest"]:
                s["changed"] = False
                stored = record.get("previous")
                if 0 < traffic.get(name, 0) < 100 and isinstance(stored, dict):
                    previous = stored  # a re-run of an interrupted rollout: keep the original baseline
                self._record_deploy_if_missing(traffic, mirror)
                if self._final_reached(traffic, mirror):
                    s["previous"] = previous
                    return self._succeed(traffic, mirror)
            else:
                if record is not None and (traffic.get(name, 0) > 0 or mirror.get(name, 0) > 0):
                    raise ConflictError(
                        f"deployment {name!r} of endpoint {endpoint!r} serves traffic with another model "
                        f"({record.get('model') or 'unknown'}); deploy the new model under a new deployment name",
                        backend=platform.backend,
                        status_code=409,
                    )
                s["created"] = record is None
                metadata = {
                    **({"capture": s["capture"]} if s.get("capture") else {}),
                    "resources": s.get("resources"),
                    "digest": s["digest"],
                    "model": s["model"]["ref"],
                    "model_uri": s["model"]["uri"],
                    "previous": previous,
                    "by": s["by"],
                    "operation_id": self._id,
                }
                platform.begin_deployment(endpoint, name, ModelSpec.from_dict(s["model"]), metadata)
                self._record("deploy", traffic, mirror)
            s["previous"] = previous
            s["deployment_begun"] = True
            hint = platform.retry_hint(endpoint, name)
            if hint:  # the create answer's Retry-After: the first look waits for it
                return PollResult(
                    Status.RUNNING, native_status="Creating", message=f"creating deployment {name}", retry_after=hint
                )
        status, message = platform.deployment_status(endpoint, name)
        if status is Status.FAILED:
            s["log_tail"] = self._log_tail()
            return self._fail(f"deployment {name!r} failed to start: {message}")
        if status is not Status.SUCCEEDED:
            return PollResult(
                Status.RUNNING,
                native_status=message,
                message=f"creating deployment {name}",
            )
        resources = self._resources()
        if (
            resources is not None
            and resources.autoscale is not None
            and "autoscale" not in s.get("resources_ignored", {})
        ):
            platform.apply_autoscale(endpoint, name, resources)
        s["phase"] = "step"
        s["scoring_uri"] = platform.scoring_uri(endpoint)
        return self._phase_step()

    def _resources(self) -> Resources | None:
        stored = self._state.get("resources")
        return read_stored(Resources, stored) if stored is not None else None

    def _steps(self) -> list[int]:
        strategy = self._strategy
        if isinstance(strategy, Shadow):
            return [strategy.mirror_percent]
        assert strategy is not None
        return list(strategy.steps)

    def _waiting(self) -> PollResult | None:
        if self._state.get("guard") is not None:
            return self._bake_guarded()
        next_at = self._state.get("next_at")
        if next_at is not None:
            remaining = next_at - self._now()
            if remaining > 0:
                return PollResult(
                    Status.RUNNING, native_status="Baking", message=f"baking {remaining:.0f}s", retry_after=remaining
                )
        return None

    def _phase_step(self) -> PollResult:
        s = self._state
        waiting = self._waiting()
        if waiting is not None:
            return waiting
        steps = self._steps()
        if s["step"] >= len(steps):
            return self._phase_verify()
        percent = steps[s["step"]]
        smoke: SmokeResult | None = None
        if self._smoke is not None:
            outcome = self._run_smoke()
            if isinstance(outcome, PollResult):
                return outcome
            smoke = outcome
            if not smoke.passed:
                return self._check_failed(f"smoke test before the {percent}% step failed: {smoke.reason}", smoke)
        platform, endpoint, name = self._platform, s["endpoint"], s["deployment"]
        with self._traffic_change():
            traffic, mirror = platform.get_traffic(endpoint)
            last = s["steps"][-1] if s.get("steps") else None
            # this very step applied by an earlier attempt whose answer was lost is not someone else's change
            self._check_unchanged(
                traffic, mirror, also=self._step_maps(last["traffic"], last["mirror"], percent) if last else None
            )
            new_traffic, new_mirror = self._step_maps(traffic, mirror, percent)
            if new_traffic != traffic or new_mirror != mirror:  # e.g. a first deployment is at 100 % from step one
                self._set_traffic("traffic", new_traffic, new_mirror)
        s["steps"].append(
            StepResult(
                percent=percent, traffic=new_traffic, mirror=new_mirror, smoke=smoke, at=platform.clock.now()
            ).model_dump(mode="json")
        )
        s["step"] += 1
        bake = float(getattr(self._strategy, "bake_time", 0.0))
        s["next_at"] = self._now() + bake if bake > 0 else None
        guarded = self._strategy is not None and self._strategy.guardrails is not None and bake > 0
        if guarded:
            try:
                self._start_guard(percent, bake)
            except MlopsError as error:
                if is_retryable(error):
                    raise
                return self._metrics_unavailable(percent, error)
        message = f"{name} at {percent}%" + (" (mirrored)" if isinstance(self._strategy, Shadow) else "")
        if s["step"] >= len(steps) and (bake <= 0 or (self._smoke is None and not guarded)):
            return self._succeed(new_traffic, new_mirror)
        wait = min(bake, self._guardrails().check_interval) if guarded else bake  # the first look comes early
        return PollResult(Status.RUNNING, native_status="Shifting", message=message, retry_after=wait)

    def _phase_verify(self) -> PollResult:
        """After the last step's bake: one more smoke test, then done."""
        s = self._state
        waiting = self._waiting()
        if waiting is not None:
            return waiting
        if self._smoke is not None:
            outcome = self._run_smoke()
            if isinstance(outcome, PollResult):
                return outcome
            if not outcome.passed:
                return self._check_failed(f"smoke test after the final bake failed: {outcome.reason}", outcome)
        traffic, mirror = self._platform.get_traffic(s["endpoint"])
        self._check_unchanged(traffic, mirror)
        return self._succeed(traffic, mirror)

    # -- guardrails during a bake ------------------------------------------------------------------------

    def _guardrails(self) -> Guardrails:
        strategy = self._strategy
        assert strategy is not None
        assert strategy.guardrails is not None
        return strategy.guardrails

    def _metrics(self) -> GuardrailMetrics:
        platform = self._platform
        assert isinstance(platform, GuardrailMetrics)
        return platform

    def _baseline(self) -> str | None:
        s = self._state
        chosen = self._guardrails().baseline
        if chosen is not None:
            return chosen
        previous = (s.get("previous") or {}).get("traffic", {})
        return _production({key: value for key, value in previous.items() if key != s["deployment"]})

    def _start_guard(self, percent: int, bake: float) -> None:
        """Open the bake of one step: the first metrics marker, the bake's end and its extension limit."""
        s = self._state
        guard = self._guardrails()
        now = self._now()
        mark = self._metrics().metrics_mark(s["endpoint"], s["deployment"], self._baseline())
        skip = [] if self._baseline() is not None else ["prediction_shift"]  # nothing to compare with
        s["next_at"] = None
        s["guard"] = {
            "percent": percent,
            "marks": [{**mark, "t": now}],
            "bake_end": now + bake,
            "deadline": now + bake + guard.extension(bake),
            "next_check": now + min(guard.check_interval, bake),
            "skip": skip,
        }

    def _bake_guarded(self) -> PollResult | None:
        """One look during a guarded bake: wait, or evaluate the window; None once the bake is over."""
        s = self._state
        g = s["guard"]
        guard = self._guardrails()
        now = self._now()
        if now < g["bake_end"]:
            due = min(g["next_check"], g["bake_end"])
        else:  # the bake just ended: judge at once; during an extension, every check_interval
            due = g["next_check"] if g.get("past_end") else now
        if now < due:
            return PollResult(
                Status.RUNNING,
                native_status="Baking",
                message=f"baking {g['bake_end'] - now:.0f}s",
                retry_after=due - now,
            )
        marks = g["marks"]
        base = marks[0]
        for mark in marks:
            if mark["t"] <= now - guard.window:
                base = mark
        marks = [mark for mark in marks if mark["t"] >= base["t"]]
        try:
            current, observation = self._metrics().observe(
                s["endpoint"], s["deployment"], base, baseline=self._baseline(), shift_metric=guard.shift_metric
            )
        except MlopsError as error:
            if is_retryable(error):
                raise  # looked at again with backoff
            return self._metrics_unavailable(g["percent"], error)
        marks.append({**current, "t": now})
        g["marks"] = marks
        g["next_check"] = now + guard.check_interval
        g["past_end"] = now >= g["bake_end"]
        if s.get("steps"):
            s["steps"][-1]["guardrails"] = observation.model_dump(mode="json")
        verdict = evaluate(guard, observation, skip=g["skip"])
        if verdict.breached is not None:
            name, observed, threshold = verdict.breached
            return self._breach(name, observed, threshold, observation)
        if now < g["bake_end"]:
            wait = min(guard.check_interval, g["bake_end"] - now)
            return PollResult(
                Status.RUNNING,
                native_status="Baking",
                message=f"baking {g['bake_end'] - now:.0f}s; guardrails hold",
                retry_after=wait,
            )
        if verdict.thin:
            name, (seen, needed) = next(iter(verdict.thin.items()))
            if now < g["deadline"]:
                return PollResult(
                    Status.RUNNING,
                    native_status="ExtendingBake",
                    message=f"bake extended: {name} has {seen} of the {needed} samples it needs",
                    retry_after=min(guard.check_interval, g["deadline"] - now),
                )
            return self._breach("insufficient_traffic", float(seen), float(needed), observation, about=name)
        s["guard"] = None
        return None

    def _metrics_unavailable(self, percent: int, error: MlopsError) -> PollResult:
        """The guardrails cannot be read (refused, turned off): fail closed, as with too little traffic."""
        s = self._state
        now = self._platform.clock.now()
        s["guard"] = {"percent": percent}
        observation = GuardrailObservation(window_start=now, window_end=now)
        return self._breach("metrics_unavailable", 0.0, 0.0, observation, about=str(error.message))

    def _breach(
        self, name: str, observed: float, threshold: float, observation: GuardrailObservation, about: str = ""
    ) -> PollResult:
        """A guardrail tripped (or traffic stayed too thin): record it and roll back like a failed check."""
        s = self._state
        g = s["guard"]
        guard = self._guardrails()
        if name == "metrics_unavailable":
            detail = f"the guardrails' metrics could not be read, failing closed: {about}"
        elif name == "insufficient_traffic":
            detail = (
                f"guardrail {about} saw {observed:.0f} samples in the last {guard.window:g}s, fewer than the "
                f"{threshold:.0f} it needs, after the bake and its extension; failing closed"
            )
        else:
            detail = (
                f"guardrail {name} tripped at {g['percent']}%: observed {observed:.4g} > threshold {threshold:g} "
                f"over {observation.requests} requests between {observation.window_start:%H:%M:%S} and "
                f"{observation.window_end:%H:%M:%S}"
            )
        s["breach"] = GuardrailBreach(
            guardrail=name,
            observed=observed,
            threshold=threshold,
            percent=g["percent"],
            window_start=observation.window_start,
            window_end=observation.window_end,
            requests=observation.requests,
            detail=detail,
        ).model_dump(mode="json")
        s["guard"] = None
        return self._roll_back(detail, "guardrail_breached")

    # -- phases of a rollback -----------------------------------------------------------------------------

    def _phase_target(self) -> PollResult:
        s = self._state
        platform, endpoint = self._platform, s["endpoint"]
        traffic, mirror = platform.get_traffic(endpoint)
        target = s.get("deployment")
        if target is None:
            target = previous_production(platform.history(endpoint), traffic)
            if target is None:
                return self._fail(
                    f"endpoint {endpoint!r} has no previous production deployment in its history; "
                    f"pass to=<deployment> (deployments: {sorted(traffic)})"
                )
        elif target not in traffic:
            return self._fail(f"endpoint {endpoint!r} has no deployment {target!r}; deployments: {sorted(traffic)}")
        s["deployment"] = target
        s["previous"] = {"traffic": traffic, "mirror": mirror}
        record = platform.deployment_record(endpoint, target) or {}
        s["target_model"] = record.get("model")
        s["phase"] = "switch"
        return self._phase_switch()

    def _phase_switch(self) -> PollResult:
        s = self._state
        platform, endpoint, target = self._platform, s["endpoint"], s["deployment"]
        smoke: SmokeResult | None = None
        if self._smoke is not None:
            outcome = self._run_smoke()
            if isinstance(outcome, PollResult):
                return outcome
            smoke = outcome
            if not smoke.passed:
                s["log_tail"] = self._log_tail()
                return self._fail(f"smoke test of rollback target {target!r} failed: {smoke.reason}")
        with self._traffic_change():
            traffic, mirror = platform.get_traffic(endpoint)
            new_traffic = dict.fromkeys(traffic, 0)
            new_traffic[target] = 100
            new_mirror = {key: value for key, value in mirror.items() if key != target}
            if new_traffic == traffic and new_mirror == mirror:
                s["changed"] = False
            else:
                self._set_traffic("rollback", new_traffic, new_mirror, reason="rollback requested")
        s["steps"].append(
            StepResult(
                percent=100, traffic=new_traffic, mirror=new_mirror, smoke=smoke, at=platform.clock.now()
            ).model_dump(mode="json")
        )
        s["scoring_uri"] = platform.scoring_uri(endpoint)
        return self._succeed(new_traffic, new_mirror)

    # -- smoke tests -------------------------------------------------------------------------------------

    def _run_smoke(self) -> SmokeResult | PollResult:
        """Run the smoke test; a PollResult means "not ready yet, look again later"."""
        test = self._smoke
        assert test is not None
        s = self._state
        platform, endpoint, name = self._platform, s["endpoint"], s["deployment"]
        now = self._now()
        progress = s.setdefault("smoke_progress", {"attempts": 0, "deadline": now + test.ready_deadline})
        progress["attempts"] += 1
        answer = platform.score(endpoint, name, test.payload)
        if answer.status in _NOT_READY:
            if now + test.retry_interval > progress["deadline"]:
                s.pop("smoke_progress", None)
                return SmokeResult(
                    passed=False,
                    reason=f"deployment {name!r} was not ready within {test.ready_deadline:g}s "
                    f"(last answer: {answer.status or 'no connection'} {answer.message or ''})".strip(),
                    status_code=answer.status or None,
                    attempts=progress["attempts"],
                )
            return PollResult(
                Status.RUNNING,
                native_status="WaitingForDeployment",
                message=f"smoke test: {name} not ready ({answer.status or 'no connection'})",
                retry_after=test.retry_interval,
            )
        attempts = progress["attempts"]
        s.pop("smoke_progress", None)
        if answer.status != 200:
            return SmokeResult(
                passed=False,
                reason=f"answered {answer.status}: {answer.message}",
                status_code=answer.status,
                latency=answer.elapsed,
                attempts=attempts,
            )
        latencies = [answer.elapsed]
        for _ in range(test.samples - 1):
            extra = self._sample(test)
            if extra.status != 200:
                return SmokeResult(
                    passed=False,
                    reason=f"answered {extra.status}: {extra.message}",
                    status_code=extra.status,
                    latency=extra.elapsed,
                    attempts=attempts,
                )
            latencies.append(extra.elapsed)
        latency = statistics.median(latencies)
        reason = test.check(answer.body)
        if reason is None and test.latency_budget is not None and latency > test.latency_budget:
            reason = (
                f"median latency {latency * 1000:.1f} ms over {len(latencies)} requests exceeds the budget of "
                f"{test.latency_budget * 1000:.1f} ms"
            )
        return SmokeResult(
            passed=reason is None,
            reason=reason,
            status_code=200,
            latency=latency,
            attempts=attempts,
            output=_truncate(answer.body),
        )

    def _sample(self, test: SmokeTest) -> ScoreAnswer:
        """One latency sample; a transient answer (throttled, reset, 503) is sent again, a few times.

        The deployment already answered: a lost sample says nothing about it, and must not fail the rollout.
        """
        platform, s = self._platform, self._state
        for attempt in range(_SAMPLE_TRIES):
            answer = platform.score(s["endpoint"], s["deployment"], test.payload)
            if answer.status not in _NOT_READY or attempt == _SAMPLE_TRIES - 1:
                return answer
            platform.clock.sleep(min(test.retry_interval, 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- endings -----------------------------------------------------------------------------------------

    def _check_failed(self, reason: str, smoke: SmokeResult) -> PollResult:
        self._state["failed_smoke"] = smoke.model_dump(mode="json")
        return self._roll_back(reason, "smoke_failed")

    def _roll_back(self, reason: str, action: str) -> PollResult:
        """Record why, then restore the previous maps (and drop a deployment this rollout created)."""
        s = self._state
        platform, endpoint, name = self._platform, s["endpoint"], s["deployment"]
        s["log_tail"] = self._log_tail()
        self._record(action, *platform.get_traffic(endpoint), reason=reason)
        strategy = self._strategy
        if strategy is None or not strategy.rollback_on_failure:
            return self._fail(reason)
        self._restore(reason)
        if s.get("created") and not strategy.keep_failed:
            platform.delete_deployment(endpoint, name)
            self._record("delete", *platform.get_traffic(endpoint), reason="rolled back")
        s["outcome"] = "rolled_back"
        s["reason"] = reason
        return self._final()

    def _restore(self, reason: str) -> None:
        """Write the pre-operation traffic and mirror maps back (deployments added since keep 0 %)."""
        s = self._state
        platform, endpoint = self._platform, s["endpoint"]
        previous = s.get("previous") or {"traffic": {}, "mirror": {}}
        with self._traffic_change():
            traffic, mirror = platform.get_traffic(endpoint)
            restored = {name: int(previous["traffic"].get(name, 0)) for name in traffic}
            restored_mirror = {
                name: int(weight) for name, weight in previous.get("mirror", {}).items() if name in traffic
            }
            # never write back over another operation's change (an earlier attempt of this restore is ours)
            self._check_unchanged(traffic, mirror, also=(restored, restored_mirror))
            if restored != traffic or restored_mirror != mirror:
                self._set_traffic("rollback", restored, restored_mirror, reason=reason)
            else:
                self._record("rollback", restored, restored_mirror, reason=reason)
        s["final_traffic"], s["final_mirror"] = restored, restored_mirror

    def _cancel_now(self) -> PollResult:
        s = self._state
        if s.get("previous") is not None and s["mode"] == "deploy" and s.get("steps"):
            self._restore("operation canceled")
        s["outcome"] = "canceled"
        s["reason"] = "canceled"
        s["finished_at"] = _iso(self._platform.clock.now())
        return PollResult(Status.CANCELED, native_status="Canceled", message="canceled; previous traffic restored")

    def _succeed(self, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> PollResult:
        s = self._state
        s["outcome"] = "succeeded"
        s["final_traffic"], s["final_mirror"] = dict(traffic), dict(mirror)
        s.setdefault("scoring_uri", self._platform.scoring_uri(s["endpoint"]))
        return self._final()

    def _fail(self, reason: str, error: MlopsError | None = None) -> PollResult:
        s = self._state
        s["outcome"] = "failed"
        s["reason"] = reason
        if s.get("mode") == "deploy" and s.get("phase") != "endpoint":
            if s.get("log_tail") is None:
                s["log_tail"] = self._log_tail()
            try:
                self._record("failed", *self._platform.get_traffic(s["endpoint"]), reason=reason)
            except MlopsError as failure:  # the history must not hide the original failure
                _log.info("could not record the failure of %s: %s", self._id, failure)
        return self._final(error)

    def _final(self, error: MlopsError | None = None) -> PollResult:
        s = self._state
        s.setdefault("finished_at", _iso(self._platform.clock.now()))
        outcome = s["outcome"]
        if outcome == "failed" and isinstance(error, ServiceResponseError) and error.status_code in _REFUSALS:
            # The service refused (401, 403, 409): that class, status code, ARM code and request id are
            # what the caller acts on, not a generic OperationFailedError. Kept in the state (tokens).
            error.operation_id = error.operation_id or self._id
            error.details.setdefault("reason", s.get("reason"))
            error.details.setdefault("log_tail", s.get("log_tail"))
            s["refusal"] = error.to_dict()
        if outcome == "failed" and s.get("refusal"):
            refusal = error_from_dict(s["refusal"])
            if error is not None:
                refusal.__cause__ = error
            return PollResult(Status.FAILED, native_status="Failed", message=s.get("reason"), error=refusal)
        if outcome == "failed":
            tail = s.get("log_tail")
            what = "deployment" if s["mode"] == "deploy" else "rollback"
            of = f" of {s['deployment']!r}" if s.get("deployment") else ""  # a rollback that found no target
            failure = OperationFailedError(
                f"{what}{of} on endpoint {s['endpoint']!r} failed: {s.get('reason')}"
                + (f"\nDeployment log tail:\n{tail}" if tail else ""),
                backend=self._platform.backend,
                operation_id=self._id,
                details={"log_tail": tail, "reason": s.get("reason")},
            )
            if error is not None:
                failure.__cause__ = error
            return PollResult(Status.FAILED, native_status="Failed", message=s.get("reason"), error=failure)
        if outcome == "canceled":
            return PollResult(Status.CANCELED, native_status="Canceled")
        native = "RolledBack" if outcome == "rolled_back" else "Succeeded"
        return PollResult(Status.SUCCEEDED, native_status=native, message=s.get("reason"))

    def _record_deploy_if_missing(self, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> None:
        """Write the ``deploy`` entry a killed rollout created the deployment without (a re-run finds none).

        The deployment and its history entry are two writes; a process killed between them left a
        deployment the history does not mention. Only a re-run of the same model reaches here.
        """
        s = self._state
        ref = s["model"]["ref"]
        entries = self._platform.history(s["endpoint"])
        if not any(e.action == "deploy" and e.deployment == s["deployment"] and e.model == ref for e in entries):
            self._record("deploy", traffic, mirror, reason="recorded by a re-run: the first run stopped before it")

    def _record(
        self, action: str, traffic: Mapping[str, int], mirror: Mapping[str, int], *, reason: str | None = None
    ) -> None:
        self._platform.record(self._entry(action, traffic, mirror, reason=reason))

    def _traffic_change(self) -> contextlib.AbstractContextManager[Any]:
        """Reading, checking and changing the traffic as one step, where the platform offers a
        ``traffic_lock(endpoint)`` (the local and memory backends; Azure ML refuses an endpoint
        update while another one runs)."""
        lock = getattr(self._platform, "traffic_lock", None)
        return lock(self._state["endpoint"]) if lock is not None else contextlib.nullcontext()

    def _step_maps(
        self, traffic: Mapping[str, int], mirror: Mapping[str, int], percent: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The traffic and mirror maps a step to ``percent`` makes of ``traffic`` and ``mirror``."""
        name = self._state["deployment"]
        if isinstance(self._strategy, Shadow):
            return {name: 0, **traffic}, {**mirror, name: percent}
        return shift_traffic(traffic, name, percent), {key: value for key, value in mirror.items() if key != name}

    def _check_unchanged(
        self,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
        *,
        also: tuple[Mapping[str, int], Mapping[str, int]] | None = None,
    ) -> None:
        """Raise :class:`ConflictError` when the endpoint's maps are not those this operation set last
        (nor ``also``: what the change being retried makes of them): another rollout, a rollback or a
        manual traffic change came in between. The operation then stops where it is and leaves the
        traffic alone (writing over the other change would undo it)."""
        s = self._state
        if not s.get("steps"):
            return
        last = s["steps"][-1]
        found = (_weights(traffic), _weights(mirror))
        if found == (_weights(last["traffic"]), _weights(last["mirror"])):
            return
        if also is not None and found == (_weights(also[0]), _weights(also[1])):
            return
        raise ConflictError(
            f"the traffic of endpoint {s['endpoint']!r} changed while {self._id} ran: it set "
            f"{last['traffic']} (mirror {last['mirror']}), the endpoint now has {dict(traffic)} (mirror "
            f"{dict(mirror)}); another rollout, rollback or traffic change came in between. This operation "
            "stops and leaves the traffic as it is: run one rollout per endpoint at a time",
            backend=self._platform.backend,
            operation_id=self._id,
            status_code=409,
            details={"expected": last["traffic"], "found": dict(traffic)},
        )

    def _set_traffic(
        self, action: str, traffic: Mapping[str, int], mirror: Mapping[str, int], *, reason: str | None = None
    ) -> None:
        """Change the traffic and write its history entry with the same change (one endpoint PUT on Azure)."""
        s = self._state
        entry = self._entry(action, traffic, mirror, reason=reason)
        self._platform.set_traffic(s["endpoint"], traffic, mirror, history=entry)

    def _entry(
        self, action: str, traffic: Mapping[str, int], mirror: Mapping[str, int], *, reason: str | None = None
    ) -> HistoryEntry:
        s = self._state
        model = s.get("model") or {}
        return HistoryEntry(
            endpoint=s["endpoint"],
            action=action,  # type: ignore[arg-type]
            deployment=s.get("deployment"),
            model=model.get("ref") or s.get("target_model"),
            model_uri=model.get("uri"),
            traffic=dict(traffic),
            mirror=dict(mirror),
            reason=reason,
            operation_id=self._id,
            at=self._platform.clock.now(),
            by=s.get("by"),
            lineage=Lineage.model_validate(s.get("lineage") or {}),
        )

    def _log_tail(self) -> str | None:
        s = self._state
        try:
            return self._platform.logs(s["endpoint"], s["deployment"], 50) or None
        except MlopsError as error:
            _log.info("could not read the log of %s/%s: %s", s["endpoint"], s["deployment"], error)
            return None


def _truncate(value: Any, limit: int = 20) -> Any:
    if isinstance(value, list) and len(value) > limit:
        return value[:limit]
    return value


# -- the service over a platform ---------------------------------------------------------------------

P = TypeVar("P", bound=EndpointPlatform)


def _weights(traffic: Mapping[str, int]) -> dict[str, int]:
    """The deployments with a share (a service may list a deployment at 0 % or leave it out)."""
    return {name: int(weight) for name, weight in traffic.items() if weight}


class PlatformDeploymentService(abc.ABC, Generic[P]):
    """The operations every backend runs the same way over its :class:`EndpointPlatform`.

    ``deploy``, ``rollback``, ``create_endpoint``, ``resume`` and ``history`` are written once here;
    a backend's service subclasses this, sets ``self.platform`` and adds what really differs
    (scoring, reading endpoints back, keys, logs, stop/start). It adapts the shared part with hooks:

    * :attr:`driver_class`: the rollout driver class (a subclass may act when an operation ends);
    * :meth:`_operation_id`: operation ids (``<kind>-<endpoint>-<12 hex>`` on every built-in backend);
    * :meth:`_before_rollback`: the check before a rollback driver is made (e.g. that the endpoint exists);
    * :meth:`_check_deploy` and :meth:`_endpoint_name`: the input checks before a rollout and a history read.

    Drivers are resumed from their JSON state as is: the state format belongs to :class:`RolloutDriver`.
    """

    platform: P
    driver_class: ClassVar[type[RolloutDriver]] = RolloutDriver
    """The class of rollout and rollback drivers (new and resumed)."""

    # -- hooks ------------------------------------------------------------------------------------------

    def _operation_id(self, kind: str, endpoint: str) -> str:
        """A new operation id: ``<kind>-<endpoint>-<12 hex digits>``."""
        return f"{kind}-{endpoint}-{uuid.uuid4().hex[:12]}"

    def _endpoint_name(self, endpoint: str) -> str:
        """``endpoint`` checked with Azure ML's naming rule (:class:`ConfigurationError` otherwise)."""
        return check_endpoint_name(endpoint)

    def _check_deploy(self, endpoint: str, capture: Capture | None) -> None:
        """Refuse a rollout's input before anything happens (default: the endpoint name)."""
        self._endpoint_name(endpoint)

    def _before_rollback(self, endpoint: str) -> None:
        """Refuse a rollback before a driver is made (default: no check; the driver reports a missing endpoint)."""

    # -- shared operations ------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint (``ResourceNotFoundError`` when missing): each backend reads its own."""

    def deploy(
        self,
        model: ModelSpec,
        *,
        endpoint: str,
        deployment: str,
        strategy: AnyStrategy,
        lineage: Lineage,
        resources: Resources | None = None,
        capture: Capture | None = None,
    ) -> RolloutDriver:
        """A rollout driver (nothing is sent before the first poll but what validating the model needs)."""
        self._check_deploy(endpoint, capture)
        return self.driver_class.new_deploy(
            self.platform,
            self._operation_id("deploy", endpoint),
            model=model,
            endpoint=endpoint,
            deployment=deployment,
            strategy=strategy,
            lineage=lineage,
            resources=resources,
            capture=capture,
        )

    def rollback(
        self, endpoint: str, *, to: str | None, smoke_test: SmokeTest | None, lineage: Lineage
    ) -> RolloutDriver:
        """A rollback driver."""
        self._before_rollback(endpoint)
        return self.driver_class.new_rollback(
            self.platform,
            self._operation_id("rollback", endpoint),
            endpoint=endpoint,
            to=to,
            smoke_test=smoke_test,
            lineage=lineage,
        )

    def create_endpoint(self, endpoint: str, *, stop_with_client: bool = False) -> EndpointDriver:
        """Start creating ``endpoint`` unless it exists; the driver waits until it is ready.

        ``stop_with_client`` is ignored here; a backend whose endpoints run in the user's machine honours it.
        """
        from mlops_sdk.backends.spi.endpoints import EndpointDriver  # that module imports this one

        self.platform.begin_endpoint(endpoint)
        return EndpointDriver(self.platform, self.get_endpoint, self._operation_id("endpoint", endpoint), endpoint)

    def resume(
        self, kind: str, op_id: str, state: dict[str, Any], smoke_test: SmokeTest | None
    ) -> RolloutDriver | EndpointDriver:
        """Rebuild a driver from a continuation token's state."""
        from mlops_sdk.backends.spi.endpoints import ENDPOINT_KIND, EndpointDriver

        if kind == ENDPOINT_KIND:
            return EndpointDriver(self.platform, self.get_endpoint, op_id, state["endpoint"])
        return self.driver_class(self.platform, op_id, state, smoke_test)

    def history(self, endpoint: str) -> list[HistoryEntry]:
        """History entries of ``endpoint`` (also of a deleted one where the backend keeps them), oldest first."""
        return self.platform.history(self._endpoint_name(endpoint))
