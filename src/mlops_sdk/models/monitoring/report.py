"""The monitor report: per-signal results, the outcome as a value (``passed`` / ``alert``), exports.

Same style as :class:`~mlops_sdk.models.validation.ValidationReport`: thresholds decide, the report
carries a content digest, renders to Markdown / HTML (inline SVG) / JSON and displays in notebooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models._report import DigestedReport

__all__ = ["CaptureStats", "FeatureStats", "MetricValue", "MonitorOutcome", "MonitorReport", "SignalResult"]

MonitorOutcome = Literal["passed", "alert", "no_data"]
"""``passed``: no threshold crossed. ``alert``: at least one signal crossed a threshold."""

_DIGEST_FIELDS = frozenset(
    {"monitor", "endpoint", "deployment", "window_start", "window_end", "baseline", "rows", "labeled_rows", "signals"}
)


class FeatureStats(BaseModel):
    """What one signal measured on one feature (or on the predictions).

    Statistics a signal does not compute stay ``None``.

    Attributes:
        feature: Column name (``prediction`` for prediction drift).
        kind: ``numeric`` or ``categorical``.
        rows: Non-null current values compared.
        psi: Population stability index (baseline quantile bins / categories).
        js: Jensen-Shannon distance, base 2 (0 identical, 1 disjoint), on the same bins.
        wasserstein: Wasserstein-1 distance divided by the baseline's standard deviation.
        ks_statistic: Two-sample Kolmogorov-Smirnov statistic.
        ks_pvalue: Its asymptotic p-value.
        chi2_statistic: Chi-squared statistic of the category counts (categorical).
        chi2_pvalue: Its p-value.
        null_rate: Share of missing values.
        type_error_rate: Share of values not of the baseline column's type.
        out_of_range_rate: Share of numbers outside the baseline's range / unseen categories.
        alerts: Which thresholds were crossed, one line each (empty: fine).
    """

    model_config = ConfigDict(frozen=True)

    feature: str
    kind: Literal["numeric", "categorical"] = "numeric"
    rows: int = 0
    psi: float | None = None
    js: float | None = None
    wasserstein: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    null_rate: float | None = None
    type_error_rate: float | None = None
    out_of_range_rate: float | None = None
    alerts: tuple[str, ...] = ()

    @property
    def alert(self) -> bool:
        """True when a threshold was crossed on this feature."""
        return bool(self.alerts)

    def stat(self, name: str) -> float | None:
        """A statistic by name (``psi``, ``js``, ``wasserstein``, ``ks`` = ``ks_statistic``, ...)."""
        value = getattr(self, "ks_statistic" if name == "ks" else name)
        return None if value is None else float(value)


class MetricValue(BaseModel):
    """A model metric on the labelled captured rows, held against its bound."""

    model_config = ConfigDict(frozen=True)

    metric: str
    value: float
    threshold: float
    greater_is_better: bool
    labeled_rows: int
    alert: bool


class SignalResult(BaseModel):
    """One signal's outcome.

    Attributes:
        name: Signal name (unique in the monitor).
        kind: ``data_drift``, ``prediction_drift``, ``data_quality`` or ``model_performance``.
        passed: No threshold crossed (also true when ``skipped``).
        skipped: Not enough data to compute it (no captured rows, too few labels); ``message`` says why.
        message: One human line.
        thresholds: The bounds it was held against.
        features: Per-feature statistics (drift and quality signals).
        metrics: Metric values (performance signal).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    passed: bool
    skipped: bool = False
    message: str = ""
    thresholds: dict[str, float] = Field(default_factory=dict)
    features: tuple[FeatureStats, ...] = ()
    metrics: tuple[MetricValue, ...] = ()

    @property
    def alerting(self) -> tuple[str, ...]:
        """Features (or metrics) that crossed a threshold."""
        return tuple(item.feature for item in self.features if item.alert) + tuple(
            item.metric for item in self.metrics if item.alert
        )

    def feature(self, name: str) -> FeatureStats:
        """The statistics of feature ``name``; ``KeyError`` naming those there are."""
        for item in self.features:
            if item.feature == name:
                return item
        raise KeyError(f"no feature {name!r} in {self.name}; features: {[f.feature for f in self.features]}")


class CaptureStats(BaseModel):
    """Counters of an endpoint's inference capture since its server started (local) or as known.

    Attributes:
        endpoint: Endpoint name.
        captured: Rows put in the capture queue (the scoring answers that said ``queued``/``stored``).
        written: Rows written to capture files.
        dropped: Rows not captured because the deployment's queue was full.
        failed: Rows lost because writing failed (e.g. a read-only or full disk).
        sampled_out: Rows skipped by ``sample_rate``.
        deployments: The same counters per deployment.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    captured: int = 0
    written: int = 0
    dropped: int = 0
    failed: int = 0
    sampled_out: int = 0
    deployments: dict[str, dict[str, int]] = Field(default_factory=dict)

    @property
    def lost(self) -> int:
        """Rows that should have been captured but were not (``dropped + failed``)."""
        return self.dropped + self.failed


def _decide(signals: tuple[SignalResult, ...]) -> MonitorOutcome:
    """``alert`` when a signal crossed a threshold, ``no_data`` when every signal was skipped, else ``passed``."""
    if not all(signal.passed for signal in signals):
        return "alert"
    if signals and all(signal.skipped for signal in signals):
        return "no_data"
    return "passed"


class MonitorReport(DigestedReport):
    """The outcome of one monitor run as a value.

    Attributes:
        monitor: The monitor's name.
        endpoint: Endpoint watched.
        deployment: Deployment watched (``None``: all of the endpoint's).
        window_start: Start of the window (UTC, inclusive).
        window_end: End of the window (UTC, exclusive).
        baseline: What the baseline was (``kind``, ``version``, ``rows``, ...).
        rows: Captured rows in the window.
        labeled_rows: Of those, rows with ground truth.
        outcome: ``passed``, ``alert`` (a signal crossed a threshold) or ``no_data`` (every signal was
            skipped: nothing in the window to judge, e.g. capture is off or the endpoint name is wrong;
            a monitor that saw nothing never passes).
        signals: One result per signal, in the monitor's order.
        capture: Capture counters of the endpoint when the backend reports them (drops show here).
        backend: Backend that ran it.
        created_at: When it was made (not part of the digest).
        digest: ``sha256:`` of the content.
    """

    model_config = ConfigDict(frozen=True)

    monitor: str
    endpoint: str
    deployment: str | None = None
    window_start: datetime
    window_end: datetime
    baseline: dict[str, Any] = Field(default_factory=dict)
    rows: int = 0
    labeled_rows: int = 0
    outcome: MonitorOutcome
    signals: tuple[SignalResult, ...] = ()
    capture: CaptureStats | None = None
    backend: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    digest: str

    _digest_fields: ClassVar[frozenset[str]] = _DIGEST_FIELDS
    _what: ClassVar[str] = "monitor report"
    _redo: ClassVar[str] = "run the monitor again"
    _renderer: ClassVar[str] = "mlops_sdk.models.monitoring.render"

    @classmethod
    def build(cls, **fields: Any) -> MonitorReport:
        """Create a report from its content: ``outcome`` decided from the signals, ``digest`` computed."""
        signals = tuple(SignalResult.model_validate(signal) for signal in fields.get("signals", ()))
        fields["signals"] = signals
        fields["outcome"] = _decide(signals)
        return cls._sealed(fields)

    @classmethod
    def from_json(cls, text: str | bytes) -> MonitorReport:
        """Read a report written by :meth:`to_json`.

        Raises:
            ConfigurationError: not a report, its content does not match its digest, or its outcome is
                not the one its signals decide (edited).
        """
        report = super().from_json(text)
        decided = _decide(report.signals)
        if report.outcome != decided:  # the digest covers the signals; the outcome follows from them
            raise ConfigurationError(
                f"{cls._what} says {report.outcome!r} but its signals say {decided!r}: it was edited after it "
                f"was made; {cls._redo}",
                details={"field": "report", "digest": report.digest},
            )
        return report

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when no signal crossed a threshold and at least one could be computed."""
        return self.outcome == "passed"

    @property
    def alerts(self) -> tuple[str, ...]:
        """Every crossed threshold as ``"<signal>: <feature>: <reason>"`` lines."""
        lines = [
            f"{signal.name}: {item.feature}: {reason}"
            for signal in self.signals
            for item in signal.features
            for reason in item.alerts
        ]
        lines += [
            f"{signal.name}: {metric.metric} {metric.value:.4g} "
            f"{'<' if metric.greater_is_better else '>'} {metric.threshold:.4g}"
            for signal in self.signals
            for metric in signal.metrics
            if metric.alert
        ]
        return tuple(lines)

    def signal(self, name: str) -> SignalResult:
        """The result of the signal called ``name``; ``KeyError`` naming those there are."""
        for signal in self.signals:
            if signal.name == name:
                return signal
        raise KeyError(f"no signal {name!r}; signals: {', '.join(s.name for s in self.signals) or '-'}")

    def drifted_features(self) -> tuple[str, ...]:
        """Features that alerted in a ``data_drift`` signal."""
        return tuple(dict.fromkeys(name for s in self.signals if s.kind == "data_drift" for name in s.alerting))

    def __str__(self) -> str:
        return f"MonitorReport({self.endpoint}: {self.outcome}, {self.rows} rows, {len(self.alerts)} alerts)"
