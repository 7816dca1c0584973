# ruff: noqa: S608  (these tests build their tampering SQL on purpose)
"""The approval audit trail is tamper-evident: these tests edit, delete and reorder rows in the SQLite
file directly (around the SDK, the way an attacker or a careless admin would) and expect ``verify`` to
name the damage. ``mlops approvals verify`` turns it into an exit code."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_sdk.cli.main import run
from mlops_sdk.models.approvals import ApprovalPolicy
from mlops_sdk.testing import FakeClock
from tests.local._approvals import PASSED, git_identity, local_client, model


@dataclass
class Store:
    folder: Path
    clock: FakeClock
    request_ids: list[str]

    @property
    def db(self) -> Path:
        return self.folder / "mlops.db"

    def verify(self) -> tuple[bool, tuple[str, ...]]:
        with local_client(self.folder, self.clock) as client:
            result = client.verify_audit()
        return result.ok, result.problems

    @property
    def uri(self) -> str:
        return f"local://{self.folder}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Built once: an approved request (two votes), a rejected one and a pending one; then closed."""
    base = tmp_path_factory.mktemp("audit-template")
    folder = base / "store"
    with pytest.MonkeyPatch.context() as monkeypatch:
        git_identity(base, monkeypatch)
        with local_client(folder, FakeClock()) as client:
            me = client.whoami().name
            policy = ApprovalPolicy(approvers=[me, "alice", "bob"], min_approvals=2, allow_delegation=True)
            approved = client.request(model(version="1"), policy=policy, report=PASSED, reason="release 1")
            client.approve(approved.id, comment="metrics look good")
            client.approve(approved.id, comment="signed off by alice", on_behalf_of="alice")
            rejected = client.request(model(version="2"), policy=policy, report=PASSED, reason="release 2")
            client.reject(rejected.id, comment="bias check failed", on_behalf_of="bob")
            pending = client.request(model(version="3"), policy=policy, report=PASSED, reason="release 3")
            assert client.verify_audit().ok
    wal = folder / "mlops.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # closing checkpointed everything into mlops.db
    return folder, [approved.id, rejected.id, pending.id]


@pytest.fixture
def store(template: tuple[Path, list[str]], tmp_path: Path, clock: FakeClock) -> Store:
    """A private copy of the template store for one test to tamper with."""
    folder = tmp_path / "store"
    shutil.copytree(template[0], folder, ignore=shutil.ignore_patterns("mlflow*", "artifacts"))
    return Store(folder, clock, list(template[1]))


def _sql(db: Path, *statements: str) -> None:
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


UNLOCK = ("DROP TRIGGER approval_audit_no_update", "DROP TRIGGER approval_audit_no_delete")


def test_intact_trail_verifies(store: Store) -> None:
    ok, problems = store.verify()
    assert ok, problems


def test_the_log_refuses_update_and_delete_through_sqlite(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        _sql(store.db, "UPDATE approval_audit SET actor = 'mallory' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        _sql(store.db, "DELETE FROM approval_audit WHERE seq = 2")
    assert store.verify()[0]


def test_edited_entry_is_detected(store: Store) -> None:
    _sql(
        store.db,
        *UNLOCK,
        "UPDATE approval_audit SET payload = replace(payload, 'signed off by alice', 'signed off by carol')"
        " WHERE event = 'voted'",
    )
    ok, problems = store.verify()
    assert not ok
    assert any("was edited: its hash does not match" in problem for problem in problems)


def test_deleted_entry_in_the_middle_is_detected(store: Store) -> None:
    _sql(store.db, *UNLOCK, "DELETE FROM approval_audit WHERE seq = 3")
    ok, problems = store.verify()
    assert not ok
    assert "entries 3 are missing (deleted)" in problems
    assert any("entry 4 does not link" in problem for problem in problems)


def test_deleted_entries_at_the_end_are_detected(store: Store) -> None:
    _sql(store.db, *UNLOCK, "DELETE FROM approval_audit WHERE seq = (SELECT MAX(seq) FROM approval_audit)")
    ok, problems = store.verify()
    assert not ok
    assert any("at the end of the log are missing (deleted)" in problem for problem in problems)


def test_reordered_entries_are_detected(store: Store) -> None:
    # Swap the contents of entries 2 and 3, keeping each row's own (valid) hash: only the links break.
    columns = "at, request_id, event, actor, payload, prev_hash, hash"
    _sql(
        store.db,
        *UNLOCK,
        f"CREATE TEMP TABLE two AS SELECT seq, {columns} FROM approval_audit WHERE seq IN (2, 3)",
        "DELETE FROM approval_audit WHERE seq IN (2, 3)",
        f"INSERT INTO approval_audit (seq, {columns}) SELECT 5 - seq, {columns} FROM two",
    )
    ok, problems = store.verify()
    assert not ok
    assert any("does not link to the entry before it" in problem for problem in problems)


def test_edited_vote_row_is_detected_even_with_the_log_untouched(store: Store) -> None:
    connection = sqlite3.connect(store.db)
    vote_id, text = connection.execute("SELECT id, vote FROM approval_votes ORDER BY id LIMIT 1").fetchone()
    connection.close()
    vote = json.loads(text)
    vote["approver"]["name"] = "mallory"
    _sql(store.db, f"UPDATE approval_votes SET vote = '{json.dumps(vote)}' WHERE id = {vote_id}")
    ok, problems = store.verify()
    assert not ok
    assert any(f"vote {vote_id} on request" in p and "(edited)" in p for p in problems)


def test_flipped_decision_is_detected(store: Store) -> None:
    rejected = store.request_ids[1]
    _sql(store.db, f"UPDATE approval_requests SET status = 'approved' WHERE id = '{rejected}'")
    ok, problems = store.verify()
    assert not ok
    assert f"request {rejected}: status differs from the audit log (edited)" in problems


def test_deleted_request_row_is_detected(store: Store) -> None:
    pending = store.request_ids[2]
    _sql(store.db, f"DELETE FROM approval_requests WHERE id = '{pending}'")
    ok, problems = store.verify()
    assert not ok
    assert f"request {pending} is in the audit log but its row was deleted" in problems


def test_bytes_edited_in_the_database_file_are_detected(store: Store) -> None:
    raw = store.db.read_bytes()
    needle = b"bias check failed"
    assert needle in raw
    store.db.write_bytes(raw.replace(needle, b"bias check passed"))
    ok, problems = store.verify()
    assert not ok
    assert any("was edited" in problem for problem in problems)


def test_cli_verify_exit_codes(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--target", store.uri, "approvals", "verify"]) == 0
    assert "audit entries intact" in capsys.readouterr().out
    _sql(store.db, *UNLOCK, "DELETE FROM approval_audit WHERE seq = 2")
    assert run(["--target", store.uri, "-o", "json", "approvals", "verify"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert "entries 2 are missing (deleted)" in report["problems"]
