"""The one retry policy (documented in docs/errors.md), built on tenacity.

Retried: errors that never reached the service (connection refused/reset, DNS, TLS) and answers
408, 429, 500, 502, 503, 504. Never retried: 409 and every other status. A ``Retry-After`` /
``retry-after-ms`` hint from the service replaces our own backoff; otherwise the wait grows
exponentially with jitter. An overall deadline bounds the whole call: when the next wait would
cross it, the last error is raised as it is (with ``details["attempts"]``).

Non-idempotent calls (starting a run) must only be retried after the caller checked that the first
attempt did not take effect; backends do that with idempotency keys before calling this policy.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import tenacity

from mlops_sdk.core.clock import Clock, default_clock, utcnow
from mlops_sdk.core.errors import ConflictError, ServiceRequestError, ServiceResponseError
from mlops_sdk.core.logging import get_logger

__all__ = ["RETRYABLE_STATUS_CODES", "RetryPolicy", "is_retryable", "parse_retry_after"]

T = TypeVar("T")

RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})

_log = get_logger(__name__)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Return the wait the service asked for, in seconds, or ``None``.

    Reads ``retry-after-ms`` and ``x-ms-retry-after-ms`` (milliseconds) before ``Retry-After``
    (seconds or an HTTP date), case-insensitively, as azure-core does.
    """
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in lowered:
            try:
                return max(0.0, float(lowered[name]) / 1000.0)
            except ValueError:
                continue
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not seconds: an HTTP date, tried next
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def is_retryable(error: BaseException) -> bool:
    """True for transient failures: never-reached-the-service errors and 408/429/5xx answers."""
    if isinstance(error, ConflictError):
        return False
    if isinstance(error, ServiceRequestError):
        return True
    if isinstance(error, ServiceResponseError):
        return error.status_code in RETRYABLE_STATUS_CODES
    return isinstance(error, ConnectionError)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    Args:
        max_attempts: Attempts in total, the first one included.
        initial_backoff: Wait before the second attempt when the service gave no hint (seconds).
        max_backoff: Upper bound of one exponential wait (seconds).
        deadline: Upper bound of the whole call including waits (seconds).
        jitter: Fraction of each exponential wait that is randomised (0 disables jitter).
        clock: Where time comes from; tests pass a fake clock so nothing really sleeps.
        rng: Source of jitter in [0, 1).
    """

    max_attempts: int = 8
    initial_backoff: float = 0.8
    max_backoff: float = 30.0
    deadline: float = 300.0
    jitter: float = 0.5
    clock: Clock = field(default_factory=default_clock, compare=False)
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def with_options(self, **changes: Any) -> RetryPolicy:
        """Return a copy with some fields changed."""
        return replace(self, **changes)

    def backoff(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        hint: object = getattr(error, "retry_after", None)
        if isinstance(hint, (int, float)) and hint >= 0:
            return float(hint)
        base = min(self.max_backoff, self.initial_backoff * (2.0 ** (attempt - 1)))
        return base * (1.0 - self.jitter * self.rng())

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)``, retrying transient failures within the deadline."""
        start = self.clock.monotonic()

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            return self.clock.monotonic() - start + state.upcoming_sleep > self.deadline

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.backoff(state.attempt_number, error)

        def log_retry(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            _log.info(
                "attempt %d of %s failed (%s); retrying in %.2fs",
                state.attempt_number,
                getattr(fn, "__qualname__", repr(fn)),
                error,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable),
            wait=wait,
            stop=stop,
            sleep=self.clock.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            try:
                return fn(*args, **kwargs)
            except (ServiceRequestError, ServiceResponseError) as error:
                error.details["attempts"] = attempts
                raise

        return retrying(attempt)
