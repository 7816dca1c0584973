"""Arrow tables of captured rows and labels as stored: their shape, uniting parts, writing them
atomically, reading folders of them with DuckDB. Shared by the backends that keep Parquet files
(user data becomes such tables in :mod:`mlops_sdk.monitoring.inputs`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.files import atomic_write

__all__ = [
    "CAPTURE_COLUMNS",
    "LABEL_COLUMNS",
    "empty_captures",
    "empty_labels",
    "feature_column",
    "read_parquet_folder",
    "union_tables",
    "write_parquet_atomic",
]

CAPTURE_COLUMNS = {"_ts": "timestamp"}
"""Columns every capture file must have, by kind (what the window filter reads)."""
LABEL_COLUMNS = {"_id": "text", "label": "any", "_logged_at": "timestamp"}
"""Columns every label file must have, by kind."""


def feature_column(name: str) -> str:
    """The captured column of input column ``name``: names starting with ``_`` belong to the capture's own
    columns (``_id``, ``_ts``, ...), so an input named that way is kept as ``input_<name>`` (``_id`` ->
    ``input__id``) instead of overwriting them or being skipped by the monitors."""
    return f"input_{name}" if name.startswith("_") else name


def empty_captures() -> Any:
    """A captured table with no rows (metadata columns only)."""
    import pyarrow as pa

    return pa.table(
        {
            "_id": pa.array([], pa.string()),
            "_ts": pa.array([], pa.timestamp("us", tz="UTC")),
            "_deployment": pa.array([], pa.string()),
            "_model": pa.array([], pa.string()),
        }
    )


def empty_labels() -> Any:
    """A label table with no rows."""
    import pyarrow as pa

    return pa.table(
        {
            "_id": pa.array([], pa.string()),
            "label": pa.array([], pa.float64()),
            "_logged_at": pa.array([], pa.timestamp("us", tz="UTC")),
        }
    )


def union_tables(tables: list[Any]) -> Any:
    """Tables of captured rows or labels as one, columns united by name like DuckDB's
    ``union_by_name``: a column whose types cannot be united (numbers in one table, text in another)
    becomes text, as it does when the same tables are read from Parquet files."""
    import pyarrow as pa

    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # kinds clash: see below
        return pa.concat_tables(_clashing_columns_as_text(tables), promote_options="permissive")


def _clashing_columns_as_text(tables: list[Any]) -> list[Any]:
    """The tables with every column whose types differ between them turned into text."""
    import pyarrow as pa

    types: dict[str, set[Any]] = {}
    for table in tables:
        for item in table.schema:
            types.setdefault(item.name, set()).add(item.type)
    clash = {name for name, found in types.items() if len({t for t in found if not pa.types.is_null(t)}) > 1}
    as_text = []
    for table in tables:
        for name in clash & set(table.column_names):
            column = table.column(name)
            text = pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
            table = table.set_column(table.column_names.index(name), name, text)
        as_text.append(table)
    return as_text


def write_parquet_atomic(table: Any, folder: Path, prefix: str = "part") -> Path:
    """Write ``table`` as a new Parquet file in ``folder``: temporary name, fsync, rename, fsync the folder."""
    import pyarrow.parquet as pq

    name = f"{prefix}-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}.parquet"
    with atomic_write(folder / name, sync_folder=True) as temporary:
        pq.write_table(table, temporary)
    return folder / name


def _kind_of(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return "timestamp"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    return str(arrow_type)


def _unreadable(files: list[Path], required: Mapping[str, str]) -> list[str]:
    """Why each file that cannot take part in the reading cannot (one line each)."""
    import pyarrow.parquet as pq

    found = []
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            found.append(f"{path}: not a readable Parquet file ({str(error).splitlines()[0][:160]})")
            continue
        for name, kind in required.items():
            if name not in schema.names:
                found.append(f"{path}: has no column {name}")
            elif kind != "any" and _kind_of(schema.field(name).type) != kind:
                found.append(f"{path}: column {name} is {schema.field(name).type}, not {kind} (UTC)")
    return found


def read_parquet_folder(
    files: list[Path],
    where: str = "",
    parameters: list[Any] | None = None,
    *,
    exclude: tuple[str, ...] = (),
    required: Mapping[str, str] | None = None,
    what: str = "monitoring data",
    check_all: bool = False,
) -> Any:
    """The rows of ``files`` (columns united by name) matching the SQL ``where``, as an Arrow table,
    without the ``exclude`` columns (those the files have).

    A file that is not Parquet (truncated, foreign) or lacks one of the ``required`` columns (name ->
    ``"timestamp"`` / ``"text"`` / ``"any"``) makes the reading fail with a :class:`ConfigurationError`
    naming every such file: the SDK writes whole files only, so such a file was put there by something
    else and must be moved away (reading around it would silently drop rows). Files are checked when the
    reading fails, or always with ``check_all`` (a file without a required column is otherwise read as
    rows of missing values).
    """
    import duckdb

    error: Exception | None = None
    bad = _unreadable(files, required or {}) if check_all else []
    if not bad:
        try:
            table = _query(files, where, parameters, exclude)
            missing = sorted(set(required or {}) - set(table.column_names))
            if not missing:
                return table
            error = LookupError(f"no file has the column(s) {missing}")
        except duckdb.Error as failure:
            error = failure
        bad = _unreadable(files, required or {})
    if not bad:
        raise ConfigurationError(
            f"cannot read the {what} files ({len(files)} files, e.g. {files[0]}): {str(error).splitlines()[0]}",
            details={"field": what, "path": str(files[0].parent)},
        ) from None
    raise ConfigurationError(
        f"{len(bad)} {what} file(s) cannot be read, move them out of the folder (the SDK writes whole files "
        f"only, so these were put there or damaged by something else): {'; '.join(bad[:5])}"
        + (f"; and {len(bad) - 5} more" if len(bad) > 5 else ""),
        details={"field": what, "files": bad},
    ) from None


def _query(files: list[Path], where: str, parameters: list[Any] | None, exclude: tuple[str, ...]) -> Any:
    import duckdb

    from mlops_sdk.monitoring.engine import arrow_result

    connection = duckdb.connect()
    try:
        listing = [str(path) for path in files]
        if exclude:
            found = connection.sql(
                "SELECT * FROM read_parquet(?, union_by_name = true) LIMIT 0", params=[listing]
            ).columns
            exclude = tuple(name for name in exclude if name in found)
        columns = f"* EXCLUDE ({', '.join(exclude)})" if exclude else "*"
        # ``where`` and ``exclude`` come from the caller's fixed text; values always travel as parameters
        query = f"SELECT {columns} FROM read_parquet(?, union_by_name = true)" + (f" WHERE {where}" if where else "")  # noqa: S608
        return arrow_result(connection, query, [listing, *(parameters or [])])
    finally:
        connection.close()
