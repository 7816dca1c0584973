"""Live vs shadow answers of mirrored requests, kept by the endpoint server for the shadow comparison report.

When a request is mirrored, the server records one pair under the shadow deployment's name: the
request's correlation id (the caller's ``x-ms-client-request-id`` / ``x-request-id``, else a new
one, echoed back in ``x-request-id``), the input rows and column names, the live deployment's
outputs (or that it failed) and latency, and the shadow's outputs (or its error) and latency. The
last :data:`MAX_PAIRS` mirrored requests per shadow deployment are kept in memory, with at most
:data:`MAX_ROWS` rows each (a restart starts afresh); ``GET /admin/shadow/{name}`` returns them.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

__all__ = ["MAX_PAIRS", "MAX_ROWS", "ShadowLog"]

MAX_PAIRS = 5_000
"""Mirrored requests kept per shadow deployment (the oldest are dropped first)."""
MAX_ROWS = 100
"""Rows kept per mirrored request (the first ones, with their outputs): bounds the memory of big batches."""


class ShadowLog:
    """Bounded per-shadow-deployment record of mirrored requests (thread-safe: mirrors run in workers)."""

    def __init__(self, limit: int = MAX_PAIRS) -> None:
        self._pairs: dict[str, deque[dict[str, Any]]] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def add(
        self,
        shadow: str,
        *,
        request_id: str,
        live: str,
        columns: list[str] | None,
        rows: list[Any],
        live_output: Any,
        live_seconds: float,
        shadow_output: Any,
        shadow_seconds: float,
        shadow_error: str | None,
    ) -> None:
        """Record one mirrored request (``live_output`` None: the live deployment failed)."""
        if len(rows) > MAX_ROWS:
            rows = rows[:MAX_ROWS]
            live_output = _head(live_output)
            shadow_output = _head(shadow_output)
        pair = {
            "id": request_id,
            "live": live,
            "columns": columns,
            "rows": rows,
            "live_output": live_output,
            "live_ms": live_seconds * 1000,
            "shadow_output": shadow_output,
            "shadow_ms": shadow_seconds * 1000,
            "shadow_error": shadow_error,
        }
        with self._lock:
            log = self._pairs.get(shadow)
            if log is None:
                log = self._pairs[shadow] = deque(maxlen=self._limit)
            log.append(pair)

    def pairs(self, shadow: str) -> list[dict[str, Any]]:
        """The recorded pairs of ``shadow``, oldest first."""
        with self._lock:
            return list(self._pairs.get(shadow, ()))

    def forget(self, shadow: str) -> None:
        """Drop a removed deployment's pairs."""
        with self._lock:
            self._pairs.pop(shadow, None)


def _head(output: Any) -> Any:
    """The outputs of the first :data:`MAX_ROWS` rows (a list, or ``{"predictions": [...]}``)."""
    if isinstance(output, list):
        return output[:MAX_ROWS]
    if isinstance(output, dict) and isinstance(output.get("predictions"), list):
        return {**output, "predictions": output["predictions"][:MAX_ROWS]}
    return output
