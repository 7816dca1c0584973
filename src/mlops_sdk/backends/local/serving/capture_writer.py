"""The capture writer process of an endpoint server (``python -m mlops_sdk.backends.local.serving.capture_writer``).

Turning captured requests into Arrow tables and Parquet files costs more interpreter time than the
hook that collects them, and in the server's own process every microsecond of it is taken from
scoring (the interpreter lock). So the server's writer thread only hands each flush's batch over:
it pickles a :class:`~.capture_files.CaptureBatch` to this process's stdin, this process writes the
files (:func:`~.capture_files.write_batch`) and answers with the pickled
:class:`~.capture_files.BatchResult` on stdout.

The process ends at the end of its input: when the server closes the pipe (a graceful stop) or
dies, whatever it had read is written first, so a SIGKILL of the server never cuts a file short.
It ignores SIGINT and SIGTERM for the same reason (a stop of the server's process group must not
interrupt a write); a broken answer pipe (the server is gone) ends it quietly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_sdk.core.logging import get_logger

if TYPE_CHECKING:
    from mlops_sdk.backends.local.serving.capture_files import BatchResult, CaptureBatch

__all__ = ["ANSWER_TIMEOUT", "READY", "RESTART_AFTER", "WriterProcess", "main", "writer_process_enabled"]

ANSWER_TIMEOUT = 60.0
"""Seconds the writer process may take to answer a batch (``MLOPS_CAPTURE_WRITER_TIMEOUT``); a process
that takes longer (hung, stopped) is killed and the server writes the batch itself."""
RESTART_AFTER = 30.0
"""Seconds after a failure of the writer process before the next one is started (meanwhile the
server's writer thread writes the batches itself)."""
READY = b"R"
"""The byte the process writes once it has imported what writing takes."""
_log = get_logger("mlops_sdk.serving.capture")


def writer_process_enabled() -> bool:
    """False when ``MLOPS_CAPTURE_WRITER`` is ``thread`` (the server's writer thread writes the files)."""
    return os.environ.get("MLOPS_CAPTURE_WRITER", "process").strip().lower() != "thread"


class WriterProcess:
    """The server's handle on its capture writer process: started on first use, restarted after a
    failure (at most once per :data:`RESTART_AFTER` seconds).

    Args:
        folder: The capture folder.
        timeout: Seconds a batch's answer may take (default ``MLOPS_CAPTURE_WRITER_TIMEOUT``, else
            :data:`ANSWER_TIMEOUT`).
    """

    def __init__(self, folder: Path, timeout: float | None = None) -> None:
        self.folder = folder
        self.timeout = timeout if timeout is not None else _answer_timeout()
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._failed_at: float | None = None

    def start(self) -> None:
        """Start the process unless it runs (or failed lately); do not wait for it to be ready."""
        self._running()

    def write(self, batch: CaptureBatch) -> BatchResult | None:
        """``batch`` written by the process; ``None`` when the process is not available, still
        starting (its imports take a second or two, which an acknowledged answer must not wait for)
        or failed on the way, and the caller writes the batch itself. (Rows a failing process wrote
        before it failed are then written twice; the monitoring reads count a correlation id once.)"""
        process = self._running()
        if process is None or not self._ready.is_set():
            return None
        try:
            data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an answer pickle cannot carry (a model's own objects): written by the caller
            return None
        assert process.stdin is not None
        assert process.stdout is not None
        overdue = threading.Event()
        watchdog = threading.Timer(self.timeout, _kill_overdue, args=(process, overdue))
        watchdog.daemon = True
        watchdog.start()
        try:
            process.stdin.write(data)
            process.stdin.flush()
            result: BatchResult = pickle.load(process.stdout)  # noqa: S301 - our own child's pipe
        except Exception as error:
            self._failed(
                f"no answer within {self.timeout:g}s" if overdue.is_set() else f"{type(error).__name__}: {error}"
            )
            return None
        finally:
            watchdog.cancel()
        return result

    @property
    def pid(self) -> int | None:
        """The writer process's pid while it runs and takes batches (``None`` while it starts)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None and self._ready.is_set() else None

    def close(self, timeout: float = 10.0) -> None:
        """End the process: it writes what it read, then exits (killed after ``timeout`` seconds)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()

    def _running(self) -> subprocess.Popen[bytes] | None:
        process = self._process
        if process is not None:
            if process.poll() is None:
                return process
            self._failed(f"it exited with code {process.returncode}")
        if self._failed_at is not None and time.monotonic() - self._failed_at < RESTART_AFTER:
            return None
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlops_sdk.backends.local.serving.capture_writer", str(self.folder)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as error:
            self._failed(str(error))
            return None
        self._process, self._failed_at = process, None
        self._ready = ready = threading.Event()
        threading.Thread(target=_await_ready, args=(process, ready), name="mlops-capture-start", daemon=True).start()
        return process

    def _failed(self, why: str) -> None:
        _log.error("capture writer process failed (%s); the server writes the files itself for %gs", why, RESTART_AFTER)
        process, self._process = self._process, None
        self._failed_at = time.monotonic()
        if process is not None:
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()


def _answer_timeout() -> float:
    text = os.environ.get("MLOPS_CAPTURE_WRITER_TIMEOUT", "")
    try:
        value = float(text) if text.strip() else ANSWER_TIMEOUT
    except ValueError:
        value = 0.0
    if not value > 0:
        _log.warning("MLOPS_CAPTURE_WRITER_TIMEOUT=%r is not a positive number of seconds: %gs", text, ANSWER_TIMEOUT)
        return ANSWER_TIMEOUT
    return value


def _kill_overdue(process: subprocess.Popen[bytes], overdue: threading.Event) -> None:
    """The watchdog of a batch: the process did not answer in time (its pipe then ends)."""
    overdue.set()
    with contextlib.suppress(OSError):
        process.kill()


def _await_ready(process: subprocess.Popen[bytes], ready: threading.Event) -> None:
    """Set ``ready`` once the process says it is (one byte, after its imports)."""
    assert process.stdout is not None
    with contextlib.suppress(OSError, ValueError):
        if process.stdout.read(1) == READY:
            ready.set()


def main(argv: list[str] | None = None) -> int:
    """Serve batches from stdin until it ends; returns the exit code."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        sys.stderr.write("usage: python -m mlops_sdk.backends.local.serving.capture_writer FOLDER\n")
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # The answers own file descriptor 1: anything else printed goes to stderr (the server's log).
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    folder = Path(arguments[0])

    import pyarrow.parquet  # noqa: F401 - imported before the first batch arrives, not while it waits

    from mlops_sdk.backends.local.serving.capture_files import write_batch

    try:
        answers.write(READY)
        answers.flush()
    except (BrokenPipeError, OSError):
        return 0

    requests = sys.stdin.buffer
    while True:
        try:
            batch = pickle.load(requests)  # noqa: S301 - our own server's pipe
        except EOFError:
            return 0
        except Exception as error:  # a batch cut short: the server died while handing it over
            get_logger("mlops_sdk.serving.capture").warning("capture writer: input ended mid-batch (%s)", error)
            return 0
        result = write_batch(folder, batch)
        try:
            pickle.dump(result, answers, protocol=pickle.HIGHEST_PROTOCOL)
            answers.flush()
        except (BrokenPipeError, OSError):  # the server is gone; the files are written
            return 0


if __name__ == "__main__":
    sys.exit(main())
