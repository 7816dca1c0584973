"""Approvals on GitHub Actions environments: httpx over loopback TLS against tests/fakes/github.py, a fake
built from GitHub's OpenAPI description; every request is checked against the description."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")

from mlops_sdk.clients.approvals import ApprovalClient
from mlops_sdk.core.errors import (
    ApprovalRejectedError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    PermissionDeniedError,
    ResourceNotFoundError,
    ServerError,
)
from mlops_sdk.core.status import Status
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus, ReportFacts
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing import FakeClock
from tests.fakes import github_spec as spec
from tests.fakes.github import ENVIRONMENT, OWNER, PENDING, REPO, REVIEWS, FakeGitHub
from tests.fakes.server import FakeService, Fault

RUN = 4242
TOKENS = {
    "alice": "ghp_alice0123456789abcdefghijklmnopqrstu",
    "bob": "ghp_bob0123456789abcdefghijklmnopqrstuvw",
    "carol": "ghp_carol0123456789abcdefghijklmnopqrst",
    "mallory": "ghp_mallory0123456789abcdefghijklmnopq",
    "dave": "ghp_dave0123456789abcdefghijklmnopqrstuv",
}
PASSED = ReportFacts(passed=True, outcome="promote", digest="sha256:report-gh")
POLICY = ApprovalPolicy(approvers=["alice", "bob", "dave"], timeout=timedelta(hours=4))
SPEC_OPERATIONS = [("GET", PENDING), ("POST", PENDING), ("GET", REVIEWS), ("GET", ENVIRONMENT)]


@pytest.fixture(autouse=True)
def _no_actions_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_API_URL", "TF_BUILD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def github(tls_ca: Any) -> Iterator[FakeGitHub]:
    service = FakeService(tls_ca).start()
    fake = FakeGitHub(service)
    for login, token in TOKENS.items():
        fake.add_user(token, login)
    fake.add_environment("production", ["alice", "bob"])
    yield fake
    service.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return tmp_path / "records"


def client_as(
    who: str, github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path, **settings: Any
) -> ApprovalClient:
    values: dict[str, Any] = {
        "approvals_provider": "github",
        "github_repository": f"{OWNER}/{REPO}",
        "github_token": TOKENS[who],
        "github_api_url": github.api_url,
        "github_environment": "production",
        "github_run_id": RUN,
        "approval_records": str(records),
        "ca_bundle": str(ca_bundle),
        "show_progress": False,
    }
    values.update(settings)
    return ApprovalClient("memory://", clock=clock, settings=values)


def model(created_by: str = "carol") -> ModelVersion:
    return ModelVersion(name="churn", version="12", uri="models:/churn/12", created_by=created_by)


def assert_requests_fit_the_description(github: FakeGitHub) -> None:
    """Every request went to an operation of the description, with a body that fits it."""
    assert github.service.requests
    for request in github.service.requests:
        if request.path == "/user":
            continue
        matches = [
            (method, template)
            for method, template in SPEC_OPERATIONS
            if method == request.method and re.fullmatch(spec.path_pattern(template), request.path)
        ]
        assert matches, f"{request.method} {request.path} is not an operation of GitHub's description"
        method, template = matches[0]
        assert spec.request_problems(method, template, request.json) == []
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["accept"] == "application/vnd.github+json"
    assert github.spec_problems == []


def test_wait_then_approve_through_the_review_api(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED, reason="quarterly retrain, AUC +0.02")
        assert (request.id, request.status, request.requester) == (f"gh-{RUN}", ApprovalStatus.PENDING, "carol")
        assert request.reason == "quarterly retrain, AUC +0.02"
        assert request.external["github_status"] == "not waiting yet"
        assert request.external["run_url"] == f"https://github.com/{OWNER}/{REPO}/actions/runs/{RUN}"
        with client_as("alice", github, ca_bundle, clock, records) as alice:
            with pytest.raises(ConflictError, match="no deployment waiting"):
                alice.approve(request.id, comment="too early")
            assert github.service.requests_to("POST", "pending_deployments") == []

            github.wait_on(RUN, "production")  # the deploy job reached `environment: production`
            waiting = carol.begin_wait(request.id, show_progress=False)
            assert waiting.status() is Status.RUNNING
            assert carol.get(request.id).external["github_status"] == "waiting"
            approved = alice.approve(request.id, comment="AUC holds, fairness ok")
        decision = waiting.result()

    assert approved.status is ApprovalStatus.APPROVED
    assert decision.status == "approved"
    assert decision.approvers == ("alice",)
    assert decision.reason == "approved by alice (1 of 1 needed)"
    assert decision.votes[0].approver.source == "github"
    assert decision.votes[0].comment == "AUC holds, fairness ok"
    (post,) = github.service.requests_to("POST", rf"/repos/{OWNER}/{REPO}/actions/runs/{RUN}/pending_deployments$")
    environment = github.environments["production"]
    assert post.json == {"environment_ids": [environment.id], "state": "approved", "comment": "AUC holds, fairness ok"}
    assert post.headers["authorization"] == f"Bearer {TOKENS['alice']}"
    assert github.history[RUN][0]["user"]["login"] == "alice"
    assert github.service.requests_to("GET", rf"/actions/runs/{RUN}/approvals$")
    assert_requests_fit_the_description(github)


def test_a_listed_reviewer_rejects(github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path) -> None:
    github.wait_on(RUN, "production")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    with client_as("bob", github, ca_bundle, clock, records) as bob:
        rejected = bob.reject(request.id, comment="drift on the EU segment")
        with pytest.raises(ConflictError, match="already rejected"):
            bob.approve(request.id, comment="changed my mind")
    assert rejected.status is ApprovalStatus.REJECTED
    assert rejected.decision is not None
    assert (rejected.decision.rejected_by, rejected.decision.reason) == (("bob",), "rejected by bob")
    with pytest.raises(ApprovalRejectedError):
        rejected.decision.raise_for_gate()
    (post,) = github.service.requests_to("POST", r"pending_deployments$")
    assert post.json["state"] == "rejected"
    assert post.json["comment"] == "drift on the EU segment"
    assert_requests_fit_the_description(github)


def test_self_approval_is_refused_and_a_web_ui_self_approval_does_not_count(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    github.wait_on(RUN, "production")
    with client_as("alice", github, ca_bundle, clock, records) as alice:
        request = alice.request(model(created_by="alice"), policy=POLICY, report=PASSED)
        with pytest.raises(PermissionDeniedError, match="forbid_self_approval") as caught:
            alice.approve(request.id, comment="my own model")
        assert caught.value.operation_id == request.id
        assert github.service.requests_to("POST", "pending_deployments") == []
        github.act(RUN, "alice", "approved", "self")  # GitHub allows it unless prevent_self_review is set
        decision = alice.begin_wait(request.id, show_progress=False).result()
    assert decision.status == "rejected"
    assert decision.reason.startswith("GitHub approved the deployment, but not under the policy: alice: ")
    assert "forbid_self_approval" in decision.reason
    assert decision.approvers == ()


def test_an_unlisted_approver_is_refused_even_when_github_would_accept(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    github.bypass.add("mallory")  # a repository admin may bypass the protection rule on GitHub
    github.wait_on(RUN, "production")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
        with client_as("mallory", github, ca_bundle, clock, records) as mallory:
            with pytest.raises(PermissionDeniedError, match="not an allowed approver") as caught:
                mallory.approve(request.id, comment="ship it")
            assert "alice, bob, dave" in caught.value.message
        assert github.service.requests_to("POST", "pending_deployments") == []
        github.act(RUN, "mallory", "approved", "bypassed")
        decision = carol.begin_wait(request.id, show_progress=False).result()
    assert decision.status == "rejected"
    assert "mallory is not an allowed approver" in decision.reason
    assert decision.ignored[0][0] == "mallory"


def test_a_policy_approver_github_does_not_list_is_refused_before_sending(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    github.wait_on(RUN, "production")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    with client_as("dave", github, ca_bundle, clock, records) as dave:
        with pytest.raises(PermissionDeniedError, match="not a required reviewer"):
            dave.approve(request.id, comment="lgtm")
        assert dave.get(request.id).status is ApprovalStatus.PENDING
    assert github.service.requests_to("POST", "pending_deployments") == []


def test_a_policy_github_cannot_hold_is_refused_at_request(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    policy = ApprovalPolicy(approvers=["alice", "bob"], min_approvals=2)
    with (
        client_as("carol", github, ca_bundle, clock, records) as carol,
        pytest.raises(ConfigurationError, match="after ONE required reviewer") as caught,
    ):
        carol.request(model(), policy=policy, report=PASSED)
    assert caught.value.details["field"] == "policy.min_approvals"
    assert not records.exists() or list(records.iterdir()) == []


def test_another_process_sees_the_request_and_its_reason(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        first = carol.request(model(), policy=POLICY, report=PASSED, reason="weekly retrain")
        again = carol.request(model(), policy=POLICY, report=PASSED, reason="weekly retrain")
        assert again.id == first.id
        with pytest.raises(ConflictError, match="one workflow run gates one model version"):
            carol.request("other@1", policy=POLICY, report=PASSED)
    with client_as("bob", github, ca_bundle, clock, records) as bob:  # nothing cached in this client
        (pending,) = bob.list("pending")
        assert (pending.id, pending.reason, pending.model_ref) == (first.id, "weekly retrain", "churn@12")
        canceled = bob.cancel(first.id, comment="superseded")
        assert canceled.status is ApprovalStatus.CANCELED
        with pytest.raises(ConfigurationError, match="no local audit trail"):
            bob.verify_audit()


def test_failed_validation_is_decided_at_request_and_never_sent(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    failed = ReportFacts(passed=False, outcome="failed", digest="sha256:bad")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=failed)
        assert request.status is ApprovalStatus.REJECTED
        assert carol.get(request.id).decision == request.decision
    assert github.service.requests == []


def test_errors_are_typed_and_never_quote_the_token(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    unknown = "ghp_unknown0123456789abcdefghijklmnopq"
    github.wait_on(RUN, "production")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    with (
        client_as("alice", github, ca_bundle, clock, records, github_token=unknown) as stranger,
        pytest.raises(AuthenticationError, match="Bad credentials") as caught,
    ):
        stranger.get(request.id)
    assert unknown not in str(caught.value)
    assert unknown not in repr(caught.value.to_dict())
    with (
        client_as("alice", github, ca_bundle, clock, records, github_repository="no-slash") as client,
        pytest.raises(ConfigurationError, match="owner/repo"),
    ):
        client.get(request.id)
    with (
        client_as("carol", github, ca_bundle, clock, records, github_run_id=None) as client,
        pytest.raises(ConfigurationError, match="github_run_id"),
    ):
        client.request(model(), policy=POLICY, report=PASSED)
    with client_as("carol", github, ca_bundle, clock, records) as client, pytest.raises(ResourceNotFoundError):
        client.get("gh-999")


def test_rate_limited_reads_are_retried_on_the_fake_clock(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    github.wait_on(RUN, "production")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
        github.service.inject(Fault("GET", r"/pending_deployments$", status=403, headers={"Retry-After": "9"}, times=2))
        assert carol.get(request.id).status is ApprovalStatus.PENDING
    assert 9 in clock.sleeps


def test_the_provider_setting_selects_github_on_a_local_target(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    settings = {
        "approvals_provider": "github",
        "github_repository": f"{OWNER}/{REPO}",
        "github_token": TOKENS["carol"],
        "github_api_url": github.api_url,
        "github_run_id": RUN,
        "ca_bundle": str(ca_bundle),
    }
    with ApprovalClient(f"local://{store}", clock=clock, settings=settings) as client:
        request = client.request(model(), policy=POLICY, report=PASSED)
    assert request.id == f"gh-{RUN}"
    assert (store / "approvals-github" / f"gh-{RUN}.json").is_file()
    with (
        ApprovalClient(f"local://{store}", clock=clock, settings={"approvals_provider": "devops"}) as client,
        pytest.raises(ConfigurationError, match="needs an azureml:// target") as caught,
    ):
        client.list()
    assert caught.value.details["field"] == "approvals_provider"


def test_the_environment_must_exist_and_have_required_reviewers(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    github.add_environment("staging", [])
    with client_as("carol", github, ca_bundle, clock, records, github_environment="staging") as carol:
        with pytest.raises(ConfigurationError, match="has no required reviewers") as caught:
            carol.request(model(), policy=POLICY, report=PASSED)
        assert caught.value.details["field"] == "github_environment"
    with (
        client_as("carol", github, ca_bundle, clock, records, github_environment="prod-typo") as carol,
        pytest.raises(ConfigurationError, match="no environment 'prod-typo'"),
    ):
        carol.request(model(), policy=POLICY, report=PASSED)
    (checked,) = github.service.requests_to("GET", r"/environments/staging$")
    assert checked.path == f"/repos/{OWNER}/{REPO}/environments/staging"
    assert not records.exists() or list(records.iterdir()) == []
    assert_requests_fit_the_description(github)


def test_webhook_urls_must_be_https_and_the_error_never_quotes_them(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    token = "Cnryplainhttp0123456789abcdef"
    with pytest.raises(ConfigurationError, match="notify_slack") as caught:
        client_as("carol", github, ca_bundle, clock, records, notify_slack=f"http://hooks.example.com/T/B/{token}")
    assert token not in str(caught.value)
    assert token not in repr(caught.value.to_dict())


def test_a_review_is_sent_once_even_when_its_answer_is_an_error(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    github.wait_on(RUN, "production")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        request = carol.request(model(), policy=POLICY, report=PASSED)
    github.service.inject(Fault("POST", r"/pending_deployments$", status=502, after_handler=True))
    with client_as("alice", github, ca_bundle, clock, records) as alice:
        with pytest.raises(ServerError):
            alice.approve(request.id, comment="ship it")
        # GitHub applied the review before the answer was lost: the next look sees it, nothing was sent twice.
        assert alice.get(request.id).status is ApprovalStatus.APPROVED
    assert len(github.service.requests_to("POST", r"/pending_deployments$")) == 1


def test_the_planned_rollout_is_kept_with_the_request(
    github: FakeGitHub, ca_bundle: Path, clock: FakeClock, records: Path
) -> None:
    from mlops_sdk.models.approvals import PlannedRollout
    from mlops_sdk.models.deployments import BlueGreen

    plan = PlannedRollout.of("churn-ep", BlueGreen(steps=[10, 100]), rollback_to="blue")
    with client_as("carol", github, ca_bundle, clock, records) as carol:
        first = carol.request(model(), policy=POLICY, report=PASSED, rollout=plan)
        assert first.rollout == plan
    with client_as("bob", github, ca_bundle, clock, records) as bob:  # read back from the stored record
        assert bob.get(first.id).rollout == plan
