"""Arrow tables of captured rows and labels: building them from user data, writing them atomically,
reading folders of them with DuckDB. Shared by the backends that keep Parquet files."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.files import atomic_write

__all__ = [
    "empty_captures",
    "empty_labels",
    "feature_column",
    "labels_table",
    "read_parquet_folder",
    "write_parquet_atomic",
]


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


def labels_table(ids: Any, labels: Any, *, at: datetime) -> Any:
    """The label table of ``ids`` and ``labels`` (same length, ids non-empty text)."""
    import pyarrow as pa

    id_list = [str(item) for item in ids]
    label_list = list(labels)
    if len(id_list) != len(label_list):
        raise ConfigurationError(
            f"ids and labels differ in length ({len(id_list)} ids, {len(label_list)} labels); give one label per id",
            details={"field": "labels"},
        )
    if not id_list:
        raise ConfigurationError("no labels given; pass ids and labels (or data=...)", details={"field": "ids"})
    if any(not item or item in ("None", "nan") for item in id_list):
        raise ConfigurationError(
            "every id must be a correlation id (the x-mlops-correlation-id of the answer, ':<row>' for batch rows)",
            details={"field": "ids"},
        )
    try:
        values = pa.array([item.item() if hasattr(item, "item") else item for item in label_list])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ConfigurationError(
            f"labels must be one type (numbers, or text): {error}", details={"field": "labels"}
        ) from None
    stamp = at.astimezone(timezone.utc)
    return pa.table(
        {
            "_id": pa.array(id_list, pa.string()),
            "label": values,
            "_logged_at": pa.array([stamp] * len(id_list), pa.timestamp("us", tz="UTC")),
        }
    )


def write_parquet_atomic(table: Any, folder: Path, prefix: str = "part") -> Path:
    """Write ``table`` as a new Parquet file in ``folder``: temporary name, fsync, rename, fsync the folder."""
    import pyarrow.parquet as pq

    name = f"{prefix}-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}.parquet"
    with atomic_write(folder / name, sync_folder=True) as temporary:
        pq.write_table(table, temporary)
    return folder / name


def read_parquet_folder(
    files: list[Path], where: str = "", parameters: list[Any] | None = None, *, exclude: tuple[str, ...] = ()
) -> Any:
    """The rows of ``files`` (columns united by name) matching the SQL ``where``, as an Arrow table,
    without the ``exclude`` columns (those the files have)."""
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
