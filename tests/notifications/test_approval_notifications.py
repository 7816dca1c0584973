"""Approval notifications delivered to a real HTTP receiver on 127.0.0.1: Slack blocks, Teams cards, the
HMAC-signed generic webhook (verified here with hmac, not with the SDK's helper), bounded retries, and
the CI step summary on GitHub Actions and Azure DevOps."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")

from mlops_sdk.clients.approvals import ApprovalClient
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus, ReportFacts
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.notifications import sign, verify
from mlops_sdk.testing import FakeClock
from mlops_sdk.testing.memory import act_as
from tests.fakes.webhook import WebhookReceiver

SLACK_TOKEN = "Cnryslack7c1e0b9f4d2a48e6b3f5"
TEAMS_TOKEN = "Cnryteams5d8a2c4e6f0b13a7c9e1"
HOOK_TOKEN = "Cnryhook3e9b7d1f5a2c48e0b6d4"
HMAC_SECRET = "Cnryhmac9f2d4b6a8c0e1357"
REVIEW = "https://review.contoso.example/approvals"
PASSED = ReportFacts(passed=True, outcome="promote", digest="sha256:report-n")


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "TF_BUILD", "BUILD_BUILDID", "AGENT_TEMPDIRECTORY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc))


def settings_for(receiver: WebhookReceiver, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "notify_slack": f"{receiver.url}/slack/services/T0001/B0001/{SLACK_TOKEN}",
        "notify_teams": f"{receiver.url}/teams/workflows/{TEAMS_TOKEN}/invoke",
        "notify_webhook": f"{receiver.url}/hook/{HOOK_TOKEN}",
        "notify_webhook_secret": HMAC_SECRET,
        "review_url": REVIEW,
        "show_progress": False,
    }
    values.update(extra)
    return values


def model() -> ModelVersion:
    return ModelVersion(name="churn", version="3", uri="models:/churn/3", created_by="carol")


POLICY = ApprovalPolicy(approvers=["alice", "bob"], timeout=timedelta(hours=4))


def independent_signature_ok(delivery: Any) -> bool:
    timestamp = delivery.headers["x-mlops-timestamp"]
    expected = hmac.new(HMAC_SECRET.encode(), timestamp.encode() + b"." + delivery.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(delivery.headers["x-mlops-signature"], f"sha256={expected}")


def test_request_vote_and_decision_reach_every_channel(receiver: WebhookReceiver, clock: FakeClock) -> None:
    with ApprovalClient("memory://", clock=clock, settings=settings_for(receiver)) as client:
        request = client.request(model(), policy=POLICY, report=PASSED, reason="weekly retrain: AUC 0.91 -> 0.93")
        with act_as(client, "alice"):
            decided = client.approve("churn@3", comment="metrics hold")
        decision = client.begin_wait(request.id, show_progress=False).result()
    assert decided.status is ApprovalStatus.APPROVED
    assert decision.status == "approved"
    link = f"{REVIEW}/requests/{request.id}"

    slack = receiver.to("/slack/")
    assert [item.json["blocks"][0]["text"]["text"] for item in slack] == [
        "Approval requested: churn@3",
        "alice approved churn@3",
        "churn@3 approved",
    ]
    fields = [
        field["text"] for block in slack[0].json["blocks"] if block["type"] == "section" for field in block["fields"]
    ]
    assert "*Reason*\nweekly retrain: AUC 0.91 -&gt; 0.93" in fields
    assert "*Requested by*\ncarol" in fields
    assert slack[0].json["blocks"][-1]["elements"][0]["url"] == link
    assert slack[1].json["text"] == "alice approved churn@3"

    teams = receiver.to("/teams/")
    assert len(teams) == 3
    card = teams[0].json["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {fact["title"]: fact["value"] for fact in card["content"]["body"][1]["facts"]}
    assert facts["Reason"] == "weekly retrain: AUC 0.91 -> 0.93"
    assert facts["Policy"].startswith("1 approval(s) from alice, bob; the requester may not approve")
    assert card["content"]["actions"] == [{"type": "Action.OpenUrl", "title": "Review the request", "url": link}]

    hooks = receiver.to("/hook/")
    assert [item.json["event"] for item in hooks] == ["approval.requested", "approval.voted", "approval.decided"]
    assert [item.headers["x-mlops-event"] for item in hooks] == [item.json["event"] for item in hooks]
    assert all(independent_signature_ok(item) for item in hooks)
    assert hooks[0].json["request"]["reason"] == "weekly retrain: AUC 0.91 -> 0.93"
    assert hooks[1].json["vote"] == {"approver": "alice", "decision": "approve", "comment": "metrics hold"}
    assert hooks[2].json["decision"] == "approved by alice (1 of 1 needed)"
    assert hooks[2].json["review_url"] == link
    assert hooks[2].headers["x-mlops-event-id"] == hooks[2].json["event_id"]


def test_a_tampered_or_replayed_webhook_fails_verification() -> None:
    body = json.dumps({"event": "approval.requested"}).encode()
    now = int(time.time())
    signature = sign(HMAC_SECRET, now, body)
    assert verify(HMAC_SECRET, timestamp=str(now), signature=signature, body=body, now=now)
    assert not verify(HMAC_SECRET, timestamp=str(now), signature=signature, body=body + b" ", now=now)
    assert not verify("another-secret", timestamp=str(now), signature=signature, body=body, now=now)
    old = now - 3600
    replayed = sign(HMAC_SECRET, old, body)
    assert not verify(HMAC_SECRET, timestamp=str(old), signature=replayed, body=body, now=now)


def test_messagecard_for_legacy_teams_connectors(receiver: WebhookReceiver, clock: FakeClock) -> None:
    settings = {"notify_teams": f"{receiver.url}/teams/{TEAMS_TOKEN}", "notify_teams_card": "messagecard"}
    with ApprovalClient("memory://", clock=clock, settings=settings) as client:
        client.request(model(), policy=POLICY, report=PASSED, reason="hotfix")
    (delivery,) = receiver.deliveries
    card = delivery.json
    assert (card["@type"], card["title"]) == ("MessageCard", "Approval requested: churn@3")
    assert {"name": "Reason", "value": "hotfix"} in card["sections"][0]["facts"]
    assert "potentialAction" not in card  # no review_url, no CI run: no link


def test_a_failing_receiver_never_fails_the_approval_and_is_retried_a_bounded_number_of_times(
    receiver: WebhookReceiver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answer(*([503] * 10))
    settings = {"notify_slack": f"{receiver.url}/slack/services/T0001/B0001/{SLACK_TOKEN}"}
    with caplog.at_level(logging.DEBUG), ApprovalClient("memory://", clock=clock, settings=settings) as client:
        request = client.request(model(), policy=POLICY, report=PASSED)
    assert request.status is ApprovalStatus.PENDING
    assert len(receiver.deliveries) == 3
    assert clock.sleeps[:2] == [1.0, 2.0]
    (warning,) = [record for record in caplog.records if "not delivered" in record.getMessage()]
    assert (
        warning.getMessage()
        == f"approval notification to slack for {request.id} not delivered after 3 attempt(s): HTTP 503"
    )
    leaked = [record.getMessage() for record in caplog.records if SLACK_TOKEN in record.getMessage()]
    leaked += [record.getMessage() for record in caplog.records if "/slack/" in record.getMessage()]
    assert leaked == []


def test_a_refused_notification_is_not_retried_and_an_unreachable_one_is(
    receiver: WebhookReceiver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answer(400)
    closed = WebhookReceiver().start()
    dead_url = f"{closed.url}/hook/{HOOK_TOKEN}"
    closed.stop()  # nothing listens there any more
    settings = {
        "notify_slack": f"{receiver.url}/slack/{SLACK_TOKEN}",
        "notify_webhook": dead_url,
        "notify_webhook_secret": HMAC_SECRET,
    }
    with caplog.at_level(logging.WARNING), ApprovalClient("memory://", clock=clock, settings=settings) as client:
        client.request(model(), policy=POLICY, report=PASSED)
    assert len(receiver.deliveries) == 1
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.endswith("not delivered after 1 attempt(s): HTTP 400") for message in messages)
    assert any("to webhook" in message and "after 3 attempt(s): ConnectError" in message for message in messages)
    assert not any(HOOK_TOKEN in message or SLACK_TOKEN in message or "127.0.0.1" in message for message in messages)


def test_github_step_summary_carries_the_summary_and_link(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with ApprovalClient("memory://", clock=clock, settings={"review_url": REVIEW}) as client:
        request = client.request(model(), policy=POLICY, report=PASSED, reason="weekly [retrain]")
        with act_as(client, "bob"):
            client.reject(request.id, comment="drift on segment B")
    text = summary.read_text(encoding="utf-8")
    assert "### Approval requested: churn@3" in text
    assert "- **Reason:** weekly \\[retrain\\]" in text
    assert f"[Review the request]({REVIEW}/requests/{request.id})" in text
    assert "### bob rejected churn@3" in text
    assert "### churn@3 rejected" in text
    assert "- **Decision:** rejected by bob" in text


def test_azure_devops_summary_is_uploaded_with_the_same_markdown(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_BUILD", "True")
    monkeypatch.setenv("AGENT_TEMPDIRECTORY", str(tmp_path))
    out = io.StringIO()
    with redirect_stdout(out), ApprovalClient("memory://", clock=clock, settings={"review_url": REVIEW}) as client:
        request = client.request(model(), policy=POLICY, report=PASSED, reason="weekly retrain")
    (line,) = out.getvalue().splitlines()
    assert line.startswith("##vso[task.uploadsummary]")
    uploaded = Path(line.removeprefix("##vso[task.uploadsummary]")).read_text(encoding="utf-8")
    assert uploaded.startswith("### Approval requested: churn@3")
    assert f"[Review the request]({REVIEW}/requests/{request.id})" in uploaded


def test_ci_summary_can_be_turned_off(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with ApprovalClient("memory://", clock=clock, settings={"ci_summary": False}) as client:
        client.request(model(), policy=POLICY, report=PASSED)
    assert not summary.exists()


def test_a_rerun_attaching_to_its_request_does_not_announce_it_again(
    receiver: WebhookReceiver, clock: FakeClock
) -> None:
    settings = {"notify_slack": f"{receiver.url}/slack/{SLACK_TOKEN}"}
    with ApprovalClient("memory://", clock=clock, settings=settings) as client:
        first = client.request(model(), policy=POLICY, report=PASSED, idempotency_key="flow-7/approve")
        clock.advance(60)
        again = client.request(model(), policy=POLICY, report=PASSED, idempotency_key="flow-7/approve")
    assert again.id == first.id
    assert [item.json["text"] for item in receiver.deliveries] == ["Approval requested: churn@3"]


def test_a_long_reason_is_cut_below_slacks_field_limit(receiver: WebhookReceiver, clock: FakeClock) -> None:
    settings = {"notify_slack": f"{receiver.url}/slack/{SLACK_TOKEN}"}
    with ApprovalClient("memory://", clock=clock, settings=settings) as client:
        client.request(model(), policy=POLICY, report=PASSED, reason="x" * 3000)
    (delivery,) = receiver.deliveries
    texts = [
        field["text"] for block in delivery.json["blocks"] if block["type"] == "section" for field in block["fields"]
    ]
    (reason,) = [text for text in texts if text.startswith("*Reason*")]
    assert len(reason) <= 2000
    assert reason.endswith("x…")
