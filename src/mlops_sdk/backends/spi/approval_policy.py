"""Requests held by an external approval service (Azure DevOps, GitHub), judged by OUR policy.

Such a provider keeps the request as a JSON record (:func:`request_record`) next to its own approval
(an Azure DevOps run's check, a GitHub run's deployment review). Votes come back in the provider's
form; what they mean is decided here, once for every provider: :class:`RecordedRequest` turns a record
and its votes into the :class:`ApprovalRequest` and :class:`ApprovalDecision` every backend returns,
and :func:`provider_vote` refuses, before anything is sent, a vote the policy would not count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Literal

from pydantic import ValidationError

from mlops_sdk.backends.spi.approvals import ApprovalDraft, cast_vote, check_pending
from mlops_sdk.core.errors import ConfigurationError, PermissionDeniedError
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.models.approvals import (
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    ApproverIdentity,
    PlannedRollout,
    ReportFacts,
    Tally,
)

__all__ = [
    "Outcome",
    "RecordedRequest",
    "counted_vote",
    "overruled",
    "parse_time",
    "provider_vote",
    "request_record",
    "select_requests",
]

Outcome = Literal["pending", "approved", "rejected", "timed_out"]
"""What a provider-held request stands at (a request decided at request time carries its own decision)."""


def request_record(draft: ApprovalDraft, now: datetime) -> dict[str, Any]:
    """The JSON record of ``draft`` requested at ``now``: what the provider keeps to find the request again."""
    record: dict[str, Any] = {
        "v": 1,
        "model_name": draft.model_name,
        "model_version": draft.model_version,
        "requester": draft.requester,
        "reason": draft.reason,
        "policy": draft.policy.model_dump(mode="json"),
        "report": draft.report.model_dump(mode="json") if draft.report else None,
        "lineage": draft.lineage.model_dump(mode="json", exclude_defaults=True),
        "profile": draft.profile,
        "idempotency_key": draft.idempotency_key,
        "created_at": now.isoformat(),
    }
    if draft.rollout is not None:  # only when planned: a record without a plan stays as it was
        record["rollout"] = draft.rollout.model_dump(mode="json")
    return record


def parse_time(value: Any) -> datetime | None:
    """A provider's timestamp (ISO 8601, ``Z`` suffix, up to 7 fractional digits), naive ones read as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).replace("Z", "+00:00")
    # Azure DevOps sends 7 fractional digits; Python reads at most 6.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as its provider records it, read at ``now`` under the policy the record carries.

    Attributes:
        id: The request id (``run-<id>``, ``gh-<id>``).
        record: The JSON record (see :func:`request_record`).
        backend: Backend name for errors.
        now: The moment the request is judged at (also its creation time if the record lacks one).
    """

    id: str
    record: Mapping[str, Any]
    backend: str
    now: datetime

    @cached_property
    def policy(self) -> ApprovalPolicy:
        """The policy the request was made under.

        Raises:
            ConfigurationError: the record's policy is missing or unreadable.
        """
        try:
            return read_stored(ApprovalPolicy, self.record["policy"])
        except (KeyError, ValidationError) as error:
            raise ConfigurationError(
                f"approval request {self.id} carries an unreadable approval policy: {error}",
                backend=self.backend,
                operation_id=self.id,
            ) from error

    @property
    def requester(self) -> str | None:
        """Who asked (barred from approving under ``forbid_self_approval``)."""
        requester = self.record.get("requester")
        return str(requester) if requester is not None else None

    @property
    def created_at(self) -> datetime:
        """When the request was made."""
        return parse_time(self.record.get("created_at")) or self.now

    def tally(self, votes: tuple[ApprovalVote, ...]) -> tuple[Tally, datetime]:
        """The policy's tally of ``votes`` now, and when that outcome was reached.

        Approved or rejected: when the last counted vote was cast; timed out: at the deadline;
        otherwise now.
        """
        policy, requester = self.policy, self.requester
        tally = policy.evaluate(votes, requester=requester, requested_at=self.created_at, now=self.now)
        counted = [vote.at for vote in votes if policy.vote_problem(vote, requester=requester) is None]
        decided_at = self.now
        if tally.status in ("approved", "rejected") and counted:
            decided_at = max(counted)
        elif tally.status == "timed_out":
            decided_at = policy.deadline(self.created_at) or self.now
        return tally, decided_at

    def outcome(
        self,
        tally: Tally,
        votes: tuple[ApprovalVote, ...],
        *,
        status: Outcome,
        reason: str,
        decided_at: datetime,
    ) -> tuple[ApprovalStatus, ApprovalDecision | None]:
        """The request's status and, unless it is still ``pending``, its decision."""
        if status == "pending":
            return ApprovalStatus.PENDING, None
        report = self.record.get("report") or {}
        return ApprovalStatus(status), ApprovalDecision(
            request_id=self.id,
            model_name=str(self.record.get("model_name")),
            model_version=str(self.record.get("model_version")),
            status=status,
            approvers=tally.approvers,
            rejected_by=tally.rejected_by,
            votes=votes,
            ignored=tally.ignored,
            reason=reason,
            requester=self.requester,
            requested_at=self.created_at,
            decided_at=decided_at,
            policy=self.policy,
            report_digest=report.get("digest") if isinstance(report, dict) else None,
        )

    def request(
        self,
        status: ApprovalStatus,
        votes: tuple[ApprovalVote, ...],
        decision: ApprovalDecision | None,
        external: dict[str, str],
    ) -> ApprovalRequest:
        """The :class:`ApprovalRequest` with the votes and decision found now (a decision's votes when none)."""
        record, policy, created_at = self.record, self.policy, self.created_at
        return ApprovalRequest(
            id=self.id,
            model_name=str(record["model_name"]),
            model_version=str(record["model_version"]),
            requester=self.requester,
            reason=record.get("reason"),
            policy=policy,
            report=ReportFacts.model_validate(record["report"]) if record.get("report") else None,
            status=status,
            created_at=created_at,
            deadline=policy.deadline(created_at),
            votes=decision.votes if decision is not None and not votes else votes,
            decision=decision,
            lineage=Lineage.model_validate(record.get("lineage") or {}),
            profile=record.get("profile"),
            external=external,
            rollout=read_stored(PlannedRollout, record["rollout"]) if record.get("rollout") else None,
        )


def overruled(
    tally: Tally,
    native: str,
    *,
    service: str,
    approved: str,
    ended: str,
    none_counted: str,
    closed_as: Mapping[str, Literal["rejected", "timed_out"]] | None = None,
) -> tuple[Literal["rejected", "timed_out"], str]:
    """Status and reason when ``service`` closed its approval (final state ``native``) while the policy waits.

    Closed as approved, the request is ``rejected``: the votes that let it through do not count under
    the policy. Any other end maps through ``closed_as`` (``rejected`` when absent).

    Args:
        tally: The policy's (pending) tally.
        native: The provider's final state of its approval.
        service: The provider's name in the reason (``"Azure DevOps"``).
        approved: What the provider approved (``"the run"``).
        ended: What ended (``"approval"`` reads "the Azure DevOps approval ended ...").
        none_counted: The reason when the policy ignored no vote.
        closed_as: Status per lower-case native state.
    """
    ignored = "; ".join(f"{who}: {why}" for who, why in tally.ignored)
    if native.lower() == "approved":
        return "rejected", f"{service} approved {approved}, but not under the policy: {ignored or none_counted}"
    status = (closed_as or {}).get(native.lower(), "rejected")
    return status, f"the {service} {ended} ended {native}" + (f" ({ignored})" if ignored else "")


def provider_vote(
    request: ApprovalRequest,
    whoami: Callable[[], ApproverIdentity],
    *,
    on_behalf_of: str | None,
    backend: str,
    own_credentials: str,
) -> ApproverIdentity:
    """Who votes on ``request`` at a provider that records every vote under the caller's own identity.

    Args:
        request: The request (as read just now).
        whoami: The caller's identity at the provider (asked only once the request is known pending).
        on_behalf_of: Whom the caller wants to vote for.
        backend: Backend name for errors.
        own_credentials: Why the provider cannot take a vote for someone else, and what to do instead.

    Raises:
        ConflictError: the request is no longer pending.
        PermissionDeniedError: a vote on behalf of someone else that the policy does not allow.
        ConfigurationError: a vote on behalf of someone else that the policy allows but the provider cannot take.
    """
    check_pending(request, backend=backend)
    me = whoami()
    if on_behalf_of is not None and not me.matches(on_behalf_of):
        if not request.policy.allow_delegation:
            raise PermissionDeniedError(
                f"{me} may not vote on behalf of {on_behalf_of}: the policy does not allow delegation",
                backend=backend,
                operation_id=request.id,
            )
        raise ConfigurationError(own_credentials, backend=backend, operation_id=request.id)
    return me


def counted_vote(
    request: ApprovalRequest,
    me: ApproverIdentity,
    decision: Literal["approve", "reject"],
    *,
    comment: str | None,
    at: datetime,
    backend: str,
) -> ApprovalVote:
    """The vote ``me`` casts, refused before anything is sent when the policy would not count it.

    Raises:
        PermissionDeniedError: the policy would not count the vote (the message says why).
    """
    vote, problem = cast_vote(request, me, decision, comment=comment, on_behalf_of=None, at=at, backend=backend)
    if problem is not None:
        raise PermissionDeniedError(
            f"{decision} of approval request {request.id} refused by the policy: {problem}",
            backend=backend,
            operation_id=request.id,
        )
    return vote


def select_requests(
    records: Iterable[tuple[str, Mapping[str, Any]]],
    get: Callable[[str], ApprovalRequest],
    *,
    status: ApprovalStatus | None,
    model_name: str | None,
    model_version: str | None,
) -> list[ApprovalRequest]:
    """The requests (read with ``get``) among ``(request id, record)`` pairs of the model, in the status asked."""
    found = []
    for request_id, record in records:
        if model_name is not None and record.get("model_name") != model_name:
            continue
        if model_version is not None and record.get("model_version") != model_version:
            continue
        request = get(request_id)
        if status is None or request.status is status:
            found.append(request)
    return found
