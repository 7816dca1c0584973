"""The shadow comparison report: what a shadow deployment would have answered next to the live one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LatencySummary", "ShadowReport", "ShadowSlice"]


class LatencySummary(BaseModel):
    """Latency percentiles in milliseconds (None without answers)."""

    model_config = ConfigDict(frozen=True)

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class ShadowSlice(BaseModel):
    """Agreement within one slice of one input feature (a quantile bin of its observed values).

    Attributes:
        feature: Column name.
        low: Lowest value in the slice.
        high: Highest value in the slice.
        rows: Rows compared in the slice.
        agreement_rate: Share of those rows where live and shadow agree.
        mean_abs_difference: Mean absolute difference of numeric outputs (None for labels).
    """

    model_config = ConfigDict(frozen=True)

    feature: str
    low: float
    high: float
    rows: int
    agreement_rate: float
    mean_abs_difference: float | None = None


class ShadowReport(BaseModel):
    """Live vs shadow predictions of mirrored requests (matched by correlation id).

    Attributes:
        endpoint: Endpoint name.
        shadow: The shadow deployment.
        live: The live deployments that answered the mirrored requests.
        requests: Mirrored requests recorded.
        rows: Rows compared (both answered, same number of outputs).
        tolerance: Absolute difference under which two numeric outputs agree (labels must be equal).
        agreement_rate: Share of compared rows where live and shadow agree (None without rows).
        difference: Distribution of ``shadow - live`` for numeric outputs: ``mean``, ``mean_abs``,
            ``p50_abs``, ``p90_abs``, ``p99_abs``, ``max_abs``.
        live_latency: Latency of the live answers (server side).
        shadow_latency: Latency of the shadow's predictions.
        live_errors: Mirrored requests the live deployment failed.
        shadow_errors: Mirrored requests the shadow failed.
        live_error_rate: ``live_errors / requests``.
        shadow_error_rate: ``shadow_errors / requests``.
        slices: Agreement per quantile slice of every numeric input feature.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    shadow: str
    live: list[str] = Field(default_factory=list)
    requests: int = 0
    rows: int = 0
    tolerance: float = 0.0
    agreement_rate: float | None = None
    difference: dict[str, float] = Field(default_factory=dict)
    live_latency: LatencySummary = Field(default_factory=LatencySummary)
    shadow_latency: LatencySummary = Field(default_factory=LatencySummary)
    live_errors: int = 0
    shadow_errors: int = 0
    live_error_rate: float | None = None
    shadow_error_rate: float | None = None
    slices: list[ShadowSlice] = Field(default_factory=list)
