"""Signals, monitors and reports on ``memory://`` (the shared engine), checked against scipy/numpy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlops_sdk import MLOpsClient
from mlops_sdk.checks.stats import category_counts, chi2_counts, numeric_drift, psi_numeric
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.flows import decide_retrain
from mlops_sdk.models.monitoring import (
    DataBaseline,
    DataDrift,
    DataQuality,
    ModelPerformance,
    Monitor,
    MonitorReport,
    PredictionDrift,
    WindowBaseline,
)

NOW = datetime.now(timezone.utc)


@pytest.fixture
def client() -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", show_progress=False) as hub:
        yield hub


@pytest.mark.parametrize("rounded", [False, True])
def test_numeric_drift_matches_scipy_also_with_ties(rounded: bool) -> None:
    rng = np.random.default_rng(5)
    reference, current = rng.normal(size=3000), rng.normal(0.3, 1.2, size=1700)
    if rounded:
        reference, current = np.round(reference, 1), np.round(current, 1)
    drift = numeric_drift(np.append(reference, np.nan), current)
    assert drift.ks_statistic == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-12)
    assert drift.wasserstein == pytest.approx(stats.wasserstein_distance(reference, current) / reference.std())
    assert drift.psi == pytest.approx(psi_numeric(reference, current))
    assert drift.ks_pvalue == pytest.approx(stats.ks_2samp(reference, current, method="asymp").pvalue, rel=0.05)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    p = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1)
    q = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1)
    assert drift.js == pytest.approx(jensenshannon(p, q, base=2))


def test_categorical_statistics_match_scipy() -> None:
    reference = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    current = ["a"] * 20 + ["b"] * 30 + ["d"] * 10
    categories, ref, cur = category_counts(reference, current)
    assert categories == ["a", "b", "c", "d"]
    chi2, pvalue = chi2_counts(ref, cur)
    expected = stats.chi2_contingency(np.array([[50, 30, 20, 0], [20, 30, 0, 10]]), correction=False)
    assert (chi2, pvalue) == pytest.approx((expected[0], expected[1]))


def _log(client: MLOpsClient, frame: pd.DataFrame, at: datetime, predictions: list[object] | None = None) -> list[str]:
    return client.monitoring.log_inferences("ep1", frame, predictions=predictions, at=at, model="m@1")


def test_quality_counts_nulls_type_errors_and_out_of_range(client: MLOpsClient) -> None:
    baseline = pd.DataFrame({"age": np.linspace(20, 80, 100), "city": ["paris", "rome"] * 50})
    current = pd.DataFrame(
        {"age": ["35", "abc", None, "95", "40", "41", "42", "43", "44", "45"], "city": ["paris"] * 8 + ["oslo", None]}
    )
    _log(client, current, NOW - timedelta(minutes=1))
    report = client.monitoring.run(
        Monitor(endpoint="ep1", window="1h", baseline=DataBaseline(), signals=[DataQuality()]), baseline_data=baseline
    )
    age = report.signal("data_quality").feature("age")
    assert (age.null_rate, age.type_error_rate, age.out_of_range_rate) == pytest.approx((0.1, 0.1, 0.1))
    city = report.signal("data_quality").feature("city")
    assert (city.kind, city.null_rate, city.out_of_range_rate) == (
        "categorical",
        pytest.approx(0.1),
        pytest.approx(0.1),
    )
    assert report.signal("data_quality").alerting == ("age", "city")
    assert any("type_error_rate 0.1 > 0.01" in line for line in report.alerts)


def test_window_baseline_gives_prediction_drift_and_windows_do_not_mix(client: MLOpsClient) -> None:
    rng = np.random.default_rng(9)
    old = pd.DataFrame({"x": rng.normal(size=500)})
    new = pd.DataFrame({"x": rng.normal(size=500)})
    _log(client, old, NOW - timedelta(days=2), predictions=(old.x > 0).astype(int).tolist())
    _log(client, new, NOW - timedelta(minutes=5), predictions=[1] * 500)  # the model now always says 1
    monitor = Monitor(
        endpoint="ep1",
        window="1h",
        baseline=WindowBaseline(window=(NOW - timedelta(days=3), NOW - timedelta(days=1))),
        signals=[DataDrift(), PredictionDrift(categorical=True)],
    )
    report = client.monitoring.run(monitor)
    assert report.rows == 500
    assert report.baseline["kind"] == "window"
    assert report.baseline["rows"] == 500
    assert report.signal("data_drift").passed
    prediction = report.signal("prediction_drift").features[0]
    assert prediction.kind == "categorical"
    assert prediction.alert
    assert report.outcome == "alert"
    with pytest.raises(ConfigurationError, match="holds no captured rows"):
        client.monitoring.run(
            monitor.model_copy(
                update={"baseline": WindowBaseline(window=(NOW - timedelta(days=9), NOW - timedelta(days=8)))}
            )
        )


def test_monitor_from_toml_with_threshold_overrides(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(
        """
[monitor]
endpoint = "churn"
window = "6h"
thresholds = { "data_drift.js" = 0.1, "perf.accuracy" = 0.85 }
baseline = { kind = "data", path = "train.parquet", target = "y" }

[[monitor.signals]]
kind = "data_drift"

[[monitor.signals]]
kind = "model_performance"
name = "perf"
thresholds = { accuracy = 0.8, rmse = 3 }
"""
    )
    monitor = Monitor.from_toml(path)
    assert monitor.time_window.last == 6 * 3600
    assert monitor.signals[0].thresholds == {"psi": 0.2, "js": 0.1}
    assert monitor.signals[1].thresholds == {"accuracy": 0.85, "rmse": 3.0}
    assert monitor.baseline.kind == "data"
    assert monitor.name == "churn-monitor"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"endpoint": "ep1", "signals": []}, "signals"),
        ({"endpoint": "ep1", "signals": [{"kind": "data_drift", "thresholds": {"psy": 1}}]}, r"\['psy'\] are unknown"),
        (
            {"endpoint": "ep1", "signals": [{"kind": "model_performance", "thresholds": {"acc": 1}}]},
            "unknown metric 'acc'",
        ),
        ({"endpoint": "ep1", "signals": [{"kind": "data_drift"}], "thresholds": {"drift.psi": 1}}, "names no signal"),
        ({"endpoint": "ep1", "signals": [{"kind": "data_drift"}], "window": "soon"}, "not a duration"),
    ],
)
def test_bad_monitors_are_refused_naming_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Monitor.from_dict(data)


def test_report_round_trip_digest_renderings_and_retrain_decision(client: MLOpsClient) -> None:
    rng = np.random.default_rng(2)
    baseline = pd.DataFrame({"x": rng.normal(size=800), "z": rng.normal(size=800)})
    current = pd.DataFrame({"x": rng.normal(size=300) + 2, "z": rng.normal(size=300)})
    ids = _log(client, current, NOW - timedelta(minutes=2), predictions=[0] * 300)
    client.monitoring.log_ground_truth("ep1", ids[:100], [1] * 100)
    report = client.monitoring.run(
        Monitor(endpoint="ep1", window="1h", signals=[DataDrift(), ModelPerformance(thresholds={"accuracy": 0.5})]),
        baseline_data=baseline,
    )
    assert report.outcome == "alert"
    assert MonitorReport.from_json(report.to_json()) == report
    edited = report.to_json().replace('"rows": 300', '"rows": 3')
    with pytest.raises(ConfigurationError, match="does not match its digest"):
        MonitorReport.from_json(edited)
    markdown, html = report.to_markdown(), report.to_html()
    assert "🚨" in markdown
    assert "| 🚨 | x |" in markdown
    assert "<svg" in html
    assert html.startswith("<!DOCTYPE html>")
    assert not report._repr_html_().startswith("<!DOCTYPE")
    decision = decide_retrain(monitor_report=report)
    assert decision.retrain
    assert decision.drifted == ("x",)
    assert decision.monitor_digest == report.digest
    assert decision.drift["x"] == pytest.approx(report.signal("data_drift").feature("x").psi)
    assert any("accuracy 0 < 0.5" in reason for reason in decision.reasons)
    both = decide_retrain(baseline, reference=baseline, monitor_report=report)
    assert both.retrain
    assert not both.new_snapshot
    with pytest.raises(ConfigurationError, match="monitor_report must be a MonitorReport"):
        decide_retrain(monitor_report={"outcome": "alert"})


def test_training_baseline_needs_a_registered_model_and_deployments_filter(client: MLOpsClient) -> None:
    frame = pd.DataFrame({"x": np.arange(20.0)})
    client.monitoring.log_inferences("ep1", frame, at=NOW - timedelta(minutes=1), deployment="blue", model="/tmp/m")
    client.monitoring.log_inferences("ep1", frame + 100, at=NOW - timedelta(minutes=1), deployment="green")
    with pytest.raises(ConfigurationError, match="not a registered model version") as raised:
        client.monitoring.run(Monitor(endpoint="ep1", window="1h", deployment="blue", signals=[DataDrift()]))
    assert raised.value.details["field"] == "baseline.model"
    blue = client.monitoring.run(
        Monitor(endpoint="ep1", window="1h", deployment="blue", baseline=DataBaseline(), signals=[DataDrift()]),
        baseline_data=frame,
    )
    assert (blue.rows, blue.passed, blue.deployment) == (20, True, "blue")
    assert len(client.monitoring.read_captures("ep1", window="1h")) == 40
    assert set(client.monitoring.read_captures("ep1", window="1h", deployment="green")["x"]) == set(frame.x + 100)
