"""Evaluation and reference data as pinned, versioned frames.

Whatever the user passes (a pandas ``DataFrame``, a Parquet/CSV/JSON path, records, or the
``DataOutput`` of a refresh) becomes a :class:`Dataset`: the frame plus the version recorded in the
report. The version is :func:`mlops_sdk.core.datadigest.frame_version` of the content: the same
12-hex version a refresh snapshot of the same rows carries, so the snapshot, a validation of it
(passed as the refresh output, its Parquet path or the frame read from it) and lineage agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.core.datadigest import canonical_table, short_version, table_digest
from mlops_sdk.core.datadigest import frame_version as _frame_version
from mlops_sdk.core.errors import ConfigurationError

__all__ = ["DataFetcher", "Dataset", "frame_digest", "load_dataset"]

DataFetcher = Callable[[str], Path]
"""Copies remote data (``azureml://datastores/...``) to a local file and returns its path (the backend's job)."""

_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_READERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "jsonl"}


@dataclass(frozen=True)
class Dataset:
    """A pinned frame.

    Attributes:
        frame: The rows (a pandas ``DataFrame``).
        version: Data version: the first 12 hex digits of the content's canonical digest.
        source: Where it was read from, if it was read.
    """

    frame: Any
    version: str
    source: str | None = None

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.frame)


def frame_digest(frame: Any, field: str = "data") -> str:
    """The data version of a frame (the same version a refresh snapshot of these rows carries).

    Raises:
        ConfigurationError: the frame cannot be versioned (a repeated column name, a column of mixed
            kinds); the message starts with ``field``.
    """
    try:
        return _frame_version(frame)
    except ConfigurationError as error:
        raise ConfigurationError(f"{field}: {error.message}", details={"field": field, **error.details}) from None


def _read(path: Path, field: str) -> Any:
    import pandas

    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise ConfigurationError(
            f"{field}: cannot read {path}: use a .parquet, .csv, .json or .jsonl file (or pass a DataFrame)",
            details={"field": field, "path": str(path)},
        )
    if not path.is_file():
        raise ConfigurationError(f"{field}: no such file {path}", details={"field": field, "path": str(path)})
    try:
        if kind == "parquet":
            return pandas.read_parquet(path)
        if kind == "csv":
            return pandas.read_csv(path)
        return pandas.read_json(path, lines=kind == "jsonl", orient=None if kind == "jsonl" else "records")
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"{field}: cannot read {path}: {error}", details={"field": field}) from error


def _as_path(value: str) -> Path:
    if value.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return Path(unquote(urlsplit(value).path))
    return Path(value)


def _local(uri: str, field: str, fetch: DataFetcher | None) -> Path:
    """The local file for ``uri``: the path itself, or the copy ``fetch`` makes of remote data."""
    if not _REMOTE.match(uri) or uri.startswith("file://"):
        return _as_path(uri)
    if fetch is None:
        raise ConfigurationError(
            f"{field}: {uri} is remote data this backend cannot read; pass a DataFrame or a local file, "
            "or validate with a client for the target the data lives in",
            details={"field": field, "uri": uri},
        )
    try:
        return fetch(uri)
    except ConfigurationError as error:
        if "field" in error.details:
            raise
        # The backend knows why it cannot read the URI; the message still names the argument.
        raise ConfigurationError(
            f"{field}: {error.message}", backend=error.backend, details={**error.details, "field": field}
        ) from error


def load_dataset(data: Any, *, field: str = "data", fetch: DataFetcher | None = None) -> Dataset:
    """Turn ``data`` into a :class:`Dataset`.

    Args:
        data: A ``DataFrame``; a path (``str``/``Path``/``file://``) to Parquet, CSV, JSON records or
            JSON lines; a list of records or a dict of columns; a refresh ``DataOutput`` (anything with
            ``uri`` and ``version``); or a :class:`Dataset`.
        field: Argument name used in error messages.
        fetch: How remote URIs (``azureml://...``) become local files; without it they are an error.

    Raises:
        ConfigurationError: the data cannot be read; the message names ``field``.
    """
    import pandas

    if isinstance(data, Dataset):
        return data
    if isinstance(data, pandas.DataFrame):
        return Dataset(data, frame_digest(data, field))
    uri, version = getattr(data, "uri", None), getattr(data, "version", None)
    if isinstance(uri, str) and isinstance(version, str):
        frame = _read(_local(uri, field, fetch), field)
        return Dataset(frame, version, uri)
    if isinstance(data, str) and not data.strip():
        raise ConfigurationError(
            f"{field}: is empty; pass a DataFrame, a Parquet/CSV/JSON file or a refresh output",
            details={"field": field},
        )
    if isinstance(data, (str, Path)):
        remote = isinstance(data, str) and bool(_REMOTE.match(data)) and not data.startswith("file://")
        path = _local(str(data), field, fetch)
        if _READERS.get(path.suffix.lower()) == "parquet" and path.is_file():
            loaded = _read_parquet(path, field)
            return Dataset(loaded.frame, loaded.version, str(data)) if remote else loaded
        frame = _read(path, field)
        return Dataset(frame, frame_digest(frame, field), str(data) if remote else str(path))
    if isinstance(data, (list, dict)):
        try:
            frame = pandas.DataFrame(data)
        except ValueError as error:
            raise ConfigurationError(f"{field}: not a table: {error}", details={"field": field}) from error
        return Dataset(frame, frame_digest(frame, field))
    raise ConfigurationError(
        f"{field}: expected a pandas DataFrame, a path to a Parquet/CSV/JSON file, records or a refresh output, "
        f"got {type(data).__name__}",
        details={"field": field},
    )


def _read_parquet(path: Path, field: str) -> Dataset:
    """Read Parquet through Arrow so the version is computed on the stored types (as for snapshots)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise ConfigurationError(
            f"{field}: cannot read {path}: {error}", details={"field": field, "path": str(path)}
        ) from error
    version = short_version(table_digest(canonical_table(table)))
    return Dataset(table.to_pandas(), version, str(path))
