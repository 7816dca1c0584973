"""Value types of monitoring: capture settings, monitors and their signals, the monitor report."""

from __future__ import annotations

from mlops_sdk.models.deployments import Capture
from mlops_sdk.models.monitoring.report import (
    CaptureStats,
    FeatureStats,
    MetricValue,
    MonitorOutcome,
    MonitorReport,
    SignalResult,
)
from mlops_sdk.models.monitoring.spec import (
    Baseline,
    DataBaseline,
    DataDrift,
    DataQuality,
    ModelPerformance,
    Monitor,
    PredictionDrift,
    Signal,
    TimeWindow,
    TrainingBaseline,
    WindowBaseline,
    parse_duration,
)

__all__ = [
    "Baseline",
    "Capture",
    "CaptureStats",
    "DataBaseline",
    "DataDrift",
    "DataQuality",
    "FeatureStats",
    "MetricValue",
    "ModelPerformance",
    "Monitor",
    "MonitorOutcome",
    "MonitorReport",
    "PredictionDrift",
    "Signal",
    "SignalResult",
    "TimeWindow",
    "TrainingBaseline",
    "WindowBaseline",
    "parse_duration",
]
