"""A clock whose ``sleep`` advances time instantly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

__all__ = ["FakeClock"]


class FakeClock:
    """Deterministic time for tests.

    ``sleep(s)`` advances the clock by ``s`` without blocking and records the call in ``sleeps``;
    callbacks scheduled with :meth:`at` fire when time passes their moment, which is how a test
    makes remote work "finish" after some simulated minutes.

    Args:
        start: Wall-clock time at monotonic 0 (default 2026-01-01T00:00:00Z).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._now = 0.0
        self._lock = threading.Lock()
        self._scheduled: list[tuple[float, Callable[[], None]]] = []
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Simulated seconds since the start."""
        with self._lock:
            return self._now

    def now(self) -> datetime:
        """Simulated UTC time."""
        return self._start + timedelta(seconds=self.monotonic())

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` (negative values count as 0) and fire due callbacks."""
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move time forward and run the callbacks that became due, in order."""
        with self._lock:
            self._now += seconds
            due = sorted((item for item in self._scheduled if item[0] <= self._now), key=lambda item: item[0])
            self._scheduled = [item for item in self._scheduled if item[0] > self._now]
        for _, callback in due:
            callback()

    def at(self, moment: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the simulated time reaches ``moment`` seconds."""
        with self._lock:
            self._scheduled.append((moment, callback))
