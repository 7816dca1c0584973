"""Live guardrails of a rollout: thresholds on the new deployment's own traffic, checked during each bake.

:class:`Guardrails` is what users build (``Canary(percent=10, bake=300, guardrails=Guardrails(...))``);
:class:`GuardrailObservation` and :class:`GuardrailBreach` are what a rollout result reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops_sdk.core.input_spec import InputSpec

__all__ = ["GUARDRAIL_NAMES", "GuardrailBreach", "GuardrailObservation", "Guardrails"]

GUARDRAIL_NAMES = ("error_rate", "p95_ms", "p99_ms", "prediction_shift")
"""The guardrails a rollout can watch, in the order they are checked."""


def _seconds(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, timedelta) else value


class Guardrails(InputSpec):
    """Thresholds a new deployment's live traffic must stay within during every bake of a rollout.

    Evaluated continuously (every ``check_interval`` seconds) over the last ``window`` seconds of the
    NEW deployment's own requests; the first breach rolls the rollout back to exactly the traffic
    map it started from. Each guardrail needs a minimum sample before it gives a verdict: with less
    traffic the bake is extended (up to ``max_extension`` seconds) and then the rollout fails closed
    (rolls back, ``reason`` says which guardrail lacked traffic).

    Attributes:
        error_rate: Highest accepted share of failed requests (5xx answers, model errors), 0..1.
        p95_ms: Highest accepted 95th percentile of the server-side latency, milliseconds.
        p99_ms: Highest accepted 99th percentile, milliseconds.
        prediction_shift: Highest accepted distance between the new deployment's predictions and
            those of the deployment it replaces (``shift_metric``: PSI, or the Jensen-Shannon distance).
        shift_metric: ``"psi"`` (population stability index) or ``"js"`` (Jensen-Shannon distance, 0..1).
        min_requests: Requests in the window before error rate and latency give a verdict.
        min_predictions: Predictions (rows) before the shift gives a verdict (default ``min_requests``).
        window: Seconds of traffic each evaluation looks at (a sliding window).
        check_interval: Seconds between evaluations during a bake.
        max_extension: Seconds a bake may be extended while a guardrail lacks traffic
            (default: as long as the bake itself); then the rollout fails closed.
        baseline: Deployment whose predictions the shift is measured against (default: the
            production deployment when the rollout started).
    """

    model_config = ConfigDict(allow_inf_nan=False)  # an infinite window or interval never decides

    error_rate: float | None = Field(default=None, ge=0, le=1)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    prediction_shift: float | None = Field(default=None, gt=0)
    shift_metric: Literal["psi", "js"] = "psi"
    min_requests: int = Field(default=100, ge=1)
    min_predictions: int | None = Field(default=None, ge=1)
    window: float = Field(default=60.0, gt=0)
    check_interval: float = Field(default=5.0, gt=0)
    max_extension: float | None = Field(default=None, ge=0)
    baseline: str | None = None

    @field_validator("window", "check_interval", "max_extension", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return _seconds(value)

    @model_validator(mode="after")
    def _needs_threshold(self) -> Guardrails:
        if all(getattr(self, name) is None for name in GUARDRAIL_NAMES):
            raise ValueError(
                "Guardrails needs at least one threshold: error_rate=, p95_ms=, p99_ms= or prediction_shift="
            )
        if self.shift_metric == "js" and self.prediction_shift is not None and self.prediction_shift > 1:
            raise ValueError("prediction_shift: the Jensen-Shannon distance is at most 1; use a threshold in (0, 1]")
        return self

    @property
    def active(self) -> list[str]:
        """The guardrails with a threshold, in checking order."""
        return [name for name in GUARDRAIL_NAMES if getattr(self, name) is not None]

    @property
    def prediction_minimum(self) -> int:
        """Predictions needed before the shift gives a verdict."""
        return self.min_predictions if self.min_predictions is not None else self.min_requests

    def extension(self, bake: float) -> float:
        """Seconds a bake of ``bake`` seconds may be extended while traffic is too thin."""
        return self.max_extension if self.max_extension is not None else max(bake, self.window)


class GuardrailObservation(BaseModel):
    """What one evaluation saw of the new deployment's traffic over a window.

    Attributes:
        window_start: Start of the window.
        window_end: End of the window.
        requests: Requests answered by the deployment in the window.
        errors: Of those, failed ones (5xx, model errors).
        predictions: Numeric predictions (rows) in the window.
        values: Observed value per guardrail (``error_rate``, ``p95_ms``, ``p99_ms``, ``prediction_shift``);
            a guardrail missing here had no data.
    """

    model_config = ConfigDict(frozen=True)

    window_start: datetime
    window_end: datetime
    requests: int = 0
    errors: int = 0
    predictions: int = 0
    values: dict[str, float] = Field(default_factory=dict)


class GuardrailBreach(BaseModel):
    """The guardrail that stopped a rollout.

    Attributes:
        guardrail: ``error_rate``, ``p95_ms``, ``p99_ms``, ``prediction_shift``, ``insufficient_traffic``
            (no verdict after the bake and its extension) or ``metrics_unavailable`` (the metrics could
            not be read: refused, or turned off on the server).
        observed: The observed value (for ``insufficient_traffic``: the sample size seen).
        threshold: The configured threshold (for ``insufficient_traffic``: the minimum sample).
        percent: Traffic share of the new deployment when it tripped.
        window_start: Start of the evaluated window.
        window_end: End of the evaluated window.
        requests: Requests in the window.
        detail: One sentence for people.
    """

    model_config = ConfigDict(frozen=True)

    guardrail: str
    observed: float
    threshold: float
    percent: int
    window_start: datetime
    window_end: datetime
    requests: int = 0
    detail: str = ""
