"""Supervisor of one local training run: ``python _supervisor.py <run folder> <launch token>``.

Started by the local training service in its own session (so Ctrl-C in the user's terminal and the
death of the submitting process leave it alone), it

1. claims the run in ``mlops.db`` with a compare-and-set on the launch token (a stale or duplicate
   supervisor finds the token changed and exits without running anything: a run starts at most once);
2. starts the user's command in a new process group, stdout/stderr appended to ``logs/``;
3. enforces the timeout and handles SIGTERM (cancellation): SIGTERM to the command's process group,
   SIGKILL after a grace period;
4. records the outcome (status, exit code, end time) in one transaction, plus ``result.json``.

It deliberately imports nothing from mlops_sdk (or anything heavy): it starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TERMINAL = ("Succeeded", "Failed", "Canceled")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _connect(db: str) -> sqlite3.Connection:
    connection = sqlite3.connect(db, timeout=60, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 60000")
    return connection


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:  # noqa: PTH123
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _claim(connection: sqlite3.Connection, run_id: str, token: str) -> bool:
    connection.execute("BEGIN IMMEDIATE")
    try:
        cursor = connection.execute(
            "UPDATE training_runs SET pid = ?, pid_start = ?, status = 'Running', native_status = 'Starting',"
            " started_at = ? WHERE id = ? AND launch_token = ? AND pid IS NULL AND cancel_requested = 0"
            " AND status = 'NotStarted'",
            (os.getpid(), _start_time(os.getpid()), _now(), run_id, token),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return cursor.rowcount == 1


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exited(pid: int) -> bool:
    """True once ``pid`` (our child) has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str]) -> int:
    run_dir, token = Path(argv[0]), argv[1]
    spec = json.loads((run_dir / "launch.json").read_text(encoding="utf-8"))
    connection = _connect(spec["db"])
    if not _claim(connection, spec["run_id"], token):
        return 0
    state: dict[str, Any] = {"canceled": False, "child": None}
    grace = float(spec.get("grace", 10.0))

    def on_terminate(signum: int, frame: Any) -> None:
        state["canceled"] = True
        if state["child"] is not None:
            _killpg(state["child"], signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(AttributeError):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    env = dict(os.environ)
    env.update(spec["env"])
    logs = run_dir / "logs"
    with (logs / "stdout.log").open("ab") as out, (logs / "stderr.log").open("ab") as err:
        try:
            child = subprocess.Popen(
                spec["argv"],
                cwd=spec["cwd"],
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            err.write(f"could not start the command: {error}\n".encode())
            child = None
    if child is not None:
        state["child"] = child.pid
        connection.execute(
            "UPDATE training_runs SET child_pid = ?, native_status = 'Running' WHERE id = ?",
            (child.pid, spec["run_id"]),
        )
        if state["canceled"]:
            _killpg(child.pid, signal.SIGTERM)
    timeout = spec.get("timeout")
    deadline = time.monotonic() + float(timeout) if timeout else None
    timed_out = False
    kill_at: float | None = None
    code: int | None = None
    while child is not None:
        if _exited(child.pid):
            # The command is a zombie now: its pid (and so its group id) cannot be reused until it is
            # reaped, so stragglers it left in its group can be killed without hitting anyone else.
            _killpg(child.pid, signal.SIGKILL)
            code = child.wait()
            break
        time.sleep(0.1)
        now = time.monotonic()
        if deadline is not None and not timed_out and now >= deadline:
            timed_out = True
            _killpg(child.pid, signal.SIGTERM)
        if (timed_out or state["canceled"]) and kill_at is None:
            kill_at = now + grace
        if kill_at is not None and now >= kill_at:
            _killpg(child.pid, signal.SIGKILL)
    cancel_requested = connection.execute(
        "SELECT cancel_requested FROM training_runs WHERE id = ?", (spec["run_id"],)
    ).fetchone()
    if state["canceled"] or (cancel_requested and cancel_requested[0]):
        status, native = "Canceled", "Canceled"
    elif timed_out:
        status, native = "Failed", "TimedOut"
    elif code == 0:
        status, native = "Succeeded", "Completed"
    else:
        status, native = "Failed", "Failed"
    ended = _now()
    _write_json(
        run_dir / "result.json", {"status": status, "native_status": native, "exit_code": code, "ended_at": ended}
    )
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "UPDATE training_runs SET status = ?, native_status = ?, exit_code = ?, ended_at = ? WHERE id = ?"
        " AND status NOT IN ('Succeeded', 'Failed', 'Canceled')",
        (status, native, code, ended, spec["run_id"]),
    )
    connection.execute("COMMIT")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
