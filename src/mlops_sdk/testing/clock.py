"""A clock whose ``sleep`` advances time instantly."""

from __future__ import annotations

import contextlib
import math
import numbers
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from mlops_sdk.core.clock import Clock, set_default_clock
from mlops_sdk.core.errors import ConfigurationError

__all__ = ["FakeClock", "use_clock"]


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

    def sleep(self, seconds: float | timedelta) -> None:
        """Advance by ``seconds`` (a number or a ``timedelta``; a negative amount, a deadline already
        past, counts as 0) and fire due callbacks."""
        amount = _seconds(seconds, "FakeClock.sleep")
        self.sleeps.append(amount)
        self.advance(max(0.0, amount))

    def advance(self, seconds: float | timedelta) -> None:
        """Move time forward by ``seconds`` (a number or a ``timedelta``) and run the callbacks that
        became due, in order.

        Raises:
            ConfigurationError: ``seconds`` is negative or not a finite number (a monotonic clock never
                goes back).
        """
        amount = _seconds(seconds, "FakeClock.advance")
        if amount < 0:
            raise ConfigurationError(
                f"FakeClock.advance: seconds must be 0 or more, got {amount} (a monotonic clock never goes back)",
                details={"field": "seconds"},
            )
        with self._lock:
            self._now += amount
            due = sorted((item for item in self._scheduled if item[0] <= self._now), key=lambda item: item[0])
            self._scheduled = [item for item in self._scheduled if item[0] > self._now]
        for _, callback in due:
            callback()

    def at(self, moment: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the simulated time reaches ``moment`` seconds."""
        with self._lock:
            self._scheduled.append((moment, callback))


def _seconds(value: Any, method: str) -> float:
    """``value`` in seconds: a finite number, or a ``timedelta``."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigurationError(
            f"{method}: seconds must be a finite number of seconds or a timedelta, got {value!r}",
            details={"field": "seconds"},
        )
    return float(value)


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` the time of every client, flow and operation created inside the block without a
    ``clock=`` argument, e.g. in a script under test that calls ``MLOpsClient.from_config()`` itself.

    ``with use_clock(FakeClock()):`` turns a 300 s bake or an approval's timeout into an instant step.
    The previous default comes back at the end of the block. Work in other processes (a local endpoint
    server, a training subprocess) keeps real time.
    """
    previous = set_default_clock(clock)
    try:
        yield clock
    finally:
        set_default_clock(previous)
