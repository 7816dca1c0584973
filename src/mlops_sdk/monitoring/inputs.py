"""User data as monitoring tables: correlation ids, labels and input columns, checked once for every
backend (``log_ground_truth`` and ``log_inferences`` take exactly what the docs say, and a refusal
names the field and the first bad value)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["MAX_ID_LENGTH", "correlation_ids", "frame_table", "input_column", "label_values", "labels_table"]

MAX_ID_LENGTH = 1024
"""The longest correlation id accepted (the endpoint server's own are at most 128 + ``:<row>``)."""


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


def _listed(values: Any, field: str, what: str) -> list[Any]:
    """``values`` as a list, refusing a lone text / number / mapping (``ids="abc"`` is not three ids)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ConfigurationError(
            f"{field} must be a list (or array / Series) of {what}, got {type(values).__name__}",
            details={"field": field},
        )
    if hasattr(values, "tolist"):  # numpy arrays, pandas Series: Python scalars in one C pass
        listed: list[Any] = values.tolist()
        return listed
    return [item.item() if hasattr(item, "item") and not isinstance(item, (str, bytes)) else item for item in values]


def _clean_ids(ids: list[Any]) -> bool:
    """True when every id is text of 1-MAX_ID_LENGTH characters without surrounding spaces (checked in
    Arrow: a million ids in milliseconds); False sends the caller to the item by item check."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        column = pa.array(ids, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    lengths = pc.utf8_length(column)
    return bool(
        column.null_count == 0
        and (len(ids) == 0 or (pc.min(lengths).as_py() >= 1 and pc.max(lengths).as_py() <= MAX_ID_LENGTH))
        and pc.all(pc.equal(pc.utf8_trim_whitespace(column), column)).as_py() is not False
    )


def _clean_labels(labels: list[Any]) -> Any:
    """The Arrow column when every label is a finite number (or bool) or every one is text, else None
    (the item by item check then names the first bad one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        column = pa.array(labels)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return None
    if column.null_count or not len(column):
        return None
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
        return pc.cast(column, pa.float64())
    if pa.types.is_floating(column.type) and pc.all(pc.is_finite(column)).as_py():
        return pc.cast(column, pa.float64())
    return None


def correlation_ids(values: Any, *, field: str = "ids") -> list[str]:
    """``values`` as correlation ids: text (or whole numbers) of 1-1024 characters with no surrounding
    whitespace; the same rule for ``log_inferences`` and ``log_ground_truth``, so every id one of them
    takes, the other can match."""
    listed = _listed(values, field, "correlation ids")
    if _clean_ids(listed):
        return listed
    ids = []
    for index, item in enumerate(listed):
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
    clean = _clean_labels(labels)
    if clean is not None:
        return clean
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
        elif item is None or type(item).__name__ in ("NAType", "NaTType"):
            problem = f"is missing ({item})"
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
