"""Conformance scenarios of validation (``client.validation``) on a real scikit-learn MLflow model."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError, ValidationFailedError
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing.conformance._kit import ConformanceBackend, require, train_model

__all__ = ["TestValidationConformance"]

COLUMNS = ["a", "b"]
COPY_MODEL = """
import shutil, sys
import mlflow

shutil.copytree({source!r}, sys.argv[1], dirs_exist_ok=True)
mlflow.log_metric("train_rmse", 0.11)
"""


def _frame() -> Any:
    import pandas as pd

    a = [float(i) / 10 for i in range(40)]
    b = [float(i % 7) for i in range(40)]
    return pd.DataFrame({"a": a, "b": b, "y": [3.0 * x - 2.0 * z for x, z in zip(a, b, strict=True)]})


def _exact_model(folder: Path) -> Path:
    """An MLflow scikit-learn model predicting ``y = 3a - 2b`` exactly, saved in ``folder``."""
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    frame = _frame()
    model = LinearRegression().fit(frame[COLUMNS], frame["y"])
    model.coef_, model.intercept_ = np.array([3.0, -2.0]), 0.0
    path = folder / "prebuilt-model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(frame[COLUMNS], model.predict(frame[COLUMNS]))
        mlflow.sklearn.save_model(model, str(path), signature=signature, pip_requirements=["scikit-learn"])
    return path


def _registered(client: MLOpsClient, folder: Path, name: str) -> ModelVersion:
    script = COPY_MODEL.format(source=str(_exact_model(folder)))
    run = train_model(client, folder, experiment="conf-validation", script=script)
    return client.models.register(run, name=name)


class TestValidationConformance:
    """Checks on data and on training metrics, the outcome as a value, the report recorded with the model."""

    capability = "validation"

    def test_passing_checks_promote_and_the_report_is_recorded_with_the_version(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "validation.checks", "training.script", "models.registry")
        from mlops_sdk.checks import MetricThreshold

        version = _registered(conformance_client, tmp_path, "conf-valid")
        report = conformance_client.validation.validate(
            version,
            data=_frame(),
            target="y",
            checks=[MetricThreshold("rmse", max=1e-9), MetricThreshold("train_rmse", max=0.5)],
        )
        assert (report.outcome, report.passed) == ("promote", True), report.to_markdown()
        assert report.check("threshold:train_rmse").observed == 0.11
        assert report.metrics["rmse"] == pytest.approx(0.0, abs=1e-9)
        assert report.raise_for_gate() is report
        tagged = conformance_client.models.get("conf-valid", version.version)
        assert tagged.tags["mlops.validation.outcome"] == "promote"
        assert tagged.lineage.validation_digest == report.digest

    def test_the_whole_report_is_read_back_by_its_digest(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "validation.checks", "validation.report_store", "training.script")
        from mlops_sdk.checks import MetricThreshold

        version = _registered(conformance_client, tmp_path, "conf-stored")
        report = conformance_client.validation.validate(version, checks=[MetricThreshold("train_rmse", max=0.5)])
        assert conformance_client.validation.get_report(report.digest) == report

    def test_a_failed_check_is_a_failed_outcome_not_an_exception(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "validation.checks", "training.script", "models.registry")
        from mlops_sdk.checks import MetricThreshold

        version = _registered(conformance_client, tmp_path, "conf-invalid")
        report = conformance_client.validation.validate(
            f"conf-invalid@{version.version}", data=_frame(), checks=[MetricThreshold("train_rmse", max=0.05)]
        )
        assert (report.outcome, report.passed) == ("failed", False)
        assert report.check("threshold:train_rmse").observed == 0.11
        with pytest.raises(ValidationFailedError):
            report.raise_for_gate()

    def test_unknown_metrics_are_configuration_errors_and_unknown_reports_not_found(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "validation.checks", "training.script", "models.registry")
        from mlops_sdk.checks import MetricThreshold

        version = _registered(conformance_client, tmp_path, "conf-unknown")
        with pytest.raises(ConfigurationError, match="train_rmse"):
            conformance_client.validation.validate(version, checks=[MetricThreshold("accuracy_typo", min=0.5)])
        with pytest.raises(ResourceNotFoundError):
            conformance_client.validation.get_report("sha256:" + "0" * 64)
