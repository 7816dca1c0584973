"""What a person needs to give an approval: the wait says who and how, ids can be pasted back, a solo path."""

from __future__ import annotations

import json
import logging
import re
import shlex
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mlops_sdk.cli.main import run
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.approvals import ApprovalPolicy
from mlops_sdk.testing import FakeClock
from tests.local._approvals import PASSED, git_identity, local_client, model


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_identity(tmp_path, monkeypatch)
    return tmp_path / "store"


def _clock() -> FakeClock:
    return FakeClock(start=datetime.now(timezone.utc))  # the CLI votes on the real clock


def test_a_wait_says_once_who_may_approve_and_the_command_that_does_it(
    folder: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with local_client(folder, _clock()) as client:
        me = client.whoami().name
        policy = ApprovalPolicy(approvers=[me, "dana@contoso.com"])
        request = client.request(model(created_by="carol"), policy=policy, report=PASSED)
        with caplog.at_level(logging.WARNING, logger="mlops_sdk"):
            operation = client.begin_wait(request.id)
        announced = [r.getMessage() for r in caplog.records if request.id in r.getMessage()]
        assert len(announced) == 1
        message = announced[0]
        assert f"1 approval(s) from {me}, dana@contoso.com" in message
        assert "the requester carol may not approve" in message
        command = message.split("To approve: ", 1)[1]
        assert command.startswith(f"mlops -t local://{folder} approvals approve {request.id} -m ")

        # The printed command, as a person would paste it, decides the request.
        argv = shlex.split(command)
        assert run(argv[1:]) == 0
        capsys.readouterr()
        decision = operation.result(timeout=30)
        assert decision.approved
        assert [name.split()[0] for name in decision.approvers] == [me]


def test_unique_prefixes_of_printed_ids_are_accepted(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with local_client(folder, _clock()) as client:
        me = client.whoami().name
        policy = ApprovalPolicy(approvers=[me])
        first = client.request(model(created_by="carol"), policy=policy, report=PASSED)
        ids = [first.id] + [
            client.request(model(created_by="carol", version=str(v)), policy=policy, report=PASSED).id
            for v in range(4, 40)
        ]
    uri = f"local://{folder}"
    # The table prints every id whole, even on an 80-column terminal (other columns fold).
    with pytest.MonkeyPatch.context() as terminal:
        terminal.setenv("TTY_COMPATIBLE", "1")
        terminal.setenv("COLUMNS", "80")
        assert run(["-t", uri, "approvals", "list"]) == 0
    table = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # without colour codes
    assert max(len(line) for line in table.splitlines()) <= 80  # really laid out for a narrow terminal
    assert all(item in table for item in ids)

    prefix = next(first.id[:n] for n in range(4, 36) if sum(i.startswith(first.id[:n]) for i in ids) == 1)
    assert run(["-t", uri, "-o", "json", "approvals", "show", prefix]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == first.id
    assert run(["-t", uri, "approvals", "approve", prefix, "-m", "ok"]) == 0
    capsys.readouterr()
    with local_client(folder, _clock()) as client:
        assert client.get(first.id).status.value == "approved"
    assert run(["-t", uri, "approvals", "show", "zzzz"]) == 1
    assert "zzzz" in capsys.readouterr().err


def test_solo_developer_policy_from_file_allows_and_records_self_approval(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_client(folder, _clock()) as client:
        me = client.whoami().name
    (tmp_path / "approvals.toml").write_text(
        f'approvers = ["{me}"]\nforbid_self_approval = false\ntimeout = 3600\n\n'
        '[profiles.azure]\napprovers = ["dana@contoso.com"]\n'
    )
    (tmp_path / "mlops.toml").write_text(
        f'target = "local://{folder}"\n\n[profiles.azure]\ntarget = "local://{folder}"\n'
    )
    monkeypatch.chdir(tmp_path)
    from mlops_sdk.clients.approvals import ApprovalClient

    with ApprovalClient(profile="azure") as other:
        assert other.load_policy().approvers == ("dana@contoso.com",)
        assert other.load_policy().forbid_self_approval
    with ApprovalClient() as client:
        policy = client.load_policy()
        assert (policy.approvers, policy.forbid_self_approval, policy.timeout.total_seconds()) == ((me,), False, 3600)
        request = client.request(model(created_by=me), policy=policy, report=PASSED)
        decided = client.approve(request.id, comment="solo project: I checked the report")
    assert decided.decision is not None
    assert decided.decision.approved
    assert f"self-approved by the requester {me}" in decided.decision.reason
    with sqlite3.connect(folder / "mlops.db") as db:
        payloads = [
            row[0] for row in db.execute("SELECT payload FROM approval_audit WHERE request_id = ?", (request.id,))
        ]
    assert any("self-approved by the requester" in payload for payload in payloads)

    (tmp_path / "approvals.toml").write_text('approvers = ["x"]\nminimum = 2\n')
    with ApprovalClient() as client, pytest.raises(ConfigurationError, match=r"minimum: Extra inputs .*; accepted: "):
        client.load_policy()
    # a misspelled key (at the top or in a rule table) names the file and the field meant, never ignored
    (tmp_path / "approvals.toml").write_text(
        'approvers = ["x", "y"]\nmin_approval = 2\n\n[[auto_approve_when]]\nprofile = ["dev"]\n'
    )
    with ApprovalClient() as client, pytest.raises(ConfigurationError) as caught:
        client.load_policy()
    assert str(caught.value) == (
        f"invalid approval policy in {tmp_path / 'approvals.toml'}: "
        "auto_approve_when.0.profile: Extra inputs are not permitted; did you mean `profiles`?; "
        "min_approval: Extra inputs are not permitted; did you mean `min_approvals`?"
    )
    assert caught.value.details["path"] == str(tmp_path / "approvals.toml")
    (tmp_path / "approvals.toml").unlink()
    with ApprovalClient() as client, pytest.raises(ConfigurationError, match="mlops init"):
        client.load_policy()
