"""Removing secrets from text before it reaches a log, an error message, a report or a terminal.

Two mechanisms work together: patterns that recognise the shape of common secrets (bearer tokens,
JWTs, connection-string keys, SAS signatures, passwords in URLs, ``key=...`` pairs, GitHub and Slack tokens, storage
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

# Each pattern's group ``secret`` is the part masked; what surrounds it (``Bearer``, ``AccountKey=``,
# ``user:`` ... ``@``) stays, so the text still says what was there.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Authorization headers and bearer/basic tokens.
    re.compile(r"(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9\-._~+/]+=*)"),
    # JSON Web Tokens (AAD access tokens, federated CI tokens).
    re.compile(r"(?P<secret>\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)"),
    # Storage / Service Bus connection strings and SAS query strings.
    re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|sig|Password|pwd)=(?P<secret>[^;&\s\"']+)"),
    # The password of a URL's user information (a proxy URL `http://user:password@proxy:3128`).
    re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@'\"]*:(?P<secret>[^\s/@'\"]+)@"),
    # Tokens with a published shape, wherever they stand (a token passed as the wrong argument is
    # echoed by the error naming that argument): GitHub, Slack, a storage account key (64 bytes in
    # base64), a classic Azure DevOps PAT (52 characters of lowercase base32).
    re.compile(r"(?P<secret>\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}))"),
    re.compile(r"(?P<secret>\bxox[abeoprs]-[A-Za-z0-9-]{10,})"),
    re.compile(r"(?<![A-Za-z0-9+/])(?P<secret>[A-Za-z0-9+/]{86}==)"),
    re.compile(r"(?<![A-Za-z0-9])(?P<secret>[a-z2-7]{52})(?![A-Za-z0-9])"),
    # key/token/secret/pat assignments in text, JSON or query strings: `api_key: abc`, `"token": "abc"`
    # (not the idempotency key of a side effect: it names work, it unlocks nothing).
    re.compile(
        r"(?i)[\"']?\b(?!idempotency_key)(?:[a-z_]*key|[a-z_]*token|secret|client_secret|pat|password)[\"']?\s*[:=]\s*[\"']?"
        r"(?P<secret>[^\s\"',;&}]{4,})"
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
    """Return ``text`` with every secret it contains replaced by ``***``.

    Registered values and secret shapes are both found in the text as given, and every character either
    covers is masked: a registered value inside a longer token (or a key's value) masks the whole of it,
    where replacing one before looking for the other left the token's tail in clear.
    """
    if not text:
        return text
    with _lock:
        exact = list(_registered)
    spans: list[tuple[int, int]] = []
    for value in exact:
        start = text.find(value)
        while start != -1:
            spans.append((start, start + len(value)))
            start = text.find(value, start + 1)
    for pattern in _PATTERNS:
        spans.extend(match.span("secret") for match in pattern.finditer(text))
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    done = 0  # text before ``done`` is written (or masked)
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:  # overlapping or touching: one mask
            end = max(end, next_end)
            continue
        parts += [text[done:start], MASK]
        done, start, end = end, next_start, next_end
    parts += [text[done:start], MASK, text[end:]]
    return "".join(parts)
