"""Parsing scoring requests of both protocols into one neutral :class:`Batch`.

MLflow protocol (``POST /invocations``): a JSON object with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs`` (plus optional ``params``), or ``text/csv``.
Azure ML protocol (``POST /score``): ``{"input_data": {"columns": [...], "index": [...], "data": [...]}}``
or ``{"input_data": [[...], ...]}`` (a tensor), optionally with ``params``.

JSON is parsed by orjson (the standard library's parser takes over for what orjson refuses: NaN and
Infinity literals, integers beyond 64 bits), CSV by ``csv``: no pandas on the hot path. A malformed body
raises :class:`PayloadError`, which the app answers with 400 and the message.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MLFLOW_FORMATS", "Batch", "PayloadError", "parse_csv", "parse_json_body", "to_jsonable"]

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")

try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson comes with the local extra
    _fast_loads = json.loads  # type: ignore[assignment]


class PayloadError(ValueError):
    """The request body cannot be scored; the message says what is wrong and what is expected."""


@dataclass
class Batch:
    """Rows to score.

    Attributes:
        rows: Row-major values (each row a list, or a scalar for a 1-D tensor).
        columns: Column names when the payload named them; ``None`` for positional (tensor) input.
        params: Inference parameters (``params`` key), if any.
        csv: True when the rows came from ``text/csv`` (every value is text, typed by the signature).
    """

    rows: list[Any]
    columns: list[str] | None = None
    params: dict[str, Any] | None = None
    csv: bool = False

    def __len__(self) -> int:
        return len(self.rows)


def _loads(body: bytes) -> Any:
    try:
        return _fast_loads(body)
    except ValueError:  # orjson refuses NaN/Infinity literals and integers beyond 64 bits: the slow parser decides
        pass
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PayloadError(f"the body is not valid JSON ({error}); send a JSON object") from None
    except RecursionError:
        raise PayloadError("the JSON body is nested too deeply") from None


def _params(data: Mapping[str, Any]) -> dict[str, Any] | None:
    params = data.get("params")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise PayloadError("'params' must be a JSON object of parameter names to values")
    return params


def _split(value: Any, where: str) -> Batch:
    """``{"columns": [...], "data": [[...]], "index": [...]}`` (pandas ``orient="split"``)."""
    if not isinstance(value, dict):
        raise PayloadError(f"'{where}' must be an object with 'columns' and 'data'")
    data = value.get("data")
    if not isinstance(data, list):
        raise PayloadError(f"'{where}.data' must be a list of rows")
    columns = value.get("columns")
    if columns is None:
        return Batch(rows=data)
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise PayloadError(f"'{where}.columns' must be a list of column names (strings)")
    width = len(columns)
    if set(map(type, data)) <= {list} and set(map(len, data)) <= {width}:
        return Batch(rows=data, columns=columns)  # the common case, checked without a Python loop body
    for number, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise PayloadError(
                f"'{where}.data' row {number} has {len(row) if isinstance(row, list) else 'no list of'} "
                f"values but there are {len(columns)} columns"
            )
    return Batch(rows=data, columns=columns)


def _records(records: Any, where: str) -> Batch:
    """``[{"a": 1, "b": 2}, ...]`` (pandas ``orient="records"``)."""
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise PayloadError(f"'{where}' must be a list of objects (one per row)")
    columns: list[str] = []
    seen: set[str] = set()
    for record in records:
        for name in record:
            if name not in seen:
                seen.add(name)
                columns.append(name)
    rows = [[record.get(name) for name in columns] for record in records]
    return Batch(rows=rows, columns=columns)


def _columnar(value: Mapping[str, Any], where: str) -> Batch:
    """``{"a": [1, 2], "b": [3, 4]}``: named columns of equal length."""
    columns = list(value)
    lists = [value[name] for name in columns]
    if not all(isinstance(item, list) for item in lists):
        # A dict of scalars is one row.
        if any(isinstance(item, (list, dict)) for item in lists):
            raise PayloadError(f"'{where}' mixes lists and single values; give every column a list")
        return Batch(rows=[list(lists)], columns=columns)
    lengths = {len(item) for item in lists}
    if len(lengths) > 1:
        raise PayloadError(f"the columns of '{where}' have different lengths {sorted(lengths)}")
    return Batch(rows=[list(row) for row in zip(*lists, strict=True)], columns=columns)


def _tensor_or_records(value: Any, where: str) -> Batch:
    """``instances`` / ``inputs`` / Azure ``input_data``: rows, records or named columns."""
    if isinstance(value, dict):
        if "data" in value and ("columns" in value or "index" in value):
            return _split(value, where)
        if not value:
            raise PayloadError(f"'{where}' is empty")
        return _columnar(value, where)
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return _records(value, where)
        if any(isinstance(item, dict) for item in value):
            raise PayloadError(f"'{where}' mixes objects and rows; send one kind")
        return Batch(rows=value)
    raise PayloadError(f"'{where}' must be a list of rows, a list of objects or an object of columns")


def parse_json_body(body: bytes, *, protocol: str) -> Batch:
    """Parse a JSON scoring body.

    Args:
        body: The raw request body.
        protocol: ``"mlflow"`` (``/invocations``) or ``"azureml"`` (``/score``).

    Raises:
        PayloadError: the body is not JSON, or not one of the accepted shapes.
    """
    data = _loads(body)
    if not isinstance(data, dict):
        if protocol == "azureml" and isinstance(data, list):
            return _tensor_or_records(data, "body")
        raise PayloadError(
            "the body must be a JSON object with one of "
            + ("'input_data'" if protocol == "azureml" else ", ".join(f"'{name}'" for name in MLFLOW_FORMATS))
        )
    if protocol == "azureml" and "input_data" in data:
        batch = _tensor_or_records(data["input_data"], "input_data")
        batch.params = _params(data)
        return batch
    keys = [name for name in MLFLOW_FORMATS if name in data]
    if len(keys) != 1:
        expected = (
            ("'input_data' or " if protocol == "azureml" else "")
            + "exactly one of "
            + ", ".join(f"'{name}'" for name in MLFLOW_FORMATS)
        )
        found = ", ".join(repr(key) for key in list(data)[:10]) or "nothing"
        raise PayloadError(f"the JSON object must contain {expected}; found {found}")
    key = keys[0]
    value = data[key]
    if key == "dataframe_split":
        batch = _split(value, key)
    elif key == "dataframe_records":
        batch = _records(value, key)
    else:
        batch = _tensor_or_records(value, key)
    batch.params = _params(data)
    return batch


def parse_csv(body: bytes) -> Batch:
    """Parse ``text/csv``: a header row of column names, then one row per line (values as strings)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"the CSV body is not UTF-8 ({error})") from None
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        rows = [row for row in reader if row]
    except csv.Error as error:
        raise PayloadError(f"the CSV body cannot be parsed ({error})") from None
    if not header:
        raise PayloadError("the CSV body needs a header row with the column names")
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise PayloadError(f"CSV line {number} has {len(row)} values but the header has {len(header)} columns")
    return Batch(rows=rows, columns=[name.strip() for name in header], csv=True)


def to_jsonable(value: Any) -> Any:
    """Convert model output (numpy arrays and scalars, pandas objects, lists) to JSON-ready values."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and hasattr(value, "columns"):  # a pandas DataFrame
        return [to_jsonable(row) for row in to_dict(orient="records")]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars, pandas Series
        return tolist()
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [to_jsonable(item) for item in value]
    return value
