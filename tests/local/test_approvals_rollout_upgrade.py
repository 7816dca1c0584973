"""A store written before requests carried a planned rollout upgrades in place and still verifies."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from mlops_sdk.backends.local.approvals import audit
from mlops_sdk.backends.local.approvals.service import MIGRATIONS
from mlops_sdk.backends.local.store import LocalStore
from mlops_sdk.models.approvals import ApprovalPolicy
from mlops_sdk.testing import FakeClock
from tests.local._approvals import local_client


def test_requests_of_a_version_1_store_have_no_rollout_and_the_log_verifies(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    store = LocalStore(folder)
    store.ensure_schema("approvals", MIGRATIONS[:1])  # the schema as the previous release left it
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    fixed = {
        "model_name": "churn",
        "model_version": "3",
        "requester": "carol",
        "reason": "before the upgrade",
        "policy": audit.canonical(ApprovalPolicy(approvers=("alice",)).model_dump(mode="json")),
        "report": None,
        "lineage": "{}",
        "profile": None,
        "idempotency_key": None,
        "created_at": at.isoformat(),
        "deadline": None,
    }
    with store.transaction() as connection:
        columns = ", ".join(fixed)
        connection.execute(
            f"INSERT INTO approval_requests (id, {columns}, status) VALUES (?, {', '.join('?' * len(fixed))}, ?)",  # noqa: S608
            ("old-1", *fixed.values(), "pending"),
        )
        audit.append(connection, at=at, request_id="old-1", event="requested", actor="carol", payload=fixed)
    store.close()

    with local_client(folder, FakeClock(start=at)) as client:
        request = client.get("old-1")
        assert (request.reason, request.rollout) == ("before the upgrade", None)
        assert client.verify_audit().ok
        report = {"passed": True, "outcome": "promote", "digest": "sha256:upgrade"}
        plan = {"endpoint": "churn", "strategy": "replace"}
        new = client.request("churn@4", policy=ApprovalPolicy(approvers=("alice",)), report=report, rollout=plan)
        stored = client.get(new.id).rollout
        assert stored is not None
        assert (stored.endpoint, stored.strategy, stored.steps) == ("churn", "replace", ())
        assert client.verify_audit().ok


def test_an_edited_rollout_is_caught_by_verify(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with local_client(folder, FakeClock()) as client:
        report = {"passed": True, "outcome": "promote", "digest": "sha256:edit"}
        plan = {"endpoint": "churn", "strategy": "blue_green", "steps": [10, 100]}
        request = client.request("churn@5", policy=ApprovalPolicy(approvers=("alice",)), report=report, rollout=plan)
        assert client.verify_audit().ok
    store = LocalStore(folder)
    with store.transaction() as connection:  # someone widens the first step behind the approvers' backs
        connection.execute(
            "UPDATE approval_requests SET rollout = replace(rollout, '[10,100]', '[100]') WHERE id = ?", (request.id,)
        )
    store.close()
    with local_client(folder, FakeClock()) as client:
        rollout = client.get(request.id).rollout
        assert rollout is not None
        assert rollout.steps == (100,)
        verification = client.verify_audit()
        assert not verification.ok
        assert f"request {request.id}: rollout differs from the audit log (edited)" in verification.problems
