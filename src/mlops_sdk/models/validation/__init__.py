"""Value types of validation: check results, the report with its outcome, digest and exports."""

from __future__ import annotations

from mlops_sdk.models.validation.report import (
    VALIDATION_TAG_PREFIX,
    CheckResult,
    FeatureDrift,
    MetricComparison,
    Outcome,
    ReportModel,
    ValidationReport,
    decide_outcome,
)

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
