"""The review page over plain HTTP (httpx against uvicorn on 127.0.0.1): links, CSRF, headers, binding, secrets."""

from __future__ import annotations

import logging
import os
import re
import ssl
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_sdk.approvals_web.invites import parse_ttl, sign_claims
from mlops_sdk.approvals_web.secret import SECRET_FILE, load_secret
from mlops_sdk.approvals_web.server import check_binding
from mlops_sdk.cli.main import run
from mlops_sdk.core.errors import ConfigurationError, PermissionDeniedError
from mlops_sdk.core.redaction import register_secret
from tests.local._review import DANA, ERIN, MALLORY, Store, build_store, copy_store, link_path, serve

pytest.importorskip("uvicorn")
pytestmark = pytest.mark.slow

CANARY = "CnryReview" + "7f3a9c1e5b2d4f6a8c0e"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Store:
    register_secret(CANARY)
    return build_store(tmp_path_factory.mktemp("review-http"), reason=f"retrain; vault token {CANARY}")


@pytest.fixture
def store(built: Store, tmp_path: Path) -> Store:
    return Store(copy_store(built.folder, tmp_path / "store"), built.request, built.other, built.report_digest)


def _open(http: httpx.Client, link: str) -> httpx.Response:
    """Follow an invite link and press its button; the refusal, else the redirect (with the cookie)."""
    shown = http.get(link_path(link), follow_redirects=False)
    if shown.status_code != 200:
        return shown
    assert 'id="open"' in shown.text
    assert "set-cookie" not in shown.headers  # showing the link starts nothing
    return http.post(link_path(link), follow_redirects=False)


def _server_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What the SDK and uvicorn logged (the test's own httpx client logs the URLs it opens)."""
    records = [r for r in caplog.records if r.name.startswith(("mlops_sdk", "uvicorn", "starlette"))]
    assert any(r.name.startswith("mlops_sdk") for r in records)  # the capture worked
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, page[:2000]
    return match.group(1)


def test_link_session_and_one_vote_with_csrf(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        assert http.get("/").status_code == 401  # no session, no page
        opened = _open(http, invite.url(served.url))
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/requests/{store.request.id}"
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        page = http.get(opened.headers["location"])
        assert page.status_code == 200
        token = _csrf(page.text)
        vote_path = f"/requests/{store.request.id}/vote"
        form = {"decision": "approve", "comment": "numbers hold up", "csrf": token}

        # Refused: no token, a wrong token, another session's token, another origin, not a form.
        assert http.post(vote_path, data={**form, "csrf": ""}).status_code == 403
        assert http.post(vote_path, data={**form, "csrf": "0" * 64}).status_code == 403
        with httpx.Client(base_url=served.url) as other:
            second = served.site.invites.issue(store.request, ERIN, ttl=timedelta(hours=1), issued_by="lead")
            _open(other, second.url(served.url))
            theirs = _csrf(other.get(f"/requests/{store.request.id}").text)
        assert theirs != token
        assert http.post(vote_path, data={**form, "csrf": theirs}).status_code == 403
        assert http.post(vote_path, data=form, headers={"origin": "https://evil.example"}).status_code == 403
        assert http.post(vote_path, json=form).status_code == 415
        # A missing comment is sent back with the form, and does not spend the link's vote.
        empty = http.post(vote_path, data={**form, "comment": "  "})
        assert empty.status_code == 400
        assert "it is required" in empty.text
        assert served.client.approvals.get(store.request.id).votes == ()

        voted = http.post(vote_path, data=form, follow_redirects=False)
        assert voted.status_code == 303
        assert voted.headers["location"] == f"/requests/{store.request.id}?voted=1"
        after = http.get(voted.headers["location"]).text
        assert "Your vote was recorded" in after
        assert 'name="csrf"' not in after  # no second form
        assert http.post(vote_path, data=form).status_code == 409  # one vote per link
        request = served.client.approvals.get(store.request.id)
        assert [(v.approver.name, v.approver.source, v.decision, v.comment) for v in request.votes] == [
            (DANA, "invite", "approve", "numbers hold up")
        ]
        assert request.is_pending  # two approvals needed
        events = [entry.event for entry in served.site.service.audit_trail(store.request.id)]
        assert events == ["requested", "invited", "link_opened", "invited", "link_opened", "voted"]
        assert served.client.approvals.verify_audit().ok
    assert invite.token not in _server_logs(caplog)


def test_over_tls_the_cookie_is_secure_and_hsts_is_sent(store: Store, tls_ca: Any, tmp_path: Path) -> None:
    cert, key, bundle = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued = tls_ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    tls_ca.cert_pem.write_to_path(str(bundle))
    trust = ssl.create_default_context(cafile=bundle)
    with serve(store.folder, tls=(cert, key)) as served, httpx.Client(base_url=served.url, verify=trust) as http:
        assert served.url.startswith("https://127.0.0.1:")
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        opened = _open(http, invite.url(served.url))
        assert opened.status_code == 303
        assert "Secure" in opened.headers["set-cookie"]
        assert opened.headers["strict-transport-security"] == "max-age=31536000"
        page = http.get(opened.headers["location"])
        assert page.status_code == 200
        assert 'name="csrf"' in page.text


def test_fetching_a_link_does_not_spend_it(store: Store) -> None:
    """A chat previewer or mail scanner GETs the link first: the approver's click must still work."""
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        for _ in range(3):
            with httpx.Client(base_url=served.url) as previewer:
                preview = previewer.get(link_path(invite.url(served.url)))
            assert preview.status_code == 200
            assert "This link opens the review of <b>churn@2</b>" in preview.text
            assert "as <b>dana@contoso.com</b>" in preview.text
            assert invite.token not in preview.text  # the form posts back to the page's own address
        # Pressing the button from another site is refused, and spends nothing either.
        path = link_path(invite.url(served.url))
        assert http.post(path, headers={"origin": "https://evil.example"}).status_code == 403
        opened = _open(http, invite.url(served.url))
        assert opened.status_code == 303
        events = [entry.event for entry in served.site.service.audit_trail(store.request.id)]
        assert events == ["requested", "invited", "link_opened"]


def test_every_answer_carries_the_security_headers(store: Store) -> None:
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        answers = [http.get("/"), http.get("/review.css"), _open(http, invite.url(served.url))]
        answers += [http.get(f"/requests/{store.request.id}"), http.get("/invite/forged")]
        for answer in answers:
            csp = answer.headers["content-security-policy"]
            assert "default-src 'none'" in csp
            assert "script" not in csp  # no script source at all: every script is refused
            assert "frame-ancestors 'none'" in csp
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["referrer-policy"] == "same-origin"
        page = answers[3].text
        assert "<script" not in page
        assert "<svg" in page


def test_refused_links_say_why(store: Store) -> None:
    secret = load_secret(store.folder)
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invites = served.site.invites
        forged = _open(http, f"{served.url}/invite/not-a-token")
        assert forged.status_code == 403
        assert "not a valid review link" in forged.text
        # The policy does not list mallory: refused when inviting...
        with pytest.raises(PermissionDeniedError, match="mallory@contoso.com is not an approver"):
            invites.issue(store.request, MALLORY, ttl=timedelta(hours=1), issued_by="lead")
        # ... and when a link signed with the store's own key names her anyway.
        claims = {"i": "x", "r": store.request.id, "to": MALLORY, "e": 4102444800}
        unlisted = _open(http, f"{served.url}/invite/{sign_claims(secret, claims)}")
        assert unlisted.status_code == 403
        assert "mallory@contoso.com is not an approver the policy" in unlisted.text
        assert "[backend=" not in unlisted.text  # the message for people, not the error's diagnostics
        # A link whose claims were edited (another identity) fails its signature.
        good = invites.issue(store.request, DANA, ttl=timedelta(minutes=10), issued_by="lead")
        payload, signature = good.token.rsplit(".", 1)
        edited = _open(http, f"{served.url}/invite/{payload[:-2]}xx.{signature}")
        assert edited.status_code == 403
        assert "not a valid review link" in edited.text
        # Expiry is on the server's clock: ten minutes later the link is refused.
        served.clock.sleep(601)
        expired = _open(http, good.url(served.url))
        assert expired.status_code == 403
        assert "this link expired" in expired.text
        refusals = [e.data.get("why") for e in served.site.service.audit_trail(store.request.id)]
        assert [why for why in refusals if why] == ["not_listed", "expired"]
        assert served.client.approvals.verify_audit().ok


def test_an_approver_sees_only_the_requests_they_may_vote_on(store: Store) -> None:
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        approvals = served.client.approvals
        hidden = approvals.request(
            "pricing@4",
            policy={"approvers": ["zoe@contoso.com"], "require_validation_passed": False},
            reason="not for dana",
        )
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        _open(http, invite.url(served.url))
        listing = http.get("/").text
        assert "churn@2" in listing
        assert "fraud@7" in listing  # dana is an approver there too (her link votes on churn@2 only)
        assert "pricing@4" not in listing
        assert "not for dana" not in listing
        refused = http.get(f"/requests/{hidden.id}")
        assert refused.status_code == 403
        assert "not an approver of this request" in refused.text
        other = http.get(f"/requests/{store.other.id}")
        assert other.status_code == 200
        assert "Your link lets you vote on" in other.text
        assert 'name="csrf"' not in other.text


def test_a_rejection_decides_and_is_written_on_the_model_version(store: Store) -> None:
    """The page's vote takes the client's whole path, registry tags included, as ``mlops approvals reject``."""
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invites = served.site.invites
        late = invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        invite = invites.issue(store.request, ERIN, ttl=timedelta(hours=1), issued_by="lead")
        page = http.get(_open(http, invite.url(served.url)).headers["location"])
        form = {"decision": "reject", "comment": "drift on bmi is not explained", "csrf": _csrf(page.text)}
        decided = http.get(http.post(f"/requests/{store.request.id}/vote", data=form).headers["location"])
        assert '<span class="status rejected" id="status">rejected</span>' in decided.text
        request = served.client.approvals.get(store.request.id)
        assert request.decision is not None
        assert (request.decision.status, request.decision.rejected_by) == ("rejected", (ERIN,))
        tags = served.client.models.get("churn", "2").tags
        assert tags["mlops.approval.status"] == "rejected"
        assert tags["mlops.approval.rejected_by"] == ERIN
        # A link issued before the decision no longer opens: nothing is left to decide.
        with httpx.Client(base_url=served.url) as other:
            refused = _open(other, late.url(served.url))
        assert refused.status_code == 403
        assert "is already rejected" in refused.text
        assert served.client.approvals.verify_audit().ok


def test_self_approval_through_the_page_is_refused_as_on_the_cli(store: Store) -> None:
    """``fraud@7`` was registered by erin: her approval is refused by the policy and audited."""
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invite = served.site.invites.issue(store.other, ERIN, ttl=timedelta(hours=1), issued_by="lead")
        page = http.get(_open(http, invite.url(served.url)).headers["location"], follow_redirects=False)
        form = {"decision": "approve", "comment": "my own change", "csrf": _csrf(page.text)}
        refused = http.post(f"/requests/{store.other.id}/vote", data=form)
        assert refused.status_code == 403
        assert f"{ERIN} requested this approval and may not approve it (forbid_self_approval)" in refused.text
        assert "[backend=" not in refused.text
        request = served.client.approvals.get(store.other.id)
        assert (request.status.value, request.votes) == ("pending", ())
        trail = served.site.service.audit_trail(store.other.id)
        assert trail[-1].event == "refused"
        assert trail[-1].data["vote"]["approver"]["name"] == ERIN
        # The refused vote spent the link: rejecting instead needs a new one.
        again = http.post(f"/requests/{store.other.id}/vote", data={**form, "decision": "reject"})
        assert again.status_code == 409


def test_no_secret_reaches_a_page(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        key = (store.folder / SECRET_FILE).read_text().strip()
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        opened = _open(http, invite.url(served.url))
        session_key = opened.cookies["mlops_review"]
        pages = [http.get("/"), http.get(f"/requests/{store.request.id}"), http.get(f"/requests/{store.other.id}")]
        assert 'href="/requests/' + store.request.id in pages[0].text
        pages.append(http.post(f"/requests/{store.request.id}/vote", data={"decision": "approve", "comment": "x"}))
    assert all(page.status_code in (200, 403) for page in pages)
    assert "retrain; vault token ***" in pages[1].text  # the canary in the reason is masked
    for text in [page.text for page in pages] + [_server_logs(caplog)]:
        assert CANARY not in text
        assert key not in text
        assert invite.token not in text
        assert session_key not in text


def test_the_key_file_is_private(tmp_path: Path) -> None:
    key = load_secret(tmp_path)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(tmp_path) == key  # created once
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="readable by other users"):
        load_secret(tmp_path)


def test_binding_beyond_loopback_needs_tls(tmp_path: Path, tls_ca: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_binding("127.0.0.1", 8765, None, None).url == "http://127.0.0.1:8765"
    assert check_binding("localhost", 8765, None, None).tls is False
    with pytest.raises(ConfigurationError, match="without TLS"):
        check_binding("0.0.0.0", 8765, None, None)
    with pytest.raises(ConfigurationError, match="--tls-key is missing"):
        check_binding("10.1.2.3", 8765, tmp_path / "cert.pem", None)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("y")
    # Files that are not a PEM pair are refused here, before the page is announced (uvicorn used to crash).
    with pytest.raises(ConfigurationError, match="not a PEM certificate and its private key"):
        check_binding("10.1.2.3", 443, cert, key)
    issued = tls_ca.issue_cert("10.1.2.3")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    assert check_binding("10.1.2.3", 443, cert, key).url == "https://10.1.2.3:443"
    # The command refuses before binding anything.
    assert run(["-t", f"local://{tmp_path / 'store'}", "approvals", "serve", "--host", "0.0.0.0"]) == 1
    assert "refusing to serve the review page on 0.0.0.0 without TLS" in capsys.readouterr().err


def test_invite_command_prints_one_link_and_refuses_unlisted(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"local://{store.folder}"
    prefix = store.request.id[:8]
    assert run(["-t", target, "approvals", "invite", prefix, "--to", DANA, "--expires", "2h"]) == 0
    out = capsys.readouterr().out
    assert f"review link for {DANA} on churn@2" in out
    assert re.search(r"http://127\.0\.0\.1:8765/invite/\S+", out)
    assert run(["-t", target, "approvals", "invite", prefix, "--to", MALLORY]) == 1
    assert "mallory@contoso.com is not an approver" in capsys.readouterr().err
    assert run(["-t", target, "approvals", "invite", prefix, "--to", DANA, "--expires", "45d"]) == 1
    assert "at most 30 days" in capsys.readouterr().err
    assert parse_ttl("30m") == timedelta(minutes=30)
    with pytest.raises(ConfigurationError, match="not a duration"):
        parse_ttl("tomorrow")
    key = (store.folder / SECRET_FILE).read_text().strip()
    assert key not in out


def test_the_serve_command_serves_the_store(store: Store) -> None:
    """``mlops approvals serve`` in its own process: it answers on 127.0.0.1 and stops on SIGTERM."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "mlops_sdk.cli", "-t", f"local://{store.folder}", "approvals", "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        answer = None
        for _ in range(600):  # bounded: up to a minute on a busy machine
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                time.sleep(0.1)
        assert answer is not None
        assert answer.text == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"review page on http://127.0.0.1:{port}" in out
    assert f"--url http://127.0.0.1:{port}" in out
    assert (store.folder / SECRET_FILE).read_text().strip() not in out + err


_SEGMENT = st.one_of(st.text(max_size=12), st.sampled_from(["..", "%00", "%ff", "%", "%2e%2e", "a" * 3000, "é"]))
_PATHS = st.one_of(
    st.builds("/requests/{}".format, _SEGMENT),
    st.builds("/requests/{}/vote".format, _SEGMENT),
    st.builds("/invite/{}".format, _SEGMENT),
    st.sampled_from(["/", "/healthz", "/review.css", "//", "/requests/", "/invite/"]),
)
_FORMS = st.dictionaries(
    st.sampled_from(["decision", "comment", "csrf", "on_behalf_of", "x"]),
    st.one_of(st.text(max_size=20), st.sampled_from(["approve", "reject", "", "x" * 20_000])),
    max_size=4,
)


def test_no_request_gets_a_5xx_or_a_dropped_connection(store: Store) -> None:
    """Any method, path, form and body a browser or a script can send is answered with a page below 500.

    ``GET /requests/%00`` was a 500 (the approvals client refused the control character and nothing
    caught it), and uvicorn then dropped the kept-alive connection the next request came on.
    """
    with serve(store.folder) as served, httpx.Client(base_url=served.url) as http:
        invite = served.site.invites.issue(store.request, DANA, ttl=timedelta(hours=1), issued_by="lead")
        assert _open(http, invite.url(served.url)).status_code == 303
        assert http.get("/requests/%00").status_code == 404

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(
            st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
            _PATHS,
            _FORMS,
            st.booleans(),
            st.sampled_from([None, "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]),
        )
        def sweep(method: str, path: str, form: dict[str, str], undecodable: bool, content_type: str | None) -> None:
            headers = {"content-type": content_type} if content_type and method not in ("GET", "HEAD") else {}
            body: dict[str, Any] = (
                {"content": b"\xff\xfedecision=approve&%zz=1"}
                if undecodable
                else {"data": form}
                if method not in ("GET", "HEAD")
                else {}
            )
            try:
                answer = http.request(method, path, headers=headers, **body)
            except httpx.InvalidURL:
                return  # the client itself refuses to send it
            assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:300])

        sweep()
        assert served.client.approvals.get(store.request.id).votes == ()  # nothing forged a vote
