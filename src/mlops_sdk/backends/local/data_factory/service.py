"""The local refresh engine: pipelines in SQLite / ``pipelines.toml``, one worker process per run.

Runs move ``Queued -> InProgress -> Succeeded | Failed | Cancelled`` (``Canceling`` in between when
canceled) exactly like Data Factory runs. The worker (``worker.py``) writes the progress; this
service starts workers, answers reads, and reconciles what a dead worker left behind: a run whose
worker is gone is ``Failed`` (or ``Cancelled`` when a cancel was pending) the next time anyone looks.

Secret parameter values (see :mod:`mlops_sdk.core.secrets`) are stored as ``***``; the worker gets
the real values on its stdin, which nothing persists.

A ``Queued`` row is a claim: the process that inserted it (``starter_pid``) starts its worker next.
When that process died first, whoever looks at the run next starts the worker instead, and a keyed
``start_refresh`` of a run that failed before its worker ever began (``started_at`` unset) queues it
again under the same key: the worker's ``Queued -> InProgress`` compare-and-set lets one worker run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlops_sdk.backends.local._processes import process_alive, process_start_time
from mlops_sdk.backends.local.data_factory.declarations import load_declared_pipelines, pipelines_file
from mlops_sdk.backends.local.data_factory.process import SECRETS_ON_STDIN, pid_alive
from mlops_sdk.backends.local.data_factory.schema import COMPONENT, MIGRATIONS, NATIVE_ACTIVE
from mlops_sdk.backends.spi.data_factory import TriggersUnsupported, WatchedRun, refresh_failure
from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.errors import ConfigurationError, ConflictError, ResourceNotFoundError
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import is_masked, split_secrets
from mlops_sdk.core.status import Status, status_from_adf
from mlops_sdk.models.data_factory import (
    REQUEST_ID_PARAMETER,
    ActivityError,
    ActivityRun,
    Column,
    DataOutput,
    PipelineInfo,
    RefreshPipeline,
    RefreshRun,
)

if TYPE_CHECKING:
    from mlops_sdk.backends.local import LocalBackend

__all__ = ["LocalDataFactoryService", "LocalRunMonitor"]

WORKER_MODULE = "mlops_sdk.backends.local.data_factory.worker"
NEVER_STARTED_AFTER = timedelta(seconds=120)
"""A ``Queued`` run whose worker pid was never recorded (by a starter still alive) is failed after this long."""
CANCEL_GRACE = timedelta(seconds=10)
"""After this long in ``Canceling``, a worker that ignored SIGTERM is killed."""
_LOG_TAIL_LINES = 5
_NATIVE_FOR_STATUS = {
    Status.NOT_STARTED: ("Queued",),
    Status.RUNNING: ("InProgress", "Canceling"),
    Status.SUCCEEDED: ("Succeeded",),
    Status.FAILED: ("Failed",),
    Status.CANCELED: ("Cancelled",),
}
_TRIGGERS_UNSUPPORTED = (
    "schedule and storage-event triggers are not supported on the local backend: nothing runs there "
    "between your commands. Schedule `mlops data refresh PIPELINE` with cron / Task Scheduler / CI, or use "
    "an azureml:// target with a Data Factory"
)
_log = get_logger(__name__)


def _now() -> datetime:
    return utcnow()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class LocalDataFactoryService(TriggersUnsupported):
    """``DataFactoryService`` on the local store (see module docstring)."""

    triggers_refusal: ClassVar[str] = _TRIGGERS_UNSUPPORTED
    backend_label: ClassVar[str] = "local"

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._store = backend.store
        self._store.ensure_schema(COMPONENT, MIGRATIONS)
        self._folder = backend.folder
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    @property
    def _datasets(self) -> Path:
        return self._folder / "datasets"

    def _log_path(self, run_id: str) -> Path:
        return self._folder / "data_factory" / "logs" / f"{run_id}.log"

    # -- pipelines ---------------------------------------------------------------------------------

    def _pipelines(self) -> dict[str, RefreshPipeline]:
        pipelines = load_declared_pipelines(pipelines_file(self._backend.config))
        rows = self._store.connection().execute("SELECT name, spec_json FROM df_pipelines").fetchall()
        for row in rows:  # defined in code wins over the file
            pipelines[row["name"]] = read_stored(RefreshPipeline, row["spec_json"])
        return pipelines

    def _pipeline(self, name: str) -> RefreshPipeline:
        pipelines = self._pipelines()
        if name not in pipelines:
            known = ", ".join(sorted(pipelines)) or "none"
            raise ResourceNotFoundError(
                f"refresh pipeline {name!r} does not exist on the local backend; known pipelines: {known}. "
                f"Define it with client.data_factory.define(...) or in {pipelines_file(self._backend.config)}",
                backend="local",
                status_code=404,
                details={"pipeline": name, "known": sorted(pipelines)},
            )
        return pipelines[name]

    @staticmethod
    def _info(pipeline: RefreshPipeline) -> PipelineInfo:
        return PipelineInfo(
            name=pipeline.name,
            parameters=dict(pipeline.parameters),
            activities=tuple(activity.name for activity in pipeline.activities),
            description=pipeline.description,
        )

    def describe_pipeline(self, name: str) -> PipelineInfo:
        """The pipeline's declaration summary."""
        return self._info(self._pipeline(name))

    def list_pipelines(self) -> list[PipelineInfo]:
        """Pipelines from ``pipelines.toml`` and from ``define``."""
        return [self._info(pipeline) for _, pipeline in sorted(self._pipelines().items())]

    def define_pipeline(self, pipeline: RefreshPipeline) -> PipelineInfo:
        """Store (or replace) a declaration in ``mlops.db`` (secret parameters may not have a default)."""
        with_default = sorted(
            name for name, spec in pipeline.parameters.items() if spec.is_secret and not spec.required
        )
        if with_default:
            raise ConfigurationError(
                f"pipeline {pipeline.name!r}: secret parameter(s) {with_default} have a default, and secret values "
                "are never stored in mlops.db; drop the default and pass the value with each refresh, or declare "
                f"the pipeline in {pipelines_file(self._backend.config)}",
                details={"parameters": with_default},
            )
        with self._store.transaction() as connection:
            connection.execute(
                "INSERT INTO df_pipelines (name, spec_json, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET spec_json = excluded.spec_json, updated_at = excluded.updated_at",
                (pipeline.name, pipeline.model_dump_json(), _now().isoformat()),
            )
        return self._info(pipeline)

    # -- starting runs -------------------------------------------------------------------------------

    def start_refresh(
        self,
        pipeline: str,
        parameters: Mapping[str, Any],
        *,
        idempotency_key: str,
        lineage: Lineage,
        fresh_key: bool = False,
    ) -> str:
        """Insert a ``Queued`` run (or find the one with this key) and start its worker."""
        spec = self._pipeline(pipeline)
        run_id = str(uuid.uuid4())
        defaults = {name: spec_.default for name, spec_ in spec.parameters.items() if not spec_.required}
        values, secrets = split_secrets({**defaults, **parameters, REQUEST_ID_PARAMETER: idempotency_key})
        with self._store.transaction() as connection:
            existing = connection.execute(
                "SELECT * FROM df_runs WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if existing is not None and existing["pipeline"] != pipeline:
                raise ConflictError(
                    f"idempotency key {idempotency_key!r} was already used for a run of pipeline "
                    f"{existing['pipeline']!r} ({existing['run_id']}); use another key for {pipeline!r}",
                    backend="local",
                    operation_id=existing["run_id"],
                )
            if existing is None:
                self._insert_run(
                    connection,
                    run_id=run_id,
                    pipeline=pipeline,
                    spec=spec,
                    parameters=values,
                    key=idempotency_key,
                    group_id=run_id,
                    reference=None,
                    reuse=[],
                    lineage=lineage.with_inputs(refresh_run_id=run_id),
                )
        if existing is not None:
            _log.info("re-attaching to refresh run %s (key %s)", existing["run_id"], idempotency_key)
            if not self._retry_if_never_started(existing, secrets) and not self._adopt_if_orphaned(existing, secrets):
                self._reconcile(existing)  # starts the worker if the process that queued the run died
            return str(existing["run_id"])
        self._spawn_or_release(run_id, secrets)
        return run_id

    def _spawn_or_release(self, run_id: str, secrets: Mapping[str, str] | None = None) -> None:
        """Start the run's worker; if that fails, fail the run as never started (its key can retry it)."""
        try:
            self._spawn(run_id, secrets)
        except BaseException as error:
            self._release_never_started(run_id, f"the refresh worker could not be started: {error}")
            raise

    def _release_never_started(self, run_id: str, message: str) -> None:
        """Fail a ``Queued`` run that no worker took as never started: a keyed ``start_refresh`` retries it."""
        now = _now().isoformat()
        with self._store.transaction() as connection:
            connection.execute(
                "UPDATE df_runs SET status = 'Failed', message = ?, ended_at = ?, updated_at = ?"
                " WHERE run_id = ? AND status = 'Queued' AND pid IS NULL",
                (redact(message), now, now, run_id),
            )

    def _retry_if_never_started(self, row: sqlite3.Row, secrets: Mapping[str, str] | None = None) -> bool:
        """Queue again a run that failed before any worker began it; True if this call did.

        ``started_at`` is set by the worker's ``Queued -> InProgress`` compare-and-set, before any
        activity runs: a ``Failed`` run without it provably did nothing, so retrying it under the
        same key cannot run anything twice.
        """
        if row["status"] != "Failed" or row["started_at"] is not None:
            return False
        now = _now().isoformat()
        me = os.getpid()
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE df_runs SET status = 'Queued', message = NULL, ended_at = NULL, pid = NULL,"
                " starter_pid = ?, starter_start = ?, updated_at = ?"
                " WHERE run_id = ? AND status = 'Failed' AND started_at IS NULL",
                (me, process_start_time(me), now, row["run_id"]),
            )
        if cursor.rowcount != 1:
            return False
        _log.info("refresh run %s never started (%s); queued it again", row["run_id"], row["message"])
        self._spawn_or_release(row["run_id"], secrets)
        return True

    def _adopt_if_orphaned(self, row: sqlite3.Row, secrets: Mapping[str, str] | None = None) -> bool:
        """Start the worker of a ``Queued`` run whose starting process died before recording one.

        Returns True when this call changed the run: started its worker, or released it. A worker that
        the dead process did start meanwhile is harmless: of two workers only the first passes the
        ``Queued -> InProgress`` compare-and-set. A run with secret parameters is adopted only by a keyed
        re-submission that brings their values (``secrets``): they are never stored, so a mere read
        releases it as never started instead (a keyed re-submission then queues it again).
        """
        if row["status"] != "Queued" or row["pid"] is not None or row["starter_pid"] is None:
            return False
        if process_alive(row["starter_pid"], row["starter_start"]):
            return False
        if secrets is None and any(is_masked(value) for value in json.loads(row["parameters_json"] or "{}").values()):
            self._release_never_started(
                row["run_id"],
                "the process that queued this run died before starting its worker, and its secret parameters "
                "are not stored: refresh again with the same idempotency key (or flow run id) to start it",
            )
            return True
        me = os.getpid()
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE df_runs SET starter_pid = ?, starter_start = ?, updated_at = ?"
                " WHERE run_id = ? AND status = 'Queued' AND pid IS NULL AND starter_pid = ?"
                " AND starter_start IS ?",
                (
                    me,
                    process_start_time(me),
                    _now().isoformat(),
                    row["run_id"],
                    row["starter_pid"],
                    row["starter_start"],
                ),
            )
        if cursor.rowcount != 1:
            return False
        _log.info("refresh run %s: the process that queued it died; starting its worker", row["run_id"])
        self._spawn_or_release(row["run_id"])
        return True

    def _insert_run(
        self,
        connection: sqlite3.Connection,
        *,
        run_id: str,
        pipeline: str,
        spec: RefreshPipeline,
        parameters: Mapping[str, Any],
        key: str | None,
        group_id: str,
        reference: str | None,
        reuse: list[dict[str, str | None]],
        lineage: Lineage,
    ) -> None:
        now = _now().isoformat()
        me = os.getpid()
        connection.execute(
            "INSERT INTO df_runs (run_id, pipeline, status, spec_json, parameters_json, idempotency_key, group_id,"
            " reference_run_id, reuse_json, base_dir, lineage_json, created_at, updated_at, starter_pid,"
            " starter_start) VALUES (?, ?, 'Queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                pipeline,
                spec.model_dump_json(),
                json.dumps(dict(parameters)),
                key,
                group_id,
                reference,
                json.dumps(reuse),
                str(self._backend.config.base_dir),
                lineage.model_dump_json(),
                now,
                now,
                me,
                process_start_time(me),
            ),
        )

    def _spawn(self, run_id: str, secrets: Mapping[str, str] | None = None) -> None:
        log = self._log_path(run_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # The worker imports what this process can import (python activities' modules).
        paths = [str(Path(entry).resolve()) for entry in sys.path if entry]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        argv = [sys.executable, "-m", WORKER_MODULE, str(self._folder), run_id]
        if secrets:
            argv.append(SECRETS_ON_STDIN)
        with log.open("ab") as handle:
            child = subprocess.Popen(
                argv,
                cwd=str(self._backend.config.base_dir),
                env=env,
                stdin=subprocess.PIPE if secrets else subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        if secrets and child.stdin is not None:
            # A pipe, never a file: the values exist only in this process and the worker.
            with contextlib.suppress(BrokenPipeError), child.stdin:
                child.stdin.write(json.dumps(dict(secrets)).encode("utf-8"))
        with self._lock:
            self._children[run_id] = child
        with self._store.transaction() as connection:
            connection.execute("UPDATE df_runs SET pid = ? WHERE run_id = ? AND pid IS NULL", (child.pid, run_id))
        _log.info("refresh run %s: worker pid %d", run_id, child.pid)

    def start_rerun(self, run_id: str, *, from_failure: bool, start_activity: str | None) -> tuple[str, str]:
        """A recovery run reusing the snapshots of the activities it skips."""
        reference = self._row(run_id)
        if reference["status"] in NATIVE_ACTIVE:
            raise ConflictError(
                f"refresh run {run_id} is still {reference['status']}; wait for it or cancel it before a rerun",
                backend="local",
                operation_id=run_id,
            )
        spec = read_stored(RefreshPipeline, reference["spec_json"])
        activities = {row["name"]: row for row in self._activity_rows(run_id)}
        names = [activity.name for activity in spec.activities]
        reuse: list[dict[str, str | None]] = []
        if start_activity is not None:
            if start_activity not in names:
                raise ConfigurationError(
                    f"start_activity {start_activity!r} is not an activity of pipeline {reference['pipeline']!r}; "
                    f"activities: {names}",
                    details={"start_activity": start_activity, "activities": names},
                )
            for name in names[: names.index(start_activity)]:
                row = activities.get(name)
                if row is None or row["status"] != "Succeeded":
                    raise ConfigurationError(
                        f"cannot start at {start_activity!r}: earlier activity {name!r} did not succeed in run "
                        f"{run_id}; start earlier or use from_failure=True"
                    )
                reuse.append({"name": name, "digest": json.loads(row["output_json"]).get("digest")})
        elif from_failure:
            for name in names:
                row = activities.get(name)
                if row is None or row["status"] != "Succeeded":
                    break
                reuse.append({"name": name, "digest": json.loads(row["output_json"]).get("digest")})
        hidden = sorted(name for name, value in json.loads(reference["parameters_json"]).items() if is_masked(value))
        if hidden:
            raise ConfigurationError(
                f"refresh run {run_id} ran with secret parameter(s) {hidden}, whose values are never stored, so a "
                f"rerun cannot reuse them; start a new refresh of {reference['pipeline']!r} with the values instead",
                backend="local",
                operation_id=run_id,
                details={"parameters": hidden},
            )
        new_id = str(uuid.uuid4())
        lineage = Lineage.model_validate_json(reference["lineage_json"]).with_inputs(refresh_run_id=new_id)
        with self._store.transaction() as connection:
            self._insert_run(
                connection,
                run_id=new_id,
                pipeline=reference["pipeline"],
                spec=spec,
                parameters=json.loads(reference["parameters_json"]),
                key=None,
                group_id=reference["group_id"],
                reference=run_id,
                reuse=reuse,
                lineage=lineage,
            )
        self._spawn(new_id)
        return new_id, str(reference["pipeline"])

    # -- reading runs --------------------------------------------------------------------------------

    def _row(self, run_id: str) -> sqlite3.Row:
        row = self._store.connection().execute("SELECT * FROM df_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise ResourceNotFoundError(
                f"refresh run {run_id!r} does not exist in {self._store.path}; list runs with `mlops data runs`",
                backend="local",
                operation_id=run_id,
                status_code=404,
            )
        return self._reconcile(row)

    def _activity_rows(self, run_id: str) -> list[sqlite3.Row]:
        return (
            self._store.connection()
            .execute("SELECT * FROM df_activity_runs WHERE run_id = ? ORDER BY position", (run_id,))
            .fetchall()
        )

    def _reconcile(self, row: sqlite3.Row) -> sqlite3.Row:
        """Settle a run whose worker is gone (killed, crashed, never started)."""
        status, run_id, pid = row["status"], row["run_id"], row["pid"]
        if status not in NATIVE_ACTIVE:
            return row
        with self._lock:
            child = self._children.get(run_id)
        exit_code = child.poll() if child is not None else None
        if child is not None and exit_code is None:
            return row  # our own worker, still running: no pid heuristics needed
        if child is not None:
            with self._lock:
                self._children.pop(run_id, None)
        now = _now()
        if pid is None:
            if status == "Canceling":
                return self._settle(row, "Cancelled", "Cancelled by user")
            if self._adopt_if_orphaned(row):
                adopted: sqlite3.Row = (
                    self._store.connection().execute("SELECT * FROM df_runs WHERE run_id = ?", (run_id,)).fetchone()
                )
                return adopted
            if now - datetime.fromisoformat(row["updated_at"]) > NEVER_STARTED_AFTER:
                return self._settle(row, "Failed", "the refresh worker never started (its starting process is stuck)")
            return row
        if pid_alive(pid, run_id):
            requested = _parse_time(row["cancel_requested_at"])
            if status == "Canceling" and requested is not None and now - requested > CANCEL_GRACE:
                _log.warning("refresh worker %d ignored SIGTERM for %s; killing it", pid, CANCEL_GRACE)
                self._kill(pid, signal.SIGKILL)
            return row
        if status == "Canceling":
            return self._settle(row, "Cancelled", "Cancelled by user")
        tail = self._log_tail(run_id)
        how = "it was killed or crashed"
        if exit_code is not None:
            how = f"it was killed by signal {-exit_code}" if exit_code < 0 else f"it exited with code {exit_code}"
        message = f"the refresh worker (pid {pid}) ended without finishing the run: {how}" + (
            f". Last log lines: {tail}" if tail else ""
        )
        return self._settle(row, "Failed", message)

    def _log_tail(self, run_id: str) -> str:
        try:
            lines = self._log_path(run_id).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-_LOG_TAIL_LINES:])

    def _settle(self, row: sqlite3.Row, new: str, message: str) -> sqlite3.Row:
        now = _now().isoformat()
        activity_status = "Cancelled" if new == "Cancelled" else "Failed"
        error = json.dumps({"code": "WorkerLost", "message": message, "failure_type": "SystemError"})
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE df_runs SET status = ?, message = ?, ended_at = ?, updated_at = ?"
                " WHERE run_id = ? AND status = ?",
                (new, message, now, now, row["run_id"], row["status"]),
            )
            if cursor.rowcount == 1:
                connection.execute(
                    "UPDATE df_activity_runs SET status = ?, ended_at = ?, error_json = ?"
                    " WHERE run_id = ? AND status IN ('Queued', 'InProgress')",
                    (activity_status, now, None if new == "Cancelled" else error, row["run_id"]),
                )
        import shutil

        shutil.rmtree(self._datasets / ".tmp" / row["run_id"], ignore_errors=True)
        fresh = self._store.connection().execute("SELECT * FROM df_runs WHERE run_id = ?", (row["run_id"],)).fetchone()
        return fresh if fresh is not None else row

    @staticmethod
    def _kill(pid: int, sig: signal.Signals) -> None:
        """Signal a worker (its whole group for SIGKILL); one that is already gone needs nothing."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sig is signal.SIGKILL and hasattr(os, "killpg"):
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    def _activities(self, run_id: str) -> tuple[ActivityRun, ...]:
        activities = []
        for row in self._activity_rows(run_id):
            error = json.loads(row["error_json"]) if row["error_json"] else None
            activities.append(
                ActivityRun(
                    name=row["name"],
                    type=row["type"].capitalize(),
                    status=status_from_adf(row["status"]),
                    native_status=row["status"],
                    started_at=_parse_time(row["started_at"]),
                    ended_at=_parse_time(row["ended_at"]),
                    error=ActivityError(**error) if error else None,
                    output=json.loads(row["output_json"]),
                )
            )
        return tuple(activities)

    def _outputs(self, run_id: str) -> dict[str, DataOutput]:
        rows = (
            self._store.connection()
            .execute(
                "SELECT o.name, s.digest, s.schema_json, s.row_count FROM df_outputs o"
                " JOIN df_snapshots s ON s.digest = o.digest WHERE o.run_id = ? ORDER BY o.rowid",
                (run_id,),
            )
            .fetchall()
        )
        from mlops_sdk.backends.local.data_factory.snapshots import snapshot_path

        return {
            row["name"]: DataOutput(
                name=row["name"],
                uri=str(snapshot_path(self._datasets, row["digest"])),
                digest=row["digest"],
                version=row["digest"].split(":", 1)[1][:12],
                columns=tuple(Column(**column) for column in json.loads(row["schema_json"])),
                row_count=row["row_count"],
                format="parquet",
                run_id=run_id,
            )
            for row in rows
        }

    def _to_run(self, row: sqlite3.Row, *, details: bool) -> RefreshRun:
        activities = self._activities(row["run_id"]) if details else ()
        outputs = self._outputs(row["run_id"]) if details else {}
        lineage = Lineage.model_validate_json(row["lineage_json"])
        if outputs:
            lineage = lineage.with_inputs(
                data_versions={**lineage.data_versions, **{name: out.version for name, out in outputs.items()}}
            )
        return RefreshRun(
            run_id=row["run_id"],
            pipeline=row["pipeline"],
            status=status_from_adf(row["status"]),
            native_status=row["status"],
            started_at=_parse_time(row["started_at"]),
            ended_at=_parse_time(row["ended_at"]),
            parameters=json.loads(row["parameters_json"]),
            activities=activities,
            outputs=outputs,
            message=row["message"] or None,
            idempotency_key=row["idempotency_key"],
            reference_run_id=row["reference_run_id"],
            lineage=lineage,
        )

    def _poll_result(self, row: sqlite3.Row) -> PollResult:
        status = status_from_adf(row["status"])
        error = None
        if status is Status.FAILED:
            error = refresh_failure(
                run_id=row["run_id"],
                pipeline=row["pipeline"],
                activities=self._activities(row["run_id"]),
                message=row["message"],
                backend="local",
            )
        running = (
            next((a["name"] for a in self._activity_rows(row["run_id"]) if a["status"] == "InProgress"), None)
            if status is Status.RUNNING
            else None
        )
        return PollResult(
            status=status,
            native_status=row["status"],
            message=f"activity {running}" if running else (row["message"] or None),
            error=error,
        )

    def poll_run(self, run_id: str) -> PollResult:
        """Look at a run once (settling it if its worker died)."""
        return self._poll_result(self._row(run_id))

    def get_run(self, run_id: str) -> RefreshRun:
        """The run with activities and outputs."""
        return self._to_run(self._row(run_id), details=True)

    def list_runs(self, *, pipeline: str | None, status: Status | None, since: datetime | None) -> list[RefreshRun]:
        """Runs newest first, filtered."""
        clauses, args = [], []
        if pipeline is not None:
            clauses.append("pipeline = ?")
            args.append(pipeline)
        if status is not None:
            natives = _NATIVE_FOR_STATUS[status]
            clauses.append(f"status IN ({', '.join('?' for _ in natives)})")
            args.extend(natives)
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(since.isoformat())
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self._store.connection()
            .execute(
                f"SELECT * FROM df_runs{where} ORDER BY created_at DESC, rowid DESC",  # noqa: S608 - placeholders only
                args,
            )
            .fetchall()
        )
        runs = [self._to_run(self._reconcile(row), details=False) for row in rows]
        return [run for run in runs if status is None or run.status is status]

    def cancel(self, run_id: str, *, recursive: bool) -> None:
        """Mark ``Canceling`` and send SIGTERM to the worker (``recursive`` has no meaning locally)."""
        row = self._row(run_id)
        if row["status"] not in ("Queued", "InProgress"):
            return
        now = _now().isoformat()
        with self._store.transaction() as connection:
            cursor = connection.execute(
                "UPDATE df_runs SET status = 'Canceling', cancel_requested_at = ?, updated_at = ?"
                " WHERE run_id = ? AND status IN ('Queued', 'InProgress')",
                (now, now, run_id),
            )
        if cursor.rowcount == 1 and row["pid"] is not None and pid_alive(row["pid"], run_id):
            self._kill(row["pid"], signal.SIGTERM)

    def monitor(self, runs: Sequence[WatchedRun]) -> LocalRunMonitor:
        """One SQL query per poll for all watched runs."""
        return LocalRunMonitor(self, [run.run_id for run in runs])

    # -- used by the monitor -----------------------------------------------------------------------------

    def _rows(self, run_ids: Sequence[str]) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in run_ids)
        return (
            self._store.connection()
            .execute(
                f"SELECT * FROM df_runs WHERE run_id IN ({marks})",  # noqa: S608 - placeholders only
                list(run_ids),
            )
            .fetchall()
        )

    def close(self) -> None:
        """Forget finished worker handles (running workers keep running, like Data Factory runs)."""
        with self._lock:
            for run_id, child in list(self._children.items()):
                if child.poll() is not None:
                    del self._children[run_id]


class LocalRunMonitor:
    """Watches many local runs with one SQL query per poll."""

    def __init__(self, service: LocalDataFactoryService, run_ids: list[str]) -> None:
        self._service = service
        self._pending = list(dict.fromkeys(run_ids))
        self._latest: dict[str, PollResult] = {}
        self.requests = 0

    def poll(self) -> Mapping[str, PollResult]:
        """Read every pending run in one query; settle dead workers."""
        if self._pending:
            self.requests += 1
            rows = {row["run_id"]: row for row in self._service._rows(self._pending)}
            missing = [run_id for run_id in self._pending if run_id not in rows]
            if missing:
                raise ResourceNotFoundError(
                    f"refresh run(s) {missing} do not exist in this store", backend="local", status_code=404
                )
            for run_id in self._pending:
                result = self._service._poll_result(self._service._reconcile(rows[run_id]))
                self._latest[run_id] = result
            self._pending = [run_id for run_id in self._pending if not self._latest[run_id].status.is_terminal]
        return dict(self._latest)

    def result(self, run_id: str, *, activities: bool = True) -> RefreshRun:
        """The finished run with activities and outputs (always: they cost no request here)."""
        return self._service.get_run(run_id)
