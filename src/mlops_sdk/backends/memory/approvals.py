"""The ``approvals`` capability of the memory backend: the same policy rules as local, in dictionaries.

Votes are cast as the store's identity: :attr:`MemoryStore.identity` when a test set one (see
``mlops_sdk.testing.act_as``), else whoever runs the process. The audit trail is a hash chain held in
memory; :meth:`verify_audit` re-computes it.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mlops_sdk.backends.spi.approvals import ApprovalDraft, cast_vote, check_cancelable, check_key_owner
from mlops_sdk.core.errors import PermissionDeniedError, ResourceNotFoundError
from mlops_sdk.core.lineage import current_identity
from mlops_sdk.models.approvals import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ApproverIdentity,
    AuditVerification,
)

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import MemoryBackend

__all__ = ["MemoryApprovalService", "create_service"]


@dataclass(frozen=True)
class _Entry:
    at: datetime
    request_id: str
    event: str
    actor: str
    payload: str
    previous: str
    digest: str


def _digest(previous: str, at: datetime, request_id: str, event: str, actor: str, payload: str) -> str:
    text = json.dumps([previous, at.isoformat(), request_id, event, actor, payload], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Approvals:
    requests: dict[str, ApprovalRequest] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    audit: list[_Entry] = field(default_factory=list)


def create_service(backend: MemoryBackend) -> MemoryApprovalService:
    """The backend's approval service."""
    return MemoryApprovalService(backend)


class MemoryApprovalService:
    """Implements :class:`~mlops_sdk.backends.spi.approvals.ApprovalService` in memory."""

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._faults = backend.faults
        with self._store.lock:
            state = self._store.state.setdefault("approvals", _Approvals())
        self._state: _Approvals = state

    def whoami(self) -> ApproverIdentity:
        """The identity a test set on the store, else the user running this process."""
        return self._store.identity or ApproverIdentity(name=current_identity(), source="memory")

    def create(self, draft: ApprovalDraft) -> ApprovalRequest:
        """Record a request (idempotent on ``draft.idempotency_key``)."""
        self._faults.before("approvals.create")
        now = self._backend.clock.now()
        actor = self.whoami().name
        with self._store.lock:
            known = self._state.keys.get(draft.idempotency_key) if draft.idempotency_key else None
            if known is not None:
                request = self._state.requests[known]
                check_key_owner(draft, known, request.model_name, request.model_version, backend="memory")
                result = self._settle(known)
            else:
                request_id = draft.decided.request_id if draft.decided is not None else str(uuid.uuid4())
                request = ApprovalRequest(
                    id=request_id,
                    model_name=draft.model_name,
                    model_version=draft.model_version,
                    requester=draft.requester,
                    reason=draft.reason,
                    policy=draft.policy,
                    report=draft.report,
                    created_at=now,
                    deadline=draft.policy.deadline(now),
                    lineage=draft.lineage,
                    profile=draft.profile,
                    rollout=draft.rollout,
                )
                self._state.requests[request_id] = request
                if draft.idempotency_key:
                    self._state.keys[draft.idempotency_key] = request_id
                self._audit(request_id, "requested", actor, request.model_dump(mode="json"))
                if draft.decided is not None:
                    decided = draft.decided.model_copy(update={"requested_at": now, "decided_at": now})
                    self._decide(request_id, decided, actor=actor)
                result = self._state.requests[request_id]
        self._faults.after("approvals.create")
        return result

    def get(self, request_id: str) -> ApprovalRequest:
        """The request; a pending one is re-evaluated (timeouts are recorded when noticed)."""
        self._faults.before("approvals.get")
        with self._store.lock:
            return self._settle(request_id)

    def list(
        self, *, status: ApprovalStatus | None = None, model_name: str | None = None, model_version: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Requests, newest first."""
        self._faults.before("approvals.list")
        with self._store.lock:
            found = [self._settle(request_id) for request_id in reversed(self._state.requests)]
        return [
            request
            for request in found
            if (status is None or request.status is status)
            and (model_name is None or request.model_name == model_name)
            and (model_version is None or request.model_version == model_version)
        ]

    def vote(
        self,
        request_id: str,
        decision: Literal["approve", "reject"],
        *,
        comment: str | None,
        on_behalf_of: str | None = None,
    ) -> ApprovalRequest:
        """Cast a vote (refused and audited when the policy does not let it count)."""
        self._faults.before("approvals.vote")
        me = self.whoami()
        now = self._backend.clock.now()
        with self._store.lock:
            request = self._settle(request_id)
            vote, refused = cast_vote(
                request, me, decision, comment=comment, on_behalf_of=on_behalf_of, at=now, backend="memory"
            )
            if refused is not None:
                self._audit(request_id, "refused", me.name, {"vote": vote.model_dump(mode="json"), "why": refused})
            else:
                self._state.requests[request_id] = request.model_copy(update={"votes": (*request.votes, vote)})
                self._audit(request_id, "voted", me.name, {"vote": vote.model_dump(mode="json")})
                request = self._settle(request_id)
        if refused is not None:
            raise PermissionDeniedError(
                f"{decision} of approval request {request_id} refused: {refused}",
                backend="memory",
                operation_id=request_id,
            )
        self._faults.after("approvals.vote")
        return request

    def cancel(self, request_id: str, *, comment: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request."""
        self._faults.before("approvals.cancel")
        me = self.whoami()
        with self._store.lock:
            request = self._settle(request_id)
            check_cancelable(request, backend="memory")
            request = request.model_copy(update={"status": ApprovalStatus.CANCELED})
            self._state.requests[request_id] = request
            self._audit(request_id, "canceled", me.name, {"comment": comment})
        self._faults.after("approvals.cancel")
        return request

    def verify_audit(self) -> AuditVerification:
        """Re-compute the hash chain."""
        with self._store.lock:
            entries = list(self._state.audit)
        problems = []
        previous = ""
        for index, entry in enumerate(entries):
            expected = _digest(previous, entry.at, entry.request_id, entry.event, entry.actor, entry.payload)
            if entry.previous != previous or entry.digest != expected:
                problems.append(f"audit entry {index + 1} ({entry.event} of {entry.request_id}) was altered")
            previous = entry.digest
        return AuditVerification(
            ok=not problems,
            entries=len(entries),
            head=entries[-1].digest if entries else None,
            problems=tuple(problems),
        )

    # -- internals (called with the store lock held) -------------------------------------------------

    def _request(self, request_id: str) -> ApprovalRequest:
        request = self._state.requests.get(request_id)
        if request is None:
            raise ResourceNotFoundError(
                f"no approval request {request_id!r} in {self._backend.target}",
                backend="memory",
                operation_id=request_id,
            )
        return request

    def _settle(self, request_id: str) -> ApprovalRequest:
        request = self._request(request_id)
        if not request.is_pending:
            return request
        decision = request.decision_at(self._backend.clock.now())
        if decision is None:
            return request
        self._decide(request_id, decision, actor="policy")
        return self._state.requests[request_id]

    def _decide(self, request_id: str, decision: ApprovalDecision, *, actor: str) -> None:
        request = self._state.requests[request_id]
        self._state.requests[request_id] = request.model_copy(
            update={"status": ApprovalStatus(decision.status), "decision": decision}
        )
        self._audit(
            request_id, "decided", actor, {"status": decision.status, "decision": decision.model_dump(mode="json")}
        )

    def _audit(self, request_id: str, event: str, actor: str, payload: dict[str, Any]) -> None:
        at = self._backend.clock.now()
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        previous = self._state.audit[-1].digest if self._state.audit else ""
        digest = _digest(previous, at, request_id, event, actor, text)
        self._state.audit.append(_Entry(at, request_id, event, actor, text, previous, digest))
