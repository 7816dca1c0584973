"""Validation checks: the :class:`Check` protocol, the built-in checks and the metric registry.

``import mlops_sdk.checks`` stays light: numpy, pandas and scipy are imported when a check runs.
"""

from __future__ import annotations

from mlops_sdk.checks.base import Check
from mlops_sdk.checks.builtin import BeatsChampion, DataQuality, MetricThreshold, NoDrift, SignatureCheck
from mlops_sdk.checks.config import ChecksFile, load_checks
from mlops_sdk.checks.context import CheckContext, LoadedModel
from mlops_sdk.checks.data import Dataset, load_dataset
from mlops_sdk.checks.metrics import Metric, available_metrics, get_metric, register_metric
from mlops_sdk.checks.runner import run_checks
from mlops_sdk.models.validation import CheckResult, FeatureDrift, MetricComparison

__all__ = [
    "BeatsChampion",
    "Check",
    "CheckContext",
    "CheckResult",
    "ChecksFile",
    "DataQuality",
    "Dataset",
    "FeatureDrift",
    "LoadedModel",
    "Metric",
    "MetricComparison",
    "MetricThreshold",
    "NoDrift",
    "SignatureCheck",
    "available_metrics",
    "get_metric",
    "load_checks",
    "load_dataset",
    "register_metric",
    "run_checks",
]
