"""Service protocol of the ``approvals`` capability, the vote rules every backend applies, and the wait driver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from mlops_sdk.core.clock import Clock
from mlops_sdk.core.errors import ConflictError, OperationFailedError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.models.approvals import (
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    ApproverIdentity,
    AuditVerification,
    PlannedRollout,
    ReportFacts,
)

__all__ = [
    "WAIT_KIND",
    "ApprovalDraft",
    "ApprovalService",
    "ApprovalWaitDriver",
    "cast_vote",
    "check_cancelable",
    "check_key_owner",
    "check_pending",
]

WAIT_KIND = "approvals.wait"
"""Operation kind of a wait for an approval decision (routing key of its continuation tokens)."""


def check_pending(request: ApprovalRequest, *, backend: str, refused: str = "it takes no more votes") -> None:
    """Refuse to act on a request that is no longer pending (``refused``: what the message says it refuses).

    Raises:
        ConflictError: the request is already decided or canceled.
    """
    if not request.is_pending:
        raise ConflictError(
            f"approval request {request.id} is already {request.status.value}; {refused}",
            backend=backend,
            operation_id=request.id,
            details={"status": request.status.value},
        )


def check_cancelable(request: ApprovalRequest, *, backend: str) -> None:
    """Refuse to cancel a request that is no longer pending.

    Raises:
        ConflictError: the request is already decided or canceled.
    """
    check_pending(request, backend=backend, refused="only pending requests can be canceled")


def check_key_owner(draft: ApprovalDraft, owner: str, model_name: Any, model_version: Any, *, backend: str) -> None:
    """Let ``draft`` attach to request ``owner``, made with its idempotency key, only for the same model version.

    Raises:
        ConflictError: the key already belongs to a request for another model version.
    """
    if (model_name, model_version) != (draft.model_name, draft.model_version):
        raise ConflictError(
            f"idempotency key {draft.idempotency_key!r} already belongs to request {owner} for "
            f"{model_name}@{model_version}; use another key for {draft.model_name}@{draft.model_version}",
            backend=backend,
            operation_id=owner,
        )


def cast_vote(
    request: ApprovalRequest,
    me: ApproverIdentity,
    decision: Literal["approve", "reject"],
    *,
    comment: str | None,
    on_behalf_of: str | None,
    at: datetime,
    backend: str,
) -> tuple[ApprovalVote, str | None]:
    """The vote ``me`` casts on ``request`` and the policy's reason to refuse it (``None``: it counts).

    A vote ``on_behalf_of`` someone else is recorded as theirs, claimed, with ``me`` as the delegate.
    Every backend casts votes this way; it then stores the vote or audits the refusal.

    Raises:
        ConflictError: the request is no longer pending.
    """
    check_pending(request, backend=backend)
    if on_behalf_of is not None and not me.matches(on_behalf_of):
        claimed = ApproverIdentity(name=on_behalf_of.strip(), source="claimed")
        vote = ApprovalVote(approver=claimed, decision=decision, comment=comment, at=at, delegated_by=me)
    else:
        vote = ApprovalVote(approver=me, decision=decision, comment=comment, at=at)
    return vote, request.policy.vote_problem(vote, requester=request.requester)


class ApprovalDraft(BaseModel):
    """A request the client validated, ready for the backend to record (and, on Azure, to start).

    Attributes:
        model_name / model_version: The model version to approve.
        requester: Identity barred from approving under ``forbid_self_approval``.
        reason: Why approval is requested.
        policy: The policy that applies.
        report: Facts of the validation report, if one was given.
        lineage: Provenance of the request.
        profile: Active configuration profile.
        idempotency_key: Same key, same request: a retried or re-run ``request`` attaches to the first.
        decided: When the policy already decided at request time (blocked by a failed validation,
            or auto-approved), the decision to record; the request is then never pending.
        rollout: The planned rollout shown to approvers, if the requester described one.
    """

    model_config = ConfigDict(frozen=True)

    model_name: str
    model_version: str
    requester: str | None
    reason: str | None = None
    policy: ApprovalPolicy
    report: ReportFacts | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    profile: str | None = None
    idempotency_key: str | None = None
    decided: ApprovalDecision | None = None
    rollout: PlannedRollout | None = None


class ApprovalService(Protocol):
    """What a backend implements for approval gates. Every method applies the request's policy."""

    def create(self, draft: ApprovalDraft) -> ApprovalRequest:
        """Record the request (and start the approval process where the backend has one)."""
        ...

    def get(self, request_id: str) -> ApprovalRequest:
        """Return the request with its current votes, recording a decision once the policy reaches one.

        Raises:
            ResourceNotFoundError: no such request.
        """
        ...

    def list(
        self, *, status: ApprovalStatus | None = None, model_name: str | None = None, model_version: str | None = None
    ) -> list[ApprovalRequest]:
        """Requests, newest first, filtered by status and model."""
        ...

    def vote(
        self,
        request_id: str,
        decision: Literal["approve", "reject"],
        *,
        comment: str | None,
        on_behalf_of: str | None = None,
    ) -> ApprovalRequest:
        """Cast a vote as the caller's identity (or on behalf of another when the policy allows delegation).

        Raises:
            PermissionDeniedError: the policy does not let this identity vote (not listed, requester,
                delegation not allowed). Nothing is recorded at the service.
            ConflictError: the request is already decided.
        """
        ...

    def cancel(self, request_id: str, *, comment: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request (status ``canceled``)."""
        ...

    def whoami(self) -> ApproverIdentity:
        """The identity votes from this process are recorded as."""
        ...

    def verify_audit(self) -> AuditVerification:
        """Check the audit trail for edited, deleted or reordered entries."""
        ...


class ApprovalWaitDriver:
    """Polls one approval request until it is decided (or canceled); the result is the decision.

    Args:
        service: The backend's approval service.
        request_id: The full request id.
        clock: The clock the pending tally is read at.
        on_decided: Called with the decided request before its decision is returned (the client
            tags the model version and sends the notification).
    """

    def __init__(
        self,
        service: ApprovalService,
        request_id: str,
        *,
        clock: Clock,
        on_decided: Callable[[ApprovalRequest], None],
    ) -> None:
        self._service = service
        self._id = request_id
        self._clock = clock
        self._on_decided = on_decided
        self._request: ApprovalRequest | None = None

    @property
    def kind(self) -> str:
        """``approvals.wait``."""
        return WAIT_KIND

    @property
    def id(self) -> str:
        """The request id."""
        return self._id

    def poll(self) -> PollResult:
        """The request's status; while pending, the policy's tally and the deadline."""
        request = self._service.get(self._id)
        self._request = request
        if request.status is ApprovalStatus.CANCELED:
            return PollResult(Status.CANCELED, native_status=request.status.value)
        if request.status.is_final:
            summary = request.decision.reason if request.decision is not None else request.status.value
            return PollResult(Status.SUCCEEDED, native_status=request.status.value, message=summary)
        tally = request.policy.evaluate(
            request.votes, requester=request.requester, requested_at=request.created_at, now=self._clock.now()
        )
        message = tally.reason
        if request.deadline is not None:
            message += f"; times out at {request.deadline:%Y-%m-%d %H:%M} UTC"
        return PollResult(Status.RUNNING, native_status=request.status.value, message=message)

    def result(self) -> ApprovalDecision:
        """The decision (rejections and timeouts included)."""
        request = self._request or self._service.get(self._id)
        if request.decision is None:
            raise OperationFailedError(
                f"approval request {self._id} ended {request.status.value} without a decision", operation_id=self._id
            )
        self._on_decided(request)
        return request.decision

    def cancel(self) -> None:
        """Withdraw the request (status ``canceled``)."""
        self._service.cancel(self._id, comment="canceled while waiting")

    def state(self) -> dict[str, Any]:
        """Nothing beyond the request id is needed to resume."""
        return {}
