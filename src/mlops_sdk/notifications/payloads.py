"""The JSON each channel receives for an :class:`~mlops_sdk.notifications.events.ApprovalEvent`."""

from __future__ import annotations

from typing import Any

from mlops_sdk.notifications.events import ApprovalEvent

__all__ = ["generic", "slack", "teams_adaptive", "teams_messagecard"]

_COLORS = {"pending": "0076D7", "approved": "2EB886", "auto_approved": "2EB886", "rejected": "D40E0D"}


def teams_adaptive(event: ApprovalEvent) -> dict[str, Any]:
    """A Teams message carrying an Adaptive Card 1.4 (Teams *Workflows* incoming webhooks)."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": event.title, "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in event.facts()]},
        ],
    }
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in event.links()]
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def teams_messagecard(event: ApprovalEvent) -> dict[str, Any]:
    """A legacy Office 365 connector MessageCard."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": event.title,
        "themeColor": _COLORS.get(event.status, "767676"),
        "title": event.title,
        "sections": [{"facts": [{"name": name, "value": value} for name, value in event.facts()]}],
    }
    actions = [
        {"@type": "OpenUri", "name": label, "targets": [{"os": "default", "uri": url}]} for label, url in event.links()
    ]
    if actions:
        card["potentialAction"] = actions
    return card


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: ApprovalEvent) -> dict[str, Any]:
    """A Slack incoming-webhook message with Block Kit blocks (``text`` is the notification fallback)."""
    # Slack refuses a field over 2,000 characters: a long reason or comment is cut, not the message lost.
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(_cut(value, 1900))}"} for name, value in event.facts()
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": event.title[:150]}},
        # A section holds at most 10 fields.
        *({"type": "section", "fields": fields[start : start + 10]} for start in range(0, len(fields), 10)),
    ]
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url} for label, url in event.links()
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": _slack_escape(event.title), "blocks": blocks}


def generic(event: ApprovalEvent) -> dict[str, Any]:
    """The generic webhook's document: the event's facts as fields."""
    return {
        "event": f"approval.{event.kind}",
        "event_id": event.event_id,
        "at": event.at.isoformat(),
        "request": {
            "id": event.request_id,
            "model": event.model_ref,
            "status": event.status,
            "requester": event.requester,
            "reason": event.reason,
            "policy": event.policy,
            "validation": event.validation,
        },
        "vote": (
            {"approver": event.vote[0], "decision": event.vote[1], "comment": event.vote[2]} if event.vote else None
        ),
        "decision": event.decision,
        "summary": event.text(),
        "review_url": event.review_url,
        "run_url": event.run_url,
    }
