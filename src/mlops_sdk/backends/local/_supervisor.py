"""Supervisor of one local training run: ``python _supervisor.py <run folder> <launch token>``.

Started by the local training service in its own session (so Ctrl-C in the user's terminal and the
death of the submitting process leave it alone), it

1. claims the run in ``mlops.db`` with a compare-and-set on the launch token (a stale or duplicate
   supervisor finds the token changed and exits without running anything: a run starts at most once);
2. starts the user's command in a new process group, stdout/stderr appended to ``logs/``, with the
   job's secret environment values read from stdin (``launch.json`` names them, never holds them);
3. enforces the timeout and handles SIGTERM (cancellation): SIGTERM to the command's process group,
   SIGKILL after a grace period;
4. records the outcome (status, exit code, end time) in one transaction, plus ``result.json``.
   When it never started the command (the submitter died or failed before creating the MLflow run),
   the run is ``Failed`` with native status ``NotStarted``: a keyed re-submission launches it again.

It imports nothing from mlops_sdk and nothing heavy, so it starts in milliseconds, while the
submitter pre-creates the MLflow run. A plain ``python script.py ...`` command is then warm-started
(see ``_warm.py``): the supervisor imports MLflow in the meantime and runs the script in a fork of
itself once the run id arrives (``mlflow.json`` in the run folder).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
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

_HERE = Path(__file__).resolve().parent
# This file runs as a script, so Python put its folder first on sys.path; its modules have generic
# names (training, models, store...) that must not shadow anything the warm path or a script imports.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]


def _load_sibling(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"mlops_supervisor_{name}", _HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name}.py next to the supervisor")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


_warm = _load_sibling("_warm")
_processes = _load_sibling("_processes")

TERMINAL = ("Succeeded", "Failed", "Canceled")
NEVER_STARTED = "NotStarted"
"""Native status of a Failed run whose command was never started (the training service retries it)."""
_MLFLOW_WAIT = 600.0  # seconds the submitter may take to create the MLflow run


def _note(message: str) -> None:
    """One line in ``logs/supervisor.log`` (this process's stderr), for whoever wonders where time went."""
    sys.stderr.write(f"{_now()} {message}\n")
    sys.stderr.flush()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _connect(db: str) -> sqlite3.Connection:
    connection = sqlite3.connect(db, timeout=60, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 60000")
    return connection


def _claim(connection: sqlite3.Connection, run_id: str, token: str) -> bool:
    connection.execute("BEGIN IMMEDIATE")
    try:
        cursor = connection.execute(
            "UPDATE training_runs SET pid = ?, pid_start = ?, status = 'Running', native_status = 'Starting',"
            " started_at = ? WHERE id = ? AND launch_token = ? AND pid IS NULL AND cancel_requested = 0"
            " AND status = 'NotStarted'",
            (os.getpid(), _processes.process_start_time(os.getpid()), _now(), run_id, token),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return cursor.rowcount == 1


class _Forked:
    """The forked warm child, with the part of the ``Popen`` interface the supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exited(pid: int) -> bool:
    """True once ``pid`` (our child) has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _await_mlflow_run(run_dir: Path, spec: dict[str, Any], state: dict[str, Any]) -> dict[str, str] | str:
    """The MLflow run the submitter created (``mlflow.json``), or why the command cannot start."""
    submitter = spec.get("submitter") or {}
    deadline = time.monotonic() + _MLFLOW_WAIT
    checked = 0.0
    while True:
        try:
            data: dict[str, str] = json.loads((run_dir / "mlflow.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        if data.get("run_id"):
            return data
        if data.get("error"):
            if data.get("canceled"):  # the submitter was interrupted (Ctrl-C) before the command started
                state["canceled"] = True
            return str(data["error"])
        if state["canceled"]:
            return "canceled before the command started"
        now = time.monotonic()
        if now > deadline:
            return f"the submitting process did not create the MLflow run within {_MLFLOW_WAIT:g}s"
        if submitter.get("pid") and now - checked > 1.0:
            checked = now
            if not _processes.process_alive(submitter["pid"], submitter.get("start")):
                return (
                    "the submitting process died before it created the MLflow run; submitting the job again "
                    "with the same idempotency key starts it"
                )
        time.sleep(0.02)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str]) -> int:
    run_dir, token = Path(argv[0]), argv[1]
    spec = json.loads((run_dir / "launch.json").read_text(encoding="utf-8"))
    # Secret environment values come through stdin (a pipe from the submitter), never from a file.
    secrets: dict[str, str] = json.loads(sys.stdin.read() or "{}") if spec.get("secret_env") else {}
    spec["env"] = {**spec["env"], **secrets}
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
    target = _warm.warm_target(spec["command"], Path(spec["cwd"]), spec["env"]) if spec.get("command") else None
    started = time.monotonic()
    if target is not None:
        try:
            loaded = _warm.preload(target)
            # Until the submitter has created the MLflow run, import what the script's first MLflow
            # calls would (the fork inherits it); stop as soon as the run is there.
            loaded += _warm.preload_more(
                target, spec["env"], stop=lambda: state["canceled"] or (run_dir / "mlflow.json").exists()
            )
            _note(f"warm start: imported {', '.join(loaded) or 'nothing'} in {time.monotonic() - started:.1f}s")
        except Exception as error:  # no MLflow here after all: run the command the ordinary way
            sys.stderr.write(f"warm start disabled: {error}\n")
            target = None
            gc.enable()
    mlflow_run = _await_mlflow_run(run_dir, spec, state)
    _note(f"MLflow run ready {time.monotonic() - started:.1f}s after the supervisor started")
    child: subprocess.Popen[bytes] | _Forked | None = None
    with (logs / "stdout.log").open("ab") as out, (logs / "stderr.log").open("ab") as err:
        if isinstance(mlflow_run, str):
            err.write(f"the command was not started: {mlflow_run}\n".encode())
        else:
            env.update({"MLFLOW_RUN_ID": mlflow_run["run_id"], "MLFLOW_EXPERIMENT_ID": mlflow_run["experiment_id"]})
            try:
                if target is not None:
                    connection.close()  # never share an open SQLite connection across fork
                    child = _Forked(
                        _warm.run_forked(
                            target, cwd=Path(spec["cwd"]), env=env, stdout=out.fileno(), stderr=err.fileno()
                        )
                    )
                    connection = _connect(spec["db"])
                else:
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
    elif child is None:
        # The command provably never ran: a keyed re-submission may start the run again (NEVER_STARTED).
        status, native = "Failed", NEVER_STARTED
    elif timed_out:
        status, native = "Failed", "TimedOut"
    elif code == 0:
        status, native = "Succeeded", "Completed"
    else:
        status, native = "Failed", "Failed"
    failure = mlflow_run if isinstance(mlflow_run, str) else None
    ended = _now()
    _write_json(
        run_dir / "result.json", {"status": status, "native_status": native, "exit_code": code, "ended_at": ended}
    )
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "UPDATE training_runs SET status = ?, native_status = ?, exit_code = ?, ended_at = ?,"
        " error = COALESCE(error, ?) WHERE id = ? AND status NOT IN ('Succeeded', 'Failed', 'Canceled')",
        (status, native, code, ended, failure, spec["run_id"]),
    )
    connection.execute("COMMIT")
    connection.close()
    return 0


if __name__ == "__main__":
    exit_code = main(sys.argv[1:])
    # Everything is recorded and closed. The warm start imported MLflow, scikit-learn & co, whose
    # interpreter teardown would burn about a second of CPU next to the user's next step.
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(exit_code)
