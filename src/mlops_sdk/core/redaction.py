"""Removing secrets from text before it reaches a log, an error message, a report or a terminal.

Two mechanisms work together: patterns that recognise the shape of common secrets (bearer tokens,
JWTs, connection-string keys, SAS signatures, ``key=...`` pairs, GitHub and Slack tokens, storage
account keys, classic Azure DevOps PATs), also when one stands alone in the wrong argument, and exact
values registered at run
time with :func:`register_secret` (an endpoint key we just fetched, a PAT from the config), which
catches secrets that have no recognisable shape.
"""

from __future__ import annotations

import re
import threading

__all__ = ["MASK", "redact", "register_secret"]

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and bearer/basic tokens.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {MASK}"),
    # JSON Web Tokens (AAD access tokens, federated CI tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"), MASK),
    # Storage / Service Bus connection strings and SAS query strings.
    (
        re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|sig|Password|pwd)=([^;&\s\"']+)"),
        rf"\1={MASK}",
    ),
    # Tokens with a published shape, wherever they stand (a token passed as the wrong argument is
    # echoed by the error naming that argument): GitHub, Slack, a storage account key (64 bytes in
    # base64), a classic Azure DevOps PAT (52 characters of lowercase base32).
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})"), MASK),
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}"), MASK),
    # The password of a URL's user info (a proxy, a git remote): scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s]*:)(?!\*\*\*@)([^@/\s]+)(@)"), rf"\1{MASK}\3"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}=="), MASK),
    (re.compile(r"(?<![A-Za-z0-9])[a-z2-7]{52}(?![A-Za-z0-9])"), MASK),
    # key/token/secret/pat assignments in text, JSON or query strings: `api_key: abc`, `"token": "abc"`
    # (not the idempotency key of a side effect: it names work, it unlocks nothing).
    (
        re.compile(
            r"(?i)([\"']?\b(?!idempotency_key)(?:[a-z_]*key|[a-z_]*token|secret|client_secret|pat|password)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\*\*\*)([^\s\"',;&}]{4,})"
        ),
        rf"\1{MASK}",
    ),
)

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember an exact secret value so every later :func:`redact` call masks it.

    Values shorter than 6 characters are ignored: masking them would garble ordinary text.
    """
    if value and len(value) >= 6:
        with _lock:
            _registered.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every secret it contains replaced by ``***``."""
    if not text:
        return text
    with _lock:
        exact = sorted(_registered, key=len, reverse=True)
    for value in exact:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
