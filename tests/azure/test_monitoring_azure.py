"""Monitoring on Azure: the data collector's files read back from the workspace datastore (Azurite),
labels stored next to them, and the same conformance scenarios as the other backends.

The REAL MLClient resolves the datastore on the fake workspace; every blob goes through Azurite (the
storage emulator) with the backend's own blob client.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.clock import Clock
from mlops_sdk.models.monitoring import DataBaseline, DataDrift, ModelPerformance, Monitor
from mlops_sdk.testing.conformance import (  # noqa: F401 - fixtures
    ConformanceBackend,
    TestMonitoringSignalsConformance,
    _conformance_record,
    conformance_client,
)
from tests.azure._azureml_fixtures import RG, SUB, TARGET, WS, aml_fixture  # noqa: F401 - fixture
from tests.fakes.azureml import FakeAzureML
from tests.fakes.azurite import Azurite
from tests.fakes.credential import StaticTokenCredential

pytestmark = pytest.mark.azure

CONTAINER = "azureml-blobstore-monitoring"


@pytest.fixture
def workspace(aml: FakeAzureML, azurite: Azurite) -> FakeAzureML:
    aml.attach_storage(
        account=azurite.account,
        key=azurite.account_key,
        container=CONTAINER,
        code_container_url=azurite.container_sas_url,
    )
    azurite.container_sas_url(CONTAINER)
    container = azurite.service_client().get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    for blob in list(container.list_blobs()):  # one container per session: start clean
        container.delete_blob(blob.name)
    return aml


def _client(aml: FakeAzureML, azurite: Azurite, ca_bundle: Path, clock: Clock | None = None) -> MLOpsClient:
    return MLOpsClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        cloud="MlopsFakeCloud",
        resource_manager_url=aml.service.url,
        authority_url=aml.service.url,
        ca_bundle=str(ca_bundle),
        blob_endpoint=f"{azurite.url}/{{account}}",
        show_progress=False,
    )


@pytest.fixture
def conformance_backend(workspace: FakeAzureML, azurite: Azurite, ca_bundle: Path) -> ConformanceBackend:
    return ConformanceBackend(
        name="azure",
        make_client=lambda clock: _client(workspace, azurite, ca_bundle, clock),
        supports=frozenset({"monitoring.signals"}),
        unsupported={
            "monitoring.capture": (
                "this module's workspace serves no endpoints; the serving fake's data collector runs in "
                "tests/conformance/test_azure.py"
            )
        },
    )


class TestAzureMonitoringSignals(TestMonitoringSignalsConformance):
    """The monitoring conformance scenarios on Azure (through Azurite)."""


def _line(kind: str, correlation: str, moment: datetime, data: list[object]) -> str:
    """One line as Azure ML's data collector writes it (payload fields trimmed to those read)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"{correlation}-{kind}",
            "source": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/"
            f"workspaces/{WS}/onlineEndpoints/churn/deployments/blue",
            "type": f"azureml.inference.{kind}",
            "datacontenttype": "application/json",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
            "correlationid": correlation,
            "xrequestid": correlation,
            "modelversion": "default",
            "collectdatatype": "pandas.core.frame.DataFrame",
            "agent": "azureml-ai-monitoring/0.1.0b4",
        }
    )


def test_collector_files_are_read_back_joined_and_monitored(
    workspace: FakeAzureML, azurite: Azurite, ca_bundle: Path
) -> None:
    rng = np.random.default_rng(8)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    moment = now - timedelta(minutes=3)
    old = now - timedelta(days=2)
    container = azurite.service_client().get_container_client(CONTAINER)
    inputs, outputs, expected = [], [], {}
    for request in range(60):  # 60 requests of 2 rows: ids <request>:0 and <request>:1
        rows = [{"x": float(rng.normal() + 2.0), "z": float(rng.normal())} for _ in range(2)]
        predictions = [int(row["z"] > 0) for row in rows]
        inputs.append(_line("model_inputs", f"req-{request}", moment, rows))
        outputs.append(_line("model_outputs", f"req-{request}", moment, predictions))
        expected.update({f"req-{request}:{i}": (rows[i], predictions[i]) for i in range(2)})
    hour = moment.strftime("%Y/%m/%d/%H")
    base = "modelDataCollector/churn/blue"
    container.upload_blob(f"{base}/model_inputs/{hour}/a.jsonl", "\n".join(inputs) + "\n")
    container.upload_blob(f"{base}/model_outputs/{hour}/a.jsonl", "\n".join(outputs) + "\n")
    stale = _line("model_inputs", "req-old", old, [{"x": 0.0, "z": 0.0}])
    container.upload_blob(f"{base}/model_inputs/{old.strftime('%Y/%m/%d/%H')}/b.jsonl", stale + "\n")

    with _client(workspace, azurite, ca_bundle) as client:
        captured = client.monitoring.read_captures("churn", window="1h")
        assert len(captured) == 120
        assert "req-old" not in set(captured["_request_id"])
        for _, row in captured.iterrows():
            inputs_row, prediction = expected[row["_id"]]
            assert (row["x"], row["z"], row["_prediction"]) == (inputs_row["x"], inputs_row["z"], prediction)
        assert set(captured["_deployment"]) == {"blue"}
        labelled = [f"req-{r}:{i}" for r in range(0, 60, 2) for i in range(2)]
        client.monitoring.log_ground_truth("churn", labelled, [1 - expected[i][1] for i in labelled])  # all wrong
        baseline = pd.DataFrame({"x": rng.normal(size=1000), "z": rng.normal(size=1000)})
        report = client.monitoring.run(
            Monitor(
                endpoint="churn",
                window="1h",
                baseline=DataBaseline(),
                signals=[DataDrift(), ModelPerformance(thresholds={"accuracy": 0.5})],
            ),
            baseline_data=baseline,
        )
    assert report.rows == 120
    assert report.labeled_rows == 60
    assert report.signal("data_drift").alerting == ("x",)
    assert report.signal("model_performance").metrics[0].value == 0.0
    assert report.backend == "azure"
    labels = [blob.name for blob in container.list_blobs(name_starts_with="mlops-monitoring/churn/labels/")]
    assert len(labels) == 1
    assert labels[0].endswith(".parquet")
