"""``mlops approvals list / show / approve / reject`` against a real local store."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mlops_sdk.cli.approvals_cmd import ListedStatus
from mlops_sdk.cli.main import run
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus
from mlops_sdk.testing import FakeClock
from tests.local._approvals import PASSED, git_identity, local_client, model


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """(target URI, id of a pending request the OS user may approve, id of one they requested themselves)."""
    git_identity(tmp_path, monkeypatch)
    clock = FakeClock(start=datetime.now(timezone.utc))  # the CLI runs on the real clock
    folder = tmp_path / "store"
    with local_client(folder, clock) as client:
        me = client.whoami().name
        policy = ApprovalPolicy(approvers=[me, "alice"], min_approvals=2, allow_delegation=True)
        theirs = client.request(model(created_by="carol"), policy=policy, report=PASSED, reason="release 3")
        mine = client.request(model(created_by=me, version="4"), policy=policy, report=PASSED)
    return f"local://{folder}", theirs.id, mine.id


def test_list_show_and_vote(target: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    uri, theirs, mine = target
    assert run(["-t", uri, "-o", "json", "approvals", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {item["id"] for item in listed} == {theirs, mine}
    assert all(item["status"] == "pending" for item in listed)

    assert run(["-t", uri, "approvals", "approve", theirs, "-m", "numbers hold up"]) == 0
    assert run(["-t", uri, "approvals", "approve", theirs, "-m", "alice agreed", "--on-behalf-of", "alice"]) == 0
    capsys.readouterr()
    assert run(["-t", uri, "approvals", "show", theirs]) == 0
    shown = capsys.readouterr().out
    assert "approved" in shown
    assert "numbers hold up" in shown
    assert "alice agreed" in shown
    assert "recorded by" in shown

    assert run(["-t", uri, "-o", "json", "approvals", "list", "--status", "approved"]) == 0
    assert [item["id"] for item in json.loads(capsys.readouterr().out)] == [theirs]


def test_refused_vote_exits_1_with_the_reason(target: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    uri, _, mine = target
    assert run(["-t", uri, "approvals", "approve", mine, "-m", "my own model"]) == 1
    assert "forbid_self_approval" in capsys.readouterr().err
    assert run(["-t", uri, "-o", "json", "approvals", "reject", "nope", "-m", "x"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "ResourceNotFoundError"


def test_comment_is_required(target: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    uri, theirs, _ = target
    assert run(["-t", uri, "approvals", "approve", theirs]) == 2
    assert "--comment" in capsys.readouterr().err


def test_show_prints_the_approver_list(target: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    uri, theirs, _ = target
    assert run(["-t", uri, "-o", "json", "approvals", "show", theirs]) == 0
    approvers = json.loads(capsys.readouterr().out)["policy"]["approvers"]
    assert run(["-t", uri, "approvals", "show", theirs]) == 0
    shown = capsys.readouterr().out
    # Rich markup used to swallow "[me, alice]" as if it were a style tag.
    assert f"users [{', '.join(approvers)}]" in shown
    assert "groups [-]" in shown


def test_list_shows_the_reason_and_a_vote_can_name_the_model(
    target: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    uri, theirs, _ = target
    assert run(["-t", uri, "approvals", "list"]) == 0
    table = capsys.readouterr().out
    assert "reason" in table
    assert "release 3" in table
    assert run(["-t", uri, "approvals", "approve", "churn@3", "-m", "by model reference"]) == 0
    assert theirs in capsys.readouterr().out
    assert run(["-t", uri, "-o", "json", "approvals", "show", theirs]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [vote["comment"] for vote in shown["votes"]] == ["by model reference"]
    assert shown["reason"] == "release 3"


def test_list_status_choices_are_every_approval_status_and_all() -> None:
    # the CLI's choice list is its own enum (typer needs one): a status added to the model must appear here too
    assert [choice.value for choice in ListedStatus] == [status.value for status in ApprovalStatus] + ["all"]
