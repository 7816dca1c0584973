"""Local training: the user's command as a supervised subprocess, metrics in the embedded MLflow store.

Each run lives in ``<store>/runs/<run id>/``::

    code/            snapshot of TrainingJob.code (the command's working directory)
    outputs/<name>/  one folder (or file) per declared output
    logs/            stdout.log, stderr.log
    bin/python       the interpreter of the submitting environment
    launch.json      what the supervisor runs (secret environment values are not in it)
    result.json      outcome written by the supervisor

The run's record (status, pids, idempotency key, launch token) lives in ``mlops.db`` so any process
can re-attach to it by key or id after the submitter died. A detached supervisor
(:mod:`._supervisor`) owns the process, the timeout and the exit code; cancellation is a SIGTERM
to it, which it forwards to the command's process group (SIGKILL after a grace period).

Secret environment variables (:mod:`mlops_sdk.core.secrets`) are stored as ``***`` in ``mlops.db``
and left out of ``launch.json``; the submitter writes their real values to the supervisor's stdin
(a pipe), and the supervisor puts them in the command's environment only.

The command gets ``MLFLOW_TRACKING_URI`` (the store's ``mlflow.db``), ``MLFLOW_RUN_ID`` and
``MLFLOW_EXPERIMENT_ID`` of a pre-created run, so ``mlflow.log_metric`` in the script just works.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mlops_sdk.backends._snapshot import copy_snapshot
from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.backends.local._mlflow import MlflowStore, mlflow_errors, mlflow_store
from mlops_sdk.backends.local._processes import process_alive, process_start_time
from mlops_sdk.backends.local._warm import import_modules, model_modules, script_packages, warm_target
from mlops_sdk.backends.local.store import Migration
from mlops_sdk.backends.spi.training import LogCallback, TrainingDriver
from mlops_sdk.core.errors import (
    ConfigurationError,
    OperationFailedError,
    ResourceNotFoundError,
)
from mlops_sdk.core.files import atomic_write
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.interrupts import interrupt_pending
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import is_masked, reveal
from mlops_sdk.core.status import Status
from mlops_sdk.models.training import TrainingInput, TrainingJob, TrainingRun

__all__ = ["LocalTrainingService", "create_service"]

_log = get_logger(__name__)
_POLL_SECONDS = 0.1
_TAIL_LINES = 20
_MLFLOW_STATUS = {Status.SUCCEEDED: "FINISHED", Status.FAILED: "FAILED", Status.CANCELED: "KILLED"}
NEVER_STARTED = "NotStarted"
"""Native status of a Failed run whose command never started (the supervisor says so): retryable by key."""

MIGRATIONS = [
    Migration(
        1,
        "training runs",
        """
        CREATE TABLE training_runs (
            id TEXT PRIMARY KEY,
            idempotency_key TEXT UNIQUE,
            experiment TEXT NOT NULL,
            display_name TEXT,
            status TEXT NOT NULL,
            native_status TEXT,
            spec TEXT NOT NULL,
            lineage TEXT NOT NULL,
            tags TEXT NOT NULL,
            run_dir TEXT NOT NULL,
            mlflow_run_id TEXT,
            launch_token TEXT NOT NULL,
            submitter_pid INTEGER,
            submitter_start TEXT,
            pid INTEGER,
            pid_start TEXT,
            child_pid INTEGER,
            exit_code INTEGER,
            error TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            finalized INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT
        );
        CREATE INDEX training_runs_created ON training_runs (created_at);
        """,
    )
]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path) as temporary:
        temporary.write_text(json.dumps(data), encoding="utf-8")


def create_service(backend: LocalBackend) -> LocalTrainingService:
    """Entry point used by ``Backend.service("training", ...)``."""
    return LocalTrainingService(backend)


class LocalTrainingService:
    """Training on the local backend (see the module docstring)."""

    def __init__(self, backend: LocalBackend) -> None:
        backend.require_extra("local training", ("mlflow",))
        self._backend = backend
        self._store = backend.store
        self._store.ensure_schema("training", MIGRATIONS)
        self._mlflow: MlflowStore = mlflow_store(backend.folder)
        self._runs_root = backend.folder / "runs"
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # -- SPI ---------------------------------------------------------------------------------------

    def submit(
        self,
        job: TrainingJob,
        *,
        idempotency_key: str | None,
        lineage: Lineage,
        on_log: LogCallback | None = None,
    ) -> LocalTrainingDriver:
        """Start ``job`` (or re-attach to the run with ``idempotency_key``)."""
        if idempotency_key is not None:
            row = self._row_by_key(idempotency_key)
            if row is not None:
                return self._resubmit(row, on_log, _secret_environment(job))
        self._check_inputs(job)
        run_id = f"train-{uuid.uuid4().hex[:12]}"
        token = uuid.uuid4().hex
        run_lineage = lineage.with_inputs(training_run_id=run_id)
        tags = {**job.tags, **run_lineage.to_tags()}
        if idempotency_key is not None:
            tags["mlops.idempotency_key"] = idempotency_key
        me = os.getpid()
        try:
            with self._store.transaction() as connection:
                connection.execute(
                    "INSERT INTO training_runs (id, idempotency_key, experiment, display_name, status, spec, lineage,"
                    " tags, run_dir, launch_token, submitter_pid, submitter_start, created_at)"
                    " VALUES (?, ?, ?, ?, 'NotStarted', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        idempotency_key,
                        job.experiment,
                        job.display_name,
                        job.model_dump_json(),
                        run_lineage.model_dump_json(),
                        json.dumps(tags),
                        str(self._runs_root / run_id),
                        token,
                        me,
                        process_start_time(me),
                        self._backend.clock.now().isoformat(),
                    ),
                )
        except sqlite3.IntegrityError:
            row = self._row_by_key(idempotency_key or "")
            if row is None:
                raise
            return self._resubmit(row, on_log, _secret_environment(job))
        self._launch(run_id, token, _secret_environment(job))
        return LocalTrainingDriver(self, run_id, on_log)

    def attach(self, run_id: str, state: dict[str, Any], *, on_log: LogCallback | None = None) -> LocalTrainingDriver:
        """Driver of an existing run."""
        row = self._row(run_id)
        self._adopt_if_orphaned(row)
        return LocalTrainingDriver(self, run_id, on_log)

    def get_run(self, run_id: str) -> TrainingRun:
        """The run as it is now (finalised first if it just ended)."""
        row = self._refresh(self._row(run_id))
        return self._to_run(row)

    def list_runs(self, *, experiment: str | None = None, limit: int = 50) -> list[TrainingRun]:
        """Most recent first."""
        query = "SELECT * FROM training_runs"
        params: list[Any] = []
        if experiment is not None:
            query += " WHERE experiment = ?"
            params.append(experiment)
        query += " ORDER BY created_at DESC LIMIT ?"
        params.append(limit)
        rows = self._store.connection().execute(query, params).fetchall()
        return [self._to_run(self._refresh(row)) for row in rows]

    def prepare_model_loading(self, run_id: str) -> list[str]:
        """Import what registering, validating or serving the run's model will need in this process.

        Called while the caller waits for the run anyway: MLflow's model modules, and the flavor
        modules of the libraries the training script imports (for scikit-learn that is two
        seconds of imports a validation would otherwise wait for). Only installed modules are
        imported, never the job's own code; commands other than ``python script.py`` get nothing.
        Returns what was imported.
        """
        try:
            spec = json.loads((Path(self._row(run_id)["run_dir"]) / "launch.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        target = warm_target(str(spec.get("command") or ""), Path(spec["cwd"]), spec.get("env") or {})
        if target is None:
            return []
        loaded = import_modules(model_modules(script_packages(target)))
        _log.debug("while training run %s ran, imported %s", run_id, loaded)
        return loaded

    def cancel(self, run_id: str) -> None:
        """Record the request, then SIGTERM the supervisor (it stops the command's process group)."""
        row = self._row(run_id)
        if row["status"] in ("Succeeded", "Failed", "Canceled"):
            return
        with self._store.transaction() as connection:
            connection.execute("UPDATE training_runs SET cancel_requested = 1 WHERE id = ?", (run_id,))
            connection.execute(
                "UPDATE training_runs SET status = 'Canceled', native_status = 'Canceled', ended_at = ?"
                " WHERE id = ? AND pid IS NULL AND status = 'NotStarted'",
                (self._backend.clock.now().isoformat(), run_id),
            )
        row = self._row(run_id)
        if row["pid"] and process_alive(row["pid"], row["pid_start"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(row["pid"], signal.SIGTERM)
        elif row["child_pid"]:
            self._kill_command_group(row)

    # -- internals ---------------------------------------------------------------------------------

    def _kill_command_group(self, row: sqlite3.Row) -> None:
        """SIGKILL the training command's process group, but only while it provably is that command.

        The pid was recorded when the command started; by now it may belong to an unrelated process
        (pids wrap around), so the group leader must still run in this run's folder.
        """
        pid = row["child_pid"]
        run_dir = Path(row["run_dir"]).resolve()
        try:
            cwd = Path(f"/proc/{pid}/cwd").readlink().resolve()
        except OSError:
            return  # gone (or no /proc): nothing we can safely identify
        if cwd != run_dir and run_dir not in cwd.parents:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def _row(self, run_id: str) -> sqlite3.Row:
        row = self._store.connection().execute("SELECT * FROM training_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            recent = [
                r[0]
                for r in self._store.connection()
                .execute("SELECT id FROM training_runs ORDER BY created_at DESC LIMIT 5")
                .fetchall()
            ]
            raise ResourceNotFoundError(
                f"no training run {run_id!r} in {self._backend.folder}; recent runs: {', '.join(recent) or 'none'}",
                backend="local",
                operation_id=run_id,
            )
        return row  # type: ignore[no-any-return]

    def _row_by_key(self, key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = (
            self._store.connection().execute("SELECT * FROM training_runs WHERE idempotency_key = ?", (key,)).fetchone()
        )
        return row

    def _check_inputs(self, job: TrainingJob) -> None:
        for name, item in job.inputs.items():
            if not item.is_literal:
                _input_path(name, item)

    def _resubmit(self, row: sqlite3.Row, on_log: LogCallback | None, secrets: dict[str, str]) -> LocalTrainingDriver:
        """A keyed submission of an existing run: retry it if it provably never started, else re-attach.

        ``secrets`` are the real values of the re-submitted job's secret environment variables: they
        were never stored, so only a re-submission can start a run that needs them.
        """
        _log.info("training run %s already exists for key %r; re-attaching", row["id"], row["idempotency_key"])
        if self._retry_if_never_started(row, secrets):
            return LocalTrainingDriver(self, row["id"], on_log)
        self._adopt_if_orphaned(row, secrets)
        # Still in flight: if that attempt ends without ever starting the command (its submitter
        # died), the driver retries it once under the same key.
        return LocalTrainingDriver(self, row["id"], on_log, retry_never_started=True, secrets=secrets)

    def _missing_secrets(self, row: sqlite3.Row, secrets: dict[str, str] | None) -> list[str]:
        """Secret environment variables the run's job needs that ``secrets`` does not bring."""
        needed = sorted(_secret_names(read_stored(TrainingJob, row["spec"])))
        return [name for name in needed if name not in (secrets or {})]

    def _retry_if_never_started(self, row: sqlite3.Row, secrets: dict[str, str] | None = None) -> bool:
        """Launch again a run that failed before its command started; True if this call did.

        Such a run is a claim whose side effect never happened (typically: the submitter was killed
        before it created the MLflow run), so retrying it under the same key cannot run anything twice.
        The compare-and-set on the launch token lets one caller win when several retry at once.
        """
        if row["status"] != "Failed" or row["native_status"] != NEVER_STARTED:
            return False
        missing = self._missing_secrets(row, secrets)
        if missing:
            _log.warning(
                "training run %s never started and its secret environment variable(s) %s are not stored; "
                "submit the same job with the same idempotency key to start it",
                row["id"],
                missing,
            )
            return False
        token = uuid.uuid4().hex
        me = os.getpid()
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE training_runs SET status = 'NotStarted', native_status = NULL, pid = NULL, pid_start = NULL,"
                " child_pid = NULL, exit_code = NULL, error = NULL, finalized = 0, started_at = NULL,"
                " ended_at = NULL, launch_token = ?, submitter_pid = ?, submitter_start = ?"
                " WHERE id = ? AND launch_token = ? AND status = 'Failed' AND native_status = ?",
                (token, me, process_start_time(me), row["id"], row["launch_token"], NEVER_STARTED),
            )
        if cursor.rowcount != 1:
            return False
        _log.info("training run %s never started its command (%s); starting it again", row["id"], row["error"])
        self._launch(row["id"], token, secrets or {}, retry=True)
        return True

    def _adopt_if_orphaned(self, row: sqlite3.Row, secrets: dict[str, str] | None = None) -> None:
        """A run whose submitter died before its supervisor claimed it is launched by us (once).

        A job with secret environment variables can only be started by a process that has their
        values (``secrets``: a re-submission of the same job), since they were never stored; without
        them the claim is released as never started, which a keyed re-submission retries.
        """
        if row["status"] != "NotStarted" or row["pid"] is not None or row["cancel_requested"]:
            return
        if row["submitter_pid"] == os.getpid() or process_alive(row["submitter_pid"], row["submitter_start"]):
            return
        missing = self._missing_secrets(row, secrets)
        if missing:
            with self._store.transaction() as connection:
                connection.execute(
                    "UPDATE training_runs SET status = 'Failed', native_status = ?, error = ?, ended_at = ?"
                    " WHERE id = ? AND launch_token = ? AND status = 'NotStarted' AND pid IS NULL",
                    (
                        NEVER_STARTED,
                        f"its submitter died before starting it and its secret environment variable(s) {missing} "
                        "are not stored: submit the same job with the same idempotency key to start it",
                        self._backend.clock.now().isoformat(),
                        row["id"],
                        row["launch_token"],
                    ),
                )
            return
        token = uuid.uuid4().hex
        me = os.getpid()
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE training_runs SET launch_token = ?, submitter_pid = ?, submitter_start = ?"
                " WHERE id = ? AND launch_token = ? AND pid IS NULL AND status = 'NotStarted'",
                (token, me, process_start_time(me), row["id"], row["launch_token"]),
            )
        if cursor.rowcount == 1:
            _log.info("training run %s was never started (its submitter died); starting it now", row["id"])
            self._launch(row["id"], token, secrets or {}, retry=True)

    def _launch(self, run_id: str, token: str, secrets: dict[str, str], *, retry: bool = False) -> None:
        try:
            self._start_supervisor(run_id, token, secrets)
        except BaseException as error:
            # Nothing was started: release the claim as a run that never started (its key retries it).
            with self._store.transaction() as connection:
                connection.execute(
                    "UPDATE training_runs SET status = 'Failed', native_status = ?, error = ?, ended_at = ?"
                    " WHERE id = ? AND launch_token = ? AND status = 'NotStarted' AND pid IS NULL",
                    (
                        NEVER_STARTED,
                        redact(f"the training run could not be started: {error}"),
                        self._backend.clock.now().isoformat(),
                        run_id,
                        token,
                    ),
                )
            raise
        self._hand_over_mlflow_run(run_id, retry=retry)

    def _start_supervisor(self, run_id: str, token: str, secrets: dict[str, str]) -> None:
        row = self._row(run_id)
        job = read_stored(TrainingJob, row["spec"])
        run_dir = Path(row["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("mlflow.json", "result.json"):  # a previous attempt's hand-over files
            (run_dir / stale).unlink(missing_ok=True)
        code_dir = run_dir / "code"
        if code_dir.exists():  # a previous launch attempt died half-way
            shutil.rmtree(code_dir)
        copy_snapshot(job.code, code_dir, exclude=[self._backend.folder])
        (run_dir / "logs").mkdir(exist_ok=True)
        outputs: dict[str, str] = {}
        for name, output in job.outputs.items():
            path = run_dir / "outputs" / name
            if output.type == "uri_file":
                path.parent.mkdir(parents=True, exist_ok=True)
            else:
                path.mkdir(parents=True, exist_ok=True)
            outputs[name] = str(path)
        inputs = {
            name: str(item.value) if item.is_literal else str(_input_path(name, item))
            for name, item in job.inputs.items()
        }
        quote = shlex.quote if os.name != "nt" else (lambda value: subprocess.list2cmdline([value]))
        command = job.render_command(
            {key: quote(value) for key, value in inputs.items()}, {key: quote(value) for key, value in outputs.items()}
        )
        bin_dir = _python_shim(run_dir)
        hidden = _secret_names(job)
        env = {
            **{name: str(value) for name, value in job.environment_variables.items() if name not in hidden},
            "MLFLOW_TRACKING_URI": self._mlflow.uri,
            "MLFLOW_REGISTRY_URI": self._mlflow.uri,
            "PYTHONUNBUFFERED": "1",
            "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        argv = ["cmd", "/c", command] if os.name == "nt" else ["/bin/sh", "-c", command]
        launch = {
            "run_id": run_id,
            "db": str(self._store.path),
            "argv": argv,
            "command": command,
            "cwd": str(code_dir),
            "env": env,
            "timeout": job.timeout,
            "grace": 10.0,
            # Names only: the values arrive on the supervisor's stdin.
            "secret_env": sorted(hidden),
            # The supervisor starts right away and warms up (imports MLflow) while this process
            # pre-creates the MLflow run; it starts the command once the run id is in the row.
            "submitter": {"pid": os.getpid(), "start": process_start_time(os.getpid())},
        }
        with atomic_write(run_dir / "launch.json") as temporary:
            temporary.write_text(json.dumps(launch), encoding="utf-8")
        supervisor = Path(__file__).with_name("_supervisor.py")
        with (run_dir / "logs" / "supervisor.log").open("ab") as supervisor_log:
            process = subprocess.Popen(
                [sys.executable, str(supervisor), str(run_dir), token],
                stdin=subprocess.PIPE if hidden else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=supervisor_log,
                start_new_session=True,
                close_fds=True,
            )
        if hidden and process.stdin is not None:
            with contextlib.suppress(BrokenPipeError), process.stdin:
                process.stdin.write(json.dumps({name: secrets.get(name, "") for name in hidden}).encode("utf-8"))
        with self._lock:
            self._children[run_id] = process
        _log.info("started training run %s (supervisor pid %d): %s", run_id, process.pid, redact(command))

    def _hand_over_mlflow_run(self, run_id: str, *, retry: bool) -> None:
        """Create (or find) the MLflow run and hand it to the waiting supervisor through ``mlflow.json``."""
        row = self._row(run_id)
        job = read_stored(TrainingJob, row["spec"])
        run_dir = Path(row["run_dir"])
        try:
            mlflow_run_id, experiment_id = self._mlflow_run(row, job, retry=retry)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt) or interrupt_pending():
                # Ctrl-C (perhaps swallowed inside MLflow's database layer, which then failed on a
                # half-closed connection): the run is canceled, not failed, and never blamed on the store.
                reason = "interrupted (Ctrl-C) while the run was being submitted: the command never started"
                _write_json(run_dir / "mlflow.json", {"error": reason, "canceled": True})
                if isinstance(error, KeyboardInterrupt):
                    raise
                raise KeyboardInterrupt from error
            _write_json(run_dir / "mlflow.json", {"error": f"creating the MLflow run failed: {error}"})
            raise
        # The supervisor waits for this file before it starts the command.
        _write_json(run_dir / "mlflow.json", {"run_id": mlflow_run_id, "experiment_id": experiment_id})

    def _mlflow_run(self, row: sqlite3.Row, job: TrainingJob, *, retry: bool = False) -> tuple[str, str]:
        experiment_id = self._mlflow.experiment_id(job.experiment)
        if retry:
            # A previous attempt may have created the MLflow run (and died before recording it, or
            # had it closed as failed): use that one, so the run keeps exactly one MLflow run.
            return self._reuse_mlflow_run(row, experiment_id), experiment_id
        if row["mlflow_run_id"]:
            return row["mlflow_run_id"], experiment_id
        return self._create_mlflow_run(row, job, experiment_id), experiment_id

    def _reuse_mlflow_run(self, row: sqlite3.Row, experiment_id: str) -> str:
        client = self._mlflow.client
        with mlflow_errors(f"finding the MLflow run of training run {row['id']}", operation_id=row["id"]):
            mlflow_run_id = row["mlflow_run_id"]
            if not mlflow_run_id:
                found = client.search_runs(
                    [experiment_id], filter_string=f"tags.`mlops.training_run_id` = '{row['id']}'", max_results=1
                )
                if not found:
                    return self._create_mlflow_run(row, read_stored(TrainingJob, row["spec"]), experiment_id)
                mlflow_run_id = str(found[0].info.run_id)
            if client.get_run(mlflow_run_id).info.status != "RUNNING":
                client.update_run(mlflow_run_id, status="RUNNING")
        with self._store.transaction() as connection:
            connection.execute("UPDATE training_runs SET mlflow_run_id = ? WHERE id = ?", (mlflow_run_id, row["id"]))
        return str(mlflow_run_id)

    def _create_mlflow_run(self, row: sqlite3.Row, job: TrainingJob, experiment_id: str) -> str:
        tags = {**json.loads(row["tags"]), "mlops.training_run_id": row["id"], "mlflow.source.type": "JOB"}
        if job.display_name:
            tags["mlflow.runName"] = job.display_name
        user = Lineage.model_validate_json(row["lineage"]).user
        if user:
            tags["mlflow.user"] = user
        with mlflow_errors(f"creating the MLflow run of training run {row['id']}", operation_id=row["id"]):
            run = self._mlflow.client.create_run(experiment_id, tags=tags, run_name=job.display_name)
        mlflow_run_id = str(run.info.run_id)
        with self._store.transaction() as connection:
            connection.execute("UPDATE training_runs SET mlflow_run_id = ? WHERE id = ?", (mlflow_run_id, row["id"]))
        return mlflow_run_id

    def _reap(self, run_id: str) -> None:
        with self._lock:
            process = self._children.get(run_id)
        if process is not None and process.poll() is not None:
            with self._lock:
                self._children.pop(run_id, None)

    def _refresh(self, row: sqlite3.Row) -> sqlite3.Row:
        """Detect a dead supervisor, finalise a newly ended run; return the current row."""
        self._reap(row["id"])
        if row["status"] == "Running" and not process_alive(row["pid"], row["pid_start"]):
            row = self._row(row["id"])
            if row["status"] == "Running":
                status = "Canceled" if row["cancel_requested"] else "Failed"
                native = "Canceled" if row["cancel_requested"] else "Lost"
                if row["child_pid"]:
                    self._kill_command_group(row)
                with self._store.transaction() as connection:
                    connection.execute(
                        "UPDATE training_runs SET status = ?, native_status = ?, ended_at = ?, error = ?"
                        " WHERE id = ? AND status = 'Running'",
                        (
                            status,
                            native,
                            self._backend.clock.now().isoformat(),
                            None
                            if status == "Canceled"
                            else f"the supervisor process (pid {row['pid']}) died without recording an exit code",
                            row["id"],
                        ),
                    )
                row = self._row(row["id"])
        elif row["status"] == "NotStarted":
            self._adopt_if_orphaned(row)
        if row["status"] in ("Succeeded", "Failed", "Canceled") and not row["finalized"]:
            self._finalize(row)
            row = self._row(row["id"])
        return row

    def _finalize(self, row: sqlite3.Row) -> None:
        """Close the MLflow run if the script did not, and keep the logs as run artifacts."""
        status = Status(row["status"])
        if row["mlflow_run_id"]:
            client = self._mlflow.client
            with mlflow_errors(f"closing the MLflow run of training run {row['id']}", operation_id=row["id"]):
                run = client.get_run(row["mlflow_run_id"])
                if run.info.status in ("RUNNING", "SCHEDULED"):
                    client.set_terminated(row["mlflow_run_id"], status=_MLFLOW_STATUS[status])
                logs = Path(row["run_dir"]) / "logs"
                for name in ("stdout.log", "stderr.log"):
                    if (logs / name).is_file() and (logs / name).stat().st_size:
                        client.log_artifact(row["mlflow_run_id"], str(logs / name), artifact_path="logs")
        error = row["error"]
        if status is Status.FAILED and error is None:
            error = self._failure_message(row)
        with self._store.transaction() as connection:
            connection.execute("UPDATE training_runs SET finalized = 1, error = ? WHERE id = ?", (error, row["id"]))

    def _failure_message(self, row: sqlite3.Row) -> str:
        job = read_stored(TrainingJob, row["spec"])
        if row["native_status"] == "TimedOut":
            head = f"training run {row['id']} exceeded its timeout of {job.timeout:g}s and was stopped"
        elif row["exit_code"] is not None and row["exit_code"] < 0:
            head = f"training run {row['id']} was killed by signal {-row['exit_code']}"
        elif row["exit_code"] is not None:
            head = f"training run {row['id']} failed with exit code {row['exit_code']}"
        else:
            head = f"training run {row['id']} failed ({row['native_status']})"
        tail = _tail(Path(row["run_dir"]) / "logs")
        return redact(f"{head}. Last log lines:\n{tail}" if tail else f"{head} (no output)")

    def _to_run(self, row: sqlite3.Row) -> TrainingRun:
        job = read_stored(TrainingJob, row["spec"])
        run_dir = Path(row["run_dir"])
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        if row["mlflow_run_id"] and row["status"] != "NotStarted":
            with mlflow_errors(f"reading the MLflow run of training run {row['id']}", operation_id=row["id"]):
                data = self._mlflow.client.get_run(row["mlflow_run_id"]).data
            metrics = {str(key): float(value) for key, value in data.metrics.items()}
            params = {str(key): str(value) for key, value in data.params.items()}
        return TrainingRun(
            id=row["id"],
            backend="local",
            status=Status(row["status"]),
            native_status=row["native_status"],
            experiment=row["experiment"],
            display_name=row["display_name"],
            idempotency_key=row["idempotency_key"],
            metrics=metrics,
            params=params,
            outputs={name: str(run_dir / "outputs" / name) for name in job.outputs},
            log_location=str(run_dir / "logs"),
            lineage=Lineage.model_validate_json(row["lineage"]),
            tags=json.loads(row["tags"]),
            mlflow_run_id=row["mlflow_run_id"],
            created_at=_parse_time(row["created_at"]),
            ended_at=_parse_time(row["ended_at"]),
            exit_code=row["exit_code"],
            error=row["error"],
        )


class LocalTrainingDriver(TrainingDriver):
    """Operation driver of one local training run."""

    _service: LocalTrainingService

    def __init__(
        self,
        service: LocalTrainingService,
        run_id: str,
        on_log: LogCallback | None,
        *,
        retry_never_started: bool = False,
        secrets: dict[str, str] | None = None,
    ) -> None:
        self._service = service
        self._run_id = run_id
        self._retry_never_started = retry_never_started
        self._secrets = secrets  # in memory only: what a retry of a never-started attempt needs
        self._on_log = on_log
        self._offsets: dict[str, int] = {}
        self._partial: dict[str, bytes] = {}
        self._running = False
        self._prepared = False

    def poll(self) -> PollResult:
        """Read the run's record (cheap: one SQLite read and a pid probe)."""
        row = self._service._refresh(self._service._row(self._run_id))
        if self._retry_never_started and row["status"] == "Failed" and row["native_status"] == NEVER_STARTED:
            self._retry_never_started = False  # once: a failure of our own attempt is reported
            self._service._retry_if_never_started(row, self._secrets)
            row = self._service._refresh(self._service._row(self._run_id))
        final = row["status"] in ("Succeeded", "Failed", "Canceled")
        self._stream_logs(final)
        status = Status(row["status"])
        self._running = status is Status.RUNNING
        error = None
        if status is Status.FAILED:
            error = OperationFailedError(
                row["error"] or f"training run {self._run_id} failed",
                backend="local",
                operation_id=self._run_id,
                details={
                    "exit_code": row["exit_code"],
                    "native_status": row["native_status"],
                    "logs": str(Path(row["run_dir"]) / "logs"),
                },
            )
        return PollResult(
            status=status,
            native_status=row["native_status"],
            retry_after=None if final else _POLL_SECONDS,
            error=error,
        )

    def while_waiting(self) -> None:
        """Once the run is running: import what loading its model will take (see ``prepare_model_loading``)."""
        if self._running and not self._prepared:
            self._prepared = True
            self._service.prepare_model_loading(self._run_id)

    def _stream_logs(self, final: bool) -> None:
        if self._on_log is None:
            return
        logs = Path(self._service._row(self._run_id)["run_dir"]) / "logs"
        for name in ("stdout.log", "stderr.log"):
            path = logs / name
            if not path.is_file():
                continue
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(name, 0))
                chunk = handle.read()
            self._offsets[name] = self._offsets.get(name, 0) + len(chunk)
            data = self._partial.pop(name, b"") + chunk
            lines = data.split(b"\n")
            rest = lines.pop()
            if rest and not final:
                self._partial[name] = rest
            elif rest:
                lines.append(rest)
            for line in lines:
                self._on_log(redact(line.decode("utf-8", errors="replace").rstrip("\r")))


def _secret_names(job: TrainingJob) -> set[str]:
    """Names of the job's secret environment variables (``***`` in a job read back from the store)."""
    return {
        name for name, value in job.environment_variables.items() if isinstance(value, SecretStr) or is_masked(value)
    }


def _secret_environment(job: TrainingJob) -> dict[str, str]:
    """The real values of the job's secret environment variables (none for a job read back from the store)."""
    return {
        name: str(reveal(value))
        for name, value in job.environment_variables.items()
        if isinstance(value, SecretStr) and not is_masked(reveal(value))
    }


def _input_path(name: str, item: TrainingInput) -> Path:
    uri = item.uri or ""
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        path = Path(unquote(urlsplit(uri).path))
    elif "://" in uri:
        raise ConfigurationError(
            f"input {name!r} is {uri!r}, which the local backend cannot read; pass a local path or file:// URI "
            "(azureml:// inputs need an azureml:// target)",
            details={"field": f"inputs.{name}", "value": uri},
        )
    else:
        path = Path(uri)
    path = path.expanduser().resolve()
    if not path.exists():
        raise ConfigurationError(
            f"input {name!r}: {path} does not exist ({item.origin()}); fix the path",
            details={"field": f"inputs.{name}", "value": uri, "origin": item.origin()},
        )
    return path


def _python_shim(run_dir: Path) -> Path:
    """``bin/python`` / ``bin/python3`` in the run folder: exec the submitting interpreter (venv kept)."""
    bin_dir = run_dir / "bin"
    bin_dir.mkdir(exist_ok=True)
    if os.name == "nt":
        return Path(sys.executable).parent
    script = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n'
    for name in ("python", "python3"):
        path = bin_dir / name
        path.write_text(script, encoding="utf-8")
        path.chmod(0o755)
    return bin_dir


def _tail(logs: Path) -> str:
    for name in ("stderr.log", "stdout.log"):
        path = logs / name
        if path.is_file() and path.stat().st_size:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - 16384))
                lines = handle.read().decode("utf-8", errors="replace").splitlines()
            return "\n".join(lines[-_TAIL_LINES:])
    return ""


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
