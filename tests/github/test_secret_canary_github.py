"""The secret canary for GitHub approvals and notifications: the GitHub token and every webhook's path
token (plus the HMAC key) are unique values; requests, votes, refusals, failed deliveries, a refused
token, the CLI (``approvals list/show/approve``, ``config show``) and the CI step summary all run; then
every log record at DEBUG (message and traceback), every captured stdout/stderr byte, every exception
and every file under the test folder is searched for them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")

from mlops_sdk.cli.main import run as cli
from mlops_sdk.clients.approvals import ApprovalClient
from mlops_sdk.core.errors import MlopsError
from mlops_sdk.models.approvals import ApprovalPolicy, ReportFacts
from mlops_sdk.models.registry import ModelVersion
from tests.fakes.github import OWNER, REPO, FakeGitHub
from tests.fakes.server import FakeService
from tests.fakes.webhook import WebhookReceiver

RUN = 777
PASSED = ReportFacts(passed=True, outcome="promote", digest="sha256:canary-report")


def _canary(label: str) -> str:
    return f"Cnry{label}{uuid.uuid4().hex}"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def github(tls_ca: Any) -> Iterator[FakeGitHub]:
    service = FakeService(tls_ca).start()
    fake = FakeGitHub(service)
    fake.add_environment("production", ["alice"])
    yield fake
    service.stop()


def test_tokens_and_webhook_urls_never_leak(
    github: FakeGitHub,
    receiver: WebhookReceiver,
    ca_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    canaries = {
        "github token": _canary("ghtoken"),
        "carol token": _canary("ghcarol"),
        "slack path": _canary("slack"),
        "teams path": _canary("teams"),
        "webhook path": _canary("hook"),
        "hmac key": _canary("hmac"),
    }
    github.add_user(canaries["github token"], "alice")
    github.add_user(canaries["carol token"], "carol")
    github.wait_on(RUN, "production")
    project = tmp_path / "project"
    monkeypatch.chdir(tmp_path)
    env = {
        "MLOPS_TARGET": "memory://",
        "MLOPS_APPROVALS_PROVIDER": "github",
        "MLOPS_GITHUB_REPOSITORY": f"{OWNER}/{REPO}",
        "MLOPS_GITHUB_API_URL": github.api_url,
        "MLOPS_GITHUB_ENVIRONMENT": "production",
        "MLOPS_GITHUB_RUN_ID": str(RUN),
        "MLOPS_APPROVAL_RECORDS": str(project / "records"),
        "MLOPS_CA_BUNDLE": str(ca_bundle),
        "MLOPS_SHOW_PROGRESS": "false",
        "MLOPS_NOTIFY_SLACK": f"{receiver.url}/services/T0001/B0001/{canaries['slack path']}",
        "MLOPS_NOTIFY_TEAMS": f"{receiver.url}/workflows/{canaries['teams path']}/invoke?sig={canaries['teams path']}",
        "MLOPS_NOTIFY_WEBHOOK": f"{receiver.url}/hook/{canaries['webhook path']}",
        "MLOPS_NOTIFY_WEBHOOK_SECRET": canaries["hmac key"],
        "MLOPS_REVIEW_URL": "https://review.contoso.example",
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(project / "summary.md"),
        "GITHUB_OUTPUT": str(project / "outputs.txt"),
    }
    project.mkdir()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    errors: list[MlopsError] = []
    receiver.answer(500, 500, 500)  # the first delivery fails three times: its warnings are searched too
    policy = ApprovalPolicy(approvers=["alice"], timeout=timedelta(hours=2))
    model = ModelVersion(name="churn", version="7", uri="models:/churn/7", created_by="carol")

    with caplog.at_level(logging.DEBUG):
        monkeypatch.setenv("MLOPS_GITHUB_TOKEN", canaries["carol token"])
        with ApprovalClient() as carol:
            request = carol.request(model, policy=policy, report=PASSED, reason="canary run")
            try:
                carol.approve(request.id, comment="self")
            except MlopsError as error:
                errors.append(error)
        assert cli(["approvals", "list"]) == 0
        assert cli(["-o", "json", "approvals", "show", request.id]) == 0
        assert cli(["config", "show"]) == 0
        monkeypatch.setenv("MLOPS_GITHUB_TOKEN", "ghp_" + _canary("wrong"))
        assert cli(["approvals", "show", request.id]) == 1
        monkeypatch.setenv("MLOPS_GITHUB_TOKEN", canaries["github token"])
        assert cli(["approvals", "approve", "churn@7", "-m", "ship it"]) == 0
        with ApprovalClient() as alice:
            decision = alice.begin_wait(request.id, show_progress=False).result()
            shown = [repr(decision), decision.model_dump_json(), repr(alice.get(request.id))]
    assert decision.status == "approved"
    assert len(errors) == 1
    assert receiver.to("/hook/")  # notifications were delivered (so the URLs were really used)

    out, err = capfd.readouterr()
    haystacks = {"stdout": out, "stderr": err, "returned models": "\n".join(shown)}
    for index, record in enumerate(caplog.records):
        haystacks[f"log record {index} ({record.name})"] = record.getMessage() + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
    for index, error in enumerate(errors):
        haystacks[f"error {index}"] = f"{error}\n{error!r}\n{error.to_dict()}"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            haystacks[f"file {path.relative_to(tmp_path)}"] = path.read_bytes().decode("utf-8", "replace")
    assert (project / "summary.md").read_text(encoding="utf-8").count("### ") >= 3
    leaks = [
        f"{label} in {where}"
        for label, canary in canaries.items()
        for where, text in haystacks.items()
        if canary in text
    ]
    assert leaks == []
