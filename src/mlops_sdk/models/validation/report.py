"""The validation report: per-check results, the outcome as a value, a content digest, exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.errors import ValidationFailedError
from mlops_sdk.core.lineage import TAG_PREFIX, Lineage
from mlops_sdk.models._report import DigestedReport

__all__ = [
    "VALIDATION_TAG_PREFIX",
    "CheckResult",
    "FeatureDrift",
    "MetricComparison",
    "Outcome",
    "ReportModel",
    "ValidationReport",
    "decide_outcome",
]

Outcome = Literal["promote", "not_promoted", "failed"]
"""``promote``: every check passed. ``not_promoted``: only comparative checks (``BeatsChampion``) failed,
the model is fine but not better. ``failed``: a non-comparative check failed or a check raised."""

VALIDATION_TAG_PREFIX = f"{TAG_PREFIX}validation."
"""Prefix of the tags a report writes onto the model version (``mlops.validation.outcome``, ...)."""

_DIGEST_FIELDS = frozenset(
    {"model", "champion", "champion_alias", "outcome", "checks", "data_versions", "metrics", "champion_metrics"}
)


class MetricComparison(BaseModel):
    """Candidate against champion on one metric, both scored on the same evaluation data.

    Attributes:
        metric: Metric name.
        greater_is_better: Direction of the metric.
        candidate: Candidate's value.
        champion: Champion's value (``None`` when there is no champion).
        improvement: Candidate's gain in the metric's good direction (relative to the champion's value
            when ``relative``); positive means better.
        relative: Whether ``improvement`` and ``min_delta`` are fractions of the champion's value.
        min_delta: The improvement must be strictly larger than this.
        ci_low: Lower end of the paired bootstrap confidence interval of ``improvement``, when asked for.
        ci_high: Upper end of that interval.
        confidence: Confidence level of the interval (e.g. 0.95).
        resamples: Number of bootstrap resamples.
    """

    model_config = ConfigDict(frozen=True)

    metric: str
    greater_is_better: bool
    candidate: float
    champion: float | None = None
    improvement: float | None = None
    relative: bool = False
    min_delta: float = 0.0
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    resamples: int | None = None


class FeatureDrift(BaseModel):
    """Drift of one feature between the reference (training) data and the new data.

    Attributes:
        feature: Column name.
        kind: ``numeric`` (PSI on reference deciles + two-sample KS) or ``categorical`` (PSI on categories).
        psi: Population stability index.
        ks_statistic: Kolmogorov-Smirnov statistic (numeric features only).
        ks_pvalue: Its p-value (numeric features only).
        drifted: Whether the feature crossed a threshold.
        reason: Which threshold it crossed, when it drifted.
    """

    model_config = ConfigDict(frozen=True)

    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    drifted: bool
    reason: str | None = None


class CheckResult(BaseModel):
    """What one check found.

    Attributes:
        name: The check's name (unique in a report).
        passed: Whether the check passed.
        kind: The check's type (``MetricThreshold``, ``BeatsChampion``, a user class name, ...).
        comparative: True for checks that compare with the champion: failing only those gives
            ``not_promoted`` instead of ``failed``.
        observed: What was measured (a number, a count, a small mapping).
        expected: The threshold or expectation it was held against.
        message: One human line: why it passed or failed.
        error: ``"ExceptionType: message"`` when the check raised instead of answering.
        comparison: Candidate vs champion numbers (``BeatsChampion``), for reports and plots.
        drift: Per-feature drift (``NoDrift``), for reports and plots.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    kind: str = "check"
    comparative: bool = False
    observed: Any = None
    expected: Any = None
    message: str = ""
    error: str | None = None
    comparison: MetricComparison | None = None
    drift: tuple[FeatureDrift, ...] = ()

    @field_validator("observed", "expected", mode="before")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        return _to_plain(value)


def _to_plain(value: Any) -> Any:
    """Numbers, strings, booleans, None, lists and string-keyed dicts; numpy scalars become Python ones."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return _to_plain(item())
    if isinstance(value, dict):
        return {str(key): _to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_to_plain(item) for item in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _to_plain(tolist())
    raise ValueError(f"observed/expected values must be JSON-like (numbers, text, lists, dicts), got {type(value)}")


class ReportModel(BaseModel):
    """The model version a report is about (or the champion it was compared with)."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    uri: str | None = None
    run_id: str | None = None

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


def decide_outcome(checks: tuple[CheckResult, ...] | list[CheckResult]) -> Outcome:
    """``promote`` if all passed; ``not_promoted`` if only comparative checks failed; else ``failed``."""
    failed = [check for check in checks if not check.passed]
    if not failed:
        return "promote"
    if all(check.comparative and check.error is None for check in failed):
        return "not_promoted"
    return "failed"


class ValidationReport(DigestedReport):
    """The outcome of one validation as a value, auditable and exportable.

    Build it with :meth:`build` (which decides the outcome and computes the digest); read it back
    with :meth:`from_json`, which refuses a report whose content does not match its digest.

    Attributes:
        model: The candidate model version.
        champion: The champion it was compared with (``None``: no version held the alias).
        champion_alias: The alias the champion was looked up by.
        outcome: ``promote``, ``not_promoted`` or ``failed``.
        checks: One result per check, in the order the checks were given.
        data_versions: Versions of the data used (``evaluation``, ``reference``, ...): the snapshot
            version when the data came from a refresh, else ``sha256:`` of the content.
        metrics: Candidate metrics computed on the evaluation data.
        champion_metrics: Champion metrics computed on the same data.
        backend: Backend that ran it.
        created_at: When it was made (not part of the digest).
        lineage: Code/CI provenance of the validation run (not part of the digest).
        digest: ``sha256:`` of the report's content (model, champion, outcome, checks, data, metrics).
    """

    model_config = ConfigDict(frozen=True)

    model: ReportModel
    champion: ReportModel | None = None
    champion_alias: str = "champion"
    outcome: Outcome
    checks: tuple[CheckResult, ...] = ()
    data_versions: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    champion_metrics: dict[str, float] = Field(default_factory=dict)
    backend: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    lineage: Lineage = Field(default_factory=Lineage)
    digest: str

    _digest_fields: ClassVar[frozenset[str]] = _DIGEST_FIELDS
    _what: ClassVar[str] = "validation report"
    _redo: ClassVar[str] = "re-run the validation"
    _renderer: ClassVar[str] = "mlops_sdk.models.validation.render"

    # -- building ----------------------------------------------------------------------------------

    @classmethod
    def build(cls, **fields: Any) -> ValidationReport:
        """Create a report from its content: ``outcome`` is decided from the checks, ``digest`` computed."""
        checks = tuple(CheckResult.model_validate(check) for check in fields.get("checks", ()))
        fields["checks"] = checks
        fields["outcome"] = decide_outcome(checks)
        return cls._sealed(fields)

    # -- the gate ----------------------------------------------------------------------------------

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when every check passed (``outcome == "promote"``)."""
        return self.outcome == "promote"

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(check for check in self.checks if not check.passed)

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``.

        Raises:
            KeyError: no such check; the message lists the names there are.
        """
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r}; checks: {', '.join(c.name for c in self.checks) or '-'}")

    def raise_for_gate(self) -> ValidationReport:
        """Return ``self`` when the outcome is ``promote``, else raise :class:`ValidationFailedError`."""
        if self.passed:
            return self
        failed = "; ".join(f"{check.name}: {check.message}" for check in self.failed_checks)
        raise ValidationFailedError(
            f"validation of {self.model.ref} ended {self.outcome}: {failed}",
            operation_id=self.digest,
            details={
                "outcome": self.outcome,
                "model": self.model.ref,
                "digest": self.digest,
                "failed_checks": [check.name for check in self.failed_checks],
            },
        )

    # -- recording ---------------------------------------------------------------------------------

    def to_tags(self) -> dict[str, str]:
        """Tags recorded on the model version: ``mlops.validation.*`` (every key, ``""`` when empty) and the
        lineage ``mlops.validation_digest``."""
        return {
            f"{VALIDATION_TAG_PREFIX}outcome": self.outcome,
            f"{VALIDATION_TAG_PREFIX}passed": "true" if self.passed else "false",
            f"{VALIDATION_TAG_PREFIX}digest": self.digest,
            f"{VALIDATION_TAG_PREFIX}at": self.created_at.isoformat(),
            f"{VALIDATION_TAG_PREFIX}checks": str(len(self.checks)),
            f"{TAG_PREFIX}validation_digest": self.digest,
            # Written even when empty: re-validating a version overwrites every tag of the older report
            # (tags are only ever added or overwritten), so a passed report never shows stale failures.
            f"{VALIDATION_TAG_PREFIX}failed": ", ".join(c.name for c in self.failed_checks)[:250],
            f"{VALIDATION_TAG_PREFIX}champion": self.champion.ref if self.champion is not None else "",
        }

    # -- exports -----------------------------------------------------------------------------------

    def __str__(self) -> str:
        failed = len(self.failed_checks)
        return f"ValidationReport({self.model.ref}: {self.outcome}, {len(self.checks)} checks, {failed} failed)"
