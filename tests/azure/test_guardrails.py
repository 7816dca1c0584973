"""Guarded rollouts on Azure: the REAL azure-core pipeline reads the endpoint's Azure Monitor metrics from
the fake (Metrics_List, 2024-02-01), whose queries are checked against the official spec."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.deployments import Canary, Replace
from mlops_sdk.models.guardrails import Guardrails
from mlops_sdk.models.registry import ModelVersion
from tests.azure._azureml_fixtures import RG, SUB, WS, aml_fixture, hub_fixture  # noqa: F401  (fixtures)
from tests.fakes import specs
from tests.fakes.azureml import FakeAzureML
from tests.fakes.azureml_endpoints import FakeOnlineEndpoints
from tests.fakes.monitor import METRICS_API_VERSION, METRICS_SPEC, FakeMetrics, Traffic

pytestmark = pytest.mark.azure

BLUE = ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1")
GREEN = ModelVersion(name="diabetes", version="2", uri="azureml:diabetes:2")
GUARDS = Guardrails(error_rate=0.01, p95_ms=50, window=300, check_interval=60, min_requests=100)
# Names of the spec's parameters that live in common-types (not in the specs copy), as its own
# example GetMultiResourceMetric.json spells them.
_COMMON_PARAMETERS = {
    "ApiVersionParameter": "api-version",
    "AggregationsParameter": "aggregation",
    "TopParameter": "top",
    "OrderByParameter": "orderby",
    "MetricNamespaceParameter": "metricnamespace",
    "RollUpByParameter": "rollupby",
}


def metrics_list_parameters() -> set[str]:
    """The query parameter names ``Metrics_List`` declares in the official spec."""
    spec = specs.load(METRICS_SPEC)
    operation = spec["paths"]["/{resourceUri}/providers/Microsoft.Insights/metrics"]["get"]
    assert operation["operationId"] == "Metrics_List"
    names = set()
    for parameter in operation["parameters"]:
        key = parameter["$ref"].rsplit("/", 1)[-1]
        if key == "ResourceUriParameter":
            continue  # the path
        if parameter["$ref"].startswith("#/parameters/"):
            names.add(spec["parameters"][key]["name"])
        else:
            names.add(_COMMON_PARAMETERS[key])
    return names


@pytest.fixture
def endpoints(aml: FakeAzureML) -> FakeOnlineEndpoints:
    aml.add_model_version("diabetes", "1")
    aml.add_model_version("diabetes", "2")
    return FakeOnlineEndpoints(aml.service, aml.ws)


@pytest.fixture
def metrics(aml: FakeAzureML) -> FakeMetrics:
    return FakeMetrics(aml.service, metrics_list_parameters())


def _production(hub: MLOpsClient, endpoint: str) -> None:
    assert (
        hub.deployments.begin_deploy(BLUE, endpoint=endpoint, deployment="blue", strategy=Replace()).result().succeeded
    )


def test_breached_error_rate_rolls_back_and_queries_follow_the_spec(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, metrics: FakeMetrics
) -> None:
    _production(hub, "guarded")
    metrics.traffic[("guarded", "green")] = Traffic({"2xx": 190, "5xx": 10}, p95_ms=12, p99_ms=30)
    result = hub.deployments.begin_deploy(
        GREEN, endpoint="guarded", deployment="green", strategy=Canary(percent=10, bake=600), guardrails=GUARDS
    ).result()

    assert result.rolled_back
    assert result.breach is not None
    assert result.breach.guardrail == "error_rate"
    assert result.breach.observed == pytest.approx(0.05)
    assert result.breach.percent == 10
    assert result.breach.window_end - result.breach.window_start == timedelta(seconds=60)
    assert result.breach.requests == 200
    assert endpoints.endpoints["guarded"]["properties"]["traffic"] == {"blue": 100}
    assert "green" not in endpoints.deployments["guarded"]

    queries = metrics.service.requests_to("GET", r"/providers/Microsoft\.Insights/metrics$")
    assert len(queries) == 2  # one evaluation: request counts, then latency
    endpoint_id = endpoints.endpoints["guarded"]["id"]
    assert endpoint_id.startswith(f"/subscriptions/{SUB}/resourceGroups/{RG}/")
    allowed = metrics_list_parameters()
    for query in queries:
        assert query.path == f"{endpoint_id}/providers/Microsoft.Insights/metrics"
        assert query.api_version == METRICS_API_VERSION
        assert set(query.query) <= allowed, set(query.query) - allowed
        assert query.query["interval"] == "FULL"
        start, end = (
            datetime.fromisoformat(part.replace("Z", "+00:00")) for part in query.query["timespan"].split("/")
        )
        assert end - start == timedelta(seconds=60)
    counts, latency = queries
    assert counts.query["metricnames"] == "RequestsPerMinute"
    assert counts.query["aggregation"] == "Total"
    assert counts.query["$filter"] == "deployment eq 'green' and statusCodeClass eq '*'"
    assert latency.query["metricnames"] == "RequestLatency_P95,RequestLatency_P99"
    assert latency.query["aggregation"] == "Maximum"
    assert latency.query["$filter"] == "deployment eq 'green'"


def test_breached_p95_rolls_back_naming_latency(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, metrics: FakeMetrics
) -> None:
    _production(hub, "slow")
    metrics.traffic[("slow", "green")] = Traffic({"2xx": 200}, p95_ms=80, p99_ms=120)
    result = hub.deployments.begin_deploy(
        GREEN, endpoint="slow", deployment="green", strategy=Canary(percent=10, bake=600), guardrails=GUARDS
    ).result()
    assert result.rolled_back
    assert result.breach is not None
    assert (result.breach.guardrail, result.breach.observed, result.breach.threshold) == ("p95_ms", 80, 50)
    assert endpoints.endpoints["slow"]["properties"]["traffic"] == {"blue": 100}


def test_healthy_deployment_completes_after_both_bakes(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, metrics: FakeMetrics
) -> None:
    _production(hub, "healthy")
    metrics.traffic[("healthy", "green")] = Traffic({"2xx": 200, "4xx": 3}, p95_ms=12, p99_ms=30)
    result = hub.deployments.begin_deploy(
        GREEN, endpoint="healthy", deployment="green", strategy=Canary(percent=10, bake=600), guardrails=GUARDS
    ).result()
    assert result.succeeded, result.reason
    assert result.breach is None
    assert endpoints.endpoints["healthy"]["properties"]["traffic"] == {"green": 100}
    for step in result.steps:
        assert step.guardrails is not None
        assert step.guardrails.values["error_rate"] == 0
        assert step.guardrails.values["p95_ms"] == 12
        # the sliding window: 300 s of traffic at 203 requests per minute
        assert step.guardrails.requests == pytest.approx(5 * 203, abs=1)
    # ten evaluations per 600 s bake, two queries each
    assert len(metrics.service.requests_to("GET", r"/providers/Microsoft\.Insights/metrics$")) == 2 * 2 * 10


def test_prediction_shift_is_refused_on_azure_before_anything_changes(
    hub: MLOpsClient, endpoints: FakeOnlineEndpoints, metrics: FakeMetrics
) -> None:
    before = len(endpoints.service.requests)
    with pytest.raises(ConfigurationError, match="data collector") as raised:
        hub.deployments.begin_deploy(
            GREEN, endpoint="shift", strategy=Canary(bake=600), guardrails=Guardrails(prediction_shift=0.2)
        )
    assert raised.value.details["field"] == "guardrails.prediction_shift"
    assert not [r for r in endpoints.service.requests[before:] if r.method in ("PUT", "POST", "DELETE")]


def test_shadow_report_is_refused_on_azure_naming_the_reason(hub: MLOpsClient, endpoints: FakeOnlineEndpoints) -> None:
    before = len(endpoints.service.requests)
    with pytest.raises(ConfigurationError, match="discard mirrored answers") as raised:
        hub.deployments.shadow_report("shadowed", "green")
    assert raised.value.details["field"] == "endpoint"
    assert len(endpoints.service.requests) == before  # refused before any request
