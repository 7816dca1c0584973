"""What a notification says: one event (request made, vote cast, decision reached) rendered once as text.

Every channel shows the same facts: the model, the requester and their reason, the policy (who may
approve, how many, until when), the vote or decision, and the links (the review page when
``review_url`` is set, the CI run when the backend knows it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mlops_sdk.models.approvals import ApprovalRequest, ApprovalVote

__all__ = ["ApprovalEvent", "EventKind", "event_for", "review_link"]

EventKind = Literal["requested", "voted", "decided"]


def review_link(review_url: str | None, request_id: str) -> str | None:
    """``<review_url>/requests/<request id>`` (the review page's address for one request), or None."""
    if not review_url:
        return None
    return f"{review_url.rstrip('/')}/requests/{quote(request_id, safe='')}"


class ApprovalEvent(BaseModel):
    """One notification-worthy moment of an approval request.

    Attributes:
        kind: ``requested``, ``voted`` or ``decided``.
        request_id / model_ref / status: The request.
        requester / reason: Who asked and why.
        policy: One line: who may approve, how many, self-approval, deadline.
        validation: The validation outcome and report digest, if a report was given.
        vote: ``(who, "approve"|"reject", comment)`` of the vote this event is about.
        decision: The decision's reason (``decided`` events).
        review_url: Link to the request's review page.
        run_url: Link to the CI run the request is attached to (Azure DevOps / GitHub).
        at: When the event happened.
    """

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    request_id: str
    model_ref: str
    status: str
    requester: str | None = None
    reason: str | None = None
    policy: str
    validation: str | None = None
    vote: tuple[str, str, str | None] | None = None
    decision: str | None = None
    review_url: str | None = None
    run_url: str | None = None
    at: datetime

    @property
    def event_id(self) -> str:
        """A stable id: the same moment notified by two processes has the same id (receivers can de-duplicate)."""
        text = "|".join([self.kind, self.request_id, self.status, repr(self.vote)])
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    @property
    def title(self) -> str:
        """One line naming what happened."""
        if self.kind == "requested":
            return f"Approval requested: {self.model_ref}"
        if self.kind == "voted" and self.vote is not None:
            verb = "approved" if self.vote[1] == "approve" else "rejected"
            return f"{self.vote[0]} {verb} {self.model_ref}"
        return f"{self.model_ref} {self.status.replace('_', ' ')}"

    def facts(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows every channel shows."""
        rows = [("Request", self.request_id), ("Status", self.status)]
        rows.append(("Requested by", self.requester or "-"))
        rows.append(("Reason", self.reason or "-"))
        if self.vote is not None:
            rows.append(("Vote", f"{self.vote[0]}: {self.vote[1]}" + (f" - {self.vote[2]}" if self.vote[2] else "")))
        if self.decision:
            rows.append(("Decision", self.decision))
        rows.append(("Policy", self.policy))
        if self.validation:
            rows.append(("Validation", self.validation))
        return rows

    def links(self) -> list[tuple[str, str]]:
        """``(label, url)`` of the review page and the CI run, when known."""
        found = []
        if self.review_url:
            found.append(("Review the request", self.review_url))
        if self.run_url:
            found.append(("CI run", self.run_url))
        return found

    def text(self) -> str:
        """Plain text: the title, then one ``name: value`` line per fact and link."""
        lines = [self.title] + [f"{name}: {value}" for name, value in self.facts()]
        lines += [f"{label}: {url}" for label, url in self.links()]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The summary as Markdown (the CI step summary)."""
        lines = [f"### {_md(self.title)}", ""]
        lines += [f"- **{name}:** {_md(value)}" for name, value in self.facts()]
        links = " · ".join(f"[{label}]({url})" for label, url in self.links())
        if links:
            lines += ["", links]
        return "\n".join(lines)


def _md(text: str) -> str:
    # Keep user text (reasons, comments) from becoming Markdown structure.
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("<", "&lt;").replace("\n", " ")


def _policy_line(request: ApprovalRequest) -> str:
    policy = request.policy
    who = ", ".join(policy.approvers) or "-"
    if policy.approver_groups:
        who += f" or members of {', '.join(policy.approver_groups)}"
    line = f"{policy.min_approvals} approval(s) from {who}"
    line += "; the requester may not approve" if policy.forbid_self_approval else "; self-approval allowed"
    if request.deadline is not None:
        line += f"; times out {request.deadline:%Y-%m-%d %H:%M} UTC"
    return line


def event_for(
    kind: EventKind,
    request: ApprovalRequest,
    *,
    at: datetime,
    review_url: str | None = None,
    vote: ApprovalVote | None = None,
) -> ApprovalEvent:
    """The event of ``kind`` for ``request`` (``vote``: the vote a ``voted`` event is about)."""
    return ApprovalEvent(
        kind=kind,
        request_id=request.id,
        model_ref=request.model_ref,
        status=request.status.value,
        requester=request.requester,
        reason=request.reason,
        policy=_policy_line(request),
        validation=f"{request.report.outcome} (report {request.report.digest})" if request.report else None,
        vote=(str(vote.approver), vote.decision, vote.comment) if vote is not None else None,
        decision=request.decision.reason if request.decision is not None else None,
        review_url=review_link(review_url, request.id),
        run_url=request.external.get("run_url"),
        at=at,
    )
