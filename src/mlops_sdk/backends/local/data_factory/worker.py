"""The refresh worker: ``python -m mlops_sdk.backends.local.data_factory.worker <store folder> <run id>``.

With ``--secrets-on-stdin`` it first reads the run's secret parameter values (JSON) from stdin:
``mlops.db`` holds ``***`` for them. They are registered for redaction, so the messages, error
records and log lines this worker writes show ``***`` where a secret would have been.

One process per run, started by the local service in its own session. It moves the run
``Queued -> InProgress -> Succeeded | Failed | Cancelled`` in ``mlops.db``, executes the activities
with DuckDB, and stores each output as a content-addressed Parquet snapshot. SIGTERM (what
``cancel`` sends) ends it as ``Cancelled``. A SIGKILL leaves the row ``InProgress`` with a dead pid,
which the service turns into ``Failed`` the next time anyone reads the run; temporary files live
under ``datasets/.tmp/<run id>/`` and are never visible as snapshots.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from string import Template
from types import FrameType
from typing import Any

from mlops_sdk.backends.local.data_factory.process import SECRETS_ON_STDIN
from mlops_sdk.backends.local.data_factory.snapshots import Snapshot, snapshot_path, write_snapshot
from mlops_sdk.backends.local.store import LocalStore
from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.input_spec import read_stored
from mlops_sdk.core.redaction import redact, register_secret
from mlops_sdk.models.data_factory import (
    CopyActivity,
    PythonActivity,
    RefreshPipeline,
    SqlActivity,
)

__all__ = ["ActivityFailedError", "main"]

_SQL_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


class _Cancelled(BaseException):
    """Raised in the worker's main thread by SIGTERM."""


class ActivityFailedError(Exception):
    """An activity failed with a message meant for the user."""

    def __init__(self, message: str, code: str = "UserError") -> None:
        super().__init__(message)
        self.code = code


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Cancelled()


def _now() -> str:
    return utcnow().isoformat()


def _arrow(relation: Any) -> Any:
    to_table = getattr(relation, "to_arrow_table", None) or relation.arrow
    return to_table()


class RunExecutor:
    """Executes one run recorded in the store."""

    def __init__(self, folder: Path, run_id: str, secrets: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.run_id = run_id
        self.secrets = dict(secrets or {})
        for value in self.secrets.values():
            register_secret(value)
        self.store = LocalStore(folder)
        self.datasets = folder / "datasets"
        self.tmp = self.datasets / ".tmp" / run_id

    # -- store helpers -----------------------------------------------------------------------

    def _set_run(self, new: str, *, expect: tuple[str, ...], **fields: Any) -> bool:
        columns = {"status": new, "updated_at": _now(), **fields}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        marks = ", ".join("?" for _ in expect)
        with self.store.transaction() as connection:
            cursor = connection.execute(
                f"UPDATE df_runs SET {assignments} WHERE run_id = ? AND status IN ({marks})",  # noqa: S608
                (*columns.values(), self.run_id, *expect),
            )
            return cursor.rowcount == 1

    def _set_activity(self, position: int, name: str, kind: str, status: str, **fields: Any) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                "INSERT INTO df_activity_runs (run_id, position, name, type, status, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) DO NOTHING",
                (self.run_id, position, name, kind, status, _now()),
            )
            columns = {"status": status, **fields}
            assignments = ", ".join(f"{key} = ?" for key in columns)
            connection.execute(
                f"UPDATE df_activity_runs SET {assignments} WHERE run_id = ? AND name = ?",  # noqa: S608
                (*columns.values(), self.run_id, name),
            )

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> int:
        """Execute the run; return the process exit code."""
        row = self.store.connection().execute("SELECT * FROM df_runs WHERE run_id = ?", (self.run_id,)).fetchone()
        if row is None:
            sys.stderr.write(f"refresh run {self.run_id} does not exist in {self.store.path}\n")
            return 2
        if row["status"] == "Canceling":
            self._set_run("Cancelled", expect=("Canceling",), ended_at=_now())
            return 0
        if not self._set_run("InProgress", expect=("Queued",), started_at=_now(), pid=os.getpid()):
            return 0  # someone else finished or canceled it
        pipeline = read_stored(RefreshPipeline, row["spec_json"])
        parameters: dict[str, Any] = {**json.loads(row["parameters_json"]), **self.secrets}
        reuse: dict[str, str | None] = {item["name"]: item["digest"] for item in json.loads(row["reuse_json"])}
        current: tuple[int, str, str] | None = None
        try:
            import duckdb

            connection = duckdb.connect(":memory:")
            produced: dict[str, Snapshot] = {}
            tables: dict[str, Any] = {}
            for position, activity in enumerate(pipeline.activities):
                current = (position, activity.name, activity.type)
                if activity.name in reuse:
                    digest = reuse[activity.name]
                    snapshot = self._reuse(digest) if digest else None
                    reused = _snapshot_output(snapshot) if snapshot else {}
                    self._set_activity(
                        position,
                        activity.name,
                        activity.type,
                        "Succeeded",
                        ended_at=_now(),
                        output_json=json.dumps({**reused, "reusedFrom": row["reference_run_id"]}),
                    )
                else:
                    self._set_activity(position, activity.name, activity.type, "InProgress")
                    table = self._execute(activity, connection, tables, parameters, Path(row["base_dir"]))
                    snapshot = write_snapshot(table, self.datasets, self.tmp) if table is not None else None
                    if snapshot is not None:
                        self._record_snapshot(snapshot)
                    output = _snapshot_output(snapshot) if snapshot is not None else {}
                    self._set_activity(
                        position,
                        activity.name,
                        activity.type,
                        "Succeeded",
                        ended_at=_now(),
                        output_json=json.dumps(output),
                    )
                if snapshot is not None:
                    import pyarrow.parquet as pq

                    produced[activity.name] = snapshot
                    # ParquetFile.read, not read_table: the dataset layer behind read_table imports
                    # pandas (~0.2 s of the worker's life) for a file we just wrote ourselves.
                    tables[activity.name] = pq.ParquetFile(snapshot.path).read()
                    connection.register(activity.name, tables[activity.name])
            current = None
            with self.store.transaction() as db:
                for name, snapshot in produced.items():
                    db.execute(
                        "INSERT INTO df_outputs (run_id, name, digest) VALUES (?, ?, ?)",
                        (self.run_id, name, snapshot.digest),
                    )
                db.execute(
                    "UPDATE df_runs SET status = 'Succeeded', ended_at = ?, updated_at = ?, message = ''"
                    " WHERE run_id = ? AND status IN ('InProgress', 'Canceling')",
                    (_now(), _now(), self.run_id),
                )
            return 0
        except _Cancelled:
            if current is not None:
                self._set_activity(*current, "Cancelled", ended_at=_now())
            self._set_run("Cancelled", expect=("InProgress", "Canceling"), ended_at=_now(), message="Cancelled by user")
            return 0
        except Exception as error:
            failure = error if isinstance(error, ActivityFailedError) else None
            code = failure.code if failure else type(error).__name__
            message = redact(str(error)) or type(error).__name__
            if current is not None:
                position, name, kind = current
                self._set_activity(
                    position,
                    name,
                    kind,
                    "Failed",
                    ended_at=_now(),
                    error_json=json.dumps({"code": code, "message": message, "failure_type": "UserError"}),
                )
                summary = f"Operation on target {name} failed: {message}"
            else:
                summary = message
            sys.stderr.write(redact(traceback.format_exc()))
            self._set_run("Failed", expect=("InProgress", "Canceling"), ended_at=_now(), message=summary)
            return 1
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.store.close()

    def _reuse(self, digest: str) -> Snapshot:
        row = self.store.connection().execute("SELECT * FROM df_snapshots WHERE digest = ?", (digest,)).fetchone()
        path = snapshot_path(self.datasets, digest)
        if row is None or not path.exists():
            raise ActivityFailedError(f"snapshot {digest} of the reference run is gone; rerun from the start")
        return Snapshot(digest, path, json.loads(row["schema_json"]), int(row["row_count"]))

    def _record_snapshot(self, snapshot: Snapshot) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                "INSERT INTO df_snapshots (digest, path, schema_json, row_count, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (digest) DO NOTHING",
                (snapshot.digest, str(snapshot.path), json.dumps(snapshot.columns), snapshot.row_count, _now()),
            )

    # -- activities ------------------------------------------------------------------------------

    def _execute(
        self, activity: Any, connection: Any, tables: Mapping[str, Any], parameters: Mapping[str, Any], base: Path
    ) -> Any:
        if isinstance(activity, CopyActivity):
            return _copy(activity, connection, parameters, base)
        if isinstance(activity, SqlActivity):
            return _sql(activity, connection, parameters)
        if isinstance(activity, PythonActivity):
            return _python(activity, tables, parameters)
        raise ActivityFailedError(f"unknown activity type {type(activity).__name__}")  # pragma: no cover


def _snapshot_output(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "digest": snapshot.digest,
        "uri": str(snapshot.path),
        "rowCount": snapshot.row_count,
        "columns": snapshot.columns,
    }


def _literal(value: Any, option: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ActivityFailedError(f"copy option {option!r} must be a string, number or boolean, got {type(value).__name__}")


def _detect_format(path: Path, pattern: str) -> str:
    suffix = Path(pattern).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if path.is_dir():
        for candidate in sorted(path.rglob("*")):
            if candidate.suffix.lower() in _EXTENSIONS:
                return _EXTENSIONS[candidate.suffix.lower()]
        raise ActivityFailedError(f"folder {path} holds no .csv, .parquet or .json files", code="SourceNotFound")
    raise ActivityFailedError(
        f"cannot tell the format of {pattern!r} from its extension; set format to csv, parquet or json"
    )


def _copy(activity: CopyActivity, connection: Any, parameters: Mapping[str, Any], base: Path) -> Any:
    try:
        source = Template(activity.source).substitute({key: str(value) for key, value in parameters.items()})
    except KeyError as error:
        raise ActivityFailedError(f"source uses parameter ${{{error.args[0]}}}, which the run does not have") from None
    except ValueError as error:
        raise ActivityFailedError(
            f"source {activity.source!r} is not a valid ${{parameter}} template: {error}"
        ) from None
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = base / path
    fmt = activity.format if activity.format != "auto" else _detect_format(path, source)
    pattern = str(path)
    if path.is_dir():
        extensions = [ext for ext, kind in _EXTENSIONS.items() if kind == fmt]
        matches = sorted(p for p in path.rglob("*") if p.suffix.lower() in extensions)
        if not matches:
            raise ActivityFailedError(f"folder {path} holds no {fmt} files", code="SourceNotFound")
        pattern = "[" + ", ".join(_literal(str(p), "source") for p in matches) + "]"
    elif not any(ch in source for ch in "*?[") and not path.exists():
        raise ActivityFailedError(f"source file {path} does not exist", code="SourceNotFound")
    else:
        pattern = _literal(pattern, "source")
    reader = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json_auto"}[fmt]
    options = "".join(f", {key} = {_literal(value, key)}" for key, value in sorted(activity.options.items()))
    if any(not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) for key in activity.options):
        raise ActivityFailedError(f"copy options must be reader option names, got {sorted(activity.options)}")
    # Every piece is a quoted literal or a checked identifier (see _literal and the check above).
    return _arrow(connection.sql(f"SELECT * FROM {reader}({pattern}{options})"))  # noqa: S608


def _sql(activity: SqlActivity, connection: Any, parameters: Mapping[str, Any]) -> Any:
    used = dict.fromkeys(_SQL_PARAMETER.findall(activity.query))
    missing = [name for name in used if name not in parameters]
    if missing:
        raise ActivityFailedError(
            f"query uses parameter(s) {', '.join('$' + name for name in missing)}, which the run does not have; "
            f"parameters: {sorted(parameters)}"
        )
    values = {name: parameters[name] for name in used}
    return _arrow(connection.sql(activity.query, params=values or None))


def _python(activity: PythonActivity, tables: Mapping[str, Any], parameters: Mapping[str, Any]) -> Any:
    import pyarrow as pa

    module_name, _, qualname = activity.function.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise ActivityFailedError(
            f"cannot import {activity.function!r} in the worker process ({error}); make the module importable "
            "(installed, or on PYTHONPATH of the process that starts the refresh)",
            code="ImportError",
        ) from None
    names = activity.inputs if activity.inputs is not None else tuple(tables)
    result = target({name: tables[name] for name in names}, dict(parameters))
    if result is None or isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    if type(result).__name__ == "DataFrame" and hasattr(result, "to_dict"):
        return pa.Table.from_pandas(result, preserve_index=False)
    raise ActivityFailedError(
        f"{activity.function} returned {type(result).__name__}; return a pyarrow.Table, a pandas DataFrame or None"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the worker for ``<store folder> <run id>``."""
    args = sys.argv[1:] if argv is None else argv
    secrets: dict[str, str] = {}
    if args and args[-1] == SECRETS_ON_STDIN:
        args = args[:-1]
        secrets = json.loads(sys.stdin.read() or "{}")
    if len(args) != 2:
        sys.stderr.write(
            "usage: python -m mlops_sdk.backends.local.data_factory.worker <store folder> <run id> "
            f"[{SECRETS_ON_STDIN}]\n"
        )
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    return RunExecutor(Path(args[0]), args[1], secrets).run()


if __name__ == "__main__":
    sys.exit(main())
