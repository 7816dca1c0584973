"""Server-rendered HTML of the review page: the pending list, one request, and refusals.

Plain HTML forms and inline SVG (the validation report's own renderer): nothing needs JavaScript,
and the Content-Security-Policy forbids every script. Every value shown goes through ``escape``
and :func:`~mlops_sdk.core.redaction.redact`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlops_sdk.core.redaction import redact

if TYPE_CHECKING:
    from mlops_sdk.approvals_web.invites import OpenableLink, ReviewSession
    from mlops_sdk.backends.local.approvals.audit import AuditEntry
    from mlops_sdk.core.lineage import Lineage
    from mlops_sdk.models.approvals import ApprovalRequest, PlannedRollout, Tally

__all__ = ["CSS", "RequestView", "error_page", "list_page", "open_page", "request_page"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;margin:0;background:#fafbfc}
header{background:#24364b;color:#fff;padding:10px 24px;display:flex;justify-content:space-between;font-size:14px}
header a{color:#fff}main{max-width:1000px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:22px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border:1px solid #ddd;padding:5px 8px;
text-align:left;font-size:13px;vertical-align:top}th{background:#f1f3f6;width:200px}
.status{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-size:13px;background:#666}
.status.pending{background:#e9a23b}.status.approved,.status.auto_approved{background:#2a9d8f}
.status.rejected,.status.timed_out,.status.canceled{background:#d1495b}
.note{padding:10px 14px;border-radius:6px;margin:12px 0;background:#eef4fb;border:1px solid #c9dcef}
.note.bad{background:#fdf0f1;border-color:#f0c2c8}.note.good{background:#eaf7f4;border-color:#b9e3da}
form.vote{background:#fff;border:1px solid #ccd;border-radius:6px;padding:14px;margin:12px 0}
form.vote textarea{width:100%;min-height:70px;font:inherit;box-sizing:border-box}
form.vote button{font-size:15px;padding:6px 18px;margin:8px 8px 0 0;border-radius:4px;border:1px solid #888}
button.approve{background:#2a9d8f;color:#fff}button.reject{background:#d1495b;color:#fff}
.muted{color:#666;font-size:12px}code{font-size:12px}
#lineage{table-layout:fixed}#lineage td,#audit td{overflow-wrap:anywhere}
"""


@dataclass(frozen=True)
class RequestView:
    """Everything one request page shows, gathered by the app."""

    request: ApprovalRequest
    tally: Tally
    now: datetime
    report_html: str | None
    report_missing: str | None
    model_lineage: Lineage | None
    report_lineage: Lineage | None
    data_versions: dict[str, str]
    audit: Sequence[AuditEntry]


def _text(value: Any) -> str:
    return escape(redact("-" if value is None or value == "" else str(value)))


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(key)}</th><td>{value}</td></tr>" for key, value in pairs)


def _page(title: str, body: str, session: ReviewSession | None) -> str:
    who = (
        f"signed in as <b>{_text(session.identity)}</b> · link valid until {_when(session.expires_at)}"
        if session is not None
        else "not signed in"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/review.css"></head><body>'
        f'<header><a href="/">mlops approvals · review</a><span>{who}</span></header>'
        f"<main>{body}</main></body></html>"
    )


def error_page(title: str, message: str, session: ReviewSession | None = None) -> str:
    """A refusal: what happened and what to do."""
    return _page(title, f'<h1>{escape(title)}</h1><div class="note bad" id="refusal">{_text(message)}</div>', session)


def open_page(link: OpenableLink) -> str:
    """What a link opens, with the button that uses it (fetching a link never spends it)."""
    request = link.request
    body = (
        f"<h1>Review {_text(request.model_ref)}</h1>"
        f'<p class="note" id="opening">This link opens the review of <b>{_text(request.model_ref)}</b> '
        f"(requested by {_text(request.requester)}: {_text(request.reason or 'no reason given')}) "
        f"as <b>{_text(link.identity)}</b>. It opens once, in this browser, until {_when(link.expires_at)}.</p>"
        # No action: the form posts back to the link's own address, so the page never repeats the token.
        '<form class="vote" method="post"><button type="submit" class="approve" id="open">Open the review</button>'
        '<p class="muted">Following the link only shows this page: a link preview or a mail scanner that fetches '
        "it does not use it up.</p></form>"
    )
    return _page(f"Review {request.model_ref}", body, None)


def list_page(requests: Sequence[ApprovalRequest], session: ReviewSession) -> str:
    """The pending requests the session's identity may vote on, newest first."""
    rows = "".join(
        f'<tr><td><a href="/requests/{quote(r.id)}">{_text(r.model_ref)}</a>'
        f"{' <b>(your link)</b>' if r.id == session.request_id else ''}</td>"
        f"<td>{_text(r.requester)}</td><td>{_text(r.reason)}</td><td>{_when(r.created_at)}</td>"
        f"<td>{_when(r.deadline)}</td><td>{_text(r.report.outcome if r.report else 'no report')}</td>"
        f"<td>{len({v.approver.name.casefold() for v in r.votes if v.decision == 'approve'})}"
        f" / {r.policy.min_approvals}</td></tr>"
        for r in requests
    )
    table = (
        '<table id="pending"><tr><th>model</th><th>requested by</th><th>reason</th><th>requested</th>'
        f"<th>deadline</th><th>validation</th><th>approvals</th></tr>{rows}</table>"
        if requests
        else '<p class="note">No request is waiting for approval.</p>'
    )
    return _page("Pending approvals", f"<h1>Pending approval requests for you</h1>{table}", session)


def _policy(view: RequestView) -> str:
    request, tally, policy = view.request, view.tally, view.request.policy
    counted = len(tally.approvers)
    needed = max(policy.min_approvals - counted, 0)
    voted = {v.approver.name.casefold() for v in request.votes} | {
        (v.approver.email or "").casefold() for v in request.votes
    }
    barred = {request.requester.casefold()} if policy.forbid_self_approval and request.requester else set()
    waiting_on = [name for name in policy.approvers if name.casefold() not in voted | barred]
    if request.is_pending:
        missing = f"<b>{needed} more approval(s)</b> from {_text(', '.join(waiting_on) or 'a listed approver')}" + (
            f" or members of {_text(', '.join(policy.approver_groups))}" if policy.approver_groups else ""
        )
    else:
        missing = f"nothing: the request is {escape(request.status.value)}"
    rows = [
        ("who may approve", _text(", ".join(policy.approvers) or "-")),
        ("groups", _text(", ".join(policy.approver_groups) or "-")),
        ("approvals needed", f"{policy.min_approvals} distinct approver(s)"),
        ("counted so far", f"{counted}: {_text(', '.join(tally.approvers) or 'none')}"),
        ("still missing", missing),
        (
            "self-approval",
            f"forbidden: the requester {_text(request.requester)} may not approve"
            if policy.forbid_self_approval
            else "allowed by the policy (recorded as such)",
        ),
        ("delegation", "allowed" if policy.allow_delegation else "refused"),
        ("deadline", _when(request.deadline)),
        ("policy digest", f"<code>{escape(policy.digest)}</code>"),
    ]
    rows += [(f"not counted: {who}", _text(why)) for who, why in tally.ignored]
    return f'<h2>Policy</h2><table id="policy">{_rows(rows)}</table>'


def _rollout(plan: PlannedRollout | None) -> str:
    if plan is None:
        return (
            '<h2>Planned rollout</h2><p class="note" id="rollout">The requester did not describe the rollout '
            "(<code>client.approvals.request(..., rollout=PlannedRollout.of(endpoint, strategy))</code>).</p>"
        )
    rollback = (
        f"on a failed step or smoke test, back to {_text(plan.rollback_to or 'the traffic split before the rollout')}"
        if plan.rollback_on_failure
        else "none: a failed step is left as it is"
    )
    rows = [
        ("endpoint", _text(plan.endpoint)),
        ("strategy", _text(plan.strategy)),
        ("traffic steps", _text(" → ".join(f"{step} %" for step in plan.steps) or "-")),
        ("bake time per step", "-" if plan.bake_time is None else f"{plan.bake_time:g} s"),
        ("mirrored traffic", "-" if plan.mirror_percent is None else f"{plan.mirror_percent} %"),
        ("smoke test", _text(plan.smoke_test or "none")),
        ("rollback", rollback),
    ]
    return f'<h2>Planned rollout</h2><table id="rollout">{_rows(rows)}</table>'


_LINEAGE = (
    ("git_commit", "commit"),
    ("git_dirty", "uncommitted changes"),
    ("git_branch", "branch"),
    ("git_remote", "repository"),
    ("ci_provider", "CI"),
    ("ci_build_id", "build"),
    ("ci_build_url", "build URL"),
    ("ci_pipeline", "pipeline"),
    ("training_run_id", "training run"),
    ("refresh_run_id", "data refresh run"),
    ("validation_digest", "validation report"),
    ("flow_run_id", "flow run"),
    ("user", "by"),
)


def _yes_no(value: Any) -> Any:
    return ("yes" if value else "no") if isinstance(value, bool) else value


def _lineage(view: RequestView) -> str:
    sources = [
        ("model (registry)", view.model_lineage),
        ("validation", view.report_lineage),
        ("approval request", view.request.lineage),
    ]
    columns = [(label, lineage.model_dump()) for label, lineage in sources if lineage is not None]
    head = "".join(f"<th>{escape(label)}</th>" for label, _ in columns)
    rows = []
    for name, label in _LINEAGE:
        values = [data.get(name) for _, data in columns]
        if all(value in (None, "") for value in values):
            continue
        cells = "".join(f"<td>{_text(_yes_no(value))}</td>" for value in values)
        rows.append(f"<tr><th>{escape(label)}</th>{cells}</tr>")
    versions: dict[str, str] = {}
    for _, data in columns:
        versions.update(data.get("data_versions") or {})
    versions.update(view.data_versions)
    data_rows = "".join(
        f"<tr><th>data: {_text(name)}</th><td colspan='{len(columns)}'><code>{_text(version)}</code></td></tr>"
        for name, version in sorted(versions.items())
    )
    return f'<h2>Lineage</h2><table id="lineage"><tr><th></th>{head}</tr>{"".join(rows)}{data_rows}</table>'


def _audit_summary(entry: AuditEntry) -> str:
    data = entry.data
    if entry.event == "requested":
        return f"requested by {data.get('requester') or entry.actor}: {data.get('reason') or 'no reason given'}"
    if entry.event in ("voted", "refused"):
        vote = data.get("vote")
        vote = vote if isinstance(vote, dict) else {}
        approver = vote.get("approver")
        approver = approver if isinstance(approver, dict) else {}
        text = f"{vote.get('decision')} by {approver.get('name')}: {vote.get('comment') or ''}"
        return text + (f" — refused: {data.get('why')}" if entry.event == "refused" else "")
    if entry.event == "decided":
        decision = data.get("decision")
        decision = decision if isinstance(decision, dict) else {}
        return f"{data.get('status')}: {decision.get('reason', '')}"
    if entry.event == "invited":
        return f"review link for {data.get('to')}, valid until {str(data.get('expires_at', ''))[:16]}"
    if entry.event == "link_opened":
        return "review link opened"
    if entry.event == "link_refused":
        return f"review link refused ({data.get('why')})"
    if entry.event == "canceled":
        return f"canceled: {data.get('comment') or ''}"
    return entry.event


def _audit(entries: Sequence[AuditEntry]) -> str:
    rows = "".join(
        f"<tr><td>{entry.seq}</td><td>{_text(entry.at[:19])}</td><td>{_text(entry.event)}</td>"
        f"<td>{_text(entry.actor)}</td><td>{_text(_audit_summary(entry))}</td>"
        f"<td><code>{escape(entry.hash[:12])}</code></td></tr>"
        for entry in entries
    )
    return (
        '<h2>Audit trail</h2><table id="audit"><tr><th>#</th><th>at</th><th>event</th><th>who</th><th>what</th>'
        f'<th>hash</th></tr>{rows}</table><p class="muted">Hash-chained; check it with '
        "<code>mlops approvals verify</code>.</p>"
    )


def _vote_form(view: RequestView, session: ReviewSession, csrf: str, error: str | None) -> str:
    request = view.request
    if session.request_id != request.id:
        link = f'<a href="/requests/{quote(session.request_id)}">another request</a>'
        return f'<p class="note">Your link lets you vote on {link}.</p>'
    if session.voted_at is not None:
        return '<p class="note good" id="voted">Your vote on this request is recorded (see the audit trail).</p>'
    if not request.is_pending:
        return f'<p class="note">This request is {escape(request.status.value)}; it takes no more votes.</p>'
    problem = f'<div class="note bad" id="form-error">{_text(error)}</div>' if error else ""
    return (
        f'{problem}<form class="vote" method="post" action="/requests/{quote(request.id)}/vote">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<label for="comment"><b>Your comment</b> (required, kept in the audit trail)</label>'
        '<textarea id="comment" name="comment" required maxlength="2000"></textarea>'
        '<button type="submit" class="approve" name="decision" value="approve">Approve</button>'
        '<button type="submit" class="reject" name="decision" value="reject">Reject</button>'
        f'<p class="muted">You vote as {_text(session.identity)}; one vote per link.</p></form>'
    )


def request_page(
    view: RequestView, session: ReviewSession, csrf: str, *, error: str | None = None, notice: str | None = None
) -> str:
    """One request: what to decide, the evidence, the policy, the plan, the history, and the form."""
    request = view.request
    report = (
        f'<section id="report">{view.report_html}</section>'
        if view.report_html
        else f'<p class="note" id="report">{_text(view.report_missing)}</p>'
    )
    facts = request.report
    verdict = f"{facts.outcome} (digest <code>{_text(facts.digest)}</code>)" if facts else "no report was given"
    summary = _rows(
        [
            ("model", f"<b>{_text(request.model_name)}</b> version <b>{_text(request.model_version)}</b>"),
            ("requested by", f"{_text(request.requester)} at {_when(request.created_at)}"),
            ("reason", _text(request.reason or "none given")),
            ("validation", verdict),
            ("request id", f"<code>{_text(request.id)}</code>"),
        ]
    )
    body = (
        f"<h1>Approve {_text(request.model_ref)}? "
        f'<span class="status {escape(request.status.value)}" id="status">{escape(request.status.value)}</span></h1>'
        + (f'<div class="note good" id="notice">{_text(notice)}</div>' if notice else "")
        + f'<table id="summary">{summary}</table>'
        + _vote_form(view, session, csrf, error)
        + _policy(view)
        + _rollout(request.rollout)
        + _lineage(view)
        + "<h2>Validation report</h2>"
        + report
        + _audit(view.audit)
    )
    return _page(f"Approve {request.model_ref}?", body, session)
