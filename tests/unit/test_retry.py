"""The retry policy: what is retried, Retry-After in seconds/ms/HTTP-date, backoff, and the deadline."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest

from mlops_sdk.core.errors import (
    ConflictError,
    ResourceNotFoundError,
    ServerError,
    ServiceRequestError,
    ThrottledError,
)
from mlops_sdk.core.retry import RetryPolicy, is_retryable, parse_retry_after
from mlops_sdk.testing import FakeClock


class Flaky:
    """Raises the given errors in order, then returns 'ok'."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def policy(clock: FakeClock, **options: float) -> RetryPolicy:
    return RetryPolicy(clock=clock, rng=lambda: 0.0, **options)  # type: ignore[arg-type]


def test_retry_after_seconds_is_honoured(clock: FakeClock) -> None:
    flaky = Flaky(ThrottledError("slow down", status_code=429, retry_after=7.0))
    assert policy(clock).call(flaky) == "ok"
    assert flaky.calls == 2
    assert clock.sleeps == [7.0]


def test_retry_after_ms_header_is_honoured(clock: FakeClock) -> None:
    hint = parse_retry_after({"Retry-After-Ms": "250", "Retry-After": "9"})
    assert hint == 0.25
    flaky = Flaky(ServerError("busy", status_code=503, retry_after=hint))
    assert policy(clock).call(flaky) == "ok"
    assert clock.sleeps == [0.25]


def test_parse_retry_after_variants() -> None:
    assert parse_retry_after({"x-ms-retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    from mlops_sdk.core.clock import utcnow

    later = format_datetime(utcnow() + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after({"Retry-After": later}) or 0) <= 30


def test_exponential_backoff_with_jitter_when_no_hint(clock: FakeClock) -> None:
    flaky = Flaky(*(ServiceRequestError("reset") for _ in range(3)))
    RetryPolicy(clock=clock, rng=lambda: 0.0, initial_backoff=1.0).call(flaky)
    assert clock.sleeps == [1.0, 2.0, 4.0]
    jittered = RetryPolicy(clock=clock, rng=lambda: 1.0, jitter=0.5, initial_backoff=1.0)
    assert jittered.backoff(3) == 2.0  # 4.0 reduced by the full 50 % jitter


def test_gives_up_at_the_deadline_with_the_last_error(clock: FakeClock) -> None:
    always = Flaky(*(ServerError(f"down {i}", status_code=503, retry_after=10.0) for i in range(100)))
    with pytest.raises(ServerError, match="down 3") as caught:
        policy(clock, deadline=35.0, max_attempts=100).call(always)
    assert always.calls == 4  # waits of 10+10+10 fit in 35 s, a fourth would not
    assert clock.monotonic() == 30.0
    assert caught.value.details["attempts"] == 4


def test_gives_up_after_max_attempts(clock: FakeClock) -> None:
    always = Flaky(*(ServiceRequestError("refused") for _ in range(10)))
    with pytest.raises(ServiceRequestError):
        policy(clock, max_attempts=3).call(always)
    assert always.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        ConflictError("busy", status_code=409, retry_after=1.0),
        ResourceNotFoundError("gone", status_code=404),
        ValueError("bug"),
    ],
    ids=["409", "404", "ValueError"],
)
def test_non_transient_errors_are_not_retried(clock: FakeClock, error: Exception) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        policy(clock).call(flaky)
    assert flaky.calls == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retryable(status: int) -> None:
    assert is_retryable(ServerError("x", status_code=status))
    assert not is_retryable(ServerError("x", status_code=501))
    assert is_retryable(ConnectionResetError())
