"""Arrow tables of captured requests: what the endpoint server's capture files (and the memory backend's
captures) hold, built from the capture hook's queued requests and lanes.

Columns: ``_id`` (the request's correlation id, ``<id>:<row>`` for a row of a batch), ``_request_id``,
``_row``, ``_ts`` (UTC, microseconds), ``_deployment``, ``_model``, the input columns by name
(``input_<i>`` for positional input) and ``_prediction``. Numeric answers stay numbers; mixed or
nested values become text (JSON). Everything is built column by column, in C where Arrow, numpy
or the interpreter's builtins can do it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import operator
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from mlops_sdk.backends.local.serving.payloads import to_jsonable
from mlops_sdk.monitoring.tables import feature_column

__all__ = [
    "AT",
    "COLUMNS",
    "DEPLOYMENT",
    "DONE",
    "MODEL",
    "PREDICTIONS",
    "REQUEST_ID",
    "ROWS",
    "SIZE",
    "Item",
    "LaneLike",
    "arrow_column",
    "capture_table",
    "item_fields",
    "items_table",
    "lane_table",
    "plain",
    "prediction_vector",
]

# positions in a queued item (see Item)
REQUEST_ID, AT, DEPLOYMENT, MODEL, COLUMNS, ROWS, PREDICTIONS, SIZE, DONE = range(9)


class LaneLike(Protocol):
    """What :func:`lane_table` reads of a capture lane (1-row requests of one deployment and columns)."""

    @property
    def name(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def columns(self) -> tuple[str, ...]: ...
    @property
    def inputs(self) -> bool: ...
    @property
    def outputs(self) -> bool: ...
    @property
    def scalars(self) -> bool: ...


class Item(NamedTuple):
    """One queued request. The hook queues plain tuples in this field order (cheaper than building this
    class); the writer unpacks either. Rows and predictions are kept as the server had them (lists,
    numpy arrays, pandas objects): converting them is the writer's job."""

    request_id: bytes
    at: float
    deployment: str
    model: str | None
    columns: Sequence[str] | None
    rows: Any  # the row itself when ``size`` is 1, else a sequence of rows
    predictions: Any
    size: int  # rows
    done: Any = None  # (loop, future) of an acknowledged answer


def item_fields(items: list[Any]) -> list[tuple[Any, ...]]:
    """The queued items transposed: one tuple per field (one pass over the items, in C)."""
    return list(zip(*items, strict=True))


def arrow_column(values: Any) -> Any:
    """An Arrow array of ``values``; mixed or nested values become text (JSON for lists/objects)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v) for v in values], type=pa.string())


def plain(value: Any) -> Any:
    """Lists stay as they are; numpy arrays and pandas objects become lists (one entry per row)."""
    return value if isinstance(value, list) else to_jsonable(value)


_SEQUENCES = {list, tuple}


def _shared_columns(fields: list[tuple[Any, ...]]) -> Sequence[str] | None:
    """The column names every item's rows share, else ``None``."""
    columns = fields[COLUMNS]
    first: Sequence[str] | None = columns[0]
    # tuple.count compares identity first: the hook queues one tuple per deployment's column names
    return first if first is not None and columns.count(first) == len(columns) else None


def _rows(item: Any) -> Any:
    """The rows of a queued request, as a sequence."""
    return (item[ROWS],) if item[SIZE] == 1 else item[ROWS]


def _features(items: list[Any], fields: list[tuple[Any, ...]], total: int) -> dict[str, Any]:
    """Input columns of the items (``total`` rows), ``None`` where a row lacks a column."""
    shared = _shared_columns(fields)
    if shared is not None:  # the usual case: one transposition of every row, in C
        if total == len(items):  # one row per request: the rows themselves
            rows: Sequence[Any] = fields[ROWS]
        else:
            rows = [row for item in items if item[ROWS] is not None for row in _rows(item)]
        if len(rows) == total and set(map(type, rows)) <= _SEQUENCES:
            with contextlib.suppress(ValueError):  # a row of another width: the general way below
                return dict(zip(shared, zip(*rows, strict=True), strict=True))
    features: dict[str, list[Any]] = {}
    total = 0
    for item in items:
        count, columns = item[SIZE], item[COLUMNS]
        item_rows = item[ROWS]
        for number, row in enumerate([None] * count if item_rows is None else plain(_rows(item))):
            if row is None:
                continue
            values = row if isinstance(row, (list, tuple)) else [row]
            keys = columns if columns is not None else [f"input_{i}" for i in range(len(values))]
            for key, value in zip(keys, values, strict=False):
                column = features.get(key)
                if column is None:
                    column = features[key] = []
                missing = total + number - len(column)
                if missing:  # rows of earlier requests that lacked this column
                    column.extend([None] * missing)
                column.append(value)
        total += count
        for column in features.values():
            column.extend([None] * (total - len(column)))
    return features


_NUMERIC_KINDS = {"f": "float64", "i": "int64", "b": "bool"}
_DTYPE = operator.attrgetter("dtype")


def prediction_vector(outputs: tuple[Any, ...], counts: list[int]) -> Any:
    """The answers ``outputs`` (of ``counts`` rows each) as one numpy array when every one is a 1-D
    numeric numpy array with one value per row, all of one kind (the fast scoring paths); else ``None``."""
    import numpy as np

    if set(map(type, outputs)) != {np.ndarray}:
        return None
    kinds = {dtype.kind for dtype in set(map(_DTYPE, outputs))}
    if len(kinds) != 1 or (kind := kinds.pop()) not in _NUMERIC_KINDS:
        return None
    try:
        if list(map(len, outputs)) != counts:  # len() of a 0-d array raises TypeError
            return None
        vector = np.concatenate(outputs)  # arrays of different dimensions raise ValueError
    except (TypeError, ValueError):
        return None
    # the dtype Python values get in Arrow (float32 -> float64, as ``tolist`` + ``pa.array`` did)
    return vector.astype(_NUMERIC_KINDS[kind], copy=False) if vector.ndim == 1 else None


def _row_predictions(outputs: Sequence[Any], counts: Sequence[int]) -> list[Any]:
    """One prediction per row: lists and arrays row by row (padded with ``None`` / cut to the row count),
    a single value (or object) repeated for every row of its request."""
    predictions: list[Any] = []
    for count, answer in zip(counts, outputs, strict=True):
        output = plain(answer)
        rows = output if isinstance(output, list) else [output] * count
        predictions += rows[:count] if len(rows) >= count else [*rows, *([None] * (count - len(rows)))]
    return predictions


def _any_given(values: tuple[Any, ...]) -> bool:
    """Whether any value is not ``None`` (by identity: ``==`` on a numpy array compares its elements)."""
    return any(map(operator.is_not, values, itertools.repeat(None)))


def capture_table(
    request_id: str,
    at: float,
    deployment: str,
    model: str | None,
    *,
    count: int,
    columns: list[str] | None = None,
    rows: list[Any] | None = None,
    predictions: Any = None,
) -> Any:
    """The Arrow table of one scored request, with exactly the columns and ids of the server's capture
    files (``_id`` is ``request_id``, or ``<request_id>:<row>`` for a request of several rows).

    Args:
        request_id: The request's correlation id.
        at: When it was answered (epoch seconds).
        deployment: The deployment that answered.
        model: The model reference kept in the deployment's metadata, if any.
        count: The number of rows scored.
        columns: Input column names (``None``: positional input).
        rows: The input rows (``None``: inputs not captured).
        predictions: The answer (``None``: outputs not captured).
    """
    queued = rows[0] if rows is not None and count == 1 else rows
    return items_table([(request_id.encode("ascii"), at, deployment, model, columns, queued, predictions, count, None)])


def items_table(items: list[Any], fields: list[tuple[Any, ...]] | None = None) -> Any:
    """The Arrow table of a group of queued requests (metadata columns start with ``_``); ``fields``:
    the items' :func:`item_fields`, when known."""
    import numpy as np
    import pyarrow as pa

    if fields is None:
        fields = item_fields(items)
    counts = list(fields[SIZE])
    total = sum(counts)
    request_ids = pa.array(fields[REQUEST_ID], type=pa.string())
    stamps = (np.array(fields[AT]) * 1_000_000).astype(np.int64)
    models = fields[MODEL]
    if total == len(items):  # every request one row: ids are the request ids
        ids = request_ids
        rows = pa.array(np.zeros(total, np.int32))
        model_column = pa.repeat(models[0], total) if models.count(models[0]) == total else pa.array(models)
    else:
        ids = pa.array(
            [
                request_id if count == 1 else b"%s:%d" % (request_id, index)
                for request_id, count in zip(fields[REQUEST_ID], counts, strict=True)
                for index in range(count)
            ],
            type=pa.string(),
        )
        repeats = np.array(counts)
        request_ids = request_ids.take(pa.array(np.repeat(np.arange(len(items)), repeats)))
        rows = pa.array(np.concatenate([np.arange(count, dtype=np.int32) for count in counts]))
        stamps = np.repeat(stamps, repeats)
        model_column = pa.array([model for model, count in zip(models, counts, strict=True) for _ in range(count)])
    arrays: dict[str, Any] = {
        "_id": ids,
        "_request_id": request_ids,
        "_row": rows,
        "_ts": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
        "_deployment": pa.repeat(items[0][DEPLOYMENT], total),
        "_model": model_column.cast(pa.string()),
    }
    if _any_given(fields[ROWS]):
        for key, column_values in _features(items, fields, total).items():
            arrays[feature_column(key)] = arrow_column(column_values)
    if _any_given(fields[PREDICTIONS]):
        vector = prediction_vector(fields[PREDICTIONS], counts)
        arrays["_prediction"] = (
            pa.array(vector) if vector is not None else arrow_column(_row_predictions(fields[PREDICTIONS], counts))
        )
    return pa.table(arrays)


def lane_table(lane: LaneLike, ids: list[bytes], moments: Any, values: list[Any], predictions: Any) -> Any:
    """The Arrow table of 1-row requests taken from ``lane`` (the same columns as :func:`items_table`);
    ``predictions``: one answer per request, one numpy vector of them, or (``lane.scalars``) one
    Python value per request."""
    import numpy as np
    import pyarrow as pa

    count = len(ids)
    request_ids = pa.array(ids, type=pa.string())
    arrays: dict[str, Any] = {
        "_id": request_ids,
        "_request_id": request_ids,
        "_row": pa.array(np.zeros(count, np.int32)),
        "_ts": pa.array((moments * 1_000_000).astype(np.int64), type=pa.timestamp("us", tz="UTC")),
        "_deployment": pa.repeat(lane.name, count),
        "_model": pa.repeat(lane.model, count).cast(pa.string()),
    }
    if lane.inputs:
        width = len(lane.columns)
        for index, key in enumerate(lane.columns):
            arrays[feature_column(key)] = arrow_column(values[index::width])
    if lane.outputs and lane.scalars:  # Python values: what tolist() of each one-value answer gives
        arrays["_prediction"] = arrow_column(predictions)
    elif lane.outputs:
        ones = [1] * count
        # one numpy vector already (the capture writer hands answers over that way), or one per request
        vector = predictions if isinstance(predictions, np.ndarray) else prediction_vector(tuple(predictions), ones)
        arrays["_prediction"] = (
            pa.array(vector) if vector is not None else arrow_column(_row_predictions(predictions, ones))
        )
    return pa.table(arrays)
