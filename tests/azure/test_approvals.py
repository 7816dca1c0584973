"""Approvals on Azure DevOps: the REAL azure-devops Connection (OPTIONS location discovery, pipeline run,
timeline) plus the raw ``_apis/pipelines/approvals`` calls, over loopback TLS against tests/fakes/devops.py."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.devops")

from mlops_sdk.clients.approvals import ApprovalClient
from mlops_sdk.core.errors import (
    ApprovalRejectedError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    OperationCanceledError,
    PermissionDeniedError,
    ResourceNotFoundError,
)
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus, ReportFacts
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing import FakeClock
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.devops import ORG, PIPELINE_ID, PROJECT, FakeDevOps, identity
from tests.fakes.server import FakeService

pytestmark = pytest.mark.azure

TARGET = "azureml://subscriptions/sub-1/resourceGroups/rg-1/workspaces/ws-1"
ALICE, BOB, MALLORY, CAROL = "alice@contoso.com", "bob@contoso.com", "mallory@contoso.com", "carol@contoso.com"
PATS = {
    ALICE: "alice-pat-0123456789",
    BOB: "bob-pat-0123456789",
    MALLORY: "mallory-pat-0123456789",
    CAROL: "carol-pat-0123456789",
}
PASSED = ReportFacts(passed=True, outcome="passed", digest="sha256:report-1")
POLICY = ApprovalPolicy(approvers=[ALICE, BOB], timeout=timedelta(hours=4))


@pytest.fixture
def devops(tls_ca: Any, ca_bundle: Path) -> Iterator[FakeDevOps]:
    service = FakeService(tls_ca).start()
    fake = FakeDevOps(service)
    for email, pat in PATS.items():
        fake.add_user(pat, email, email.split("@")[0].title())
    fake.check_approvers = [identity(ALICE, "Alice"), identity(BOB, "Bob")]
    yield fake
    service.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime.now(timezone.utc) - timedelta(seconds=5))


def client_as(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock, who: str | None = CAROL, **settings: Any
) -> ApprovalClient:
    values: dict[str, Any] = {
        "devops": devops.project_url,
        "approval_pipeline": PIPELINE_ID,
        "ca_bundle": str(ca_bundle),
    }
    if who is not None:
        values["devops_pat"] = PATS[who]
    values.update(settings)
    return ApprovalClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=values)


def model(created_by: str = CAROL) -> ModelVersion:
    return ModelVersion(
        name="churn", version="12", uri="azureml://registries/r/models/churn/versions/12", created_by=created_by
    )


def test_request_runs_the_pipeline_with_template_parameters(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    with client_as(devops, ca_bundle, clock) as client:
        request = client.request(model(), policy=POLICY, report=PASSED, reason="quarterly retrain")

    assert request.id == "run-101"
    assert request.status is ApprovalStatus.PENDING
    assert request.requester == CAROL
    assert request.external["run_url"].endswith("/_build/results?buildId=101")
    assert devops.service.requests[0].method == "OPTIONS"
    assert devops.service.requests[0].path == f"/{ORG}/_apis"
    (run,) = devops.service.requests_to("POST", rf"/{ORG}/{PROJECT}/_apis/pipelines/{PIPELINE_ID}/runs$")
    assert run.api_version == "7.1-preview.1"
    assert run.headers["authorization"] == "Basic " + base64.b64encode(f":{PATS[CAROL]}".encode()).decode()
    parameters = run.json["templateParameters"]
    assert parameters["mlopsModel"] == "churn@12"
    assert parameters["mlopsReport"] == "sha256:report-1"
    spec = json.loads(parameters["mlopsRequest"])
    assert spec["policy"]["approvers"] == [ALICE, BOB]
    assert spec["requester"] == CAROL
    assert spec["reason"] == "quarterly retrain"
    timeline = devops.service.requests_to("GET", r"/build/builds/101/Timeline")
    assert timeline[0].api_version == "7.1-preview.2"
    (query,) = devops.service.requests_to("GET", r"/_apis/pipelines/approvals$")[:1]
    assert query.query["api-version"] == "7.1"
    assert query.query["$expand"] == "steps"
    assert query.query["approvalIds"] == devops.runs[101].approval_ids[0]


def test_listed_approver_approves_through_the_approvals_api(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    with client_as(devops, ca_bundle, clock, ALICE) as alice:
        assert alice.whoami().email == ALICE
        decided = alice.approve(request.id, comment="AUC holds, fairness ok")

    assert decided.status is ApprovalStatus.APPROVED
    assert decided.decision is not None
    assert decided.decision.approvers == (ALICE,)
    assert decided.votes[0].approver.source == "devops"
    assert decided.votes[0].comment == "AUC holds, fairness ok"
    (patch,) = devops.service.requests_to("PATCH", r"/_apis/pipelines/approvals$")
    assert patch.query["api-version"] == "7.1"
    assert patch.json == [
        {"approvalId": devops.runs[101].approval_ids[0], "status": "approved", "comment": "AUC holds, fairness ok"}
    ]
    assert patch.headers["authorization"] == "Basic " + base64.b64encode(f":{PATS[ALICE]}".encode()).decode()
    assert devops.service.requests_to("GET", r"/_apis/connectionData")


def test_non_listed_user_is_refused_before_anything_is_sent(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    devops.service_allows_anyone = True  # the service would accept mallory's approval
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    with (
        client_as(devops, ca_bundle, clock, MALLORY) as mallory,
        pytest.raises(PermissionDeniedError, match="not an allowed approver"),
    ):
        mallory.approve(request.id, comment="ship it")
    assert devops.service.requests_to("PATCH", r"approvals") == []


def test_approval_the_service_allowed_does_not_count_under_our_policy(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    devops.service_allows_anyone = True
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
        approval_id = devops.runs[101].approval_ids[0]
        devops.act(approval_id, identity(MALLORY, "Mallory"), "approved", "approved in the web UI")
        assert devops.approvals[approval_id]["status"] == "approved"  # Azure DevOps let it through

        decision = carol.begin_wait(request.id, show_progress=False).result()

    assert decision.status == "rejected"
    assert "Azure DevOps approved the run, but not under the policy" in decision.reason
    assert f"{MALLORY} is not an allowed approver" in decision.reason
    assert decision.approvers == ()
    with pytest.raises(ApprovalRejectedError):
        decision.raise_for_gate()


def test_requester_cannot_approve_their_own_model(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with client_as(devops, ca_bundle, clock, ALICE) as alice:
        request = alice.request(model(created_by=ALICE), policy=POLICY, report=PASSED)
        with pytest.raises(PermissionDeniedError, match="forbid_self_approval"):
            alice.approve(request.id, comment="my own model")
        # Approving in the web UI does not count either.
        devops.act(devops.runs[101].approval_ids[0], identity(ALICE, "Alice"), "approved", "self")
        decision = alice.begin_wait(request.id, show_progress=False).result()
    assert decision.status == "rejected"
    assert "forbid_self_approval" in decision.reason


def test_two_approvals_and_rejection_in_the_web_ui(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    devops.min_required = 2
    devops.check_approvers.append(identity(CAROL, "Carol"))
    policy = ApprovalPolicy(approvers=[ALICE, BOB, CAROL], min_approvals=2, timeout=timedelta(hours=1))
    with client_as(devops, ca_bundle, clock, MALLORY) as watcher:
        first = watcher.request(model(created_by="pipeline"), policy=policy, report=PASSED)
        second = watcher.request(model(created_by="pipeline"), policy=policy, report=PASSED)
        one, two = devops.runs[101].approval_ids[0], devops.runs[102].approval_ids[0]

        devops.act(one, identity(ALICE, "Alice"), "approved", "ok")
        assert watcher.get(first.id).status is ApprovalStatus.PENDING
        devops.act(one, identity(BOB, "Bob"), "approved", "ok too")
        approved = watcher.begin_wait(first.id, show_progress=False).result()
        assert approved.status == "approved"
        assert set(approved.approvers) == {ALICE, BOB}

        devops.act(two, identity(ALICE, "Alice"), "approved", "ok")
        devops.act(two, identity(CAROL, "Carol"), "rejected", "drift on the EU segment")
        rejected = watcher.begin_wait(second.id, show_progress=False).result()
    assert rejected.status == "rejected"
    assert rejected.rejected_by == (CAROL,)
    assert {item.id for item in watcher_list(devops, ca_bundle, clock)} == {first.id, second.id}


def watcher_list(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> list[Any]:
    with client_as(devops, ca_bundle, clock, MALLORY) as fresh:  # a new process: nothing cached
        return fresh.list("all", model="churn@12")


def test_timeout_yields_timed_out_without_sleeping(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    policy = ApprovalPolicy(approvers=[ALICE], timeout=timedelta(minutes=10))
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=policy, report=PASSED)
        decision = carol.begin_wait(request.id, show_progress=False).result()
    assert decision.status == "timed_out"
    assert decision.decided_at == request.created_at + timedelta(minutes=10)
    assert clock.monotonic() >= 600


def test_bearer_token_from_the_credential_when_no_pat(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    credential = StaticTokenCredential("entra-token-for-carol-0123456789")
    devops.add_user(credential.token, CAROL, "Carol")
    settings = {"devops": devops.project_url, "approval_pipeline": PIPELINE_ID, "ca_bundle": str(ca_bundle)}
    with ApprovalClient(TARGET, credential=credential, clock=clock, settings=settings) as client:
        request = client.request(model(), policy=POLICY, report=PASSED)
    assert request.status is ApprovalStatus.PENDING
    (run,) = devops.service.requests_to("POST", r"/runs$")
    assert run.headers["authorization"] == f"Bearer {credential.token}"
    assert set(credential.scopes) == {"499b84ac-1321-427f-aa17-267ca6975798/.default"}


def test_inside_a_running_job_the_request_attaches_to_the_current_run(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = devops.add_job_run()
    job_token = "system-access-token-0123456789"
    devops.add_user(job_token, "Project Collection Build Service", "Build Service")
    monkeypatch.setenv("SYSTEM_COLLECTIONURI", devops.org_url + "/")
    monkeypatch.setenv("SYSTEM_TEAMPROJECT", PROJECT)
    monkeypatch.setenv("BUILD_BUILDID", str(run_id))
    monkeypatch.setenv("SYSTEM_ACCESSTOKEN", job_token)
    monkeypatch.setenv("BUILD_REQUESTEDFOREMAIL", CAROL)
    settings = {"ca_bundle": str(ca_bundle)}
    with ApprovalClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as job:
        request = job.request("churn@12", policy=POLICY, report=PASSED)
        assert request.id == f"run-{run_id}"
        assert request.requester == CAROL
        (patch,) = devops.service.requests_to("PATCH", rf"/build/builds/{run_id}/properties")
        assert patch.headers["content-type"].startswith("application/json-patch+json")
        assert patch.headers["authorization"] == f"Bearer {job_token}"
        assert devops.service.requests_to("POST", r"/runs$") == []
        devops.act(devops.runs[run_id].approval_ids[0], identity(BOB, "Bob"), "approved", "go")
    with ApprovalClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as other:
        decision = other.begin_wait(request.id, show_progress=False).result()  # read back from the build property
    assert decision.status == "approved"
    assert decision.model_ref == "churn@12"


def test_cancel_cancels_the_run(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
        operation = carol.begin_wait(request.id, show_progress=False)
        operation.cancel()
        with pytest.raises(OperationCanceledError):
            operation.result()
        (patch,) = devops.service.requests_to("PATCH", r"/_apis/build/builds/101$")
        assert patch.json["status"] == "cancelling"
        assert patch.api_version == "7.1-preview.7"
        with pytest.raises(ConflictError):
            carol.approve(request.id, comment="too late")


def test_policy_decided_requests_never_reach_devops(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    failed = ReportFacts(passed=False, outcome="failed", digest="sha256:bad")
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=failed)
        assert request.status is ApprovalStatus.REJECTED
        assert request.decision is not None
        assert "did not pass" in request.decision.reason
        assert devops.service.requests_to("POST", r"/runs$") == []
        with pytest.raises(ResourceNotFoundError, match="never sent to Azure DevOps"):
            carol.get(request.id)


def test_configuration_and_service_errors_are_typed(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with (
        client_as(devops, ca_bundle, clock, approval_pipeline=None) as client,
        pytest.raises(ConfigurationError, match="approval_pipeline"),
    ):
        client.request(model(), policy=POLICY, report=PASSED)
    with (
        client_as(devops, ca_bundle, clock, approval_pipeline=99) as client,
        pytest.raises(ResourceNotFoundError, match="Pipeline with id 99 not found"),
    ):
        client.request(model(), policy=POLICY, report=PASSED)
    with client_as(devops, ca_bundle, clock, devops_pat="not-a-known-pat-0000") as client:
        with pytest.raises(AuthenticationError) as caught:
            client.request(model(), policy=POLICY, report=PASSED)
        assert "not-a-known-pat-0000" not in str(caught.value)
        with pytest.raises(ConfigurationError, match="no local audit trail"):
            client.verify_audit()
    settings = {"devops": "https://dev.azure.com/only-org", "approval_pipeline": PIPELINE_ID}
    with (
        ApprovalClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as client,
        pytest.raises(ConfigurationError, match="not a project URL"),
    ):
        client.request(model(), policy=POLICY, report=PASSED)


def test_idempotency_key_finds_the_run_already_started(devops: FakeDevOps, ca_bundle: Path, clock: FakeClock) -> None:
    with client_as(devops, ca_bundle, clock) as carol:
        first = carol.request(model(), policy=POLICY, report=PASSED, idempotency_key="flow-9/approve")
    with client_as(devops, ca_bundle, clock) as again:  # a re-run of the crashed script: nothing cached
        second = again.request(model(), policy=POLICY, report=PASSED, idempotency_key="flow-9/approve")
    assert second.id == first.id
    assert len(devops.service.requests_to("POST", r"/runs$")) == 1


def test_throttled_approvals_query_is_retried_on_the_fake_clock(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    from tests.fakes.server import Fault

    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
        devops.service.inject(
            Fault("GET", r"/_apis/pipelines/approvals$", status=429, headers={"Retry-After": "7"}, times=2)
        )
        assert carol.get(request.id).status is ApprovalStatus.PENDING
    assert 7 in clock.sleeps
    assert len(devops.service.requests_to("GET", r"/_apis/pipelines/approvals$")) == 4


def test_lost_answer_of_the_pipeline_run_is_found_by_its_key_not_run_twice(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    from tests.fakes.server import Fault

    # The service started the run, then the connection dropped before the answer (and once more before it).
    devops.service.inject(Fault("POST", r"/pipelines/\d+/runs$", drop=True, after_handler=True))
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED, idempotency_key="flow-10/approve")
    assert request.id == "run-101"
    assert list(devops.runs) == [101]
    assert len(devops.service.requests_to("POST", r"/runs$")) == 1
    assert devops.service.requests_to("GET", rf"/pipelines/{PIPELINE_ID}/runs$")  # the key's lookup ran


def test_pipeline_run_refused_with_503_is_retried_once_the_key_finds_nothing(
    devops: FakeDevOps, ca_bundle: Path, clock: FakeClock
) -> None:
    from tests.fakes.server import Fault

    devops.service.inject(Fault("POST", r"/pipelines/\d+/runs$", status=503))
    with client_as(devops, ca_bundle, clock) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED, idempotency_key="flow-11/approve")
    assert request.id == "run-101"
    assert len(devops.service.requests_to("POST", r"/runs$")) == 2
    assert list(devops.runs) == [101]
