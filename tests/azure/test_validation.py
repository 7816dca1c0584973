"""Validation on Azure ML (REAL MLClient over loopback TLS): versions and the champion resolved through
the registry, training metrics read from the job's MLflow run, the report recorded as version tags.

Model files are not downloaded here: Azure ML downloads from ``https://<account>.blob.<suffix>``, a DNS
name the loopback fake cannot answer, so only checks on training metrics run against this fake.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.checks import MetricThreshold
from mlops_sdk.core.errors import ConfigurationError
from tests.azure._azureml_fixtures import aml_fixture, hub_fixture  # noqa: F401 - fixtures
from tests.fakes.azureml import FakeAzureML, JobPlan

pytestmark = pytest.mark.azure

JOB = "mlops-validate-0001"


def _registered(hub: MLOpsClient, aml: FakeAzureML, rmse: float) -> Any:
    aml.add_job(
        JOB,
        {
            "properties": {
                "jobType": "Command",
                "command": "python train.py",
                "experimentName": "diabetes",
                "environmentId": "azureml:sklearn-env:1",
                "tags": {"mlops.training_run_id": JOB},
                "outputs": {"model": {"jobOutputType": "mlflow_model"}},
            }
        },
    )
    aml.plan(JOB, JobPlan(statuses=["Completed"], metrics={"rmse": rmse, "r2": 0.47}))
    return hub.models.register(hub.training.get_run(JOB), name="diabetes")


def test_training_metric_gate_on_azure_records_the_report_as_tags(hub: MLOpsClient, aml: FakeAzureML) -> None:
    model = _registered(hub, aml, rmse=53.2)
    report = hub.validation.validate(
        model,
        checks=[
            MetricThreshold("rmse", max=60.0, source="training"),
            MetricThreshold("r2", min=0.4, source="training"),
        ],
    )
    assert report.outcome == "promote"
    assert [check.observed for check in report.checks] == [53.2, 0.47]
    tag_puts = [
        put.json["properties"]["tags"] for put in aml.service.requests_to("PUT", r"/models/diabetes/versions/1$")
    ]
    assert tag_puts[-1]["mlops.validation_digest"] == report.digest
    assert hub.models.get("diabetes", "1").lineage.validation_digest == report.digest


def test_failed_training_metric_gate_on_azure(hub: MLOpsClient, aml: FakeAzureML) -> None:
    model = _registered(hub, aml, rmse=75.0)
    report = hub.validation.validate(model, checks=[MetricThreshold("rmse", max=60.0, source="training")])
    assert report.outcome == "failed"
    assert "75" in report.checks[0].message


def test_unknown_training_metric_lists_the_logged_ones(hub: MLOpsClient, aml: FakeAzureML) -> None:
    model = _registered(hub, aml, rmse=53.2)
    with pytest.raises(ConfigurationError, match="rmse"):
        hub.validation.validate(model, checks=[MetricThreshold("accuracy", min=0.9, source="training")])
