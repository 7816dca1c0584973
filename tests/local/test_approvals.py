"""Approval gates on the local backend: who may approve, how many, until when, and what blocks a request."""

from __future__ import annotations

import grp
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.clients.approvals import ApprovalClient
from mlops_sdk.core.errors import (
    ApprovalRejectedError,
    ConfigurationError,
    ConflictError,
    OperationCanceledError,
    PermissionDeniedError,
    ResourceNotFoundError,
)
from mlops_sdk.core.operation import ProgressEvent
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus, AutoApproveRule
from mlops_sdk.testing import FakeClock
from tests.local._approvals import EMAIL, FAILED, PASSED, git_identity, local_client, model


@pytest.fixture
def client(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApprovalClient]:
    git_identity(tmp_path, monkeypatch)
    with local_client(tmp_path / "store", clock) as approvals:
        yield approvals


@pytest.fixture
def me(client: ApprovalClient) -> str:
    return client.whoami().name


def test_identity_is_the_os_account_with_git_email(client: ApprovalClient) -> None:
    identity = client.whoami()
    import pwd

    assert identity.name == pwd.getpwuid(os.getuid()).pw_name
    assert identity.email == EMAIL
    assert grp.getgrgid(os.getgid()).gr_name in identity.groups
    assert identity.source == "os"


def test_self_approval_is_refused_and_audited(client: ApprovalClient, me: str) -> None:
    policy = ApprovalPolicy(approvers=[me, "alice"])
    request = client.request(model(created_by=me), policy=policy, report=PASSED, reason="weekly retrain")
    assert request.requester == me

    with pytest.raises(PermissionDeniedError, match="forbid_self_approval") as caught:
        client.approve(request.id, comment="lgtm")

    assert caught.value.operation_id == request.id
    after = client.get(request.id)
    assert after.status is ApprovalStatus.PENDING
    assert after.votes == ()
    assert client.verify_audit().ok


def test_requester_defaults_to_whoever_asks_when_the_model_has_no_creator(client: ApprovalClient, me: str) -> None:
    request = client.request("churn@7", policy=ApprovalPolicy(approvers=[me, "alice"]), report=PASSED)
    assert request.requester == me
    with pytest.raises(PermissionDeniedError, match="requested this approval"):
        client.approve(request.id, comment="mine")


def test_approver_not_in_the_policy_is_refused(client: ApprovalClient) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=["alice", "bob"]), report=PASSED)
    with pytest.raises(PermissionDeniedError, match="not an allowed approver") as caught:
        client.approve(request.id, comment="I think it is fine")
    assert "alice, bob" in caught.value.message
    assert client.get(request.id).status is ApprovalStatus.PENDING


def test_approver_listed_by_git_email_matches_case_insensitively(client: ApprovalClient) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[EMAIL.upper()]), report=PASSED)
    decided = client.approve(request.id, comment="checked the drift report")
    assert decided.status is ApprovalStatus.APPROVED
    assert decided.decision is not None
    assert decided.decision.approved
    assert decided.decision.comments == (f"{client.whoami()}: checked the drift report",)


def test_member_of_an_approver_group_may_approve(client: ApprovalClient) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    request = client.request(model(), policy=ApprovalPolicy(approver_groups=[group]), report=PASSED)
    assert client.approve(request.id, comment="group member").status is ApprovalStatus.APPROVED


def test_two_approvals_needed_and_counted_once_per_person(client: ApprovalClient, me: str) -> None:
    policy = ApprovalPolicy(approvers=[me, "alice"], min_approvals=2, allow_delegation=True)
    request = client.request(model(), policy=policy, report=PASSED)

    first = client.approve(request.id, comment="first look")
    second = client.approve(request.id, comment="looked again")
    assert second.status is ApprovalStatus.PENDING
    assert len(second.votes) == 2  # both recorded ...
    assert first.status is ApprovalStatus.PENDING

    decided = client.approve(request.id, comment="approved in the review call", on_behalf_of="alice")
    assert decided.status is ApprovalStatus.APPROVED
    assert decided.decision is not None
    assert decided.decision.approvers == (f"{me} <{EMAIL}>", "alice")  # ... but each person counted once
    assert decided.decision.reason == f"approved by {me} <{EMAIL}>, alice (2 of 2 needed)"
    delegated = decided.votes[-1]
    assert delegated.approver.name == "alice"
    assert delegated.approver.source == "claimed"
    assert delegated.delegated_by is not None
    assert delegated.delegated_by.name == me


def test_rejection_wins_over_approvals(client: ApprovalClient, me: str) -> None:
    policy = ApprovalPolicy(approvers=[me, "alice", "bob"], min_approvals=2, allow_delegation=True)
    request = client.request(model(), policy=policy, report=PASSED)
    client.approve(request.id, comment="fine by me")
    rejected = client.reject(request.id, comment="latency regression on segment B", on_behalf_of="alice")

    assert rejected.status is ApprovalStatus.REJECTED
    decision = rejected.decision
    assert decision is not None
    assert not decision.approved
    assert decision.rejected_by == ("alice",)
    with pytest.raises(ApprovalRejectedError, match="rejected by alice") as caught:
        decision.raise_for_gate()
    assert caught.value.details["status"] == "rejected"
    with pytest.raises(ConflictError, match="already rejected"):
        client.approve(request.id, comment="too late", on_behalf_of="bob")


def test_delegation_is_refused_unless_the_policy_allows_it(client: ApprovalClient, me: str) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[me, "alice"]), report=PASSED)
    with pytest.raises(PermissionDeniedError, match="does not allow delegation"):
        client.approve(request.id, comment="alice said yes on the phone", on_behalf_of="alice")
    assert client.get(request.id).votes == ()


def test_requester_cannot_approve_on_someone_elses_behalf(client: ApprovalClient, me: str) -> None:
    policy = ApprovalPolicy(approvers=["alice"], allow_delegation=True)
    request = client.request(model(created_by=me), policy=policy, report=PASSED)
    with pytest.raises(PermissionDeniedError, match="forbid_self_approval"):
        client.approve(request.id, comment="for alice", on_behalf_of="alice")


def test_timeout_yields_timed_out_on_the_fake_clock(client: ApprovalClient, clock: FakeClock, me: str) -> None:
    policy = ApprovalPolicy(approvers=[me], timeout=timedelta(minutes=5))
    request = client.request(model(), policy=policy, report=PASSED)
    events: list[ProgressEvent] = []

    decision = client.begin_wait(request.id, progress=events.append, show_progress=False).result()

    assert decision.status == "timed_out"
    assert not decision.approved
    assert decision.decided_at >= request.created_at + timedelta(minutes=5)
    assert clock.monotonic() >= 300
    assert clock.sleeps  # waited on the fake clock, never really slept
    assert events[0].message is not None
    assert "0 of 1 approvals" in events[0].message
    with pytest.raises(ApprovalRejectedError, match="timed_out"):
        decision.raise_for_gate()
    with pytest.raises(ConflictError, match="already timed_out"):
        client.approve(request.id, comment="sorry, was on holiday")


def test_a_late_vote_is_refused_after_the_deadline_even_without_a_waiter(
    client: ApprovalClient, clock: FakeClock, me: str
) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[me], timeout=60), report=PASSED)
    clock.advance(61)
    with pytest.raises(ConflictError):
        client.approve(request.id, comment="late")
    assert client.get(request.id).status is ApprovalStatus.TIMED_OUT


def test_failed_validation_blocks_the_request_with_a_clear_reason(client: ApprovalClient, me: str) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[me]), report=FAILED)

    assert request.status is ApprovalStatus.REJECTED
    assert request.decision is not None
    assert "validation report sha256:failed-report did not pass (outcome 'failed')" in request.decision.reason
    assert "require_validation_passed=True" in request.decision.reason
    assert client.begin_wait(request.id, show_progress=False).result() == request.decision
    with pytest.raises(ConflictError):
        client.approve(request.id, comment="approve anyway")


def test_missing_report_is_a_configuration_error_when_validation_is_required(client: ApprovalClient, me: str) -> None:
    with pytest.raises(ConfigurationError, match="no report was given") as caught:
        client.request(model(), policy=ApprovalPolicy(approvers=[me]))
    assert caught.value.details["field"] == "report"
    assert client.list("all") == []


def test_failed_validation_only_informs_when_the_policy_does_not_require_a_pass(
    client: ApprovalClient, me: str
) -> None:
    policy = ApprovalPolicy(approvers=[me], require_validation_passed=False)
    request = client.request(model(), policy=policy, report=FAILED)
    assert request.status is ApprovalStatus.PENDING
    assert request.report == FAILED


@pytest.fixture
def profiles_file(tmp_path: Path) -> Path:
    path = tmp_path / "mlops.toml"
    path.write_text(f'target = "local://{tmp_path / "store"}"\n[profiles.dev]\n[profiles.prod]\n')
    return path


@pytest.mark.parametrize(
    ("profile", "report", "expected"),
    [
        ("dev", PASSED, ApprovalStatus.AUTO_APPROVED),
        ("dev", FAILED, ApprovalStatus.PENDING),
        ("prod", PASSED, ApprovalStatus.PENDING),
    ],
)
def test_auto_approval_only_when_its_rule_holds(
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    profiles_file: Path,
    profile: str,
    report: object,
    expected: ApprovalStatus,
) -> None:
    git_identity(tmp_path, monkeypatch)
    policy = ApprovalPolicy(
        approvers=["alice"],
        require_validation_passed=False,
        auto_approve_when=[AutoApproveRule(profiles=("dev",), require_validation_passed=True)],
    )
    with ApprovalClient(config_file=profiles_file, profile=profile, clock=clock) as client:
        request = client.request(model(), policy=policy, report=report)
    assert request.status is expected
    if expected is ApprovalStatus.AUTO_APPROVED:
        assert request.decision is not None
        assert request.decision.approved
        rule = "profile in [dev] and validation passed"
        assert request.decision.reason == f"auto-approved: rule '{rule}' holds (profile dev)"
    else:
        assert request.decision is None


def test_auto_approval_rule_by_model_name(client: ApprovalClient) -> None:
    policy = ApprovalPolicy(approvers=["alice"], auto_approve_when=[AutoApproveRule(models=("sandbox-*",))])
    sandbox = client.request("sandbox-churn@1", policy=policy, report=PASSED)
    real = client.request("churn@1", policy=policy, report=PASSED)
    assert sandbox.status is ApprovalStatus.AUTO_APPROVED
    assert real.status is ApprovalStatus.PENDING


def test_ctrl_c_while_waiting_leaves_the_request_pending(
    client: ApprovalClient, me: str, capsys: pytest.CaptureFixture[str]
) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[me]), report=PASSED)

    def interrupt(event: ProgressEvent) -> None:
        raise KeyboardInterrupt

    operation = client.begin_wait(request.id, progress=interrupt, show_progress=False)
    with pytest.raises(KeyboardInterrupt):
        operation.result()

    assert client.get(request.id).status is ApprovalStatus.PENDING
    assert "mlops resume" in capsys.readouterr().err
    client.approve(request.id, comment="back from lunch")
    resumed = client.resume_operation(operation.continuation_token())
    assert resumed.result().status == "approved"


def test_resume_from_another_client_on_the_same_store(
    tmp_path: Path, client: ApprovalClient, clock: FakeClock, me: str
) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[me]), report=PASSED)
    token = client.begin_wait(request.id).continuation_token()
    client.approve(request.id, comment="ok")
    with MLOpsClient(f"local://{tmp_path / 'store'}", clock=clock) as hub:
        decision = hub.resume_operation(token).result()
        assert decision.status == "approved"
        assert hub.approvals.get(request.id).status is ApprovalStatus.APPROVED


def test_cancel_withdraws_and_the_waiter_sees_it(client: ApprovalClient, me: str) -> None:
    request = client.request(model(), policy=ApprovalPolicy(approvers=[me]), report=PASSED)
    operation = client.begin_wait(request.id, show_progress=False)
    operation.cancel()
    with pytest.raises(OperationCanceledError):
        operation.result()
    assert client.get(request.id).status is ApprovalStatus.CANCELED


def test_idempotency_key_attaches_to_the_first_request(client: ApprovalClient, me: str) -> None:
    policy = ApprovalPolicy(approvers=[me])
    first = client.request(model(), policy=policy, report=PASSED, idempotency_key="flow-42/approve")
    again = client.request(model(), policy=policy, report=PASSED, idempotency_key="flow-42/approve")
    assert again.id == first.id
    with pytest.raises(ConflictError, match="already belongs"):
        client.request(model(version="4"), policy=policy, report=PASSED, idempotency_key="flow-42/approve")
    assert len(client.list("all")) == 1


def test_list_filters_and_decisions_for_a_model_version(client: ApprovalClient, me: str) -> None:
    policy = ApprovalPolicy(approvers=[me])
    approved = client.request(model(version="1"), policy=policy, report=PASSED)
    client.approve(approved.id, comment="ok")
    pending = client.request(model(version="2"), policy=policy, report=PASSED)
    blocked = client.request(model(version="1"), policy=policy, report=FAILED)

    assert [r.id for r in client.list()] == [pending.id]
    assert {r.id for r in client.list("all")} == {approved.id, pending.id, blocked.id}
    assert [r.id for r in client.list("approved")] == [approved.id]
    decisions = client.decisions_for("churn@1")
    assert {d.request_id: d.status for d in decisions} == {approved.id: "approved", blocked.id: "rejected"}
    assert decisions[0].to_tags()["mlops.approval.request_id"] == decisions[0].request_id
    with pytest.raises(ConfigurationError, match="unknown status 'maybe'"):
        client.list("maybe")


def test_bad_input_gets_typed_errors_naming_the_field(client: ApprovalClient) -> None:
    with pytest.raises(ConfigurationError, match="name@version"):
        client.request("churn", policy={"approvers": ["alice"]}, report=PASSED)
    with pytest.raises(ConfigurationError, match="min_approvals") as caught:
        client.request("churn@1", policy={"approvers": ["alice"], "min_approvals": 3}, report=PASSED)
    assert caught.value.details["field"] == "policy"
    with pytest.raises(ConfigurationError, match="names no approvers"):
        client.request("churn@1", policy={}, report=PASSED)
    with pytest.raises(ConfigurationError, match="timeout"):
        client.request("churn@1", policy={"approvers": ["a"], "timeout": -5}, report=PASSED)
    with pytest.raises(ConfigurationError, match="lacks passed, outcome, digest"):
        client.request("churn@1", policy={"approvers": ["a"]}, report=object())
    with pytest.raises(ConfigurationError, match="comment"):
        client.approve("x", comment="  ")
    with pytest.raises(ResourceNotFoundError, match="no approval request 'nope'"):
        client.get("nope")
    with pytest.raises(ConfigurationError, match="approve every model"):
        AutoApproveRule(require_validation_passed=False)


def test_a_validation_report_object_is_accepted_by_shape(client: ApprovalClient, me: str) -> None:
    class Report:  # what ValidationReport looks like to the gate
        passed = True
        outcome = "passed"
        digest = "sha256:abc"

    request = client.request(model(), policy=ApprovalPolicy(approvers=[me]), report=Report())
    assert request.report is not None
    assert request.report.digest == "sha256:abc"
    assert request.lineage.validation_digest == "sha256:abc"


def test_a_request_stored_by_a_later_sdk_version_reads_back_while_new_policies_refuse_typos(
    client: ApprovalClient, tmp_path: Path
) -> None:
    policy = ApprovalPolicy(approvers=["dana@contoso.com"])
    request = client.request(model(), policy=policy, report=PASSED, rollout={"endpoint": "churn", "strategy": "canary"})
    with sqlite3.connect(tmp_path / "store" / "mlops.db") as db:  # a later version wrote fields this one lacks
        stored, rollout = db.execute(
            "SELECT policy, rollout FROM approval_requests WHERE id = ?", (request.id,)
        ).fetchone()
        db.execute(
            "UPDATE approval_requests SET policy = ?, rollout = ? WHERE id = ?",
            (
                json.dumps({**json.loads(stored), "escalate_after": 3600}),
                json.dumps({**json.loads(rollout), "region": "westeurope"}),
                request.id,
            ),
        )
    again = client.get(request.id)
    assert again.policy == policy
    assert again.rollout is not None
    assert again.rollout.strategy == "canary"
    with pytest.raises(ConfigurationError, match=r"min_approval: Extra inputs .*did you mean `min_approvals`\?"):
        client.request(model(version="4"), policy={"approvers": ["dana@contoso.com"], "min_approval": 2}, report=PASSED)
