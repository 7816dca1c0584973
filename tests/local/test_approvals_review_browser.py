"""The review page in a real headless Chromium (Debian's ``chromium`` driven by Playwright), JavaScript off.

An approver opens the invite link, sees the report's plots and the policy, approves with a comment;
the same link in a second tab is refused; an expired link and a link naming an identity the policy
does not list are refused; the audit log verifies afterwards. Screenshots of the list and of the
request page are saved (into docs/img/ when ``MLOPS_DOCS_SCREENSHOTS=1``, else the test's tmp
folder) and their pixels checked for the plots' colours.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.approvals_web.invites import sign_claims
from mlops_sdk.approvals_web.secret import load_secret
from mlops_sdk.cli.main import run
from tests.local._review import DANA, ERIN, MALLORY, Store, build_store, copy_store, serve

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [test] extra")
CHROMIUM = os.environ.get("MLOPS_CHROMIUM") or next(
    (shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless Chromium is not installed (apt-get install -y chromium); the review page tests drive it "
        "through Playwright's executable_path (never `playwright install`)",
    ),
]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
# Read at import: the autouse fixture of tests/conftest.py clears MLOPS_* variables before each test.
TO_DOCS = os.environ.get("MLOPS_DOCS_SCREENSHOTS") == "1"
# Colours of the report's plots (models/validation/render.py and svg.py).
CANDIDATE, CHAMPION, BAD, GOOD = (0x3D, 0x5A, 0x80), (0x98, 0xA6, 0xB5), (0xD1, 0x49, 0x5B), (0x2A, 0x9D, 0x8F)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_store(tmp_path_factory.mktemp("review-browser"))


@pytest.fixture
def store(built: Store, tmp_path: Path) -> Store:
    return Store(copy_store(built.folder, tmp_path / "store"), built.request, built.other, built.report_digest)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    try:
        yield made
    finally:
        made.close()


def _shots(tmp_path: Path) -> Path:
    if TO_DOCS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        return DOCS_IMG
    return tmp_path


def _colour_pixels(path: Path, rgb: tuple[int, int, int]) -> int:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=int).reshape(-1, 3)
    return int((np.abs(pixels - np.array(rgb)) <= 6).all(axis=1).sum())


def _invite(store: Store, url: str, to: str, capsys: pytest.CaptureFixture[str], expires: str = "24h") -> str:
    """``mlops approvals invite`` as a release manager runs it; returns the printed link."""
    capsys.readouterr()
    code = run(["-t", f"local://{store.folder}", "approvals", "invite", store.request.id, "--to", to, "--expires",
                expires, "--url", url])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    match = re.search(rf"{re.escape(url)}/invite/\S+", out)
    assert match, out
    return match.group(0)


def test_approver_reviews_the_evidence_and_approves(
    store: Store, context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shots = _shots(tmp_path)
    with serve(store.folder) as served:
        link = _invite(store, served.url, DANA, capsys)
        page = context.new_page()
        answer = page.goto(link)
        assert answer is not None
        assert answer.status == 200
        assert "opens the review of churn@2 (requested by carol@contoso.com" in page.inner_text("#opening")
        page.click("#open")  # following a link only shows it; the button uses it
        assert page.url == f"{served.url}/requests/{store.request.id}"  # the token left the address bar
        assert page.inner_text("h1").startswith("Approve churn@2?")
        assert "signed in as dana@contoso.com" in page.inner_text("header")
        # The evidence: the report's plots, the policy, the plan, the lineage, the history.
        charts = page.locator("#report svg.chart")
        assert charts.count() == 4  # candidate vs champion, bootstrap interval, drift per feature, data quality
        titles = [charts.nth(i).locator("title").first.text_content() for i in range(4)]
        assert titles[1] == "improvement over the champion (with bootstrap interval)"
        assert titles[2] == "no_drift: PSI per feature"
        assert titles[3] == "data_quality: % of rows meeting each rule"
        assert page.locator("#report line.ci").count() == 1
        assert page.locator('#report rect.bar.bad[data-label="bmi"]').count() == 1
        policy = page.inner_text("#policy")
        assert "dana@contoso.com, erin@contoso.com" in policy
        assert "2 more approval(s) from dana@contoso.com, erin@contoso.com" in policy
        rollout = page.inner_text("#rollout")
        assert "blue_green" in rollout
        assert "10 % → 50 % → 100 %" in rollout
        assert "back to churn@1" in rollout
        assert "shape [1]" in rollout
        lineage = page.inner_text("#lineage")
        assert "9f1c2ab7e4d05b8a61f3c9e2d7b4a0c5e8f1d2a3" in lineage  # the training commit
        assert "github_actions" in lineage
        assert "8812" in lineage  # the CI build
        assert "training run" in lineage
        assert store.report_digest in lineage
        for data in ("data: train", "data: evaluation", "data: reference"):
            assert data in lineage
        assert "invited" in page.inner_text("#audit")
        page.screenshot(path=str(shots / "approvals-review-request.png"), full_page=True)

        # The same link in a second tab: refused, it opened once.
        second = context.new_page()
        refused = second.goto(link)
        assert refused is not None
        assert refused.status == 403
        assert "already used" in second.inner_text("#refusal")
        second.close()
        trail = served.site.service.audit_trail(store.request.id)
        assert [e.data.get("why") for e in trail if e.event == "link_refused"] == ["used"]

        # The approver's list of pending requests.
        listing = context.new_page()
        listing.goto(f"{served.url}/")
        rows = listing.inner_text("#pending")
        assert "churn@2 (your link)" in rows
        assert "fraud@7" in rows
        listing.screenshot(path=str(shots / "approvals-review-list.png"), full_page=True)
        listing.close()

        # Approve with a comment, no JavaScript: a plain form post.
        page.fill("#comment", "RMSE gain holds in the bootstrap; bmi shift is the new intake, expected")
        page.click("button.approve")
        assert page.url == f"{served.url}/requests/{store.request.id}?voted=1"
        assert page.inner_text("#notice") == "Your vote was recorded."
        assert page.locator("form.vote").count() == 0
        assert "approve by dana@contoso.com: RMSE gain holds" in page.inner_text("#audit")
        assert "1 more approval(s) from erin@contoso.com" in page.inner_text("#policy")

        request = served.client.approvals.get(store.request.id)
        assert [(v.approver.name, v.decision, v.comment) for v in request.votes] == [
            (DANA, "approve", "RMSE gain holds in the bootstrap; bmi shift is the new intake, expected")
        ]
        assert served.client.approvals.verify_audit().ok
    capsys.readouterr()
    assert run(["-t", f"local://{store.folder}", "approvals", "verify"]) == 0
    assert "audit entries intact" in capsys.readouterr().out

    # The screenshots show the plots: each paints in its own colour.
    request_png = shots / "approvals-review-request.png"
    assert _colour_pixels(request_png, CANDIDATE) > 500  # candidate metric bars
    assert _colour_pixels(request_png, CHAMPION) > 500  # champion metric bars
    assert _colour_pixels(request_png, BAD) > 300  # drifted feature (bmi)
    assert _colour_pixels(request_png, GOOD) > 1000  # stable features, data quality bars, the CI
    list_png = shots / "approvals-review-list.png"
    assert list_png.stat().st_size > 5000
    assert _colour_pixels(list_png, CANDIDATE) == 0  # the list has no plots...
    assert _colour_pixels(list_png, (0x24, 0x36, 0x4B)) > 1000  # ...but it rendered (the header bar)


def test_an_expired_link_is_refused(store: Store, context: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(store.folder) as served:
        link = _invite(store, served.url, ERIN, capsys, expires="30m")
        served.clock.sleep(timedelta(minutes=31).total_seconds())  # the server's clock: no real waiting
        page = context.new_page()
        answer = page.goto(link)
        assert answer is not None
        assert answer.status == 403
        assert "this link expired" in page.inner_text("#refusal")
        assert page.goto(f"{served.url}/requests/{store.request.id}").status == 401  # no session was made
        assert served.client.approvals.get(store.request.id).votes == ()
        assert served.client.approvals.verify_audit().ok


def test_a_link_for_an_unlisted_identity_is_refused(
    store: Store, context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    target = f"local://{store.folder}"
    assert run(["-t", target, "approvals", "invite", store.request.id, "--to", MALLORY]) == 1
    assert "mallory@contoso.com is not an approver" in capsys.readouterr().err
    with serve(store.folder) as served:
        # Signed with the store's own key, so only the policy check at use time stands in the way.
        claims = {"i": "minted", "r": store.request.id, "to": MALLORY, "e": 4102444800}
        page = context.new_page()
        answer = page.goto(f"{served.url}/invite/{sign_claims(load_secret(store.folder), claims)}")
        assert answer is not None
        assert answer.status == 403
        assert "mallory@contoso.com is not an approver the policy" in page.inner_text("#refusal")
        assert served.client.approvals.verify_audit().ok
