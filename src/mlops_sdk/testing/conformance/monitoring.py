"""Conformance scenarios of monitoring (``client.monitoring``): signals over logged or captured inferences."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.deployments import Capture, Replace
from mlops_sdk.models.monitoring import DataBaseline, DataDrift, ModelPerformance, Monitor, PredictionDrift
from mlops_sdk.testing.conformance._kit import ConformanceBackend, deployable_model, require
from mlops_sdk.testing.conformance.validation import _exact_model

__all__ = ["TestMonitoringCaptureConformance", "TestMonitoringSignalsConformance"]


def _deploy_capturing(backend: ConformanceBackend, client: MLOpsClient, folder: Path, endpoint: str) -> None:
    """The validation suite's exact model (``3a - 2b``) deployed to ``endpoint`` as ``blue`` with ``Capture()``."""
    client.deployments.begin_deploy(
        deployable_model(backend, client, _exact_model(folder)),
        endpoint=endpoint, deployment="blue", strategy=Replace(),
        capture=Capture(), show_progress=False,
    ).result()  # fmt: skip


def _frames(rows: int = 400) -> tuple[object, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    baseline = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000), "c": rng.choice(["x", "y"], 2000)})
    current = pd.DataFrame(
        {"a": rng.normal(size=rows) + 3.0, "b": rng.normal(size=rows), "c": rng.choice(["x", "y"], rows)}
    )
    return baseline, current


class TestMonitoringSignalsConformance:
    """Logged inferences and late labels give the same signals on every backend."""

    capability = "monitoring"

    def test_only_the_shifted_feature_alerts_and_performance_uses_the_latest_labels(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "monitoring.signals")
        import numpy as np

        monitoring = conformance_client.monitoring
        baseline, current = _frames()
        predictions = (current["b"] > 0).astype(int).tolist()  # type: ignore[index]
        at = datetime.now(timezone.utc) - timedelta(minutes=5)
        ids = monitoring.log_inferences("conf-mon", current, predictions=predictions, model="m@1", at=at)
        assert len(ids) == 400
        assert len(set(ids)) == 400
        truth = [1 - p if i % 4 == 0 else p for i, p in enumerate(predictions)]  # 75 % right
        labelled = list(range(0, 400, 2))
        monitoring.log_ground_truth("conf-mon", [ids[i] for i in labelled], [0] * len(labelled))
        monitoring.log_ground_truth("conf-mon", [ids[i] for i in labelled], [truth[i] for i in labelled])  # latest wins
        report = monitoring.run(
            Monitor(
                endpoint="conf-mon",
                window="1h",
                baseline=DataBaseline(),
                signals=[DataDrift(), ModelPerformance(thresholds={"accuracy": 0.9}), PredictionDrift()],
            ),
            baseline_data=baseline,
        )
        assert report.rows == 400
        assert report.labeled_rows == 200
        assert report.signal("data_drift").alerting == ("a",)
        assert report.signal("data_drift").feature("c").kind == "categorical"
        expected = float(np.mean([predictions[i] == truth[i] for i in labelled]))
        metric = report.signal("model_performance").metrics[0]
        assert metric.value == pytest.approx(expected)
        assert metric.alert
        assert report.signal("prediction_drift").skipped  # a data baseline without target has no predictions
        assert report.outcome == "alert"
        outside = monitoring.run(
            Monitor(
                endpoint="conf-mon", window=(at - timedelta(hours=3), at - timedelta(hours=2)), signals=[DataDrift()]
            ),
            baseline_data=baseline,
        )
        assert outside.rows == 0
        assert outside.signals[0].skipped
        assert outside.outcome == "no_data"  # a monitor that saw nothing never passes
        assert not outside.passed

    def test_bad_ground_truth_is_refused_with_the_field(self, conformance_backend: ConformanceBackend,
                                                        conformance_client: MLOpsClient) -> None:  # fmt: skip
        require(conformance_backend, "monitoring.signals")
        with pytest.raises(ConfigurationError, match="differ in length") as raised:
            conformance_client.monitoring.log_ground_truth("conf-mon", ["a", "b"], [1])
        assert raised.value.details["field"] == "labels"
        with pytest.raises(ConfigurationError, match="no column"):
            conformance_client.monitoring.log_ground_truth("conf-mon", data=[{"id": "a", "y": 1}])


class TestMonitoringCaptureConformance:
    """A deployment with capture keeps what it scored, readable through ``client.monitoring``."""

    capability = "monitoring"

    def test_captured_rows_come_back_with_inputs_and_predictions(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "monitoring.capture", "deployments.rollout")
        deployments = conformance_client.deployments
        try:
            _deploy_capturing(conformance_backend, conformance_client, tmp_path, "conf-cap")
            assert deployments.invoke(
                "conf-cap", {"input_data": {"columns": ["a", "b"], "data": [[1, 0], [0, 1]]}}
            ) == (pytest.approx([3.0, -2.0]))
            captured = conformance_client.monitoring.read_captures("conf-cap", window="1h")
            assert len(captured) == 2
            assert sorted(captured["a"].tolist()) == [0, 1]
            assert sorted(captured["_prediction"].tolist()) == pytest.approx([-2.0, 3.0])
            assert captured["_id"].str.endswith((":0", ":1")).all()
            assert set(captured["_deployment"]) == {"blue"}
        finally:
            deployments.delete_endpoint("conf-cap")

    def test_capture_stats_count_every_kept_row(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "monitoring.capture", "monitoring.capture_stats", "deployments.rollout")
        deployments = conformance_client.deployments
        try:
            _deploy_capturing(conformance_backend, conformance_client, tmp_path, "conf-stats")
            for _ in range(3):
                deployments.invoke("conf-stats", {"input_data": {"columns": ["a", "b"], "data": [[1, 0], [0, 1]]}})
            kept = len(conformance_client.monitoring.read_captures("conf-stats", window="1h"))  # flushes first
            stats = conformance_client.monitoring.capture_stats("conf-stats")
            assert kept >= 6
            assert stats.written == kept  # every row kept is counted, and nothing else
            assert stats.lost == 0
            assert stats.deployments["blue"]["written"] == kept
        finally:
            deployments.delete_endpoint("conf-stats")
