"""Arrow tables of captured rows and labels: building them from user data, writing them atomically,
reading folders of them with DuckDB. Shared by the backends that keep Parquet files."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.files import atomic_write

__all__ = [
    "CAPTURE_COLUMNS",
    "LABEL_COLUMNS",
    "MAX_ID_LENGTH",
    "correlation_ids",
    "empty_captures",
    "empty_labels",
    "feature_column",
    "frame_table",
    "input_column",
    "label_values",
    "labels_table",
    "read_parquet_folder",
    "union_tables",
    "write_parquet_atomic",
]

MAX_ID_LENGTH = 1024
"""The longest correlation id accepted (the endpoint server's own are at most 128 + ``:<row>``)."""
CAPTURE_COLUMNS = {"_ts": "timestamp"}
"""Columns every capture file must have, by kind (what the window filter reads)."""
LABEL_COLUMNS = {"_id": "text", "label": "any", "_logged_at": "timestamp"}
"""Columns every label file must have, by kind."""


def feature_column(name: str) -> str:
    """The captured column of input column ``name``: names starting with ``_`` belong to the capture's own
    columns (``_id``, ``_ts``, ...), so an input named that way is kept as ``input_<name>`` (``_id`` ->
    ``input__id``) instead of overwriting them or being skipped by the monitors."""
    return f"input_{name}" if name.startswith("_") else name


def input_column(values: Any) -> Any:
    """An Arrow column of ``values`` (a pandas Series or a list), the capture writer's rule: values that
    share no one type (numbers and text, nested objects) are kept as text (JSON for lists / objects)
    instead of failing the write; a pandas NaN is a missing value."""
    import json

    import pyarrow as pa

    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, OverflowError):
        items = values.tolist() if hasattr(values, "tolist") else list(values)
        return pa.array(
            [v if v is None or isinstance(v, str) else json.dumps(v, default=str) for v in items], pa.string()
        )


def frame_table(frame: Any, field: str) -> Any:
    """A pandas DataFrame as an Arrow table, column by column with :func:`input_column` (column names as
    text; repeated names are refused naming ``field``)."""
    import pyarrow as pa

    names = [str(column) for column in frame.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            f"{field} has repeated column names {repeated}; name each column once", details={"field": field}
        )
    return pa.table({name: input_column(frame[column]) for name, column in zip(names, frame.columns, strict=True)})


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


def _listed(values: Any, field: str, what: str) -> list[Any]:
    """``values`` as a list, refusing a lone text / number / mapping (``ids="abc"`` is not three ids)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ConfigurationError(
            f"{field} must be a list (or array / Series) of {what}, got {type(values).__name__}",
            details={"field": field},
        )
    return [item.item() if hasattr(item, "item") and not isinstance(item, (str, bytes)) else item for item in values]


def correlation_ids(values: Any, *, field: str = "ids") -> list[str]:
    """``values`` as correlation ids: text (or whole numbers) of 1-1024 characters with no surrounding
    whitespace; the same rule for ``log_inferences`` and ``log_ground_truth``, so every id one of them
    takes, the other can match."""
    ids = []
    for index, item in enumerate(_listed(values, field, "correlation ids")):
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(text, str) or not text.strip() or text != text.strip() or len(text) > MAX_ID_LENGTH:
            long = isinstance(item, str) and len(item) > 60
            shown = f"{item[:60]!r}... ({len(item)} chars)" if long else repr(item)
            raise ConfigurationError(
                f"{field}[{index}] = {shown} is not a correlation id: use the x-mlops-correlation-id of the answer "
                f"(':<row>' appended for row <row> of a batch), text of 1-{MAX_ID_LENGTH} characters without "
                "surrounding spaces",
                details={"field": field, "index": index},
            )
        ids.append(text)
    return ids


def label_values(values: Any, *, field: str = "labels") -> Any:
    """``values`` as an Arrow label column: all numbers (booleans count as 0/1; stored as float64, so
    labels logged in parts always share one type) or all text. Missing values (None, NaN) and nested
    or other values are refused, naming the first one."""
    import pyarrow as pa

    labels = _listed(values, field, "labels")
    numbers = text = 0
    for index, item in enumerate(labels):
        if isinstance(item, str):
            text += 1
            continue
        if isinstance(item, (bool, int, float)):
            if isinstance(item, float) and not math.isfinite(item):
                problem = "is missing (NaN)" if math.isnan(item) else "is not finite"
            else:
                numbers += 1
                continue
        elif item is None:
            problem = "is missing (None)"
        else:
            problem = f"is a {type(item).__name__}"
        raise ConfigurationError(
            f"{field}[{index}] {problem}: labels are the known true outcomes, numbers or text; leave out rows "
            "whose outcome is not known yet",
            details={"field": field, "index": index},
        )
    if numbers and text:
        raise ConfigurationError(
            f"{field} mix numbers and text ({numbers} numbers, {text} texts); give one type, the type of the "
            "model's predictions",
            details={"field": field},
        )
    return pa.array(labels, pa.string() if text else pa.float64())


_last_stamp: list[datetime] = []
_stamp_lock = threading.Lock()


def _logged_at(at: datetime) -> datetime:
    """``at`` in UTC, later than every label time this process gave before: "the latest label wins"
    must not depend on two calls reading the same clock value (a frozen test clock, a clock step back)."""
    from datetime import timedelta

    stamp = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)
    with _stamp_lock:
        if _last_stamp and stamp <= _last_stamp[0]:
            stamp = _last_stamp[0] + timedelta(microseconds=1)
        _last_stamp[:] = [stamp]
    return stamp


def labels_table(ids: Any, labels: Any, *, at: datetime) -> Any:
    """The label table of ``ids`` and ``labels`` (one label per id, see :func:`correlation_ids` and
    :func:`label_values`). An id given twice keeps its last label (the later one wins, as across calls)."""
    import pyarrow as pa

    id_list = correlation_ids(ids)
    values = label_values(labels)
    if len(id_list) != len(values):
        raise ConfigurationError(
            f"ids and labels differ in length ({len(id_list)} ids, {len(values)} labels); give one label per id",
            details={"field": "labels"},
        )
    if not id_list:
        raise ConfigurationError("no labels given; pass ids and labels (or data=...)", details={"field": "ids"})
    last = list({item: index for index, item in enumerate(id_list)}.values())
    if len(last) < len(id_list):
        id_list, values = [id_list[index] for index in last], values.take(pa.array(last))
    stamp = _logged_at(at)
    return pa.table(
        {
            "_id": pa.array(id_list, pa.string()),
            "label": values,
            "_logged_at": pa.array([stamp] * len(id_list), pa.timestamp("us", tz="UTC")),
        }
    )


def union_tables(tables: list[Any]) -> Any:
    """Tables of captured rows or labels as one, columns united by name like DuckDB's
    ``union_by_name``: a column whose types cannot be united (numbers in one table, text in another)
    becomes text, as it does when the same tables are read from Parquet files."""
    import pyarrow as pa

    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
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
    return pa.concat_tables(as_text, promote_options="permissive")


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
