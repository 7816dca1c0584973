"""Deployment sizing and runtime settings on Azure: the REAL MLClient against the fakes, bodies checked
against the official specs (Azure ML 2025-12-01 online deployments, Azure Monitor 2022-10-01 autoscale)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.deployments import Replace
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.resources import Autoscale, Probe, RequestSettings, Resources
from tests.azure._azureml_fixtures import RG, SUB, aml_fixture, hub_fixture  # noqa: F401  (fixtures)
from tests.fakes import specs
from tests.fakes.azureml import FakeAzureML
from tests.fakes.azureml_endpoints import FakeOnlineEndpoints
from tests.fakes.monitor import API_VERSION as AUTOSCALE_API
from tests.fakes.monitor import FakeAutoscale

pytestmark = pytest.mark.azure

MODEL = ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1")
SIZED = Resources(
    instance_type="Standard_F4s_v2",
    instance_count=2,
    environment="azureml:sklearn-serving:3",
    request=RequestSettings(request_timeout=12.5, max_concurrent_requests_per_instance=4),
    liveness_probe=Probe(initial_delay=30, period=15, timeout=3, failure_threshold=5),
    readiness_probe=Probe(initial_delay=5, period=5, timeout=2, failure_threshold=3, success_threshold=2),
    autoscale=Autoscale(min_instances=2, max_instances=6, scale_out_cpu=75, scale_in_cpu=30, cooldown=600),
)


@pytest.fixture
def endpoints(aml: FakeAzureML) -> FakeOnlineEndpoints:
    aml.add_model_version("diabetes", "1")
    return FakeOnlineEndpoints(aml.service, aml.ws)


@pytest.fixture
def autoscale(aml: FakeAzureML) -> FakeAutoscale:
    return FakeAutoscale(aml.service)


def test_sized_deployment_put_matches_the_spec_and_autoscale_is_set(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, autoscale: FakeAutoscale
) -> None:
    result = hub.deployments.begin_deploy(
        MODEL, endpoint="sized", deployment="blue", strategy=Replace(), resources=SIZED
    ).result()

    assert result.succeeded
    assert result.resources == SIZED
    assert result.resources_ignored == {}
    put = endpoints.service.requests_to("PUT", r"/onlineEndpoints/sized/deployments/blue$")[0].json
    properties = put["properties"]
    assert properties["instanceType"] == "Standard_F4s_v2"
    assert put["sku"]["capacity"] == 2
    assert properties["environmentId"] == (
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
        "/workspaces/my-aml-workspace/environments/sklearn-serving/versions/3"
    )
    assert properties["requestSettings"]["maxConcurrentRequestsPerInstance"] == 4
    assert properties["requestSettings"]["requestTimeout"] == "PT12.5S"
    assert properties["livenessProbe"] == {
        "failureThreshold": 5,
        "successThreshold": 1,
        "timeout": "PT3S",
        "period": "PT15S",
        "initialDelay": "PT30S",
    }
    assert properties["readinessProbe"]["successThreshold"] == 2
    assert properties["readinessProbe"]["initialDelay"] == "PT5S"
    ml_spec = specs.load(specs.MACHINE_LEARNING)
    assert specs.problems(ml_spec, "OnlineDeployment", put) == []
    assert specs.problems(ml_spec, "ManagedOnlineDeployment", properties) == []

    # One autoscale setting on the deployment, after it was ready, in the official shape.
    puts = endpoints.service.requests_to("PUT", r"/providers/Microsoft\.Insights/autoscalesettings/")
    assert len(puts) == 1
    request = puts[0]
    assert request.api_version == AUTOSCALE_API
    assert request.path == (
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Insights/autoscalesettings/sized-blue-autoscale"
    )
    body = request.json
    assert specs.problems(specs.load(specs.AUTOSCALE), "AutoscaleSettingResource", body) == []
    deployment_id = endpoints.deployments["sized"]["blue"]["id"]
    assert body["properties"]["targetResourceUri"] == deployment_id
    profile = body["properties"]["profiles"][0]
    assert profile["capacity"] == {"minimum": "2", "maximum": "6", "default": "2"}
    out, back = profile["rules"]
    assert (out["metricTrigger"]["metricName"], out["metricTrigger"]["metricResourceUri"]) == (
        "CpuUtilizationPercentage",
        deployment_id,
    )
    assert (out["metricTrigger"]["operator"], out["metricTrigger"]["threshold"]) == ("GreaterThan", 75)
    assert (back["metricTrigger"]["operator"], back["metricTrigger"]["threshold"]) == ("LessThan", 30)
    assert out["scaleAction"] == {"direction": "Increase", "type": "ChangeCount", "value": "1", "cooldown": "PT10M"}
    assert back["scaleAction"]["direction"] == "Decrease"
    assert autoscale.settings["sized-blue-autoscale"]["properties"]["targetResourceUri"] == deployment_id
    deployment_put = endpoints.service.requests.index(endpoints.service.requests_to("PUT", r"/deployments/blue$")[0])
    assert endpoints.service.requests.index(request) > deployment_put


def test_defaults_are_one_standard_ds3_v2_instance_and_no_autoscale(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, autoscale: FakeAutoscale
) -> None:
    result = hub.deployments.begin_deploy(MODEL, endpoint="plain", deployment="blue", strategy=Replace()).result()

    assert result.resources is None
    put = endpoints.service.requests_to("PUT", r"/deployments/blue$")[0].json
    assert put["properties"]["instanceType"] == "Standard_DS3_v2"
    assert put["sku"]["capacity"] == 1
    assert "environmentId" not in put["properties"]
    assert not autoscale.settings


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"instance_type": "Standard DS3"}, "instance_type 'Standard DS3' is not a VM size"),
        ({"instance_count": 0}, "instance_count"),
        ({"environment": "my-env"}, "must name a registered environment"),
        ({"autoscale": {"min_instances": 3, "max_instances": 2}}, "max_instances \\(2\\) must be at least"),
        ({"instance_count": 9, "autoscale": {"max_instances": 4}}, "within autoscale's bounds"),
        ({"request": {"request_timeout": 600}}, "request_timeout"),
        ({"gpu": True}, "gpu"),
    ],
)
def test_bad_resources_are_refused_before_anything_is_sent(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, resources: dict[str, Any], message: str
) -> None:
    before = len(endpoints.service.requests)
    with pytest.raises(ConfigurationError, match=message) as raised:
        hub.deployments.begin_deploy(MODEL, endpoint="bad", deployment="blue", resources=resources)
    assert raised.value.details["field"] == "resources"
    assert not [r for r in endpoints.service.requests[before:] if r.method in ("PUT", "POST", "DELETE")]
