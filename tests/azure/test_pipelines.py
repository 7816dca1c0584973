"""client.pipelines: Azure DevOps pipeline runs with the REAL azure-devops client over loopback TLS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.devops")

from mlops_sdk import MLOpsClient
from mlops_sdk.clients.pipelines import PipelineClient
from mlops_sdk.core.errors import (
    ConfigurationError,
    OperationCanceledError,
    OperationFailedError,
    OperationTimeoutError,
    ResourceNotFoundError,
)
from mlops_sdk.core.status import Status
from mlops_sdk.testing import FakeClock
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.devops import ORG, PROJECT, FakeDevOps
from tests.fakes.server import FakeService, Fault

pytestmark = pytest.mark.azure

TARGET = "azureml://subscriptions/sub-1/resourceGroups/rg-1/workspaces/ws-1"
APP_PIPELINE = 42
PAT = "app-team-pat-0123456789"
RUNS = rf"/{ORG}/{PROJECT}/_apis/pipelines/{APP_PIPELINE}/runs"


@pytest.fixture
def devops(tls_ca: Any, ca_bundle: Path) -> Iterator[FakeDevOps]:
    service = FakeService(tls_ca).start()
    fake = FakeDevOps(service)
    fake.add_user(PAT, "builder@contoso.com")
    fake.add_pipeline(APP_PIPELINE, "app-integration-tests")
    yield fake
    service.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime.now(timezone.utc) - timedelta(seconds=5))


def pipelines(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> PipelineClient:
    settings = {"devops": devops.project_url, "devops_pat": PAT, "ca_bundle": str(ca_bundle)}
    return PipelineClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings)


def test_run_and_wait_for_success(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with pipelines(devops, ca_bundle, clock) as client:
        operation = client.begin_run(
            APP_PIPELINE,
            branch="release/2.1",
            parameters={"model": "diabetes@3", "smoke": True},
            variables={"ENV": "staging"},
        )
        assert operation.id == "101"
        assert operation.status() is Status.RUNNING
        clock.at(clock.monotonic() + 30, lambda: devops.finish(101, "succeeded"))
        run = operation.result()

    assert run.status is Status.SUCCEEDED
    assert (run.native_state, run.native_result) == ("completed", "succeeded")
    assert run.pipeline_name == "app-integration-tests"
    assert run.branch == "refs/heads/release/2.1"
    assert run.url == f"{devops.project_url}/_build/results?buildId=101"
    assert devops.service.requests[0].method == "OPTIONS"
    (start,) = devops.service.requests_to("POST", RUNS + "$")
    assert start.api_version == "7.1-preview.1"
    assert start.json == {
        "templateParameters": {"model": "diabetes@3", "smoke": "true"},
        "variables": {"ENV": {"value": "staging"}},
        "resources": {"repositories": {"self": {"refName": "refs/heads/release/2.1"}}},
    }
    polls = devops.service.requests_to("GET", RUNS + "/101$")
    assert len(polls) >= 2
    assert clock.monotonic() >= 30


def test_failed_run_names_the_failed_task(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with pipelines(devops, ca_bundle, clock) as client:
        operation = client.begin_run(APP_PIPELINE)
        devops.finish(101, "failed", [("Run integration tests", "3 of 120 tests failed: test_score_latency")])
        with pytest.raises(OperationFailedError) as caught:
            operation.result()
    message = str(caught.value)
    assert "ended failed" in message
    assert "task 'Run integration tests': 3 of 120 tests failed: test_score_latency" in message
    assert caught.value.details["failed_tasks"][0]["name"] == "Run integration tests"
    assert devops.service.requests_to("GET", r"/build/builds/101/Timeline")


def test_idempotency_key_reattaches_instead_of_starting_twice(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    with pipelines(devops, ca_bundle, clock) as client:
        first = client.begin_run(APP_PIPELINE, idempotency_key="flow-r1-integration")
        second = client.begin_run(APP_PIPELINE, idempotency_key="flow-r1-integration")
        third = client.begin_run(APP_PIPELINE, idempotency_key="flow-r2-integration")
    assert first.id == second.id == "101"
    assert third.id == "102"
    starts = devops.service.requests_to("POST", RUNS + "$")
    assert [request.json["templateParameters"]["mlops_request_id"] for request in starts] == [
        "flow-r1-integration",
        "flow-r2-integration",
    ]


def test_lost_answer_on_start_is_not_a_second_run(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    devops.service.inject(Fault("POST", RUNS + "$", drop=True, after_handler=True))
    with pipelines(devops, ca_bundle, clock) as client:
        operation = client.begin_run(APP_PIPELINE, idempotency_key="k-lost-answer")
    assert operation.id == "101"
    assert len(devops.runs) == 1
    assert len(devops.service.requests_to("POST", RUNS + "$")) == 1


def test_without_a_key_a_lost_answer_is_not_retried_blindly(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    devops.service.inject(Fault("POST", RUNS + "$", drop=True, after_handler=True))
    with pipelines(devops, ca_bundle, clock) as client, pytest.raises(ConfigurationError, match="idempotency_key"):
        client.begin_run(APP_PIPELINE)
    assert len(devops.runs) == 1


def test_cancel_timeout_and_resume(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with pipelines(devops, ca_bundle, clock) as client:
        operation = client.begin_run(APP_PIPELINE)
        with pytest.raises(OperationTimeoutError) as caught:
            operation.result(timeout=20)
        token = caught.value.details["continuation_token"]
    with MLOpsClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        devops=devops.project_url,
        devops_pat=PAT,
        ca_bundle=str(ca_bundle),
    ) as hub:
        resumed = hub.resume_operation(token)
        assert resumed.id == "101"
        resumed.cancel()
        with pytest.raises(OperationCanceledError):
            resumed.result()
        (cancel,) = devops.service.requests_to("PATCH", r"/build/builds/101$")
        assert cancel.json["status"] == "cancelling"


def test_get_list_and_errors(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with pipelines(devops, ca_bundle, clock) as client:
        client.begin_run(APP_PIPELINE)
        client.begin_run(APP_PIPELINE)
        devops.finish(101, "succeeded")
        assert [run.id for run in client.list_runs(APP_PIPELINE)] == [102, 101]
        assert client.get_run(APP_PIPELINE, 101).status is Status.SUCCEEDED
        with pytest.raises(ResourceNotFoundError):
            client.get_run(APP_PIPELINE, 999)
        with pytest.raises(ResourceNotFoundError, match="Pipeline with id 5 not found"):
            client.begin_run(5)
        with pytest.raises(ConfigurationError, match="pipeline_id must be a positive integer"):
            client.begin_run("42")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match=r"parameters\['cfg'\] must be a string"):
            client.begin_run(APP_PIPELINE, parameters={"cfg": {"a": 1}})


def test_pipelines_on_a_local_target_explain_what_to_do() -> None:
    with MLOpsClient("local://.mlops") as client, pytest.raises(ConfigurationError, match="needs an azureml:// target"):
        client.pipelines.list_runs(1)


def test_missing_devops_setting_is_named(ca_bundle: Path, clock: FakeClock) -> None:
    with (
        PipelineClient(TARGET, credential=StaticTokenCredential(), clock=clock) as client,
        pytest.raises(ConfigurationError, match="no Azure DevOps project configured"),
    ):
        client.list_runs(1)
