"""Conformance scenarios of approval gates (``client.approvals``): the policy is the same everywhere."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, ConflictError, PermissionDeniedError, ResourceNotFoundError
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus, PlannedRollout, ReportFacts
from mlops_sdk.models.deployments import BlueGreen, SmokeTest
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing.clock import FakeClock
from mlops_sdk.testing.conformance._kit import ConformanceBackend, registrable_run, require

__all__ = [
    "TestApprovalAuditConformance",
    "TestApprovalPendingConformance",
    "TestApprovalPolicyConformance",
    "TestApprovalTimeoutConformance",
]

PASSED = ReportFacts(passed=True, outcome="passed", digest="sha256:conformance-passed")
FAILED = ReportFacts(passed=False, outcome="failed", digest="sha256:conformance-failed")


def _model(name: str, created_by: str = "carol", version: str = "3") -> ModelVersion:
    return ModelVersion(name=name, version=version, uri=f"models:/{name}/{version}", created_by=created_by)


class TestApprovalPolicyConformance:
    """Who may approve, how many must, what a rejection does, and what decides at request time."""

    capability = "approvals.policy"

    def test_self_approval_is_refused_and_nothing_is_recorded(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        me = approvals.whoami().name
        request = approvals.request(
            _model("conf-self", created_by=me),
            policy=ApprovalPolicy(approvers=(me, "alice")),
            report=PASSED,
        )
        assert (request.requester, request.status) == (me, ApprovalStatus.PENDING)
        with pytest.raises(PermissionDeniedError, match="forbid_self_approval") as caught:
            approvals.approve(request.id, comment="lgtm")
        assert caught.value.operation_id == request.id
        after = approvals.get(request.id)
        assert (after.status, after.votes) == (ApprovalStatus.PENDING, ())

    def test_an_unlisted_approver_is_refused(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        request = approvals.request(
            _model("conf-unlisted"),
            policy=ApprovalPolicy(approvers=("alice", "bob")),
            report=PASSED,
        )
        with pytest.raises(PermissionDeniedError, match="not an allowed approver") as caught:
            approvals.reject(request.id, comment="no")
        assert "alice, bob" in caught.value.message
        assert approvals.get(request.id).status is ApprovalStatus.PENDING

    def test_one_listed_approval_decides_when_one_is_needed(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        me = approvals.whoami()
        request = approvals.request(_model("conf-one"), policy=ApprovalPolicy(approvers=(me.name,)), report=PASSED)
        decided = approvals.approve(request.id, comment="metrics look right")
        assert decided.status is ApprovalStatus.APPROVED
        assert decided.decision is not None
        assert decided.decision.approvers == (str(me),)
        assert decided.decision.reason == f"approved by {me} (1 of 1 needed)"
        assert decided.decision.report_digest == "sha256:conformance-passed"
        assert [v.comment for v in decided.votes] == ["metrics look right"]
        with pytest.raises(ConflictError, match="already approved"):
            approvals.reject(request.id, comment="too late")
        assert [r.id for r in approvals.list_requests("approved", model="conf-one@3")] == [request.id]
        assert [d.status for d in approvals.decisions_for("conf-one@3")] == ["approved"]

    def test_a_failed_validation_blocks_at_request_time(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        request = approvals.request(_model("conf-blocked"), policy=ApprovalPolicy(approvers=("alice",)), report=FAILED)
        assert request.status is ApprovalStatus.REJECTED
        assert request.decision is not None
        assert request.decision.reason.startswith("blocked: validation report sha256:conformance-failed did not pass")
        assert approvals.list_requests("pending", model="conf-blocked@3") == []

    def test_a_missing_report_is_a_configuration_error_and_unknown_ids_are_not_found(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        with pytest.raises(ConfigurationError, match="requires a passed validation") as caught:
            approvals.request(_model("conf-noreport"), policy=ApprovalPolicy(approvers=("alice",)))
        assert caught.value.details["field"] == "report"
        with pytest.raises(ResourceNotFoundError):
            approvals.get("00000000-0000-0000-0000-000000000000")
        assert approvals.list_requests("all", model="conf-noreport@3") == []

    def test_the_planned_rollout_is_kept_with_the_request(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        smoke = SmokeTest(payload={"input_data": [[1.0, 2.0]]}, dtype="number", latency_budget=0.5)
        plan = PlannedRollout.of("conf-ep", BlueGreen(steps=[25, 100], smoke_test=smoke), rollback_to="conf-plan@2")
        assert plan.steps == (25, 100)
        assert plan.smoke_test == (
            "3 request(s) with input_data to the new deployment, expecting number values, latency under 0.5 s"
        )
        request = approvals.request(
            _model("conf-plan"), policy=ApprovalPolicy(approvers=("alice",)), report=PASSED, rollout=plan
        )
        assert request.rollout == plan
        assert approvals.get(request.id).rollout == plan
        plain = approvals.request(_model("conf-plan", version="4"), policy=ApprovalPolicy(approvers=("alice",)),
                                  report=PASSED)  # fmt: skip
        assert approvals.get(plain.id).rollout is None
        with pytest.raises(ConfigurationError, match="invalid planned rollout") as caught:
            approvals.request(
                _model("conf-plan", version="5"),
                policy=ApprovalPolicy(approvers=("alice",)),
                report=PASSED,
                rollout={"strategy": "blue_green"},
            )
        assert caught.value.details["field"] == "rollout"

    def test_the_same_idempotency_key_is_the_same_request(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        policy = ApprovalPolicy(approvers=("alice",))
        first = approvals.request(_model("conf-key"), policy=policy, report=PASSED, idempotency_key="conf-run-1")
        again = approvals.request(_model("conf-key"), policy=policy, report=PASSED, idempotency_key="conf-run-1")
        assert again.id == first.id
        assert [r.id for r in approvals.list_requests("all", model="conf-key@3")] == [first.id]

    def test_min_approvals_counts_distinct_people_and_a_rejection_wins(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy", "approvals.delegation")
        approvals = conformance_client.approvals
        me = approvals.whoami()
        policy = ApprovalPolicy(approvers=(me.name, "alice", "bob"), min_approvals=2, allow_delegation=True)

        approved = approvals.request(_model("conf-min"), policy=policy, report=PASSED)
        once = approvals.approve(approved.id, comment="first")
        assert once.status is ApprovalStatus.PENDING
        assert approvals.approve(approved.id, comment="same person again").status is ApprovalStatus.PENDING
        done = approvals.approve(approved.id, comment="second person", on_behalf_of="alice")
        assert done.status is ApprovalStatus.APPROVED
        assert done.decision is not None
        assert done.decision.approvers == (str(me), "alice")

        rejected = approvals.request(_model("conf-min", version="4"), policy=policy, report=PASSED)
        approvals.approve(rejected.id, comment="fine by me", on_behalf_of="alice")
        outcome = approvals.reject(rejected.id, comment="drift on segment B")
        assert outcome.status is ApprovalStatus.REJECTED
        assert outcome.decision is not None
        assert (outcome.decision.approvers, outcome.decision.rejected_by) == (("alice",), (str(me),))
        assert outcome.decision.reason == f"rejected by {me}"

    def test_delegation_is_refused_unless_the_policy_allows_it(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy", "approvals.delegation")
        approvals = conformance_client.approvals
        me = approvals.whoami().name
        request = approvals.request(
            _model("conf-deleg"),
            policy=ApprovalPolicy(approvers=(me, "alice")),
            report=PASSED,
        )
        with pytest.raises(PermissionDeniedError, match="does not allow delegation"):
            approvals.approve(request.id, comment="for alice", on_behalf_of="alice")
        assert approvals.get(request.id).votes == ()


class TestApprovalPendingConformance:
    """``list_pending`` with the requester's reason, and votes naming a model instead of a request id."""

    capability = "approvals.policy"

    def test_list_pending_shows_each_reason_and_filters_by_model_and_requester(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        policy = ApprovalPolicy(approvers=("alice",))
        third = approvals.request(_model("conf-pend"), policy=policy, report=PASSED, reason="weekly retrain")
        fourth = approvals.request(
            _model("conf-pend", created_by="dana", version="4"), policy=policy, report=PASSED, reason="new features"
        )
        approvals.request(_model("conf-pend", version="5"), policy=policy, report=FAILED, reason="blocked")
        pending = {item.id: item.reason for item in approvals.list_pending() if item.model_name == "conf-pend"}
        assert pending == {third.id: "weekly retrain", fourth.id: "new features"}
        assert [item.id for item in approvals.list_pending("conf-pend@3")] == [third.id]
        assert {item.id for item in approvals.list_pending("conf-pend")} == {third.id, fourth.id}
        assert [item.id for item in approvals.list_pending(_model("conf-pend", version="4"))] == [fourth.id]
        assert [item.id for item in approvals.list_pending("conf-pend", requester="DANA")] == [fourth.id]
        assert approvals.list_pending("conf-pend@5") == []
        listed = {item.id for item in approvals.list_requests("all", model="conf-pend")}
        assert {third.id, fourth.id} <= listed
        if conformance_backend.skip_reason("approvals.audit") is None:
            # a backend keeping its own audit trail keeps the request the policy blocked at request time too
            # (Azure DevOps never receives a blocked request: its decision is on the model version's tags)
            assert len(listed) == 3

    def test_approve_and_reject_by_model_reference(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        me = approvals.whoami().name
        policy = ApprovalPolicy(approvers=(me,))
        approved = approvals.request(_model("conf-byref"), policy=policy, report=PASSED, reason="ready")
        decided = approvals.approve("conf-byref@3", comment="by reference")
        assert (decided.id, decided.status) == (approved.id, ApprovalStatus.APPROVED)
        with pytest.raises(ResourceNotFoundError, match="no pending approval request for conf-byref@3") as missing:
            approvals.reject("conf-byref@3", comment="nothing pending any more")
        assert missing.value.details["field"] == "request"

        rejected = approvals.request(_model("conf-byref", version="4"), policy=policy, report=PASSED)
        outcome = approvals.reject(_model("conf-byref", version="4"), comment="drift")
        assert (outcome.id, outcome.status) == (rejected.id, ApprovalStatus.REJECTED)

    def test_a_model_reference_naming_two_pending_requests_is_ambiguous(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy")
        approvals = conformance_client.approvals
        policy = ApprovalPolicy(approvers=("alice",))
        first = approvals.request(_model("conf-ambig"), policy=policy, report=PASSED, idempotency_key="conf-ambig-1")
        second = approvals.request(_model("conf-ambig"), policy=policy, report=PASSED, idempotency_key="conf-ambig-2")
        with pytest.raises(ConfigurationError, match="names 2 pending approval requests") as caught:
            approvals.approve("conf-ambig@3", comment="which one?")
        assert set(caught.value.details["candidates"]) == {first.id, second.id}
        assert {item.status for item in approvals.list_pending("conf-ambig@3")} == {ApprovalStatus.PENDING}

    def test_a_model_alias_resolves_to_its_pending_request(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "approvals.policy", "models.registry", "models.aliases")
        models = conformance_client.models
        version = models.register(
            registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-pend-alias"
        )
        models.set_alias("conf-pend-alias", "challenger", version.version)
        approvals = conformance_client.approvals
        me = approvals.whoami().name
        request = approvals.request(
            version.model_copy(update={"created_by": "carol"}),
            policy=ApprovalPolicy(approvers=(me,)),
            report=PASSED,
            reason="challenger beats champion",
        )
        assert [item.id for item in approvals.list_pending("conf-pend-alias:challenger")] == [request.id]
        decided = approvals.approve("conf-pend-alias:challenger", comment="promote the challenger")
        assert (decided.id, decided.status) == (request.id, ApprovalStatus.APPROVED)


class TestApprovalTimeoutConformance:
    """A pending request times out on the client's clock; a wait returns the timed-out decision."""

    capability = "approvals.timeout"

    def test_a_pending_request_times_out_and_the_wait_returns_it(
        self,
        conformance_backend: ConformanceBackend,
        conformance_clocked_client: MLOpsClient,
        conformance_clock: FakeClock,
    ) -> None:
        require(conformance_backend, "approvals.policy", "approvals.timeout")
        approvals = conformance_clocked_client.approvals
        policy = ApprovalPolicy(approvers=("alice",), timeout=timedelta(hours=1))
        request = approvals.request(_model("conf-timeout"), policy=policy, report=PASSED)
        assert request.deadline == request.created_at + timedelta(hours=1)
        conformance_clock.advance(59 * 60)
        assert approvals.get(request.id).status is ApprovalStatus.PENDING
        conformance_clock.advance(60)
        decision = approvals.begin_wait(request.id, show_progress=False).result()
        assert decision.status == "timed_out"
        assert decision.reason == f"timed out at {request.deadline.isoformat()} with 0 of 1 approvals"
        assert approvals.get(request.id).status is ApprovalStatus.TIMED_OUT

    def test_canceling_a_pending_request_ends_the_wait(
        self, conformance_backend: ConformanceBackend, conformance_clocked_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy", "approvals.timeout")
        from mlops_sdk.core.errors import OperationCanceledError

        approvals = conformance_clocked_client.approvals
        request = approvals.request(_model("conf-cancel"), policy=ApprovalPolicy(approvers=("alice",)), report=PASSED)
        assert approvals.cancel(request.id, comment="superseded").status is ApprovalStatus.CANCELED
        with pytest.raises(OperationCanceledError):
            approvals.begin_wait(request.id, show_progress=False).result()
        with pytest.raises(ConflictError, match="already canceled"):
            approvals.cancel(request.id)


class TestApprovalAuditConformance:
    """The audit trail verifies after requests, refused votes, votes and decisions."""

    capability = "approvals.audit"

    def test_the_audit_trail_verifies_and_counts_every_change(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "approvals.policy", "approvals.audit")
        approvals = conformance_client.approvals
        me = approvals.whoami().name
        before = approvals.verify_audit()
        assert before.ok
        request = approvals.request(
            _model("conf-audit", created_by=me),
            policy=ApprovalPolicy(approvers=(me, "alice")),
            report=PASSED,
        )
        with pytest.raises(PermissionDeniedError):
            approvals.approve(request.id, comment="self")
        approvals.cancel(request.id, comment="withdrawn")
        after = approvals.verify_audit()
        assert (after.ok, after.problems) == (True, ())
        # requested, refused, canceled
        assert after.entries == before.entries + 3
        assert after.head is not None
        assert after.head != before.head
