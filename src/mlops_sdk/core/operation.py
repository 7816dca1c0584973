"""``Operation[T]``: the handle every ``begin_*`` method returns (contract; documented in docs/operations.md).

An operation wraps a backend *driver* that knows how to look at one piece of remote or local work
(poll it, cancel it, fetch its result, describe itself for a resume token). Polling happens inside
:meth:`Operation.wait` / :meth:`Operation.result` on the caller's thread: there is no background
thread. The interval adapts (short at first and after every state change, growing while nothing
happens) and a ``Retry-After`` hint from the service wins. Time comes from an injectable clock.

A timeout never stops the work: :class:`~mlops_sdk.core.errors.OperationTimeoutError` carries the
continuation token, and ``client.resume_operation(token)`` picks the work up again, in this process
or another one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from mlops_sdk.core.arguments import check_timeout
from mlops_sdk.core.clock import Clock, default_clock
from mlops_sdk.core.errors import (
    ConfigurationError,
    MlopsError,
    OperationCanceledError,
    OperationFailedError,
    OperationTimeoutError,
)
from mlops_sdk.core.interrupts import forget_interrupt, interrupt_guard, raise_if_interrupted
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.progress import (
    NotebookProgressDisplay,
    ProgressDisplay,
    open_progress_display,
    should_show_progress,
)
from mlops_sdk.core.retry import is_retryable
from mlops_sdk.core.status import Status

__all__ = [
    "Operation",
    "OperationDriver",
    "OperationToken",
    "PollResult",
    "PollingOptions",
    "ProgressEvent",
    "decode_token",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

TOKEN_VERSION = 1
_MAX_CONSECUTIVE_POLL_ERRORS = 10
_log = get_logger(__name__)


@dataclass(frozen=True)
class PollResult:
    """What one look at the work found.

    Attributes:
        status: The state, on the one status enum.
        native_status: The service's own word for it (``Queued``, ``Finalizing``, ...).
        message: A short human line for progress displays (e.g. the running activity).
        retry_after: Seconds the service asked us to wait before the next look, if it said so.
        error: When ``status`` is FAILED, the error :meth:`Operation.result` raises.
    """

    status: Status
    native_status: str | None = None
    message: str | None = None
    retry_after: float | None = None
    error: MlopsError | None = None


class OperationDriver(Protocol[T_co]):
    """What a backend implements for each kind of long-running work."""

    @property
    def kind(self) -> str:
        """Routing key for resume tokens, e.g. ``"training.train"``."""
        ...

    @property
    def id(self) -> str:
        """Id of the work (run id, job name, request id)."""
        ...

    def poll(self) -> PollResult:
        """Look at the work once."""
        ...

    def result(self) -> T_co:
        """Build the result; only called after a poll returned SUCCEEDED."""
        ...

    def cancel(self) -> None:
        """Ask for cancellation; must not wait for it to complete."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-serialisable facts from which the backend can rebuild this driver."""
        ...

    # Optional: ``while_waiting() -> None``. When a driver has it, :meth:`Operation.wait` without a
    # timeout calls it between polls (in the waiting thread, before sleeping the rest of the
    # interval) to do work the result will need, e.g. importing what loading a model takes while
    # the model trains. Waits with a timeout skip it, so they stay within their bound.


@dataclass(frozen=True)
class PollingOptions:
    """How often :meth:`Operation.wait` looks at the work.

    Args:
        initial_interval: First interval, and the interval again after every state change (seconds).
        max_interval: Upper bound the interval grows to while nothing changes (seconds).
        factor: Growth of the interval after each unchanged poll.
        progress_after: Seconds of waiting after which a progress bar appears (terminals, notebooks).
    """

    initial_interval: float = 1.0
    max_interval: float = 15.0
    factor: float = 1.5
    progress_after: float = 3.0


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to the progress callback after every poll."""

    operation_id: str
    kind: str
    status: Status
    native_status: str | None
    message: str | None
    elapsed: float


@dataclass(frozen=True)
class OperationToken:
    """The decoded content of a continuation token."""

    kind: str
    id: str
    target: str | None
    state: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        """Return the token as compact JSON."""
        return json.dumps(
            {"v": TOKEN_VERSION, "kind": self.kind, "id": self.id, "target": self.target, "state": self.state},
            separators=(",", ":"),
            sort_keys=True,
        )


def decode_token(token: str) -> OperationToken:
    """Parse a continuation token; a malformed one is a :class:`ConfigurationError` saying so."""
    try:
        data = json.loads(token)
    except (TypeError, json.JSONDecodeError) as error:
        raise ConfigurationError(
            "continuation token is not valid JSON; pass the exact string continuation_token() returned"
        ) from error
    if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
        raise ConfigurationError(
            f"continuation token has an unsupported format (expected v={TOKEN_VERSION}); "
            "it was written by another mlops-sdk version"
        )
    missing = [name for name in ("kind", "id") if not isinstance(data.get(name), str)]
    if missing or not isinstance(data.get("state", {}), dict):
        raise ConfigurationError(f"continuation token lacks {missing or ['state']}; it was altered")
    return OperationToken(kind=data["kind"], id=data["id"], target=data.get("target"), state=data.get("state", {}))


class Operation(Generic[T]):
    """A handle on long-running work that produces a ``T``.

    Args:
        driver: The backend's driver for this work.
        target: The target URI the work belongs to (recorded in the token, checked on resume).
        clock: Where time comes from (injectable for tests).
        polling: Polling intervals.
        progress: Called with a :class:`ProgressEvent` after every poll.
        show_progress: Show a progress bar: ``None`` decides (terminal or notebook), True/False force.
        cancel_on_interrupt: On Ctrl-C while waiting: True cancels the work, False leaves it running,
            ``None`` asks in an interactive terminal and leaves it running otherwise.
        description: Human name of the work for progress lines (``"training job"``).
    """

    def __init__(
        self,
        driver: OperationDriver[T],
        *,
        target: str | None = None,
        clock: Clock | None = None,
        polling: PollingOptions | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
        cancel_on_interrupt: bool | None = None,
        description: str | None = None,
    ) -> None:
        self._driver = driver
        self._target = target
        self._clock = clock or default_clock()
        self._polling = polling or PollingOptions()
        self._progress = progress
        self._show_progress = show_progress
        self._cancel_on_interrupt = cancel_on_interrupt
        self._description = description or driver.kind
        self._final: PollResult | None = None
        self._last: PollResult | None = None
        self._result: tuple[T] | None = None

    def __repr__(self) -> str:
        status = self._last.status.value if self._last else "unknown"
        return f"<Operation {self._driver.kind} id={self.id!r} status={status}>"

    @property
    def id(self) -> str:
        """Id of the underlying work (run id, job name, request id)."""
        return self._driver.id

    @property
    def kind(self) -> str:
        """What kind of work this is (``"training.train"``, ``"data_factory.refresh"``, ...)."""
        return self._driver.kind

    def status(self) -> Status:
        """Look at the work once (unless it already finished) and return its status."""
        if self._final is not None:
            return self._final.status
        return self._poll().status

    def done(self) -> bool:
        """True once the work succeeded, failed or was canceled."""
        return self.status().is_terminal

    def continuation_token(self) -> str:
        """A JSON string from which ``client.resume_operation`` rebuilds this operation anywhere."""
        return OperationToken(
            kind=self._driver.kind, id=self._driver.id, target=self._target, state=self._driver.state()
        ).encode()

    def cancel(self) -> None:
        """Ask for cancellation and return; :meth:`wait` then observes the CANCELED state."""
        if self._final is None:
            self._driver.cancel()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the work is finished (in any state).

        Raises:
            OperationTimeoutError: ``timeout`` seconds passed first. The work keeps running; the
                error's ``details["continuation_token"]`` resumes it.
            ConfigurationError: ``timeout`` is not ``None`` or a finite number of seconds >= 0.
        """
        timeout = check_timeout(timeout)
        if self._final is not None:
            return
        start = self._clock.monotonic()
        interval = self._polling.initial_interval
        display: ProgressDisplay | NotebookProgressDisplay | None = None
        previous: Status | None = None
        try:
            with interrupt_guard():  # a script's Ctrl-C too (the CLI installs the same guard)
                while True:
                    raise_if_interrupted()  # a Ctrl-C the interpreter swallowed (in a GC callback) stops here
                    state = self._poll()
                    elapsed = self._clock.monotonic() - start
                    event = self._report(state, elapsed)
                    if display is not None:
                        display.update(_describe(self._description, event))
                    if state.status.is_terminal:
                        return
                    if state.status != previous:
                        interval = self._polling.initial_interval
                    previous = state.status
                    if timeout is not None and elapsed >= timeout:
                        raise self._timeout_error(timeout)
                    delay = state.retry_after if state.retry_after is not None else interval
                    if timeout is not None:
                        delay = min(delay, max(0.0, timeout - elapsed))
                    if display is None and elapsed + delay >= self._polling.progress_after:
                        display = self._open_display()
                        if display is not None:
                            display.update(_describe(self._description, event))
                    self._clock.sleep(delay if timeout is not None else self._while_waiting(delay))
                    interval = min(self._polling.max_interval, interval * self._polling.factor)
        except KeyboardInterrupt:
            forget_interrupt()  # handled here: never raised a second time
            self._handle_interrupt()
            raise
        finally:
            if display is not None:
                display.close()

    def _while_waiting(self, delay: float) -> float:
        """Let the driver use the wait (its optional ``while_waiting()``); returns the delay left."""
        hook = getattr(self._driver, "while_waiting", None)
        if hook is None or delay <= 0:
            return delay
        began = self._clock.monotonic()
        hook()
        return max(0.0, delay - (self._clock.monotonic() - began))

    def result(self, timeout: float | None = None) -> T:
        """Wait for the work and return its result.

        Raises:
            OperationFailedError: The work failed; the message says what failed and why.
            OperationCanceledError: The work was canceled.
            OperationTimeoutError: ``timeout`` passed first (the work keeps running).
            ConfigurationError: ``timeout`` is not ``None`` or a finite number of seconds >= 0.
        """
        timeout = check_timeout(timeout)
        if self._result is not None:
            return self._result[0]
        self.wait(timeout)
        final = self._final
        assert final is not None
        if final.status is Status.FAILED:
            raise final.error or OperationFailedError(
                f"{self._description} {self.id} failed ({final.native_status or 'no reason given'})",
                operation_id=self.id,
            )
        if final.status is Status.CANCELED:
            raise OperationCanceledError(f"{self._description} {self.id} was canceled", operation_id=self.id)
        value = self._driver.result()
        self._result = (value,)
        return value

    # -- internals ---------------------------------------------------------------------------------

    def _poll(self) -> PollResult:
        failures = 0
        while True:
            try:
                state = self._driver.poll()
                break
            except MlopsError as error:
                failures += 1
                if not is_retryable(error) or failures >= _MAX_CONSECUTIVE_POLL_ERRORS:
                    raise
                delay = getattr(error, "retry_after", None) or self._polling.initial_interval
                _log.info("polling %s %s failed (%s); looking again in %.2fs", self.kind, self.id, error, delay)
                self._clock.sleep(delay)
        self._last = state
        if state.status.is_terminal:
            self._final = state
        return state

    def _report(self, state: PollResult, elapsed: float) -> ProgressEvent:
        event = ProgressEvent(
            operation_id=self.id,
            kind=self.kind,
            status=state.status,
            native_status=state.native_status,
            message=state.message,
            elapsed=elapsed,
        )
        if self._progress is not None:
            self._progress(event)
        return event

    def _open_display(self) -> ProgressDisplay | NotebookProgressDisplay | None:
        if not should_show_progress(self._show_progress):
            return None
        return open_progress_display(f"{self._description} {self.id}")

    def _timeout_error(self, timeout: float) -> OperationTimeoutError:
        token = self.continuation_token()
        return OperationTimeoutError(
            f"{self._description} {self.id} still running after {timeout:g}s; it keeps running. "
            "Resume waiting with client.resume_operation(details['continuation_token']) "
            "or `mlops resume TOKEN`",
            operation_id=self.id,
            details={"continuation_token": token, "status": self._last.status.value if self._last else None},
        )

    def _handle_interrupt(self) -> None:
        decision = self._cancel_on_interrupt
        if decision is None and _interactive():
            decision = _confirm(f"Cancel {self._description} {self.id}? It keeps running otherwise.")
        if decision:
            self._driver.cancel()
            _notice(f"Canceled {self._description} {self.id}.")
        else:
            _notice(
                f"{self._description} {self.id} keeps running. Resume waiting with:\n"
                f"  mlops resume '{self.continuation_token()}'"
            )


def _describe(description: str, event: ProgressEvent) -> str:
    native = f" ({event.native_status})" if event.native_status else ""
    message = f" - {event.message}" if event.message else ""
    return f"{description} {event.operation_id}: {event.status.value}{native}{message}"


def _interactive() -> bool:
    return bool(sys.stdin and sys.stdin.isatty() and sys.stderr.isatty())


def _confirm(question: str) -> bool:
    from rich.prompt import Confirm

    try:
        return bool(Confirm.ask(question, default=False))
    except (EOFError, KeyboardInterrupt):
        return False


def _notice(text: str) -> None:
    # The one user-facing line the library writes itself: the user pressed Ctrl-C in a blocking
    # wait and must learn how to pick the work up again. It goes to stderr, never to stdout.
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def token_matches_target(token: OperationToken, target: str) -> None:
    """Refuse a token written for another target (a prod token resumed against dev, say)."""
    if token.target is not None and token.target != target:
        raise ConfigurationError(
            f"continuation token belongs to target {token.target!r}, but this client is bound to "
            f"{target!r}; create the client for {token.target!r} to resume it"
        )


def require_kind(token: OperationToken, kinds: Mapping[str, Any]) -> None:
    """Refuse a token of a kind this client cannot resume, naming the kinds it can."""
    if token.kind not in kinds:
        raise ConfigurationError(
            f"this client cannot resume operations of kind {token.kind!r}; it resumes {sorted(kinds)}"
        )
