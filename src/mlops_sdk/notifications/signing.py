"""HMAC-SHA256 signatures of the generic webhook (what a receiver checks before trusting a POST).

The signed bytes are ``<timestamp>.<body>``: the Unix time in ``X-Mlops-Timestamp``, a dot, then the
raw request body. ``X-Mlops-Signature`` is ``sha256=<hex digest>``. A receiver recomputes it with the
shared secret, compares in constant time, and refuses timestamps older than a few minutes (a replayed
POST carries an old timestamp, and changing it breaks the signature).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Mlops-Signature"
TIMESTAMP_HEADER = "X-Mlops-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``f"{timestamp}."`` + body)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, *, timestamp: str, signature: str, body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """True when ``signature`` signs ``body`` at ``timestamp`` and the timestamp is within ``tolerance`` of ``now``."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
