"""Value types of online deployment: strategies, smoke tests, results, endpoints and history.

Strategies (``Canary``, ``Linear``, ``AllAtOnce``, ``BlueGreen``, ``Replace``, ``Shadow``), their
:class:`~mlops_sdk.models.guardrails.Guardrails` and :class:`SmokeTest` are what users build; the rest
is what they receive. All are frozen pydantic models; every input accepts the model or a dict.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from mlops_sdk.core.errors import OperationFailedError
from mlops_sdk.core.input_spec import InputSpec
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.guardrails import GuardrailBreach, GuardrailObservation, Guardrails
from mlops_sdk.models.resources import Resources

__all__ = [
    "MAX_MIRROR_PERCENT",
    "AllAtOnce",
    "AnyStrategy",
    "BlueGreen",
    "Canary",
    "Capture",
    "DeploymentInfo",
    "DeploymentResult",
    "Endpoint",
    "EndpointKeys",
    "HistoryEntry",
    "Linear",
    "Replace",
    "Shadow",
    "SmokeResult",
    "SmokeTest",
    "StepResult",
    "Strategy",
    "max_shape",
]

MAX_MIRROR_PERCENT = 50
"""Azure ML mirrors at most 50 % of an endpoint's traffic to one deployment."""

_DTYPES = ("number", "integer", "string", "boolean")


def _seconds(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, timedelta) else value


class SmokeTest(InputSpec):
    """A request sent to the NEW deployment directly (by name) before each traffic step, with assertions.

    Exactly what is checked is up to you; at least one expectation is required, so a smoke test
    can never pass by asserting nothing:

    * ``expected``: the exact output (numbers compared with ``tolerance``);
    * ``predicate``: a callable receiving the output and returning True when it is acceptable;
    * ``shape`` / ``dtype``: the output's shape (``None`` for any size in that dimension) and element type.

    Attributes:
        payload: The request body: Azure ML ``{"input_data": ...}`` or an MLflow body
            (``dataframe_split``, ``inputs``, ...).
        expected: Exact expected output (the bare list ``/score`` returns).
        predicate: ``output -> bool``; not carried in continuation tokens (pass it again on resume).
        shape: Expected output shape, e.g. ``[2]`` or ``[None, 3]``.
        dtype: Expected element type: ``number``, ``integer``, ``string`` or ``boolean``.
        tolerance: Absolute tolerance for numbers in ``expected``.
        latency_budget: Seconds the answer may take (median of ``samples`` answers), or None.
        samples: Requests sent once the deployment answers, for the latency median (>= 1).
        ready_deadline: Seconds to keep retrying while the deployment is not ready (connection
            refused, 404, 5xx) before the smoke test fails.
        retry_interval: Seconds between readiness attempts.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, allow_inf_nan=False)

    payload: dict[str, Any] | list[Any]
    expected: Any = None
    predicate: Callable[[Any], bool] | None = Field(default=None, exclude=True)
    shape: list[int | None] | None = None
    dtype: Literal["number", "integer", "string", "boolean"] | None = None
    tolerance: float = Field(default=1e-6, ge=0)
    latency_budget: float | None = Field(default=None, gt=0)
    samples: int = Field(default=3, ge=1, le=50)
    ready_deadline: float = Field(default=300.0, ge=0)
    retry_interval: float = Field(default=2.0, gt=0)

    @field_validator("latency_budget", "ready_deadline", "retry_interval", mode="before")
    @classmethod
    def _timedelta_to_seconds(cls, value: Any) -> Any:
        return _seconds(value)

    @model_validator(mode="after")
    def _needs_expectation(self) -> SmokeTest:
        if self.expected is None and self.predicate is None and self.shape is None and self.dtype is None:
            raise ValueError(
                "SmokeTest needs an expectation: expected=<exact output>, predicate=<callable>, "
                "shape=[...] or dtype=...; a smoke test that asserts nothing cannot catch a bad model"
            )
        return self

    @property
    def has_predicate(self) -> bool:
        """True when a predicate is part of the test (it must be passed again to resume)."""
        return self.predicate is not None

    def check(self, output: Any) -> str | None:
        """Return why ``output`` fails the expectations, or ``None`` when it passes."""
        if self.expected is not None and not _same(output, self.expected, self.tolerance):
            return f"output {_short(output)} differs from the expected {_short(self.expected)}"
        if self.shape is not None:
            actual = list(max_shape(output))
            if len(actual) != len(self.shape) or any(
                want is not None and want != got for want, got in zip(self.shape, actual, strict=True)
            ):
                return f"output shape {actual} does not match the expected {self.shape}"
        if self.dtype is not None:
            wrong = _first_wrong_type(output, self.dtype)
            if wrong is not None:
                return f"output element {_short(wrong)} is not of type {self.dtype}"
        if self.predicate is not None:
            try:
                accepted = bool(self.predicate(output))
            except Exception as error:
                return f"the predicate raised {type(error).__name__}: {error}"
            if not accepted:
                return f"the predicate rejected the output {_short(output)}"
        return None


def max_shape(value: Any) -> tuple[int, ...]:
    """Shape of nested lists (the first element decides the inner dimensions)."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def _same(actual: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(actual == expected)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=0.0, abs_tol=tolerance) or bool(actual == expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(
            _same(a, e, tolerance) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(_same(actual[k], expected[k], tolerance) for k in expected)
    return bool(actual == expected)


def _first_wrong_type(value: Any, dtype: str) -> Any:
    if isinstance(value, list):
        for item in value:
            wrong = _first_wrong_type(item, dtype)
            if wrong is not None:
                return wrong
        return None
    ok = {
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
    }[dtype]
    return None if ok else (value if value is not None else "null")


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Capture(InputSpec):
    """Inference capture of a deployment: what it receives and answers, kept for monitoring.

    Off unless given (``begin_deploy(..., capture=Capture())``). Every scored row gets a correlation
    id either way (response header ``x-mlops-correlation-id``; a caller may send its own).

    Attributes:
        sample_rate: Share of requests captured (0 < rate <= 1), decided per request.
        inputs: Capture the input rows.
        outputs: Capture the predictions.
        durability: ``"batched"`` (default): the local server answers once the row is in its bounded
            capture queue and writes queued rows at least every ``flush_interval`` seconds, so a
            killed server loses at most the rows of the last ``flush_interval``; a graceful stop
            writes everything. ``"acknowledged"``: the answer waits (up to ``ack_timeout``) until the
            row's file is on disk, and says so in ``x-mlops-capture: stored``.
        flush_interval: Seconds between writes of queued rows (batched mode).
        max_queue: Rows a deployment may have waiting to be written; beyond it rows are dropped and
            counted (scoring never waits for capture).
        ack_timeout: Seconds an ``acknowledged`` answer waits for the write before answering anyway
            (``x-mlops-capture: queued``).
    """

    sample_rate: float = Field(default=1.0, gt=0, le=1)
    inputs: bool = True
    outputs: bool = True
    durability: Literal["batched", "acknowledged"] = "batched"
    flush_interval: float = Field(default=1.0, gt=0, le=300)
    max_queue: int = Field(default=100_000, ge=1, le=10_000_000)
    ack_timeout: float = Field(default=2.0, gt=0, le=60)

    @field_validator("flush_interval", "ack_timeout", mode="before")
    @classmethod
    def _interval_seconds(cls, value: Any) -> Any:
        return _seconds(value)

    @model_validator(mode="after")
    def _captures_something(self) -> Capture:
        if not (self.inputs or self.outputs):
            raise ValueError("Capture needs inputs=True or outputs=True; to capture nothing, pass capture=None")
        return self


class _Strategy(InputSpec):
    """What every strategy shares; its constructor raises :class:`ConfigurationError` naming the field at fault."""

    model_config = ConfigDict(allow_inf_nan=False)  # an infinite bake would be a rollout that never ends

    smoke_test: SmokeTest | None = None
    rollback_on_failure: bool = True
    keep_failed: bool = False
    guardrails: Guardrails | None = None

    @model_validator(mode="after")
    def _guardrails_need_a_bake(self) -> _Strategy:
        if self.guardrails is not None and float(getattr(self, "bake_time", 0.0)) <= 0:
            raise ValueError(
                "guardrails watch the new deployment during a bake; give the strategy a bake time "
                "(bake=, interval= or bake_time= in seconds)"
            )
        return self


class BlueGreen(_Strategy):
    """Shift live traffic to the new deployment in steps, smoke-testing it before each step.

    Attributes:
        steps: Increasing percentages ending at 100 (default ``[10, 50, 100]``).
        bake_time: Seconds (or a timedelta) to wait after each step before the next one.
        smoke_test: Run against the new deployment before every step (and after the last bake).
        rollback_on_failure: Restore the previous traffic map when a check fails (else the
            operation fails and traffic stays where it is).
        keep_failed: Keep a rolled-back new deployment (at 0 %) for debugging instead of deleting it.
    """

    kind: Literal["blue_green"] = "blue_green"
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])
    bake_time: float = Field(default=0.0, ge=0)

    @field_validator("bake_time", mode="before")
    @classmethod
    def _bake_seconds(cls, value: Any) -> Any:
        return _seconds(value)

    @field_validator("steps")
    @classmethod
    def _check_steps(cls, steps: list[int]) -> list[int]:
        if not steps:
            raise ValueError("steps must not be empty; use [100] (or Replace()) for a single switch")
        if any(not 1 <= step <= 100 for step in steps):
            raise ValueError(f"steps must be percentages from 1 to 100, got {steps}")
        if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
            raise ValueError(f"steps must increase strictly, got {steps}")
        if steps[-1] != 100:
            raise ValueError(f"the last step must be 100 so the rollout completes, got {steps}")
        return steps


class Replace(_Strategy):
    """Switch all live traffic to the new deployment in one step (after the smoke test)."""

    kind: Literal["replace"] = "replace"
    bake_time: float = Field(default=0.0, ge=0)

    @property
    def steps(self) -> list[int]:
        """A single step to 100 %."""
        return [100]


class Shadow(_Strategy):
    """Mirror a share of live traffic to the new deployment; its answers are discarded.

    Attributes:
        mirror_percent: Percentage of requests copied to the new deployment (1..50, Azure's cap).
    """

    kind: Literal["shadow"] = "shadow"
    mirror_percent: int = Field(default=10)
    bake_time: float = Field(default=0.0, ge=0)

    @field_validator("mirror_percent")
    @classmethod
    def _check_mirror(cls, value: int) -> int:
        if not 1 <= value <= MAX_MIRROR_PERCENT:
            raise ValueError(
                f"mirror_percent must be from 1 to {MAX_MIRROR_PERCENT} (Azure ML mirrors at most "
                f"{MAX_MIRROR_PERCENT}% of traffic), got {value}"
            )
        return value


class _Guarded(_Strategy):
    """A strategy whose bake is given as ``bake`` or ``interval`` (seconds or a timedelta)."""

    @field_validator("bake", "interval", mode="before", check_fields=False)
    @classmethod
    def _bake_seconds(cls, value: Any) -> Any:
        return _seconds(value)


class Canary(_Guarded):
    """Send ``percent`` of live traffic to the new deployment, bake, then shift the rest and bake again.

    Each step is: shift -> smoke test (if any) -> bake while the guardrails (if any) watch the new
    deployment's live traffic -> next step. A failed smoke test or a tripped guardrail at any point
    restores exactly the traffic map the rollout started from.

    Attributes:
        percent: The canary's share of live traffic, 1..99.
        bake: Seconds (or a timedelta) each step bakes (the canary step and the final 100 % step).
        guardrails: What the bakes watch (:class:`Guardrails`), or None for time-only bakes.
        smoke_test: Run against the new deployment before every step and after the last bake.
        rollback_on_failure: Restore the previous traffic map on a failure (else just stop).
        keep_failed: Keep a rolled-back new deployment (at 0 %) for debugging.
    """

    kind: Literal["canary"] = "canary"
    percent: int = Field(default=10, ge=1, le=99)
    bake: float = Field(default=300.0, ge=0)

    @property
    def steps(self) -> list[int]:
        """``[percent, 100]``."""
        return [self.percent, 100]

    @property
    def bake_time(self) -> float:
        """Seconds each step bakes."""
        return self.bake


class Linear(_Guarded):
    """Shift live traffic in equal steps of ``step_percent``, baking ``interval`` seconds after each.

    Attributes:
        step_percent: Share added per step, 1..50 (the last step tops up to 100).
        interval: Seconds (or a timedelta) each step bakes, guardrails watching.
        guardrails: What the bakes watch, or None.
        smoke_test: Run against the new deployment before every step and after the last bake.
        rollback_on_failure: Restore the previous traffic map on a failure.
        keep_failed: Keep a rolled-back new deployment (at 0 %) for debugging.
    """

    kind: Literal["linear"] = "linear"
    step_percent: int = Field(default=20, ge=1, le=50)
    interval: float = Field(default=120.0, ge=0)

    @property
    def steps(self) -> list[int]:
        """``step_percent, 2 * step_percent, ...`` up to 100."""
        steps = list(range(self.step_percent, 100, self.step_percent))
        return [*steps, 100]

    @property
    def bake_time(self) -> float:
        """Seconds each step bakes."""
        return self.interval


class AllAtOnce(_Guarded):
    """Shift all live traffic at once, then bake with the guardrails watching (rolled back on a breach).

    Attributes:
        bake: Seconds (or a timedelta) the single step bakes.
        guardrails: What the bake watches, or None.
        smoke_test: Run against the new deployment before the shift and after the bake.
        rollback_on_failure: Restore the previous traffic map on a failure.
        keep_failed: Keep a rolled-back new deployment (at 0 %) for debugging.
    """

    kind: Literal["all_at_once"] = "all_at_once"
    bake: float = Field(default=300.0, ge=0)

    @property
    def steps(self) -> list[int]:
        """A single step to 100 %."""
        return [100]

    @property
    def bake_time(self) -> float:
        """Seconds the step bakes."""
        return self.bake


AnyStrategy = BlueGreen | Replace | Shadow | Canary | Linear | AllAtOnce
"""The union of every strategy class (for annotations)."""

Strategy = Annotated[AnyStrategy, Field(discriminator="kind")]
"""Any deployment strategy."""


class SmokeResult(BaseModel):
    """Outcome of one smoke test run."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    reason: str | None = None
    status_code: int | None = None
    latency: float | None = None
    attempts: int = 1
    output: Any = None


class StepResult(BaseModel):
    """One traffic step of a rollout."""

    model_config = ConfigDict(frozen=True)

    percent: int
    traffic: dict[str, int]
    mirror: dict[str, int] = Field(default_factory=dict)
    smoke: SmokeResult | None = None
    at: datetime
    guardrails: GuardrailObservation | None = None


class DeploymentResult(BaseModel):
    """What a deployment (or rollback) did.

    Attributes:
        endpoint: Endpoint name.
        deployment: The deployment that was rolled out (or rolled back to).
        model: Model reference (``name@version`` or the path/URI given).
        model_uri: Where the model came from.
        strategy: Strategy kind (``blue_green``, ``replace``, ``shadow``, ``rollback``).
        succeeded: True when the rollout reached its final state.
        rolled_back: True when a failed check restored the previous traffic map.
        reason: Why it was rolled back or failed.
        changed: False when nothing needed to change (an idempotent re-run).
        traffic: Live traffic map at the end.
        mirror: Mirror map at the end.
        previous_traffic: Live traffic map before the operation.
        steps: Steps taken, with their smoke results.
        log_tail: Tail of the deployment's log when something failed.
        scoring_uri: The endpoint's scoring URI.
        operation_id: Id of the operation.
        started_at: When it started.
        finished_at: When it finished.
        lineage: Where it came from (git, CI, who).
        resources: The sizing and runtime settings asked for (None: the backend's defaults).
        resources_ignored: Fields of ``resources`` the backend accepted but cannot honour, with why
            (the local backend runs one process on this machine whatever the instance type).
        breach: The guardrail that stopped the rollout (its observed value, threshold and window), if any.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    deployment: str
    model: str | None = None
    model_uri: str | None = None
    strategy: str
    succeeded: bool
    rolled_back: bool = False
    reason: str | None = None
    changed: bool = True
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror: dict[str, int] = Field(default_factory=dict)
    previous_traffic: dict[str, int] = Field(default_factory=dict)
    steps: list[StepResult] = Field(default_factory=list)
    log_tail: str | None = None
    scoring_uri: str | None = None
    operation_id: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    resources: Resources | None = None
    resources_ignored: dict[str, str] = Field(default_factory=dict)
    breach: GuardrailBreach | None = None

    def raise_for_rollback(self) -> None:
        """Raise :class:`OperationFailedError` (with the reason and log tail) when the rollout did not succeed."""
        if not self.succeeded:
            tail = f"\nDeployment log tail:\n{self.log_tail}" if self.log_tail else ""
            raise OperationFailedError(
                f"deployment {self.deployment!r} on endpoint {self.endpoint!r} was "
                f"{'rolled back' if self.rolled_back else 'not completed'}: {self.reason}{tail}",
                operation_id=self.operation_id,
                details={"log_tail": self.log_tail, "traffic": self.traffic},
            )


class DeploymentInfo(BaseModel):
    """One deployment behind an endpoint."""

    model_config = ConfigDict(frozen=True)

    name: str
    model: str | None = None
    model_uri: str | None = None
    state: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Endpoint(BaseModel):
    """An online endpoint: where it answers, its deployments and their traffic."""

    model_config = ConfigDict(frozen=True)

    name: str
    backend: str
    scoring_uri: str | None = None
    state: str
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror: dict[str, int] = Field(default_factory=dict)
    deployments: list[DeploymentInfo] = Field(default_factory=list)
    auth_mode: str = "key"

    @property
    def production(self) -> str | None:
        """The deployment with the largest live share (``None`` when no traffic is set)."""
        live = {name: weight for name, weight in self.traffic.items() if weight > 0}
        return max(sorted(live), key=lambda name: live[name]) if live else None


class EndpointKeys(BaseModel):
    """An endpoint's scoring keys. Either key is accepted as ``Authorization: Bearer <key>``.

    The keys are :class:`~pydantic.SecretStr`: ``repr``, ``str`` and JSON show ``**********``;
    ``keys.primary_key.get_secret_value()`` is the key itself.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    primary_key: SecretStr
    secondary_key: SecretStr | None = None


class HistoryEntry(BaseModel):
    """One change of an endpoint: who moved which model version to what traffic, when, and why."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    action: Literal["deploy", "traffic", "rollback", "delete", "smoke_failed", "guardrail_breached", "failed"]
    deployment: str | None = None
    model: str | None = None
    model_uri: str | None = None
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror: dict[str, int] = Field(default_factory=dict)
    reason: str | None = None
    operation_id: str | None = None
    at: datetime
    by: str | None = None
    lineage: Lineage = Field(default_factory=Lineage)
