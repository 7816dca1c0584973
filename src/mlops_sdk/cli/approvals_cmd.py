"""``mlops approvals list / show / approve / reject / verify / serve / invite``."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from mlops_sdk.cli.output import EXIT_ERROR, EXIT_OK, as_flags, state

if TYPE_CHECKING:
    from mlops_sdk.clients.approvals import ApprovalClient
    from mlops_sdk.models.approvals import ApprovalRequest

app = typer.Typer(help="Approval gates: list, inspect, approve, reject, verify the audit trail.")


def _client() -> ApprovalClient:
    from mlops_sdk.clients.approvals import ApprovalClient

    return ApprovalClient(state.target, profile=state.profile, config_file=state.config_file)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _render_request(request: ApprovalRequest) -> None:
    from rich.markup import escape

    console = state.console()
    policy = request.policy
    console.print(f"[bold]{escape(request.id)}[/]  {escape(request.model_ref)}  [bold]{request.status.value}[/]")
    console.print(
        f"  requested by {escape(str(request.requester))} at {_when(request.created_at)}"
        f"{'  - ' + escape(request.reason) if request.reason else ''}"
    )
    state.line(f"  deadline     {_when(request.deadline)}")
    if request.report is not None:
        console.print(f"  validation   {request.report.outcome} (digest {escape(request.report.digest)})")
    # Escape the whole line: the brackets around the lists are text, not rich markup.
    console.print(
        escape(
            f"  policy       {policy.min_approvals} of users [{', '.join(policy.approvers) or '-'}] "
            f"groups [{', '.join(policy.approver_groups) or '-'}], self-approval "
            f"{'forbidden' if policy.forbid_self_approval else 'allowed'}, delegation "
            f"{'allowed' if policy.allow_delegation else 'refused'} (policy {policy.digest})"
        )
    )
    for vote in request.votes:
        by = f" (recorded by {escape(str(vote.delegated_by))})" if vote.delegated_by else ""
        console.print(
            f"  {_when(vote.at)}  {vote.decision:7}  {escape(str(vote.approver))}{by}: {escape(vote.comment or '')}"
        )
    if request.decision is not None:
        console.print(f"  decision     [bold]{request.decision.status}[/]: {escape(request.decision.reason)}")
        for who, why in request.decision.ignored:
            console.print(f"  not counted  {escape(who)}: {escape(why)}")
    for key, value in sorted(request.external.items()):
        console.print(f"  {key:12} {escape(value)}")


class ListedStatus(str, Enum):
    """What ``mlops approvals list --status`` accepts (an approval status, or ``all``)."""

    PENDING = "pending"
    APPROVED = "approved"
    AUTO_APPROVED = "auto_approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"
    ALL = "all"


def list_(
    status: Annotated[
        ListedStatus,
        typer.Option(help="pending, approved, auto_approved, rejected, timed_out, canceled or all."),
    ] = ListedStatus.PENDING,
    model: Annotated[Optional[str], typer.Option(help="Only this model: name@version, name:alias or name.")] = None,  # noqa: UP045
) -> None:
    """List approval requests (pending ones by default)."""
    with _client() as client:
        requests = client.list_requests(status.value, model=model)
    if state.json:
        state.emit(requests)
        return
    rows = [
        (
            r.id,
            r.model_ref,
            r.status.value,
            r.requester or "-",
            _when(r.created_at),
            _when(r.deadline),
            f"{len({v.approver.name for v in r.votes if v.decision == 'approve'})}/{r.policy.min_approvals}",
            _short(r.reason),
        )
        for r in requests
    ]
    columns = ["id", "model", "status", "requester", "requested", "deadline", "approvals", "reason"]
    state.table("approval requests", columns, rows)


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def show(request_id: Annotated[str, typer.Argument(help="The approval request id.")]) -> None:
    """Show one request: policy, votes (who, when, comment) and the decision."""
    with _client() as client:
        request = client.get(request_id)
    state.emit(request, _render_request)


def _vote(request_id: str, decision: str, comment: str, on_behalf_of: str | None) -> None:
    with as_flags(comment="--comment", on_behalf_of="--on-behalf-of", request_id="REQUEST_ID"), _client() as client:
        method = client.approve if decision == "approve" else client.reject
        request = method(request_id, comment=comment, on_behalf_of=on_behalf_of)
    state.emit(request, _render_request)


def approve(
    request_id: Annotated[
        str, typer.Argument(help="The request id, or a model (name@3, name:alias) with exactly one pending request.")
    ],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why you approve (kept in the audit trail).")],
    on_behalf_of: Annotated[
        Optional[str], typer.Option(help="Record the approval for another identity (policy must allow delegation).")  # noqa: UP045
    ] = None,
) -> None:
    """Approve a request as your identity (OS user locally, your Azure DevOps user on Azure)."""
    _vote(request_id, "approve", comment, on_behalf_of)


def reject(
    request_id: Annotated[
        str, typer.Argument(help="The request id, or a model (name@3, name:alias) with exactly one pending request.")
    ],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why you reject (kept in the audit trail).")],
    on_behalf_of: Annotated[
        Optional[str], typer.Option(help="Record the rejection for another identity (policy must allow delegation).")  # noqa: UP045
    ] = None,
) -> None:
    """Reject a request; one counted rejection decides it."""
    _vote(request_id, "reject", comment, on_behalf_of)


def verify() -> None:
    """Check the audit trail: exit 0 when intact, 1 when an entry was edited, deleted or reordered."""
    with _client() as client:
        result = client.verify_audit()
    if state.json:
        state.emit(result)
    else:
        from rich.markup import escape

        console = state.console()
        if result.ok:
            console.print(f"[green]ok[/]  {result.entries} audit entries intact; head {escape(result.head or '-')}")
        else:
            console.print(f"[red]TAMPERED[/]  {len(result.problems)} problem(s) in {result.entries} entries:")
            for problem in result.problems:
                console.print(f"  - {escape(problem)}")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_ERROR)


DEFAULT_PORT = 8765
"""Port of ``mlops approvals serve`` unless ``--port`` says otherwise."""


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs --tls-cert/--tls-key.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).", min=0, max=65535)] = DEFAULT_PORT,
    tls_cert: Annotated[Optional[Path], typer.Option(help="PEM certificate (chain) for HTTPS.")] = None,  # noqa: UP045
    tls_key: Annotated[Optional[Path], typer.Option(help="PEM private key of the certificate.")] = None,  # noqa: UP045
) -> None:
    """Serve the review page of a local store (pending requests, evidence, Approve / Reject); Ctrl-C stops it."""
    from mlops_sdk.approvals_web.server import check_binding

    binding = check_binding(host, port, tls_cert, tls_key)
    import uvicorn

    from mlops_sdk.approvals_web.app import create_app
    from mlops_sdk.approvals_web.server import uvicorn_config
    from mlops_sdk.approvals_web.site import ReviewSite
    from mlops_sdk.clients.hub import MLOpsClient

    with MLOpsClient(state.target, profile=state.profile, config_file=state.config_file) as client:
        site = ReviewSite.open(client, tls=binding.tls)
        state.emit(
            {"url": binding.url, "store": str(client.target)},
            lambda _: state.line(
                f"review page on {binding.url} (store {client.target}); "
                f"invite approvers with: mlops approvals invite REQUEST --to EMAIL --url {binding.url}"
            ),
        )
        sys.stdout.flush()
        uvicorn.Server(uvicorn_config(create_app(site), binding)).run()


def invite(
    request_id: Annotated[str, typer.Argument(help="The approval request id (or a unique prefix).")],
    to: Annotated[str, typer.Option("--to", help="The approver (an identity the request's policy lists).")],
    expires: Annotated[str, typer.Option(help="How long the link works: 30m, 24h, 7d (at most 30d).")] = "24h",
    url: Annotated[str, typer.Option(help="Where the review page is served (mlops approvals serve prints it).")] = (
        f"http://127.0.0.1:{DEFAULT_PORT}"
    ),
) -> None:
    """Print a single-use, expiring review link for one approver (send it to them privately)."""
    from mlops_sdk.approvals_web.invites import parse_ttl
    from mlops_sdk.approvals_web.site import ReviewSite
    from mlops_sdk.backends.local.approvals.identity import os_identity
    from mlops_sdk.clients.hub import MLOpsClient

    ttl = parse_ttl(expires)
    with MLOpsClient(state.target, profile=state.profile, config_file=state.config_file) as client:
        site = ReviewSite.open(client)
        request = client.approvals.get(request_id)
        issued = site.invites.issue(request, to, ttl=ttl, issued_by=os_identity().name)
    link = issued.url(url)

    def render(_: Any) -> None:
        state.line(
            f"review link for {issued.identity} on {request.model_ref}, valid once until "
            f"{issued.expires_at:%Y-%m-%d %H:%M} UTC (send it privately):"
        )
        state.line(link)

    state.emit(
        {"request_id": issued.request_id, "to": issued.identity, "expires_at": issued.expires_at, "url": link}, render
    )


app.command("list")(list_)
app.command("show")(show)
app.command("approve")(approve)
app.command("reject")(reject)
app.command("verify")(verify)
app.command("serve")(serve)
app.command("invite")(invite)
