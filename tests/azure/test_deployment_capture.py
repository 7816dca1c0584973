"""Inference capture on Azure: the managed online deployment PUT carries Azure ML's data collector
(``model_inputs`` / ``model_outputs`` collections, sampling rate), sent by the REAL MLClient to the fake.

The spec extract in ``shared/azure-rest-specs`` declares ``properties.dataCollector`` (``$ref``
``DataCollector``) but does not include that definition (its ``x-extract`` lists it as referenced but not
included); the schema below is transcribed from the same upstream 2025-12-01 definitions as generated into
azure-ai-ml's ``arm_ml_service`` REST models: ``DataCollector {collections (required): map of Collection,
requestLogging, rollingRate}``, ``Collection {clientId, dataCollectionMode: Enabled|Disabled, dataId,
samplingRate: number}``.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.models.deployments import Capture, Replace
from mlops_sdk.models.registry import ModelVersion
from tests.azure._azureml_fixtures import aml_fixture, hub_fixture  # noqa: F401  (fixtures)
from tests.fakes import specs
from tests.fakes.azureml import FakeAzureML
from tests.fakes.azureml_endpoints import FakeOnlineEndpoints

pytestmark = pytest.mark.azure

MODEL = ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1")
DATA_COLLECTOR = {
    "type": "object",
    "required": ["collections"],
    "properties": {
        "collections": {"type": "object", "additionalProperties": {"$ref": "#/definitions/Collection"}},
        "requestLogging": {"type": "object"},
        "rollingRate": {"type": "string", "enum": ["Year", "Month", "Day", "Hour", "Minute"]},
    },
}
COLLECTION = {
    "type": "object",
    "properties": {
        "clientId": {"type": "string"},
        "dataCollectionMode": {"type": "string"},  # enum Enabled|Disabled, case-insensitive: checked above
        "dataId": {"type": "string"},
        "samplingRate": {"type": "number"},
    },
}


@pytest.fixture
def endpoints(aml: FakeAzureML) -> FakeOnlineEndpoints:
    aml.add_model_version("diabetes", "1")
    return FakeOnlineEndpoints(aml.service, aml.ws)


def _spec() -> dict[str, Any]:
    spec = dict(specs.load(specs.MACHINE_LEARNING))
    assert "DataCollector" not in spec["definitions"]  # still an extract: the transcription is needed
    spec["definitions"] = {**spec["definitions"], "DataCollector": DATA_COLLECTOR, "Collection": COLLECTION}
    return spec


def _deployment_put(endpoints: FakeOnlineEndpoints, endpoint: str) -> dict[str, Any]:
    puts = endpoints.service.requests_to("PUT", rf"/onlineEndpoints/{endpoint}/deployments/blue$")
    assert len(puts) == 1
    body: dict[str, Any] = puts[0].json
    return body


def test_capture_sends_the_data_collector_in_the_deployment_put(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints
) -> None:
    result = hub.deployments.begin_deploy(
        MODEL, endpoint="captured", deployment="blue", strategy=Replace(), capture=Capture(sample_rate=0.25)
    ).result()

    assert result.succeeded
    put = _deployment_put(endpoints, "captured")
    collector = put["properties"]["dataCollector"]
    assert set(collector["collections"]) == {"model_inputs", "model_outputs"}
    # azure-ai-ml writes the mode in lower case; the service's enum is case-insensitive (Enabled|Disabled)
    assert all(item["dataCollectionMode"].lower() == "enabled" for item in collector["collections"].values())
    assert collector["collections"]["model_inputs"]["dataId"].endswith("/data/captured-blue-model_inputs/versions/1")
    assert collector["rollingRate"] == "Hour"  # the hourly folders client.monitoring reads
    rates = {item["samplingRate"] for item in collector["collections"].values()}
    assert rates == {0.25}
    spec = _spec()
    assert "dataCollector" in spec["definitions"]["OnlineDeploymentProperties"]["properties"]
    assert specs.problems(spec, "OnlineDeployment", put) == []
    assert specs.problems(spec, "ManagedOnlineDeployment", put["properties"]) == []
    assert specs.problems(spec, "DataCollector", collector) == []
    # each collection's data asset was registered where the collector writes (the workspace blob store)
    data = endpoints.service.requests_to("PUT", r"/data/captured-blue-model_inputs/versions/1$")
    assert data[0].json["properties"]["dataUri"].endswith("paths/modelDataCollector/captured/blue/model_inputs")


def test_outputs_only_and_no_capture(hub: MLOpsClient, endpoints: FakeOnlineEndpoints) -> None:
    hub.deployments.begin_deploy(
        MODEL, endpoint="outputs", deployment="blue", strategy=Replace(), capture=Capture(inputs=False)
    ).result()
    hub.deployments.begin_deploy(MODEL, endpoint="plain", deployment="blue", strategy=Replace()).result()

    assert set(_deployment_put(endpoints, "outputs")["properties"]["dataCollector"]["collections"]) == {"model_outputs"}
    assert "dataCollector" not in _deployment_put(endpoints, "plain")["properties"]
