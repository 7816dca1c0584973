"""Operation[T]: polling, timeouts that leave work running, resume by token, cancel, progress."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

import pytest

from mlops_sdk.clients._base import BaseClient
from mlops_sdk.core.errors import (
    ConfigurationError,
    OperationCanceledError,
    OperationFailedError,
    OperationTimeoutError,
    ServerError,
)
from mlops_sdk.core.operation import Operation, PollingOptions, PollResult, ProgressEvent, decode_token
from mlops_sdk.core.status import Status
from mlops_sdk.testing import FakeClock


class Work:
    """Simulated remote work that finishes at a given simulated time (a stand-in for a service)."""

    registry: dict[str, Work] = {}

    def __init__(self, clock: FakeClock, work_id: str, finish_at: float, outcome: Status = Status.SUCCEEDED):
        self.clock, self.id, self.finish_at, self.outcome = clock, work_id, finish_at, outcome
        self.canceled = False
        self.polls = 0
        Work.registry[work_id] = self

    def status(self) -> Status:
        if self.canceled:
            return Status.CANCELED
        return self.outcome if self.clock.monotonic() >= self.finish_at else Status.RUNNING


class WorkDriver:
    kind = "jobs.run"

    def __init__(self, work: Work, *, hint: float | None = None, flaky: int = 0) -> None:
        self.work, self.hint, self.flaky = work, hint, flaky

    @property
    def id(self) -> str:
        return self.work.id

    def poll(self) -> PollResult:
        self.work.polls += 1
        if self.flaky:
            self.flaky -= 1
            raise ServerError("poll failed", status_code=503)
        status = self.work.status()
        error = OperationFailedError(f"job {self.id} failed: step 'fit' exited 1") if status is Status.FAILED else None
        return PollResult(status, native_status=status.value.lower(), retry_after=self.hint, error=error)

    def result(self) -> dict[str, Any]:
        return {"id": self.id, "finished_at": self.work.finish_at}

    def cancel(self) -> None:
        self.work.canceled = True

    def state(self) -> dict[str, Any]:
        return {"work": self.id}


class JobsClient(BaseClient):
    """A minimal client written the way capability clients are (a third party could do the same)."""

    def begin_run(self, work: Work) -> Operation[dict[str, Any]]:
        return self._operation(WorkDriver(work), description="job")

    def resume_operation(self, token: str) -> Operation[dict[str, Any]]:
        return self._resume(
            token,
            {
                "jobs.run": lambda _id, state: self._operation(
                    WorkDriver(Work.registry[state["work"]]), description="job"
                )
            },
        )


def test_result_polls_until_done_with_growing_interval(clock: FakeClock) -> None:
    work = Work(clock, "j1", finish_at=10.0)
    operation = Operation(WorkDriver(work), clock=clock, polling=PollingOptions(initial_interval=1.0, factor=2.0))
    assert operation.result() == {"id": "j1", "finished_at": 10.0}
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert operation.status() is Status.SUCCEEDED
    assert operation.done()
    polls = work.polls
    assert operation.result()["id"] == "j1"
    assert work.polls == polls  # a finished operation is not polled again


def test_service_retry_after_hint_wins(clock: FakeClock) -> None:
    work = Work(clock, "j2", finish_at=1.0)
    Operation(WorkDriver(work, hint=0.02), clock=clock).wait()
    assert set(clock.sleeps) == {0.02}


def test_timeout_leaves_work_running_and_token_resumes_it(clock: FakeClock) -> None:
    client = JobsClient("local://.mlops", clock=clock)
    work = Work(clock, "j3", finish_at=100.0)
    operation = client.begin_run(work)
    with pytest.raises(OperationTimeoutError) as caught:
        operation.result(timeout=30)
    assert clock.monotonic() == pytest.approx(30.0)
    assert not work.canceled
    assert work.status() is Status.RUNNING
    token = caught.value.details["continuation_token"]
    assert token == operation.continuation_token()
    assert decode_token(token).state == {"work": "j3"}

    other_process_client = JobsClient("local://.mlops", clock=clock)
    resumed = other_process_client.resume_operation(token)
    assert resumed.id == "j3"
    assert resumed.result() == {"id": "j3", "finished_at": 100.0}
    assert clock.monotonic() >= 100.0


def test_resume_refuses_other_target_and_unknown_kind(clock: FakeClock) -> None:
    token = JobsClient("local://.mlops", clock=clock).begin_run(Work(clock, "j4", 1)).continuation_token()
    with pytest.raises(ConfigurationError, match="belongs to target 'local://.mlops'"):
        JobsClient("local://elsewhere", clock=clock).resume_operation(token)
    forged = token.replace("jobs.run", "jobs.other")
    with pytest.raises(ConfigurationError, match="cannot resume operations of kind 'jobs.other'"):
        JobsClient("local://.mlops", clock=clock).resume_operation(forged)
    for bad in ("not json", '{"v": 99}', '{"v": 1, "kind": 3}'):
        with pytest.raises(ConfigurationError):
            decode_token(bad)


def test_cancel_is_observed_by_wait(clock: FakeClock) -> None:
    work = Work(clock, "j5", finish_at=1000.0)
    operation = Operation(WorkDriver(work), clock=clock)
    clock.at(5.0, operation.cancel)
    with pytest.raises(OperationCanceledError, match="j5 was canceled"):
        operation.result()
    assert work.canceled
    assert clock.monotonic() < 20


def test_failure_raises_the_drivers_error(clock: FakeClock) -> None:
    operation = Operation(WorkDriver(Work(clock, "j6", 3.0, Status.FAILED)), clock=clock)
    with pytest.raises(OperationFailedError, match="step 'fit' exited 1"):
        operation.result()
    assert operation.status() is Status.FAILED


def test_transient_poll_errors_are_tolerated(clock: FakeClock) -> None:
    work = Work(clock, "j7", finish_at=0.0)
    assert Operation(WorkDriver(work, flaky=2), clock=clock).result()["id"] == "j7"
    assert work.polls == 3


def test_progress_callback_sees_every_poll(clock: FakeClock) -> None:
    events: list[ProgressEvent] = []
    Operation(WorkDriver(Work(clock, "j8", 3.0)), clock=clock, progress=events.append, show_progress=False).wait()
    assert [event.status for event in events] == [Status.RUNNING, Status.RUNNING, Status.RUNNING, Status.SUCCEEDED]
    assert events[-1].elapsed >= 3.0
    assert events[0].operation_id == "j8"


def test_keyboard_interrupt_cancels_only_when_asked(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    left = Work(clock, "j9", finish_at=1000.0)
    clock.at(2.0, interrupt)
    with pytest.raises(KeyboardInterrupt):
        Operation(WorkDriver(left), clock=clock, cancel_on_interrupt=False).wait()
    assert not left.canceled
    assert "mlops resume" in capsys.readouterr().err

    canceled = Work(clock, "j10", finish_at=1000.0)
    clock.at(clock.monotonic() + 2.0, interrupt)
    with pytest.raises(KeyboardInterrupt):
        Operation(WorkDriver(canceled), clock=clock, cancel_on_interrupt=True).wait()
    assert canceled.canceled


def _swallowed_ctrl_c() -> None:
    # What the interpreter does when the press lands in a weakref callback or a __del__: the SIGINT
    # handler runs, and its KeyboardInterrupt is printed as "Exception ignored in ..." and dropped.
    with contextlib.suppress(KeyboardInterrupt):
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        handler(signal.SIGINT, None)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals: main thread only")
def test_a_ctrl_c_the_interpreter_swallowed_still_stops_the_wait(
    clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a terminal
    try:
        work = Work(clock, "j-swallowed", finish_at=1000.0)
        clock.at(2.0, _swallowed_ctrl_c)
        with pytest.raises(KeyboardInterrupt):  # it waited the whole 1000 s before
            Operation(WorkDriver(work), clock=clock, cancel_on_interrupt=False).wait()
        assert clock.monotonic() < 10  # stopped at the next poll
        assert "mlops resume" in capsys.readouterr().err
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
        after = Work(clock, "j-after", finish_at=clock.monotonic() + 3.0)
        Operation(WorkDriver(after), clock=clock).wait()  # the press was handled once, not again
        assert after.status() is Status.SUCCEEDED
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals: main thread only")
def test_an_application_sigint_handler_is_left_alone(clock: FakeClock) -> None:
    seen: list[int] = []

    def own(signum: int, frame: Any) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, own)
    try:
        clock.at(clock.monotonic() + 1.0, lambda: seen.append(-1) if signal.getsignal(signal.SIGINT) is own else None)
        Operation(WorkDriver(Work(clock, "j-own", finish_at=clock.monotonic() + 3.0)), clock=clock).wait()
        assert seen == [-1]  # during the wait the application's handler was still the one installed
    finally:
        signal.signal(signal.SIGINT, previous)


def test_progress_line_appears_only_for_long_waits(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    Operation(WorkDriver(Work(clock, "quick", 1.0)), clock=clock, show_progress=True, description="refresh").wait()
    assert "quick" not in capsys.readouterr().err

    Operation(WorkDriver(Work(clock, "slow", 60.0)), clock=clock, show_progress=True, description="refresh").wait()
    err = capsys.readouterr().err
    assert "refresh slow: Succeeded" in err


def test_notebook_status_line_updates_in_place(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    display = pytest.importorskip("IPython.display")
    shown: list[tuple[str, object]] = []

    class Handle:
        def update(self, data: dict[str, str], raw: bool) -> None:
            shown.append(("update", data["text/plain"]))

    def fake_display(data: dict[str, str], raw: bool, display_id: bool) -> Handle:
        shown.append(("display", data["text/plain"]))
        return Handle()

    # Look like a Jupyter kernel to the SDK: IPython's display() and get_ipython() need a running
    # kernel, so those two third-party functions record / answer instead.
    ipython = pytest.importorskip("IPython")
    pytest.importorskip("ipykernel")
    monkeypatch.setattr(display, "display", fake_display)
    monkeypatch.setattr(ipython, "get_ipython", lambda: object())
    Operation(WorkDriver(Work(clock, "nb", 30.0)), clock=clock, show_progress=True, description="training job").wait()
    assert shown[0] == ("display", "training job nb")
    assert [kind for kind, _ in shown[1:]] == ["update"] * (len(shown) - 1)
    assert str(shown[-1][1]).startswith("training job nb: Succeeded")


class PreparingDriver(WorkDriver):
    """A driver that uses the waits: each call takes 0.25 simulated seconds of work."""

    def __init__(self, work: Work) -> None:
        super().__init__(work)
        self.calls: list[float] = []

    def while_waiting(self) -> None:
        self.calls.append(self.work.clock.monotonic())
        self.work.clock.advance(0.25)


def test_while_waiting_runs_between_polls_and_its_time_counts_against_the_interval(clock: FakeClock) -> None:
    work = Work(clock, "j9", finish_at=3.0)
    driver = PreparingDriver(work)
    operation = Operation(driver, clock=clock, polling=PollingOptions(initial_interval=1.0, factor=1.0))
    assert operation.result()["id"] == "j9"
    assert driver.calls == [0.0, 1.0, 2.0]  # once before each sleep, never after the final poll
    assert clock.sleeps == [0.75, 0.75, 0.75]  # the interval minus the time the driver used
    assert work.polls == 4


def test_waits_with_a_timeout_do_not_lend_their_time(clock: FakeClock) -> None:
    work = Work(clock, "j10", finish_at=2.0)
    driver = PreparingDriver(work)
    Operation(driver, clock=clock, polling=PollingOptions(initial_interval=1.0, factor=1.0)).wait(timeout=30)
    assert driver.calls == []
    assert clock.sleeps == [1.0, 1.0]
