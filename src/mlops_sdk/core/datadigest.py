"""One identity for tabular data, wherever it comes from: refresh snapshots, files, DataFrames.

The digest is the sha256 of the data's canonical Arrow IPC encoding (schema + rows, in order,
without pandas/writer metadata), and the data *version* is its first 12 hex digits. A refresh
snapshot, the same Parquet file passed by path, and the same rows as a DataFrame all get the same
version, so lineage, validation reports and ``decide_retrain`` compare like with like.
pyarrow is imported lazily (``core`` stays cheap to import).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["canonical_table", "frame_version", "short_version", "snapshot_version", "table_digest"]

_SNAPSHOT_PATH = re.compile(r"(?:^|[/\\])datasets[/\\]([0-9a-f]{2})[/\\](\1[0-9a-f]{62})\.parquet$")
"""A local refresh snapshot: ``<store>/datasets/<first 2 hex>/<64 hex digest>.parquet``."""


def canonical_table(table: Any) -> Any:
    """The table with metadata stripped and one chunk per column."""
    import pyarrow as pa

    schema = pa.schema([pa.field(field.name, field.type, field.nullable) for field in table.schema])
    return pa.Table.from_arrays(list(table.columns), schema=schema).combine_chunks()


def table_digest(table: Any) -> str:
    """``sha256:<hex>`` of a canonical table's Arrow IPC stream."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return "sha256:" + hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def snapshot_version(path: str) -> str | None:
    """The data version of a local refresh snapshot named by its path, else ``None``.

    A snapshot is content-addressed (``.../datasets/88/8805c8c7f40b....parquet``): its file name is the
    digest of its rows, so the path passed around in place of the refresh output (``mlops train submit
    --input data=<snapshot path>``) still names its version, without reading the file.
    """
    match = _SNAPSHOT_PATH.search(path)
    return short_version(match[2]) if match else None


def short_version(digest: str) -> str:
    """The data version of a ``sha256:<hex>`` digest: its first 12 hex digits."""
    return digest.split(":", 1)[-1][:12]


def frame_version(frame: Any) -> str:
    """The data version of a pandas DataFrame (the index is not part of the data).

    Raises:
        ConfigurationError: the frame repeats a column name, or a column holds values of kinds one
            Arrow column cannot (numbers and text, lists and scalars); the message names the column.
    """
    import pyarrow as pa

    from mlops_sdk.core.errors import ConfigurationError

    repeated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise ConfigurationError(
            f"the data names the column(s) {repeated} more than once; give every column its own name",
            details={"columns": repeated},
        )
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        column = _failed_column(frame, error)
        where = f"column {column!r}" if column is not None else "a column"
        raise ConfigurationError(
            f"the data cannot be versioned: {where} mixes kinds of values ({error.args[0]}); give it one type "
            f"(for example df[{column!r}].astype(str))",
            details={"column": column},
        ) from None
    return short_version(table_digest(canonical_table(table)))


def _failed_column(frame: Any, error: Exception) -> str | None:
    """The column pyarrow names in ``error`` (``Conversion failed for column X with type ...``)."""
    for part in error.args:
        text = str(part)
        if text.startswith("Conversion failed for column "):
            name = text[len("Conversion failed for column ") :].rsplit(" with type ", 1)[0]
            return next((str(column) for column in frame.columns if str(column) == name), name)
    return None
