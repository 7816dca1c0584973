"""Value types of the approval gate: the policy, a request, the votes cast on it and the decision.

The policy is also where the rules live (:meth:`ApprovalPolicy.vote_problem`,
:meth:`ApprovalPolicy.evaluate`): both backends apply the SAME rules to the votes they collect, so
an approval that Azure DevOps accepted from someone our policy does not list is still not counted.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from datetime import datetime, timedelta
from enum import Enum
from types import SimpleNamespace
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops_sdk.core.errors import ApprovalRejectedError, ConfigurationError
from mlops_sdk.core.input_spec import InputSpec
from mlops_sdk.core.lineage import TAG_PREFIX, Lineage

__all__ = [
    "APPROVAL_TAG_PREFIX",
    "ApprovalDecision",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ApprovalStatus",
    "ApprovalVote",
    "ApproverIdentity",
    "AuditVerification",
    "AutoApproveRule",
    "GateReport",
    "PlannedRollout",
    "ReportFacts",
    "Tally",
    "normalize_identity",
]

APPROVAL_TAG_PREFIX = f"{TAG_PREFIX}approval."
"""Prefix of the tags an approval decision writes onto the model version (``mlops.approval.status``, ...)."""


@runtime_checkable
class GateReport(Protocol):
    """What the approval gate needs from a validation report (``ValidationReport`` satisfies it)."""

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        ...

    @property
    def outcome(self) -> str:
        """The validation outcome (``"promote"``, ``"not_promoted"`` or ``"failed"`` for a ValidationReport)."""
        ...

    @property
    def digest(self) -> str:
        """Content digest of the report, recorded in the audit trail."""
        ...


def normalize_identity(value: str) -> str:
    """The form identities are compared in: trimmed and case-folded (e-mail addresses are case-insensitive)."""
    return value.strip().casefold()


def _group_key(value: str) -> str:
    # Azure DevOps shows groups as "[Project]\\Release Approvers"; the policy may name just the group.
    return normalize_identity(value.rsplit("\\", 1)[-1])


class ReportFacts(BaseModel):
    """The facts of a validation report the gate keeps (the report itself stays with validation)."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    outcome: str
    digest: str

    @classmethod
    def of(cls, report: Any) -> ReportFacts:
        """Take the facts from anything shaped like :class:`GateReport` (or a mapping with those keys)."""
        if isinstance(report, ReportFacts):
            return report
        if isinstance(report, dict):
            return cls.model_validate(report)
        missing = [name for name in ("passed", "outcome", "digest") if not hasattr(report, name)]
        if missing:
            raise TypeError(
                f"report of type {type(report).__name__} lacks {', '.join(missing)}; pass the ValidationReport "
                "that client.validation.validate() returned"
            )
        return cls(passed=bool(report.passed), outcome=str(report.outcome), digest=str(report.digest))


class ApproverIdentity(BaseModel):
    """Who cast a vote, as the backend established it.

    Attributes:
        name: Primary identity: the OS account (local) or the Azure DevOps unique name (usually an e-mail).
        email: E-mail address when known (git ``user.email`` locally).
        display_name: Human name when the service gives one.
        groups: Groups the backend established membership of (OS groups locally; on Azure DevOps the
            group the approval step was assigned to, when the service let this user act for it).
        source: ``"os"``, ``"devops"`` or ``"claimed"`` (a delegated identity nobody verified).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    email: str | None = None
    display_name: str | None = None
    groups: tuple[str, ...] = ()
    source: str = "os"

    def names(self) -> set[str]:
        """Every normalised name this identity answers to."""
        return {normalize_identity(value) for value in (self.name, self.email) if value}

    def matches(self, other: str | None) -> bool:
        """True when ``other`` is one of this identity's names."""
        return other is not None and normalize_identity(other) in self.names()

    def __str__(self) -> str:
        if self.email and normalize_identity(self.email) != normalize_identity(self.name):
            return f"{self.name} <{self.email}>"
        return self.name


class ApprovalVote(BaseModel):
    """One approve or reject, with who, when and why.

    Attributes:
        approver: The identity the vote counts for.
        decision: ``"approve"`` or ``"reject"``.
        comment: The approver's comment.
        at: When the vote was cast.
        delegated_by: Who actually cast it when it was recorded on behalf of ``approver``.
    """

    model_config = ConfigDict(frozen=True)

    approver: ApproverIdentity
    decision: Literal["approve", "reject"]
    comment: str | None = None
    at: datetime
    delegated_by: ApproverIdentity | None = None


class AutoApproveRule(InputSpec):
    """A condition under which a request is approved without a person (every given field must hold).

    Attributes:
        profiles: Configuration profiles the rule applies in (``("dev",)``); empty means any profile.
        models: Model-name patterns (``fnmatch``, e.g. ``"sandbox-*"``); empty means any model.
        require_validation_passed: The validation report must be present and passed ("all checks passed").
    """

    profiles: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    require_validation_passed: bool = True

    @model_validator(mode="after")
    def _not_unconditional(self) -> AutoApproveRule:
        if not (self.profiles or self.models or self.require_validation_passed):
            raise ValueError(
                "an auto_approve_when rule with no condition would approve every model; "
                "set profiles=, models= or require_validation_passed=True"
            )
        return self

    def holds(self, *, profile: str | None, model_name: str, report: ReportFacts | None) -> bool:
        """True when every condition of the rule holds for this request."""
        if self.profiles and (profile is None or profile not in self.profiles):
            return False
        if self.models and not any(fnmatch.fnmatchcase(model_name, pattern) for pattern in self.models):
            return False
        return not (self.require_validation_passed and (report is None or not report.passed))

    def describe(self) -> str:
        """A short human description (``profile in [dev] and validation passed``)."""
        parts = []
        if self.profiles:
            parts.append(f"profile in [{', '.join(self.profiles)}]")
        if self.models:
            parts.append(f"model matches [{', '.join(self.models)}]")
        if self.require_validation_passed:
            parts.append("validation passed")
        return " and ".join(parts)


class Tally(BaseModel):
    """What the policy concludes from the votes at one moment.

    Attributes:
        status: ``pending``, ``approved``, ``rejected`` or ``timed_out``.
        approvers: Distinct identities whose approvals counted.
        rejected_by: Identities whose rejections counted.
        ignored: ``(identity, why)`` for each vote the policy did not count.
        reason: One line explaining the status.
    """

    model_config = ConfigDict(frozen=True)

    status: Literal["pending", "approved", "rejected", "timed_out"]
    approvers: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()
    ignored: tuple[tuple[str, str], ...] = ()
    reason: str = ""


class ApprovalPolicy(InputSpec):
    """Who may approve a model version, how many must, and until when.

    Attributes:
        approvers: Identities allowed to approve (OS user names or e-mail addresses locally, Azure
            DevOps unique names / e-mail addresses on Azure). Compared case-insensitively.
        approver_groups: Groups whose members may approve (OS groups locally; Azure DevOps groups the
            approval was assigned to on Azure). ``"Release Approvers"`` matches ``"[Proj]\\Release Approvers"``.
        min_approvals: Distinct approvers needed. A person approving twice counts once.
        forbid_self_approval: The requester (who registered the model, else who asked for approval)
            cannot approve, not even on someone's behalf.
        require_validation_passed: ``request`` needs a validation report that passed; a failed one
            blocks the request at once (decision ``rejected`` with the reason).
        timeout: How long the request stays open; then the decision is ``timed_out``. ``None`` waits forever.
        auto_approve_when: Rules under which the request is approved without a person (any rule may hold).
        allow_delegation: Allow recording a vote on behalf of another identity (``on_behalf_of=``);
            the audit trail keeps both names.
    """

    approvers: tuple[str, ...] = ()
    approver_groups: tuple[str, ...] = ()
    min_approvals: int = Field(default=1, ge=1)
    forbid_self_approval: bool = True
    require_validation_passed: bool = True
    timeout: timedelta | None = timedelta(days=7)
    auto_approve_when: tuple[AutoApproveRule, ...] = ()
    allow_delegation: bool = False

    @field_validator("approvers", "approver_groups", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("approvers", "approver_groups")
    @classmethod
    def _no_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("names must not be blank")
        return tuple(item.strip() for item in value)

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("timeout must be positive (seconds or a timedelta), or None to wait forever")
        return value

    @model_validator(mode="after")
    def _satisfiable(self) -> ApprovalPolicy:
        if not self.approvers and not self.approver_groups:
            raise ValueError(
                "the policy names no approvers: nobody could ever approve; set approvers=[...] or approver_groups=[...]"
            )
        distinct = {normalize_identity(name) for name in self.approvers}
        if not self.approver_groups and self.min_approvals > len(distinct):
            raise ValueError(
                f"min_approvals={self.min_approvals} but only {len(distinct)} approver(s) are listed; "
                "list more approvers, add approver_groups, or lower min_approvals"
            )
        return self

    @property
    def digest(self) -> str:
        """A short content digest of the policy (recorded with every decision)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def deadline(self, requested_at: datetime) -> datetime | None:
        """When a request made at ``requested_at`` times out."""
        return requested_at + self.timeout if self.timeout is not None else None

    def matching_rule(
        self, *, profile: str | None, model_name: str, report: ReportFacts | None
    ) -> AutoApproveRule | None:
        """The first auto-approval rule that holds, if any."""
        for rule in self.auto_approve_when:
            if rule.holds(profile=profile, model_name=model_name, report=report):
                return rule
        return None

    def is_listed(self, identity: ApproverIdentity) -> bool:
        """True when the identity is a listed approver or a member of a listed group."""
        allowed = {normalize_identity(name) for name in self.approvers}
        if identity.names() & allowed:
            return True
        groups = {_group_key(name) for name in self.approver_groups}
        return any(_group_key(group) in groups for group in identity.groups)

    def vote_problem(self, vote: ApprovalVote, *, requester: str | None) -> str | None:
        """Why this vote does not count under the policy (``None`` when it counts)."""
        who = str(vote.approver)
        if vote.delegated_by is not None and not self.allow_delegation:
            return (
                f"{vote.delegated_by} may not vote on behalf of {who}: the policy does not allow delegation "
                "(allow_delegation=False)"
            )
        if self.forbid_self_approval and vote.decision == "approve":
            for identity in (vote.approver, vote.delegated_by):
                if identity is not None and identity.matches(requester):
                    return f"{identity} requested this approval and may not approve it (forbid_self_approval)"
        if not self.is_listed(vote.approver):
            listed = ", ".join(self.approvers) or "none"
            groups = ", ".join(self.approver_groups) or "none"
            return f"{who} is not an allowed approver (approvers: {listed}; groups: {groups})"
        return None

    def evaluate(
        self,
        votes: tuple[ApprovalVote, ...] | list[ApprovalVote],
        *,
        requester: str | None,
        requested_at: datetime,
        now: datetime,
    ) -> Tally:
        """Apply the policy to the votes cast so far.

        A counted rejection wins over any number of approvals; approvals count once per person;
        votes cast after the deadline do not count; past the deadline an undecided request is
        ``timed_out``.
        """
        deadline = self.deadline(requested_at)
        approvers: dict[str, str] = {}
        rejected_by: dict[str, str] = {}
        ignored: list[tuple[str, str]] = []
        self_approved = False
        for vote in sorted(votes, key=lambda item: item.at):
            if deadline is not None and vote.at > deadline:
                ignored.append((str(vote.approver), "cast after the deadline"))
                continue
            problem = self.vote_problem(vote, requester=requester)
            if problem is not None:
                ignored.append((str(vote.approver), problem))
                continue
            key = normalize_identity(vote.approver.name)
            if vote.decision == "reject":
                rejected_by.setdefault(key, str(vote.approver))
            else:
                approvers.setdefault(key, str(vote.approver))
                self_approved = self_approved or vote.approver.matches(requester)
        if rejected_by:
            return Tally(
                status="rejected",
                approvers=tuple(approvers.values()),
                rejected_by=tuple(rejected_by.values()),
                ignored=tuple(ignored),
                reason=f"rejected by {', '.join(rejected_by.values())}",
            )
        if len(approvers) >= self.min_approvals:
            reason = f"approved by {', '.join(approvers.values())} ({len(approvers)} of {self.min_approvals} needed)"
            if self_approved:
                # Allowed only because the policy says so: the decision (and so the audit log) says it too.
                reason += f"; self-approved by the requester {requester} (the policy sets forbid_self_approval=False)"
            return Tally(
                status="approved",
                approvers=tuple(approvers.values()),
                ignored=tuple(ignored),
                reason=reason,
            )
        if deadline is not None and now >= deadline:
            return Tally(
                status="timed_out",
                approvers=tuple(approvers.values()),
                ignored=tuple(ignored),
                reason=f"timed out at {deadline.isoformat()} with {len(approvers)} of {self.min_approvals} approvals",
            )
        return Tally(
            status="pending",
            approvers=tuple(approvers.values()),
            ignored=tuple(ignored),
            reason=f"waiting: {len(approvers)} of {self.min_approvals} approvals",
        )


def _smoke_summary(smoke: Any) -> str | None:
    """One line saying what a smoke test checks (never its payload values: they may be real data)."""
    if smoke is None:
        return None
    if isinstance(smoke, str):
        return smoke
    if isinstance(smoke, dict):
        smoke = SimpleNamespace(**smoke)
    payload = getattr(smoke, "payload", None)
    keys = ", ".join(sorted(payload)) if isinstance(payload, dict) else "a list body"
    expects = []
    if getattr(smoke, "expected", None) is not None:
        expects.append("an exact output")
    if getattr(smoke, "predicate", None) is not None:
        expects.append("a predicate on the output")
    if getattr(smoke, "shape", None) is not None:
        expects.append(f"shape {list(smoke.shape)}")
    if getattr(smoke, "dtype", None) is not None:
        expects.append(f"{smoke.dtype} values")
    if getattr(smoke, "latency_budget", None) is not None:
        expects.append(f"latency under {smoke.latency_budget:g} s")
    samples = getattr(smoke, "samples", 3)  # SmokeTest's default
    return f"{samples} request(s) with {keys} to the new deployment, expecting {', '.join(expects) or 'an answer'}"


class PlannedRollout(InputSpec):
    """How an approved version is meant to reach production: shown to approvers next to the evidence.

    The gate does not enforce it (the deployment call does); it records what the approvers were
    told, in the request and its audit trail. Build it with :meth:`of` from the strategy you will
    pass to ``client.deployments.begin_deploy``.

    Attributes:
        endpoint: The endpoint the version will serve on.
        strategy: The strategy's kind (``blue_green``, ``replace``, ``shadow``, ...).
        steps: Traffic percentages the new deployment goes through, in order.
        bake_time: Seconds each step is held before the next one.
        mirror_percent: Share of traffic mirrored to the new deployment (shadow strategies).
        smoke_test: What the smoke test before each step checks (one line, no payload values).
        rollback_on_failure: Whether a failed step or smoke test restores the previous traffic.
        rollback_to: What serves the traffic after a rollback (a deployment or model version);
            ``None`` means "the traffic split the endpoint had before the rollout".
    """

    endpoint: str
    strategy: str
    steps: tuple[int, ...] = ()
    bake_time: float | None = None
    mirror_percent: int | None = None
    smoke_test: str | None = None
    rollback_on_failure: bool = True
    rollback_to: str | None = None

    @classmethod
    def of(cls, endpoint: str, strategy: Any, *, rollback_to: str | None = None) -> PlannedRollout:
        """The plan of deploying to ``endpoint`` with ``strategy`` (a strategy object, or a dict of its fields)."""
        fields = (
            strategy
            if isinstance(strategy, dict)
            else {
                name: getattr(strategy, name)
                for name in ("kind", "steps", "bake_time", "mirror_percent", "smoke_test", "rollback_on_failure")
                if hasattr(strategy, name)
            }
        )
        kind = fields.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ConfigurationError(
                f"strategy {strategy!r} has no kind; pass the strategy you deploy with: BlueGreen(...), "
                "Replace(...) or Shadow(...)",
                details={"field": "strategy"},
            )
        return cls(
            endpoint=endpoint,
            strategy=kind,
            steps=tuple(fields.get("steps") or ()),
            bake_time=fields.get("bake_time"),
            mirror_percent=fields.get("mirror_percent"),
            smoke_test=_smoke_summary(fields.get("smoke_test")),
            rollback_on_failure=bool(fields.get("rollback_on_failure", True)),
            rollback_to=rollback_to,
        )


class ApprovalStatus(str, Enum):
    """State of an approval request."""

    PENDING = "pending"
    APPROVED = "approved"
    AUTO_APPROVED = "auto_approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        """True once the request can no longer change."""
        return self is not ApprovalStatus.PENDING

    def __str__(self) -> str:
        return self.value


class ApprovalDecision(BaseModel):
    """How an approval request ended. A gate outcome is a value: check ``approved`` or call ``raise_for_gate()``.

    Attributes:
        request_id: The request this decides.
        model_name: Registered model name.
        model_version: Model version.
        status: ``approved``, ``auto_approved``, ``rejected`` or ``timed_out``.
        approvers: Identities whose approvals counted.
        rejected_by: Identities whose rejection counted.
        votes: Every vote cast (counted or not), with comments and timestamps.
        ignored: ``(identity, why)`` for votes the policy did not count.
        reason: One line explaining the outcome.
        requester: Who asked (the identity barred by ``forbid_self_approval``).
        requested_at: When the request was made.
        decided_at: When the decision was reached.
        policy: The policy that applied.
        report_digest: Digest of the validation report the request carried, if any.
    """

    model_config = ConfigDict(frozen=True)

    request_id: str
    model_name: str
    model_version: str
    status: Literal["approved", "auto_approved", "rejected", "timed_out"]
    approvers: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()
    votes: tuple[ApprovalVote, ...] = ()
    ignored: tuple[tuple[str, str], ...] = ()
    reason: str
    requester: str | None = None
    requested_at: datetime
    decided_at: datetime
    policy: ApprovalPolicy
    report_digest: str | None = None

    @property
    def approved(self) -> bool:
        """True for ``approved`` and ``auto_approved``."""
        return self.status in ("approved", "auto_approved")

    @property
    def model_ref(self) -> str:
        """``name@version`` of the model the decision is about."""
        return f"{self.model_name}@{self.model_version}"

    @property
    def comments(self) -> tuple[str, ...]:
        """``"who: comment"`` for every vote that carried a comment."""
        return tuple(f"{vote.approver}: {vote.comment}" for vote in self.votes if vote.comment)

    def raise_for_gate(self) -> ApprovalDecision:
        """Return ``self`` when approved, else raise :class:`ApprovalRejectedError` with the reason."""
        if self.approved:
            return self
        raise ApprovalRejectedError(
            f"approval of {self.model_ref} ended {self.status}: {self.reason}",
            operation_id=self.request_id,
            details={"status": self.status, "model": self.model_ref, "rejected_by": list(self.rejected_by)},
        )

    def to_tags(self) -> dict[str, str]:
        """The ``mlops.approval.*`` tags written onto the model version (every key, ``""`` when empty)."""
        return {
            f"{APPROVAL_TAG_PREFIX}status": self.status,
            f"{APPROVAL_TAG_PREFIX}request_id": self.request_id,
            f"{APPROVAL_TAG_PREFIX}decided_at": self.decided_at.isoformat(),
            f"{APPROVAL_TAG_PREFIX}policy": self.policy.digest,
            f"{APPROVAL_TAG_PREFIX}reason": self.reason[:250],
            # Written even when empty: a later decision on the same version overwrites every tag of an
            # earlier one (tags are only ever added or overwritten), so none describes an older decision.
            f"{APPROVAL_TAG_PREFIX}approvers": ", ".join(self.approvers),
            f"{APPROVAL_TAG_PREFIX}rejected_by": ", ".join(self.rejected_by),
            f"{APPROVAL_TAG_PREFIX}report": self.report_digest or "",
        }


class ApprovalRequest(BaseModel):
    """A model version waiting for (or past) its approval gate.

    Attributes:
        id: Request id (a UUID locally; ``run-<id>`` for an Azure DevOps pipeline run).
        model_name: Registered model name.
        model_version: Model version.
        requester: Who asked (barred from approving when ``forbid_self_approval``).
        reason: Why the approval was requested.
        policy: The policy that applies.
        report: Facts of the validation report given with the request.
        status: Current state.
        created_at: When the request was made.
        deadline: When it times out (``None``: never).
        votes: Votes cast so far.
        decision: The decision once there is one.
        lineage: Where the request came from (git commit, CI build, ...).
        profile: Configuration profile active when the request was made.
        external: Backend facts (Azure DevOps run id and URL, approval ids, ...).
        rollout: The planned rollout the requester described (shown to approvers), if any.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    model_name: str
    model_version: str
    requester: str | None = None
    reason: str | None = None
    policy: ApprovalPolicy
    report: ReportFacts | None = None
    status: ApprovalStatus = ApprovalStatus.PENDING
    created_at: datetime
    deadline: datetime | None = None
    votes: tuple[ApprovalVote, ...] = ()
    decision: ApprovalDecision | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    profile: str | None = None
    external: dict[str, str] = Field(default_factory=dict)
    rollout: PlannedRollout | None = None

    @property
    def model_ref(self) -> str:
        """``name@version``."""
        return f"{self.model_name}@{self.model_version}"

    @property
    def is_pending(self) -> bool:
        """True while votes can still change the outcome."""
        return self.status is ApprovalStatus.PENDING

    def decision_at(self, now: datetime) -> ApprovalDecision | None:
        """The policy's decision on this pending request's votes at ``now``; ``None`` while undecided."""
        tally = self.policy.evaluate(self.votes, requester=self.requester, requested_at=self.created_at, now=now)
        if tally.status == "pending":
            return None
        return ApprovalDecision(
            request_id=self.id,
            model_name=self.model_name,
            model_version=self.model_version,
            status=tally.status,
            approvers=tally.approvers,
            rejected_by=tally.rejected_by,
            votes=self.votes,
            ignored=tally.ignored,
            reason=tally.reason,
            requester=self.requester,
            requested_at=self.created_at,
            decided_at=now,
            policy=self.policy,
            report_digest=self.report.digest if self.report else None,
        )


class AuditVerification(BaseModel):
    """Result of checking the approval audit trail.

    Attributes:
        ok: True when every entry links to the previous one and the stored state matches the trail.
        entries: Entries checked.
        head: Hash of the last entry (anchor it elsewhere, e.g. in a CI log, to detect a rewrite).
        problems: One line per problem found (edited, deleted, reordered, or state not matching).
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    entries: int
    head: str | None = None
    problems: tuple[str, ...] = ()
