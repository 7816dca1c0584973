"""Deployments on Azure ML: the REAL MLClient over loopback TLS against the online-endpoint fake."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import (
    ConfigurationError,
    ConflictError,
    OperationCanceledError,
    OperationFailedError,
    PermissionDeniedError,
)
from mlops_sdk.core.redaction import redact
from mlops_sdk.models.deployments import BlueGreen, Replace, Shadow, SmokeTest
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing import FakeClock
from tests.azure._azureml_fixtures import TARGET, aml_fixture, hub_fixture  # noqa: F401  (fixtures)
from tests.fakes.azureml import FakeAzureML
from tests.fakes.azureml_endpoints import PRIMARY_KEY, SECONDARY_KEY, FakeOnlineEndpoints
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.server import Fault

pytestmark = pytest.mark.azure

PAYLOAD = {"input_data": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}


def version(number: int) -> ModelVersion:
    return ModelVersion(name="diabetes", version=str(number), uri=f"azureml:diabetes:{number}")


def smoke_for(number: int) -> SmokeTest:
    return SmokeTest(payload=PAYLOAD, expected=[float(number)] * 2, ready_deadline=60, retry_interval=1)


@pytest.fixture
def endpoints(aml: FakeAzureML) -> FakeOnlineEndpoints:
    for number in (1, 2, 3, 9):
        aml.add_model_version("diabetes", str(number))
    return FakeOnlineEndpoints(aml.service, aml.ws)


@pytest.fixture
def deployments(hub: MLOpsClient, endpoints: FakeOnlineEndpoints) -> Any:
    return hub.deployments


def _api_versions(endpoints: FakeOnlineEndpoints, pattern: str) -> set[str | None]:
    return {r.api_version for r in endpoints.service.requests if r.path.endswith(pattern) or pattern in r.path}


def test_blue_green_rollout_puts_the_full_map_and_rolls_back(
    deployments: Any, endpoints: FakeOnlineEndpoints, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = deployments.begin_deploy(
        version(1), endpoint="churn", deployment="blue", strategy=Replace(smoke_test=smoke_for(1))
    ).result()
    assert first.succeeded
    assert first.traffic == {"blue": 100}
    second = deployments.begin_deploy(
        version(2),
        endpoint="churn",
        deployment="green",
        strategy=BlueGreen(steps=[10, 50, 100], smoke_test=smoke_for(2)),
    ).result()
    assert second.succeeded
    assert [step.traffic for step in second.steps] == [
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"blue": 0, "green": 100},
    ]
    checks: list[object] = []

    def healthy_only_once(output: object) -> bool:  # passes before 10 %, fails before 100 %
        checks.append(output)
        return len(checks) == 1

    bad = deployments.begin_deploy(
        version(9),
        endpoint="churn",
        deployment="red",
        strategy=BlueGreen(steps=[10, 100], smoke_test=SmokeTest(payload=PAYLOAD, predicate=healthy_only_once)),
    ).result()
    assert bad.rolled_back
    assert "before the 100% step failed: the predicate rejected the output [9.0, 9.0]" in (bad.reason or "")
    assert bad.previous_traffic == {"blue": 0, "green": 100}
    assert bad.log_tail
    assert "Listening" in bad.log_tail
    back = deployments.begin_rollback("churn").result()
    assert back.deployment == "blue"

    # Every endpoint PUT carried the whole map (azure-ai-ml leaves out 0 % entries; absent means 0), and
    # the history tags rode on the traffic PUTs: no PUT only to write history after a step.
    assert endpoints.traffic_puts("churn") == [
        {},  # creation
        {"blue": 100},  # Replace
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"green": 100},
        {"green": 90, "red": 10},  # the bad model's first step
        {"green": 100},  # automatic rollback: the previous map, whole
        {"green": 100},  # history of deleting 'red' (no traffic change carries it: failure path only)
        {"blue": 100},  # begin_rollback: previous production back to 100 %
    ]
    tags = [r.json.get("tags") or {} for r in endpoints.service.requests_to("PUT", r"/onlineEndpoints/churn$")]
    actions = [
        sorted(json.loads(value)["a"] for key, value in put.items() if key.startswith("mlops.history.")) for put in tags
    ]
    # Each PUT's tags hold the entry of the change it makes (tags accumulate, most recent kept).
    assert actions[1] == ["deploy", "traffic"]
    assert actions[2].count("traffic") == 2
    assert actions[2].count("deploy") == 2
    assert actions[-1].count("rollback") == 2
    assert "red" not in endpoints.deployments["churn"]
    assert endpoints.endpoints["churn"]["properties"]["traffic"] == {"blue": 100}

    # What was sent: paths, api-versions, bodies.
    service = endpoints.service
    ws = endpoints.ws
    deployment_puts = service.requests_to("PUT", r"/onlineEndpoints/churn/deployments/[^/]+$")
    assert [r.path.rsplit("/", 1)[1] for r in deployment_puts] == ["blue", "green", "red"]
    body = deployment_puts[1].json
    assert body["properties"]["model"].endswith(f"{ws}/models/diabetes/versions/2")
    assert "codeConfiguration" not in body["properties"]
    assert "environmentId" not in body["properties"]
    assert body["properties"]["endpointComputeType"] == "Managed"
    assert body["sku"]["capacity"] == 1
    assert {r.api_version for r in deployment_puts} == {"2023-04-01-preview"}
    endpoint_puts = service.requests_to("PUT", r"/onlineEndpoints/churn$")
    assert {r.api_version for r in endpoint_puts} == {"2022-02-01-preview"}
    assert endpoint_puts[0].json["properties"]["authMode"] == "Key"
    assert service.requests_to("GET", r"^/operations/"), "LROs were polled"
    assert len(service.requests_to("POST", r"/onlineEndpoints/churn/listKeys$")) == 1
    scoring = service.requests_to("POST", r"^/score/churn$")
    assert all(r.headers["authorization"] == f"Bearer {PRIMARY_KEY}" for r in scoring)
    assert {r.headers.get("azureml-model-deployment") for r in scoring} == {"blue", "green", "red"}
    assert service.requests_to("POST", r"/deployments/red/getLogs$")[0].json == {"tail": 50}
    assert service.requests_to("DELETE", r"/onlineEndpoints/churn/deployments/red$")

    # The key was registered for redaction and never reached a log record.
    assert redact(f"key={PRIMARY_KEY}") == "key=***"
    assert PRIMARY_KEY not in caplog.text

    history = deployments.history("churn")
    assert [entry.action for entry in history][-4:] == ["smoke_failed", "rollback", "delete", "rollback"]
    assert history[-1].traffic == {"blue": 100}
    assert history[-1].by


def test_idempotent_rerun_sends_no_put(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    deployments.begin_deploy(version(1), endpoint="idem", deployment="blue", strategy=Replace()).result()
    puts = len([r for r in endpoints.service.requests if r.method == "PUT"])
    again = deployments.begin_deploy(version(1), endpoint="idem", deployment="blue", strategy=Replace()).result()
    assert again.changed is False
    assert again.traffic == {"blue": 100}
    assert len([r for r in endpoints.service.requests if r.method == "PUT"]) == puts


def test_failed_deployment_carries_the_container_log(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    endpoints.failing_models.add("diabetes/versions/3")
    with pytest.raises(OperationFailedError) as raised:
        deployments.begin_deploy(version(3), endpoint="broken", deployment="blue").result()
    assert "cannot load" in str(raised.value)
    assert "Deployment log tail" in str(raised.value)
    assert endpoints.endpoints["broken"]["properties"]["traffic"] == {}


def test_local_registry_uri_is_refused_on_azure(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    local = ModelVersion(name="m", version="1", uri="models:/m/1")
    with pytest.raises(ConfigurationError, match="local MLflow registry"):
        deployments.begin_deploy(local, endpoint="nope").result()
    assert deployments.list_endpoints() == []


def test_endpoint_created_ahead_is_one_put_polled_to_succeeded(
    deployments: Any, endpoints: FakeOnlineEndpoints
) -> None:
    operation = deployments.begin_create_endpoint("churn")
    puts = endpoints.service.requests_to("PUT", r"/onlineEndpoints/churn$")
    assert len(puts) == 1  # begin_* sent the creation before returning
    body = puts[0].json
    assert body["properties"]["authMode"] == "Key"
    assert "mlops.created_by" in body["tags"]
    endpoint = operation.result()
    assert (endpoint.name, endpoint.backend, endpoint.deployments) == ("churn", "azure", [])
    assert endpoints.endpoints["churn"]["properties"]["provisioningState"] == "Succeeded"
    again = deployments.begin_create_endpoint("churn").result()  # exists: no second PUT
    assert again.name == "churn"
    assert len(endpoints.service.requests_to("PUT", r"/onlineEndpoints/churn$")) == 1
    result = deployments.begin_deploy(version(1), endpoint="churn", deployment="blue", strategy=Replace()).result()
    assert result.succeeded
    endpoint_puts = endpoints.traffic_puts("churn")
    assert endpoint_puts[0] == {}  # the creation carried no traffic; the deployment's PUT set it
    assert endpoint_puts[-1] == {"blue": 100}


def test_shadow_mirrors_a_share_without_live_traffic(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    deployments.begin_deploy(version(1), endpoint="shady", deployment="blue", strategy=Replace()).result()
    result = deployments.begin_deploy(
        version(2), endpoint="shady", deployment="green", strategy=Shadow(mirror_percent=20, smoke_test=smoke_for(2))
    ).result()
    assert result.succeeded
    assert result.mirror == {"green": 20}
    assert result.traffic.get("green", 0) == 0
    assert result.traffic["blue"] == 100
    live = endpoints.endpoints["shady"]["properties"]
    assert (live["traffic"], live["mirrorTraffic"]) == ({"blue": 100}, {"green": 20})
    last_put = endpoints.service.requests_to("PUT", r"/onlineEndpoints/shady$")[-1].json["properties"]
    assert last_put["mirrorTraffic"] == {"green": 20}
    assert last_put["traffic"] == {"blue": 100}


def test_cancel_mid_rollout_puts_the_previous_map_back(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    deployments.begin_deploy(version(1), endpoint="halt", deployment="blue", strategy=Replace()).result()
    operation = deployments.begin_deploy(
        version(2), endpoint="halt", deployment="green", strategy=BlueGreen(steps=[10, 100], bake_time=3600)
    )
    for _ in range(50):  # create the deployment (an LRO), then the 10 % step; then it bakes for an hour
        operation.status()
        if endpoints.endpoints["halt"]["properties"]["traffic"].get("green") == 10:
            break
    assert endpoints.endpoints["halt"]["properties"]["traffic"] == {"blue": 90, "green": 10}
    operation.cancel()
    with pytest.raises(OperationCanceledError):
        operation.result()
    assert endpoints.endpoints["halt"]["properties"]["traffic"] == {"blue": 100}
    assert endpoints.traffic_puts("halt")[-1] == {"blue": 100}
    assert deployments.history("halt")[-1].traffic == {"blue": 100}


BUSY = {"error": {"code": "Conflict", "message": "An operation is already in progress on endpoint churn."}}


def _busy_client(aml: FakeAzureML, ca_bundle: Path, clock: FakeClock, **settings: Any) -> MLOpsClient:
    return MLOpsClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        cloud="MlopsFakeCloud",
        resource_manager_url=aml.service.url,
        authority_url=aml.service.url,
        ca_bundle=str(ca_bundle),
        show_progress=False,
        **settings,
    )


def test_busy_endpoint_409_is_waited_out_and_the_rollout_completes(
    deployments: Any, endpoints: FakeOnlineEndpoints, clock: FakeClock
) -> None:
    deployments.begin_deploy(version(1), endpoint="churn", deployment="blue", strategy=Replace()).result()
    # No Retry-After: azure-core would honour one itself, in real time, before the SDK sees the 409.
    endpoints.service.inject(Fault("PUT", r"/onlineEndpoints/churn$", status=409, body=BUSY, times=2))

    result = deployments.begin_deploy(
        version(2), endpoint="churn", deployment="green", strategy=BlueGreen(steps=[50, 100])
    ).result()

    assert result.succeeded
    assert result.traffic == {"blue": 0, "green": 100}
    sleeps = clock.sleeps
    # Waited on the injectable clock, backing off (5 s, then 10 s) between the refused PUTs.
    assert any(sleeps[i : i + 2] == [5.0, 10.0] for i in range(len(sleeps) - 1))
    # The refused PUT was sent again with the same whole map, then the rollout went on.
    assert endpoints.traffic_puts("churn")[-4:] == [
        {"blue": 50, "green": 50},
        {"blue": 50, "green": 50},
        {"blue": 50, "green": 50},
        {"green": 100},
    ]


def test_busy_endpoint_past_the_deadline_is_a_conflict_error(
    aml: FakeAzureML, endpoints: FakeOnlineEndpoints, ca_bundle: Path, clock: FakeClock
) -> None:
    with _busy_client(aml, ca_bundle, clock, endpoint_busy_wait=60) as client:
        client.deployments.begin_deploy(version(1), endpoint="churn", deployment="blue", strategy=Replace()).result()
        endpoints.service.inject(Fault("PUT", r"/onlineEndpoints/churn$", status=409, body=BUSY, times=100))
        operation = client.deployments.begin_deploy(
            version(2), endpoint="churn", deployment="green", strategy=BlueGreen(steps=[50, 100])
        )
        with pytest.raises(ConflictError) as raised:
            operation.result()

    error = raised.value
    assert not isinstance(error, OperationFailedError)
    assert error.status_code == 409
    assert error.details["error_code"] == "Conflict"
    assert error.request_id == "fake-request-id"
    assert error.operation_id == operation.id
    assert "already in progress" in error.message
    busy_waits = [5.0, 10.0, 20.0, 25.0]  # backoff, the last one cut to the 60 s deadline
    assert any(clock.sleeps[i : i + 4] == busy_waits for i in range(len(clock.sleeps)))
    assert endpoints.endpoints["churn"]["properties"]["traffic"] == {"blue": 100}


def test_forbidden_deployment_put_is_permission_denied(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    denied = {
        "error": {
            "code": "AuthorizationFailed",
            "message": "The client does not have authorization to perform action "
            "'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/write'.",
        }
    }
    endpoints.service.inject(Fault("PUT", r"/deployments/blue$", status=403, body=denied))
    operation = deployments.begin_deploy(version(1), endpoint="locked", deployment="blue", strategy=Replace())

    with pytest.raises(PermissionDeniedError) as raised:
        operation.result()

    assert raised.value.status_code == 403
    assert raised.value.details["error_code"] == "AuthorizationFailed"
    assert raised.value.request_id == "fake-request-id"
    assert raised.value.operation_id == operation.id
    # A token resumed later reports the same class.
    with pytest.raises(PermissionDeniedError):
        deployments.resume_operation(operation.continuation_token()).result()


def test_conflict_inside_the_deployment_lro_is_a_conflict_error(
    deployments: Any, endpoints: FakeOnlineEndpoints
) -> None:
    endpoints.failing_models.add("diabetes/versions/3")
    endpoints.failure_error = {"code": "Conflict", "message": "Another operation is in progress on deployment blue."}

    with pytest.raises(ConflictError) as raised:
        deployments.begin_deploy(version(3), endpoint="clash", deployment="blue").result()

    assert raised.value.status_code == 409
    assert raised.value.details["error_code"] == "Conflict"


def test_first_status_look_waits_for_the_create_answers_retry_after(
    deployments: Any, endpoints: FakeOnlineEndpoints, clock: FakeClock
) -> None:
    endpoints.create_headers = {"Retry-After": "37"}

    result = deployments.begin_deploy(version(1), endpoint="slow", deployment="blue", strategy=Replace()).result()

    assert result.succeeded
    # Endpoint and deployment creation each answered Retry-After: 37; each first look waited for it.
    assert clock.sleeps.count(37.0) == 2


def test_endpoint_creation_and_scoring_survive_transient_failures(
    deployments: Any, endpoints: FakeOnlineEndpoints
) -> None:
    # The MLClient runs without azure-core retries: the SDK's policy must cover these calls.
    endpoints.service.inject(Fault("GET", r"/onlineEndpoints/fresh$", status=503))
    endpoints.service.inject(Fault("PUT", r"/onlineEndpoints/fresh$", drop=True))
    created = deployments.begin_create_endpoint("fresh").result()
    assert created.name == "fresh"
    assert len(endpoints.service.requests_to("PUT", r"/onlineEndpoints/fresh$")) == 2
    deployments.begin_deploy(version(1), endpoint="fresh", strategy=Replace(smoke_test=smoke_for(1))).result()
    endpoints.service.inject(Fault("POST", r"/score/fresh$", status=429, headers={"Retry-After": "1"}))
    endpoints.service.inject(Fault("POST", r"/score/fresh$", drop=True, after_handler=True))
    scoring_before = len(endpoints.service.requests_to("POST", r"/score/fresh$"))
    assert deployments.invoke("fresh", PAYLOAD) == [1.0, 1.0]
    assert len(endpoints.service.requests_to("POST", r"/score/fresh$")) == scoring_before + 3


@pytest.mark.parametrize(
    "fault",
    [Fault("GET", r"/operations/", status=429, headers={"Retry-After": "2"}), Fault("GET", r"/operations/", drop=True)],
    ids=["throttled", "reset"],
)
def test_failed_status_request_of_the_endpoint_creation_does_not_fail_it(
    deployments: Any, endpoints: FakeOnlineEndpoints, fault: Fault
) -> None:
    # azure-core's poller, without transport retries, fails on the status request and would re-raise it on
    # every look: the SDK drops it and reads the endpoint's provisioning state instead.
    endpoints.service.inject(fault)
    created = deployments.begin_create_endpoint("busy").result()
    assert created.name == "busy"
    assert endpoints.endpoints["busy"]["properties"]["provisioningState"] == "Succeeded"
    assert len(endpoints.service.requests_to("PUT", r"/onlineEndpoints/busy$")) == 1
    assert len(endpoints.service.requests_to("GET", r"/operations/")) == 1  # the failed one; then GETs
    assert len(endpoints.service.requests_to("GET", r"/onlineEndpoints/busy$")) >= 2


def test_failed_status_request_of_the_deployment_creation_does_not_fail_it(
    deployments: Any, endpoints: FakeOnlineEndpoints
) -> None:
    deployments.begin_create_endpoint("steady").result()
    endpoints.service.inject(Fault("GET", r"/operations/", status=429, headers={"Retry-After": "2"}))

    result = deployments.begin_deploy(version(1), endpoint="steady", deployment="blue", strategy=Replace()).result()

    assert result.succeeded
    assert endpoints.deployments["steady"]["blue"]["properties"]["provisioningState"] == "Succeeded"
    assert len(endpoints.service.requests_to("PUT", r"/onlineEndpoints/steady/deployments/blue$")) == 1
    assert endpoints.endpoints["steady"]["properties"]["traffic"] == {"blue": 100}


def test_a_lost_smoke_test_latency_sample_is_sent_again_not_a_failed_rollout(
    deployments: Any, endpoints: FakeOnlineEndpoints
) -> None:
    deployments.begin_deploy(version(1), endpoint="flaky", deployment="blue", strategy=Replace()).result()
    scored: list[int] = []

    def score_then_fail_the_next(request: Any, match: Any) -> Any:
        # The deployment answers the smoke test's first request; the next one (a latency sample) is throttled.
        if not scored:
            endpoints.service.inject(Fault("POST", r"/score/flaky$", status=503))
        scored.append(1)
        return endpoints._score(request, match)

    endpoints.service.route("POST", r"/score/(?P<e>flaky)", score_then_fail_the_next)
    endpoints.service._routes.insert(0, endpoints.service._routes.pop())  # ahead of the fake's own route

    result = deployments.begin_deploy(
        version(2), endpoint="flaky", deployment="green", strategy=BlueGreen(steps=[100], smoke_test=smoke_for(2))
    ).result()

    assert result.succeeded
    assert not result.rolled_back
    assert endpoints.endpoints["flaky"]["properties"]["traffic"] == {"green": 100}
    # first answer + the throttled sample + its resend + the third sample, for the one step's smoke test
    assert len(endpoints.service.requests_to("POST", r"/score/flaky$")) >= 4
    assert "green" in endpoints.deployments["flaky"]


def test_busy_endpoint_409_on_deleting_a_rolled_back_deployment_is_waited_out(
    deployments: Any, endpoints: FakeOnlineEndpoints, clock: FakeClock
) -> None:
    deployments.begin_deploy(version(1), endpoint="churn", deployment="blue", strategy=Replace()).result()
    endpoints.service.inject(Fault("DELETE", r"/onlineEndpoints/churn/deployments/red$", status=409, body=BUSY))
    sleeps_before = len(clock.sleeps)

    result = deployments.begin_deploy(
        version(9),
        endpoint="churn",
        deployment="red",
        strategy=BlueGreen(steps=[100], smoke_test=SmokeTest(payload=PAYLOAD, predicate=lambda output: False)),
    ).result()

    assert result.rolled_back
    assert len(endpoints.service.requests_to("DELETE", r"/deployments/red$")) == 2
    assert "red" not in endpoints.deployments["churn"]
    assert 5.0 in clock.sleeps[sleeps_before:]


def test_keys_listed_and_regenerated_with_the_real_mlclient(deployments: Any, endpoints: FakeOnlineEndpoints) -> None:
    deployments.begin_create_endpoint("keyed").result()
    keys = deployments.get_keys("keyed")
    assert keys.primary_key.get_secret_value() == PRIMARY_KEY
    assert PRIMARY_KEY not in repr(keys)
    rotated = deployments.regenerate_keys("keyed", key="secondary")
    assert rotated.primary_key.get_secret_value() == PRIMARY_KEY
    new_secondary = rotated.secondary_key.get_secret_value()
    assert new_secondary not in (SECONDARY_KEY, "")
    assert endpoints.keys["secondaryKey"] == new_secondary
    posts = endpoints.service.requests_to("POST", r"/onlineEndpoints/keyed/regenerateKeys$")
    assert len(posts) == 1
    # No keyValue: the service makes the new key (sending the old one, as MLClient does, would keep it).
    assert posts[0].json == {"keyType": "Secondary"}
    assert posts[0].api_version is not None
