"""Time as a dependency: everything that waits or timestamps goes through a :class:`Clock`.

Tests pass :class:`mlops_sdk.testing.FakeClock` so polling, retries and timeouts run instantly and
deterministically.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "default_clock", "set_default_clock", "utcnow"]


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


_default_clock: Clock | None = None


def default_clock() -> Clock:
    """The clock a client, backend, operation or flow uses when none is given: the real clock, unless a
    test installed another with :func:`set_default_clock` (``mlops_sdk.testing.use_clock``)."""
    return _default_clock if _default_clock is not None else SystemClock()


def set_default_clock(clock: Clock | None) -> Clock | None:
    """Make ``clock`` the default of everything created from now on (``None``: the real clock again).

    Returns the previous default, so a caller can put it back. Process-wide, not per thread: a script
    under test may build its clients in any thread.
    """
    global _default_clock
    previous, _default_clock = _default_clock, clock
    return previous
