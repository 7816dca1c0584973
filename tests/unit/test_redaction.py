"""Secrets never reach logs or messages."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_sdk.core import redaction
from mlops_sdk.core.logging import RedactionFilter, get_logger
from mlops_sdk.core.redaction import redact, register_secret


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.sig-part", "eyJhbGciOi"),
        ("conn DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123+/==;", "abc123"),
        ("https://acct.blob.core.windows.net/c/f?sv=2021&sig=AbCd%2Fef&se=1", "AbCd%2Fef"),
        ('{"primaryKey": "k-0123456789", "x": 1}', "k-0123456789"),
        ("token=ghp_abcdefgh12345 other", "ghp_abcdefgh12345"),
        ("client_secret: s3cr3t-value", "s3cr3t-value"),
        ("basic dXNlcjpwYXQ=", "dXNlcjpwYXQ"),
        # tokens standing alone, e.g. echoed by an error about the argument they were wrongly passed to
        ("deployment name 'ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5A1b2C3d4' is invalid", "ghp_A1b2C3d4E5"),
        ("got 'github_pat_11ABCDEFG0abcdefghij_klmnopqrstuvwxyz0123456789'", "github_pat_11ABC"),
        ("webhook xoxb-123456789012-abcdefABCDEF failed", "xoxb-123456789012"),
        (f"name '{'Ab1+' * 21}Ab==' is invalid", "Ab1+Ab1+Ab1+"),  # a storage account key (64 bytes)
        (f"pipeline '{'abcd2345' * 6}wxyz' not found", "abcd2345abcd2345"),  # a classic DevOps PAT
    ],
)
def test_patterns(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "***" in cleaned


def test_registered_exact_values() -> None:
    register_secret("plainlookingvalue42")
    assert redact("the endpoint answered with plainlookingvalue42 inside") == "the endpoint answered with *** inside"
    register_secret("abc")  # too short to mask safely: ignored
    assert redact("abc") == "abc"


def test_ordinary_text_is_untouched() -> None:
    text = "training run r-1 finished: rmse=53.2, model diabetes@3 registered"
    assert redact(text) == text
    digest = "sha256:" + "ab12" * 16  # digests and ids keep their shape
    correlation = "3f9a0c1d2e4b5a6978cd" + "0000000001ab"
    assert redact(f"{digest} {correlation} train-37e19c2fdcfb") == f"{digest} {correlation} train-37e19c2fdcfb"


def test_library_loggers_redact(caplog: pytest.LogCaptureFixture) -> None:
    logger = get_logger("mlops_sdk.tests.demo")
    with caplog.at_level(logging.INFO, logger="mlops_sdk"):
        logger.info("calling with %s", "Bearer eyJabcdefghij.eyJklmnopqrs.xyz")
    assert "eyJabcdefghij" not in caplog.text
    assert "Bearer ***" in caplog.text


def test_filter_can_be_used_on_any_handler() -> None:
    record = logging.LogRecord("other", logging.INFO, __file__, 1, "pat=%s", ("abcdefgh1234",), None)
    assert RedactionFilter().filter(record)
    assert record.getMessage() == "pat=***"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of this test's own (registered values are process-wide by design)."""
    monkeypatch.setattr(redaction, "_registered", set())


def test_a_registered_value_inside_a_longer_secret_masks_all_of_it(registry: None) -> None:
    # Replacing the registered value first left the rest in clear ("pat=***1234", "github_pat_11...***ij_...").
    register_secret("abcdefgh")
    assert redact("pat=abcdefgh1234") == "pat=***"
    token = "github_pat_11ABCDEFG0abcdefghij_klmnopqrstuvwxyz0123456789"
    assert redact(f"got {token!r}") == "got '***'"
    register_secret("p@ss word")  # a registered value the key=value shape would cut at the space
    assert redact("password=p@ss word here") == "password=*** here"


_TEXT = st.text(alphabet=st.sampled_from(list("ab xyz=:;&'\"@/.-_*\n")), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    prefix=_TEXT,
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-+/", min_size=6, max_size=20),
    suffix=_TEXT,
)
def test_no_registered_value_survives_in_any_surrounding(prefix: str, secret: str, suffix: str) -> None:
    previous = set(redaction._registered)
    try:
        redaction._registered.clear()
        register_secret(secret)
        for text in (prefix + secret + suffix, f"token={secret}{suffix}", f"https://u:{prefix}{secret}@h/x"):
            assert secret not in redact(text)
    finally:
        redaction._registered.clear()
        redaction._registered.update(previous)
