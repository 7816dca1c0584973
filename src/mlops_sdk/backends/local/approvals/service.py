"""Approval requests, votes and decisions in ``mlops.db``, every change mirrored in the audit log.

The tables ``approval_requests`` and ``approval_votes`` are the queryable state; ``approval_audit``
is the hash-chained history. Every state change and its audit entry are written in ONE transaction,
so a killed process leaves both or neither. :meth:`LocalApprovalService.verify_audit` checks the
chain and replays it against the state tables, so an edited vote or decision row is found as well.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mlops_sdk.backends.local.approvals import audit
from mlops_sdk.backends.local.approvals.identity import os_identity, verified_identity
from mlops_sdk.backends.local.store import Migration
from mlops_sdk.backends.spi.approvals import ApprovalDraft, cast_vote, check_cancelable, check_key_owner
from mlops_sdk.core.errors import PermissionDeniedError, ResourceNotFoundError
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
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

if TYPE_CHECKING:
    from mlops_sdk.backends.local import LocalBackend

__all__ = ["MIGRATIONS", "LocalApprovalService"]

_log = get_logger(__name__)

MIGRATIONS = [
    Migration(
        1,
        "approval requests, votes and the hash-chained audit log",
        """
        CREATE TABLE approval_requests (
            id TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            requester TEXT,
            reason TEXT,
            policy TEXT NOT NULL,
            report TEXT,
            lineage TEXT NOT NULL,
            profile TEXT,
            idempotency_key TEXT UNIQUE,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            deadline TEXT,
            decision TEXT
        );
        CREATE INDEX approval_requests_model ON approval_requests (model_name, model_version);
        CREATE INDEX approval_requests_status ON approval_requests (status);
        CREATE TABLE approval_votes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            request_id TEXT NOT NULL REFERENCES approval_requests (id),
            vote TEXT NOT NULL
        );
        CREATE INDEX approval_votes_request ON approval_votes (request_id);
        """
        + audit.SCHEMA,
    ),
    Migration(2, "the planned rollout shown to approvers", "ALTER TABLE approval_requests ADD COLUMN rollout TEXT"),
]

# Fields of a request fixed at creation: the "requested" audit entry carries them and verify compares.
_FIXED = (
    "model_name",
    "model_version",
    "requester",
    "reason",
    "policy",
    "report",
    "lineage",
    "profile",
    "idempotency_key",
    "created_at",
    "deadline",
    "rollout",  # added by migration 2: older "requested" entries lack it, and their rows hold NULL
)

_INSERT_REQUEST = (
    f"INSERT INTO approval_requests (id, {', '.join(_FIXED)}, status, decision)"  # noqa: S608 - fixed column names
    f" VALUES (?, {', '.join('?' for _ in _FIXED)}, ?, NULL)"
)


def _json(model: Any) -> str | None:
    if model is None:
        return None
    return audit.canonical(model.model_dump(mode="json"))


class LocalApprovalService:
    """The ``approvals`` capability of the local backend."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._store.ensure_schema("approvals", MIGRATIONS)

    # -- identity ------------------------------------------------------------------------------------

    def whoami(self) -> ApproverIdentity:
        """The OS account running this process (with git ``user.email`` and OS groups).

        Inside :func:`~mlops_sdk.backends.local.approvals.identity.acting_as` (the review page, after
        it verified a signed invite link) it is that verified identity instead.
        """
        return verified_identity() or os_identity()

    # -- requests ------------------------------------------------------------------------------------

    def create(self, draft: ApprovalDraft) -> ApprovalRequest:
        """Record a request (idempotent on ``draft.idempotency_key``)."""
        now = self._backend.clock.now()
        actor = self.whoami().name
        with self._store.transaction() as connection:
            if draft.idempotency_key is not None:
                row = connection.execute(
                    "SELECT * FROM approval_requests WHERE idempotency_key = ?", (draft.idempotency_key,)
                ).fetchone()
                if row is not None:
                    check_key_owner(draft, row["id"], row["model_name"], row["model_version"], backend="local")
                    return self._load(connection, row)
            request_id = draft.decided.request_id if draft.decided is not None else str(uuid.uuid4())
            deadline = draft.policy.deadline(now)
            fixed: dict[str, Any] = {
                "model_name": draft.model_name,
                "model_version": draft.model_version,
                "requester": draft.requester,
                "reason": draft.reason,
                "policy": _json(draft.policy),
                "report": _json(draft.report),
                "lineage": _json(draft.lineage),
                "profile": draft.profile,
                "idempotency_key": draft.idempotency_key,
                "created_at": now.isoformat(),
                "deadline": deadline.isoformat() if deadline else None,
                "rollout": _json(draft.rollout),
            }
            connection.execute(
                _INSERT_REQUEST,
                (request_id, *(fixed[name] for name in _FIXED), ApprovalStatus.PENDING.value),
            )
            audit.append(connection, at=now, request_id=request_id, event="requested", actor=actor, payload=fixed)
            if draft.decided is not None:
                decision = draft.decided.model_copy(update={"requested_at": now, "decided_at": now})
                self._record_decision(connection, request_id, decision, actor=actor)
            row = connection.execute("SELECT * FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
            request = self._load(connection, row)
        _log.info("approval request %s for %s: %s", request.id, request.model_ref, request.status.value)
        return request

    def get(self, request_id: str) -> ApprovalRequest:
        """The request; a pending one is re-evaluated (timeouts are recorded when they are noticed)."""
        connection = self._store.connection()
        row = self._row(connection, request_id)
        if row["status"] != ApprovalStatus.PENDING.value:
            return self._load(connection, row)
        with self._store.transaction() as connection:
            row = self._row(connection, request_id)
            return self._settle(connection, row)

    def list(
        self, *, status: ApprovalStatus | None = None, model_name: str | None = None, model_version: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Requests, newest first (pending ones re-evaluated first, so timeouts show up)."""
        connection = self._store.connection()
        pending = [
            str(row[0])
            for row in connection.execute(
                "SELECT id FROM approval_requests WHERE status = ?", (ApprovalStatus.PENDING.value,)
            )
        ]
        for request_id in pending:
            self.get(request_id)
        sql, args = "SELECT * FROM approval_requests WHERE 1 = 1", []
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        if model_name is not None:
            sql += " AND model_name = ?"
            args.append(model_name)
        if model_version is not None:
            sql += " AND model_version = ?"
            args.append(model_version)
        rows = connection.execute(sql + " ORDER BY created_at DESC, rowid DESC", args).fetchall()
        return [self._load(connection, row) for row in rows]

    def vote(
        self,
        request_id: str,
        decision: Literal["approve", "reject"],
        *,
        comment: str | None,
        on_behalf_of: str | None = None,
    ) -> ApprovalRequest:
        """Cast a vote as the OS user (or on behalf of someone when the policy allows delegation)."""
        me = self.whoami()
        now = self._backend.clock.now()
        refused: str | None = None
        with self._store.transaction() as connection:
            row = self._row(connection, request_id)
            request = self._settle(connection, row)
            vote, refused = cast_vote(
                request, me, decision, comment=comment, on_behalf_of=on_behalf_of, at=now, backend="local"
            )
            if refused is not None:
                audit.append(
                    connection,
                    at=now,
                    request_id=request_id,
                    event="refused",
                    actor=me.name,
                    payload={"vote": vote.model_dump(mode="json"), "why": refused},
                )
            else:
                text = _json(vote)
                cursor = connection.execute(
                    "INSERT INTO approval_votes (request_id, vote) VALUES (?, ?)", (request_id, text)
                )
                audit.append(
                    connection,
                    at=now,
                    request_id=request_id,
                    event="voted",
                    actor=me.name,
                    payload={"vote_id": cursor.lastrowid, "vote": json.loads(text or "{}")},
                )
                request = self._settle(connection, self._row(connection, request_id))
        if refused is not None:
            raise PermissionDeniedError(
                f"{decision} of approval request {request_id} refused: {refused}",
                backend="local",
                operation_id=request_id,
            )
        return request

    def cancel(self, request_id: str, *, comment: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request."""
        me = self.whoami()
        now = self._backend.clock.now()
        with self._store.transaction() as connection:
            request = self._settle(connection, self._row(connection, request_id))
            check_cancelable(request, backend="local")
            connection.execute(
                "UPDATE approval_requests SET status = ? WHERE id = ?", (ApprovalStatus.CANCELED.value, request_id)
            )
            audit.append(
                connection, at=now, request_id=request_id, event="canceled", actor=me.name, payload={"comment": comment}
            )
            return self._load(connection, self._row(connection, request_id))

    # -- audit ---------------------------------------------------------------------------------------

    def verify_audit(self) -> AuditVerification:
        """Check the chain, then replay it against the state tables."""
        connection = self._store.connection()
        checked, problems, head = audit.verify_chain(connection)
        problems.extend(self._replay_problems(connection, checked))
        return AuditVerification(ok=not problems, entries=len(checked), head=head, problems=tuple(problems))

    def audit_trail(self, request_id: str) -> builtins.list[audit.AuditEntry]:
        """The audit entries of one request, oldest first (read only; :meth:`verify_audit` checks them)."""
        return builtins.list(audit.entries(self._store.connection(), request_id))

    def _replay_problems(
        self, connection: sqlite3.Connection, checked: builtins.list[audit.AuditEntry]
    ) -> builtins.list[str]:
        expected: dict[str, dict[str, Any]] = {}
        votes: dict[int, tuple[str, str]] = {}
        for entry in checked:
            data = entry.data
            if entry.event == "requested":
                expected[entry.request_id] = {
                    **{name: data.get(name) for name in _FIXED},
                    "status": "pending",
                    "decision": None,
                }
            elif entry.event == "voted" and isinstance(data.get("vote_id"), int):
                votes[int(data["vote_id"])] = (entry.request_id, audit.canonical(data.get("vote")))
            elif entry.event == "decided" and entry.request_id in expected:
                decision = data.get("decision")
                expected[entry.request_id]["decision"] = audit.canonical(decision) if decision is not None else None
                expected[entry.request_id]["status"] = data.get("status")
            elif entry.event == "canceled" and entry.request_id in expected:
                expected[entry.request_id]["status"] = ApprovalStatus.CANCELED.value
        problems: builtins.list[str] = []
        rows = {str(row["id"]): row for row in connection.execute("SELECT * FROM approval_requests")}
        for request_id, row in rows.items():
            want = expected.pop(request_id, None)
            if want is None:
                problems.append(f"request {request_id} has no 'requested' entry in the audit log (inserted outside it)")
                continue
            for name, value in want.items():
                if row[name] != value:
                    problems.append(f"request {request_id}: {name} differs from the audit log (edited)")
        problems.extend(f"request {request_id} is in the audit log but its row was deleted" for request_id in expected)
        for row in connection.execute("SELECT id, request_id, vote FROM approval_votes"):
            want_vote = votes.pop(int(row["id"]), None)
            if want_vote is None:
                problems.append(f"vote {row['id']} on request {row['request_id']} is not in the audit log (inserted)")
            elif want_vote != (str(row["request_id"]), str(row["vote"])):
                problems.append(f"vote {row['id']} on request {row['request_id']} differs from the audit log (edited)")
        problems.extend(f"vote {vote_id} on request {want[0]} was deleted" for vote_id, want in votes.items())
        return problems

    # -- internals -----------------------------------------------------------------------------------

    @staticmethod
    def _row(connection: sqlite3.Connection, request_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = connection.execute(
            "SELECT * FROM approval_requests WHERE id = ?", (request_id,)
        ).fetchone()
        if row is None:
            raise ResourceNotFoundError(
                f"no approval request {request_id!r} in this store; list them with `mlops approvals list --status all`",
                backend="local",
                operation_id=request_id,
            )
        return row

    def _votes(self, connection: sqlite3.Connection, request_id: str) -> tuple[ApprovalVote, ...]:
        rows = connection.execute(
            "SELECT vote FROM approval_votes WHERE request_id = ? ORDER BY id", (request_id,)
        ).fetchall()
        return tuple(ApprovalVote.model_validate_json(row[0]) for row in rows)

    def _settle(self, connection: sqlite3.Connection, row: sqlite3.Row) -> ApprovalRequest:
        """Evaluate a pending request now and record the decision if there is one (inside a transaction)."""
        request = self._load(connection, row)
        if not request.is_pending:
            return request
        decision = request.decision_at(self._backend.clock.now())
        if decision is None:
            return request
        self._record_decision(connection, request.id, decision, actor="policy")
        return self._load(connection, self._row(connection, request.id))

    @staticmethod
    def _record_decision(
        connection: sqlite3.Connection, request_id: str, decision: ApprovalDecision, *, actor: str
    ) -> None:
        text = _json(decision)
        connection.execute(
            "UPDATE approval_requests SET status = ?, decision = ? WHERE id = ? AND status = ?",
            (decision.status, text, request_id, ApprovalStatus.PENDING.value),
        )
        audit.append(
            connection,
            at=decision.decided_at,
            request_id=request_id,
            event="decided",
            actor=actor,
            payload={"status": decision.status, "decision": json.loads(text or "null")},
        )

    def _load(self, connection: sqlite3.Connection, row: sqlite3.Row) -> ApprovalRequest:
        return ApprovalRequest(
            id=row["id"],
            model_name=row["model_name"],
            model_version=row["model_version"],
            requester=row["requester"],
            reason=row["reason"],
            policy=read_stored(ApprovalPolicy, row["policy"]),
            report=ReportFacts.model_validate_json(row["report"]) if row["report"] else None,
            status=ApprovalStatus(row["status"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            deadline=datetime.fromisoformat(row["deadline"]) if row["deadline"] else None,
            votes=self._votes(connection, row["id"]),
            decision=ApprovalDecision.model_validate_json(row["decision"]) if row["decision"] else None,
            lineage=Lineage.model_validate_json(row["lineage"]),
            profile=row["profile"],
            external={"store": str(self._store.path)},
            rollout=read_stored(PlannedRollout, row["rollout"]) if row["rollout"] else None,
        )
