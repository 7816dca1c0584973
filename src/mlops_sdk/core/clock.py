"""Time as a dependency: everything that waits or timestamps goes through a :class:`Clock`.

Tests pass :class:`mlops_sdk.testing.FakeClock` so polling, retries and timeouts run instantly and
deterministically.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "utcnow"]


@runtime_checkable
class Clock(Protocol):
    """What the SDK needs from time."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...

    def now(self) -> datetime:
        """Current wall-clock time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep with :func:`time.sleep` (non-positive values return at once)."""
        if seconds > 0:
            time.sleep(seconds)

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(timezone.utc)


def utcnow() -> datetime:
    """Current UTC time, timezone-aware."""
    return datetime.now(timezone.utc)
