"""The starlette app of the review page.

Routes: ``GET /invite/{token}`` shows what a link opens, ``POST /invite/{token}`` (its button)
trades the link for a session cookie and redirects to the request;
``GET /`` lists pending requests; ``GET /requests/{id}`` shows one; ``POST /requests/{id}/vote``
casts the session's one vote through :class:`~mlops_sdk.clients.approvals.ApprovalClient` (the
same policy, refusals and audit log as ``mlops approvals approve``), as the identity the link was
issued to. Every answer carries a strict Content-Security-Policy (no script at all), refuses
framing and caching, and sends a referrer only to itself (a link's token must not leak).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from mlops_sdk.approvals_web import pages
from mlops_sdk.approvals_web.invites import ReviewSession
from mlops_sdk.approvals_web.site import ReviewSite
from mlops_sdk.backends.local.approvals.identity import acting_as
from mlops_sdk.core.errors import (
    ConfigurationError,
    ConflictError,
    MlopsError,
    PermissionDeniedError,
    ResourceNotFoundError,
)
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import redact

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COOKIE", "SECURITY_HEADERS", "create_app"]

COOKIE = "mlops_review"
_MAX_FORM = 16 * 1024
_STATUS: tuple[tuple[type[MlopsError], int], ...] = (
    (ConfigurationError, 400),
    (PermissionDeniedError, 403),
    (ResourceNotFoundError, 404),
    (ConflictError, 409),
)
_log = get_logger(__name__)

SECURITY_HEADERS = {
    # The report's inline <style> and SVG style attributes need inline styles; scripts are all refused.
    "content-security-policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "referrer-policy": "same-origin",  # no-referrer would make Chromium send "Origin: null" on our own form
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}
"""Headers on every answer of the review page."""


class _SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` (and HSTS when served over TLS)."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self._app = app
        self._headers = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
        if tls:
            self._headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._headers]
            await send(message)

        await self._app(scope, receive, with_headers)


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)


def _session(site: ReviewSite, request: Request) -> ReviewSession | None:
    return site.invites.session(request.cookies.get(COOKIE))


def _no_session() -> HTMLResponse:
    return _html(
        pages.error_page(
            "Open your invite link",
            "This page needs the review link you were sent (mlops approvals invite REQUEST --to you). "
            "Links expire and open once; ask the requester for a new one if yours does not work.",
        ),
        401,
    )


def create_app(site: ReviewSite) -> Starlette:
    """The review page on ``site``'s store."""

    def foreign(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is not None and urlsplit(origin).netloc != request.headers.get("host")

    async def invite(request: Request) -> Response:
        """GET shows what the link opens; POST (the button) uses it: a GET never spends a link."""
        token = request.path_params["token"]
        lookup = site.client.approvals.get
        if request.method == "GET":
            try:
                link = await run_in_threadpool(site.invites.check, token, lookup)
            except PermissionDeniedError as error:
                return _html(pages.error_page("This link cannot be used", error.message), 403)
            return _html(pages.open_page(link))
        if foreign(request):
            return _html(pages.error_page("Refused", "The form was sent from another site."), 403)
        try:
            session = await run_in_threadpool(site.invites.redeem, token, lookup)
        except PermissionDeniedError as error:
            return _html(pages.error_page("This link cannot be used", error.message), 403)
        target = f"/requests/{quote(session.request_id)}"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            session.key,
            max_age=max(int((session.expires_at - site.client.approvals.now()).total_seconds()), 1),
            httponly=True,
            secure=site.tls,
            samesite="lax",
            path="/",
        )
        return response

    async def pending(request: Request) -> Response:
        session = _session(site, request)
        if session is None:
            return _no_session()
        requests = await run_in_threadpool(site.client.approvals.list, "pending")
        mine = [item for item in requests if item.policy.is_listed(session.voter)]  # only what they may vote on
        return _html(pages.list_page(mine, session))

    async def show(request: Request) -> Response:
        session = _session(site, request)
        if session is None:
            return _no_session()
        try:
            view = await run_in_threadpool(site.view, request.path_params["request_id"])
        except (ResourceNotFoundError, ConfigurationError):  # an id no request can have names none
            return _html(pages.error_page("No such request", "There is no such approval request.", session), 404)
        if not view.request.policy.is_listed(session.voter):
            message = f"{session.identity} is not an approver of this request: its page is for its approvers."
            return _html(pages.error_page("Not your request", message, session), 403)
        notice = "Your vote was recorded." if request.query_params.get("voted") == "1" else None
        return _html(pages.request_page(view, session, site.invites.csrf_token(session), notice=notice))

    async def vote(request: Request) -> Response:
        session = _session(site, request)
        if session is None:
            return _no_session()
        request_id = request.path_params["request_id"]
        if foreign(request):
            return _html(pages.error_page("Refused", "The form was sent from another site.", session), 403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return _html(pages.error_page("Refused", "Send the form from the review page.", session), 415)
        body = await request.body()
        if len(body) > _MAX_FORM:
            return _html(pages.error_page("Refused", "The form is too large.", session), 413)
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace"), max_num_fields=8).items()}
        if not site.invites.csrf_ok(session, form.get("csrf")):
            return _html(
                pages.error_page("Refused", "The form's security token is missing or wrong: reload the page.", session),
                403,
            )
        if session.request_id != request_id:
            return _html(pages.error_page("Refused", "Your link is for another request.", session), 403)
        decision, comment = form.get("decision"), (form.get("comment") or "").strip()
        if decision not in ("approve", "reject") or not comment:
            view = await run_in_threadpool(site.view, request_id)
            problem = "Say why in the comment: it is required." if not comment else "Choose Approve or Reject."
            page = pages.request_page(view, session, site.invites.csrf_token(session), error=problem)
            return _html(page, 400)
        return await run_in_threadpool(_cast, site, session, request_id, decision, comment)

    async def stylesheet(request: Request) -> Response:
        return Response(pages.CSS, media_type="text/css")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def refused(request: Request, error: Exception) -> Response:
        # Whatever the store or the approvals client refuses is a page saying so, never a 500 (a 500 also
        # makes the server drop the connection the browser keeps open).
        assert isinstance(error, MlopsError)
        _log.warning("%s %s refused: %s", request.method, request.url.path, redact(str(error)))
        status = next((code for kind, code in _STATUS if isinstance(error, kind)), 503)
        return _html(pages.error_page("Refused", error.message, _session(site, request)), status)

    app = Starlette(
        exception_handlers={MlopsError: refused},
        routes=[
            Route("/", pending),
            Route("/invite/{token}", invite, methods=["GET", "POST"]),
            Route("/requests/{request_id}", show),
            Route("/requests/{request_id}/vote", vote, methods=["POST"]),
            Route("/review.css", stylesheet),
            Route("/healthz", health),
        ],
    )
    app.add_middleware(_SecurityHeaders, tls=site.tls)
    return app


def _cast(site: ReviewSite, session: ReviewSession, request_id: str, decision: str, comment: str) -> Response:
    """Take the session's one vote, then vote through the approvals client as the link's identity."""
    if not site.invites.claim_vote(session):
        return _html(pages.error_page("Already voted", "This link's one vote was already cast.", session), 409)
    approvals = site.client.approvals
    try:
        with acting_as(session.voter):
            if decision == "approve":
                approvals.approve(request_id, comment=comment)
            else:
                approvals.reject(request_id, comment=comment)
    except (PermissionDeniedError, ConflictError) as error:
        # Refused by the policy (and audited by the service) or already decided: the link is spent.
        status = 403 if isinstance(error, PermissionDeniedError) else 409
        return _html(pages.error_page("Your vote was refused", error.message, session), status)
    except BaseException as error:
        site.invites.release_vote(session)
        if isinstance(error, MlopsError):
            _log.warning("vote on %s failed: %s", request_id, redact(str(error)))
            return _html(pages.error_page("Your vote could not be recorded", error.message, session), 503)
        raise
    return RedirectResponse(f"/requests/{quote(request_id)}?voted=1", status_code=303)
