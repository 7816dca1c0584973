"""Invite links and review sessions: who may open the review page, for which request, until when.

An invite is a signed, expiring, single-use link bound to one request and one identity the
request's policy lists. Following it only shows what it opens (so a link previewer or a mail
scanner fetching it spends nothing); confirming it (a form post) trades it, once, for a review
session: a random cookie whose hash is stored here, that expires with the link and allows ONE
vote. The CSRF token of the vote form is an HMAC of that cookie, so a form only works in the
browser that opened the link.

Issuing a link, opening it and every refusal of a validly signed link are appended to the
approvals' hash-chained audit log; the vote itself is recorded by the approvals service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from mlops_sdk.backends.local.approvals import audit
from mlops_sdk.backends.local.store import LocalStore, Migration
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.errors import ConfigurationError, MlopsError, PermissionDeniedError
from mlops_sdk.models.approvals import ApprovalRequest, ApproverIdentity

__all__ = [
    "MAX_TTL",
    "MIGRATIONS",
    "Invite",
    "InviteStore",
    "OpenableLink",
    "ReviewSession",
    "invite_identity",
    "parse_ttl",
    "sign_claims",
]

MAX_TTL = timedelta(days=30)
"""The longest an invite link may stay valid."""

_SALT = "mlops.approvals.invite"

MIGRATIONS = [
    Migration(
        1,
        "review-page invites and sessions",
        """
        CREATE TABLE approval_invites (
            id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            identity TEXT NOT NULL,
            issued_by TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            redeemed_at TEXT
        );
        CREATE TABLE approval_review_sessions (
            key_hash TEXT PRIMARY KEY,
            invite_id TEXT NOT NULL UNIQUE REFERENCES approval_invites (id),
            request_id TEXT NOT NULL,
            identity TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            voted_at TEXT
        );
        """,
    ),
]

_TTL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    """``"24h"`` -> 24 hours (units ``s``, ``m``, ``h``, ``d``); at most :data:`MAX_TTL`.

    Raises:
        ConfigurationError: not a duration, zero, or longer than :data:`MAX_TTL`.
    """
    match = _TTL.match(text or "")
    if match is None:
        raise ConfigurationError(
            f"--expires {text!r} is not a duration; write a number and a unit: 30m, 24h, 7d",
            details={"field": "expires"},
        )
    amount, unit = int(match.group(1)), _UNITS[match.group(2)]
    if amount > MAX_TTL / timedelta(**{unit: 1}):  # refused before timedelta overflows on a huge number
        raise ConfigurationError(
            f"an invite link must expire after more than 0 s and at most {MAX_TTL.days} days, got {text.strip()}",
            details={"field": "expires"},
        )
    return check_ttl(timedelta(**{unit: amount}))


def check_ttl(ttl: timedelta) -> timedelta:
    """``ttl`` when it is positive and at most :data:`MAX_TTL`, else a :class:`ConfigurationError`."""
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise ConfigurationError(
            f"an invite link must expire after more than 0 s and at most {MAX_TTL.days} days, got {ttl}",
            details={"field": "expires"},
        )
    return ttl


def invite_identity(address: str) -> ApproverIdentity:
    """The identity a link for ``address`` votes as (the address is its name and e-mail)."""
    return ApproverIdentity(name=address.strip(), email=address.strip(), source="invite")


def _serializer(secret: bytes) -> Any:
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(secret, salt=_SALT)


def sign_claims(secret: bytes, claims: dict[str, Any]) -> str:
    """The URL-safe signed form of an invite's claims (``i`` id, ``r`` request, ``to``, ``e`` expiry)."""
    return str(_serializer(secret).dumps(claims))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def _refused(message: str, reason: str, request_id: str | None = None) -> PermissionDeniedError:
    return PermissionDeniedError(message, backend="local", operation_id=request_id, details={"reason": reason})


@dataclass(frozen=True)
class Invite:
    """An issued link. ``token`` is a credential: print it to the invitee, never log it."""

    id: str
    request_id: str
    identity: str
    expires_at: datetime
    token: str = field(repr=False)

    def url(self, base_url: str) -> str:
        """The link on the review page served at ``base_url``."""
        return f"{base_url.rstrip('/')}/invite/{self.token}"


@dataclass(frozen=True)
class OpenableLink:
    """A link that can still be opened: for ``request``, as ``identity``, until ``expires_at``."""

    invite_id: str
    request: ApprovalRequest
    identity: str
    expires_at: datetime


def _row_refusal(row: sqlite3.Row | None, request_id: str, to: str) -> tuple[str, str] | None:
    """Why the stored invite cannot be opened (``message, reason``), or ``None``."""
    if row is None or (row["request_id"], row["identity"]) != (request_id, to):
        return "this link was not issued by this store (or was revoked)", "revoked"
    if row["redeemed_at"] is not None:
        return (
            f"this link was already used at {row['redeemed_at'][:19]} UTC; a link opens once, "
            "in one browser: ask for a new one",
            "used",
        )
    return None


@dataclass(frozen=True)
class ReviewSession:
    """What an opened link grants: viewing, and one vote on ``request_id`` as ``identity``."""

    key: str = field(repr=False)
    invite_id: str
    request_id: str
    identity: str
    expires_at: datetime
    voted_at: datetime | None

    @property
    def voter(self) -> ApproverIdentity:
        """The identity this session's vote is recorded as."""
        return invite_identity(self.identity)


class InviteStore:
    """Issues and checks invite links and review sessions in the local store's ``mlops.db``.

    Args:
        store: The local store (its audit log receives the invite events).
        clock: The backend's clock (tests use a fake one: expiry needs no sleeping).
        secret: The signing key (:func:`~mlops_sdk.approvals_web.secret.load_secret`).
    """

    def __init__(self, store: LocalStore, clock: Clock, secret: bytes) -> None:
        self._store = store
        self._clock = clock
        self._secret = secret
        store.ensure_schema("approvals_review", MIGRATIONS)

    # -- links ---------------------------------------------------------------------------------------

    def issue(self, request: ApprovalRequest, to: str, *, ttl: timedelta, issued_by: str) -> Invite:
        """A link for ``to`` to review and vote on ``request``.

        Raises:
            ConfigurationError: ``to`` is blank or ``ttl`` out of range.
            PermissionDeniedError: the request's policy does not list ``to``.
            ConflictError: the request is already decided.
        """
        from mlops_sdk.core.errors import ConflictError

        if not isinstance(to, str) or not to.strip():
            raise ConfigurationError(
                "--to must name the approver (an e-mail the policy lists)", details={"field": "to"}
            )
        check_ttl(ttl)
        identity = invite_identity(to)
        if not request.policy.is_listed(identity):
            raise PermissionDeniedError(
                f"{identity.name} is not an approver of request {request.id}: the policy lists "
                f"{', '.join(request.policy.approvers) or 'no users'} (groups are checked on the machine of "
                "the voter, so invite a listed user)",
                backend="local",
                operation_id=request.id,
                details={"field": "to"},
            )
        if not request.is_pending:
            raise ConflictError(
                f"approval request {request.id} is already {request.status.value}; nobody needs a link to it",
                backend="local",
                operation_id=request.id,
            )
        now = self._clock.now()
        expires = now + ttl
        invite_id = secrets.token_urlsafe(12)
        stamp = int(expires.timestamp())
        claims = {"i": invite_id, "r": request.id, "to": identity.name, "e": stamp}
        expires = datetime.fromtimestamp(stamp, timezone.utc)
        with self._store.transaction() as connection:
            connection.execute(
                "INSERT INTO approval_invites (id, request_id, identity, issued_by, issued_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (invite_id, request.id, identity.name, issued_by, now.isoformat(), expires.isoformat()),
            )
            audit.append(
                connection,
                at=now,
                request_id=request.id,
                event="invited",
                actor=issued_by,
                payload={"invite": invite_id, "to": identity.name, "expires_at": expires.isoformat()},
            )
        return Invite(invite_id, request.id, identity.name, expires, sign_claims(self._secret, claims))

    def check(self, token: str, lookup: Callable[[str], ApprovalRequest]) -> OpenableLink:
        """What a link offers, without using it: refused unless it can still be opened.

        Raises:
            PermissionDeniedError: the link is altered, expired, already used, revoked, for an
                identity the policy does not list, or for a decided request (``details["reason"]``).
        """
        from itsdangerous import BadSignature

        try:
            claims = _serializer(self._secret).loads(token)
        except BadSignature:
            raise _refused(
                "this is not a valid review link (altered, truncated, or issued by another store)", "invalid"
            ) from None
        if (
            not isinstance(claims, dict)
            or not all(isinstance(claims.get(key), str) for key in ("i", "r", "to"))
            or not isinstance(claims.get("e"), int)
        ):
            raise _refused("this is not a valid review link", "invalid")
        invite_id, request_id, to = str(claims["i"]), str(claims["r"]), str(claims["to"])
        expires = datetime.fromtimestamp(int(claims["e"]), timezone.utc)
        if self._clock.now() >= expires:
            raise self._refuse(
                request_id,
                invite_id,
                to,
                f"this link expired at {expires:%Y-%m-%d %H:%M} UTC; ask for a new one (mlops approvals invite)",
                "expired",
            )
        try:
            request = lookup(request_id)
        except MlopsError:
            raise _refused(f"approval request {request_id} is not in this store", "unknown_request") from None
        if not request.policy.is_listed(invite_identity(to)):
            raise self._refuse(
                request_id,
                invite_id,
                to,
                f"{to} is not an approver the policy of request {request_id} lists "
                f"({', '.join(request.policy.approvers) or 'no users'}); this link cannot be used",
                "not_listed",
            )
        if not request.is_pending:
            raise self._refuse(
                request_id, invite_id, to, f"request {request_id} is already {request.status.value}", "decided"
            )
        row = self._store.connection().execute("SELECT * FROM approval_invites WHERE id = ?", (invite_id,)).fetchone()
        refusal = _row_refusal(row, request_id, to)
        if refusal is not None:
            raise self._refuse(request_id, invite_id, to, *refusal)
        return OpenableLink(invite_id, request, to, expires)

    def redeem(self, token: str, lookup: Callable[[str], ApprovalRequest]) -> ReviewSession:
        """Trade a link for a review session; a link works once, before it expires, for a listed identity.

        Raises:
            PermissionDeniedError: as :meth:`check`; also when another browser used it a moment before.
        """
        link = self.check(token, lookup)
        request_id, to = link.request.id, link.identity
        key = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._store.transaction() as connection:
            row = connection.execute("SELECT * FROM approval_invites WHERE id = ?", (link.invite_id,)).fetchone()
            refusal = _row_refusal(row, request_id, to)  # again, inside the write lock: one winner
            if refusal is None:
                connection.execute(
                    "UPDATE approval_invites SET redeemed_at = ? WHERE id = ?", (now.isoformat(), link.invite_id)
                )
                connection.execute(
                    "INSERT INTO approval_review_sessions (key_hash, invite_id, request_id, identity, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (_hash(key), link.invite_id, request_id, to, link.expires_at.isoformat()),
                )
                event, payload = "link_opened", {"invite": link.invite_id}
            else:
                event, payload = "link_refused", {"invite": link.invite_id, "why": refusal[1]}
            audit.append(connection, at=now, request_id=request_id, event=event, actor=to, payload=payload)
        if refusal is not None:
            raise _refused(refusal[0], refusal[1], request_id)
        return ReviewSession(key, link.invite_id, request_id, to, link.expires_at, None)

    def _refuse(self, request_id: str, invite_id: str, to: str, message: str, reason: str) -> PermissionDeniedError:
        """Audit the refusal of a validly signed link (if its request exists), then return the error."""
        now = self._clock.now()
        with self._store.transaction() as connection:
            known = connection.execute("SELECT 1 FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
            if known is not None:
                audit.append(
                    connection,
                    at=now,
                    request_id=request_id,
                    event="link_refused",
                    actor=to,
                    payload={"invite": invite_id, "why": reason},
                )
        return _refused(message, reason, request_id)

    # -- sessions ------------------------------------------------------------------------------------

    def session(self, key: str | None) -> ReviewSession | None:
        """The live session of a cookie value (``None`` when unknown or expired)."""
        if not key or len(key) > 128:
            return None
        row = (
            self._store.connection()
            .execute("SELECT * FROM approval_review_sessions WHERE key_hash = ?", (_hash(key),))
            .fetchone()
        )
        if row is None:
            return None
        expires = datetime.fromisoformat(row["expires_at"])
        if self._clock.now() >= expires:
            return None
        return ReviewSession(
            key,
            row["invite_id"],
            row["request_id"],
            row["identity"],
            expires,
            datetime.fromisoformat(row["voted_at"]) if row["voted_at"] else None,
        )

    def claim_vote(self, session: ReviewSession) -> bool:
        """Take the session's one vote (False when it was already taken, e.g. by a second submit)."""
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE approval_review_sessions SET voted_at = ? WHERE key_hash = ? AND voted_at IS NULL",
                (self._clock.now().isoformat(), _hash(session.key)),
            )
            return cursor.rowcount == 1

    def release_vote(self, session: ReviewSession) -> None:
        """Give the vote back after a failure that recorded nothing (an unexpected error, not a refusal)."""
        with self._store.transaction() as connection:
            connection.execute(
                "UPDATE approval_review_sessions SET voted_at = NULL WHERE key_hash = ?", (_hash(session.key),)
            )

    def csrf_token(self, session: ReviewSession) -> str:
        """The form token of ``session`` (an HMAC of its cookie: useless without that cookie)."""
        return hmac.new(self._secret, b"csrf\x00" + session.key.encode("ascii"), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: ReviewSession, token: str | None) -> bool:
        """True when ``token`` is ``session``'s form token (constant-time comparison)."""
        return isinstance(token, str) and hmac.compare_digest(self.csrf_token(session), token)

    def invites(self, request_id: str) -> list[sqlite3.Row]:
        """Links issued for a request (no tokens: those are never stored)."""
        return list(
            self._store.connection().execute(
                "SELECT id, identity, issued_by, issued_at, expires_at, redeemed_at FROM approval_invites"
                " WHERE request_id = ? ORDER BY issued_at",
                (request_id,),
            )
        )
