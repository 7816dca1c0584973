"""Checking scoring input against a model's input signature, naming the row and column at fault.

Both model paths call these before the model sees anything: :func:`align` turns a parsed
:class:`~.payloads.Batch` into equal-length rows in the signature's column order (unknown,
missing or duplicate columns and ragged rows are refused), and :func:`check_cells` checks every
cell against its column's MLflow type (numbers that overflow a 64-bit float, booleans or strings
in number columns, nested values, missing or fractional values in integer columns) and converts
CSV text to the column's type. Whatever is refused raises :class:`~.payloads.PayloadError`, which
the app answers with 400 and the message, e.g. ``row 3, column 'bmi': true is a boolean, not a number``.

Rows and columns are counted from 0. Types these checks do not know (``binary``, ``datetime``,
arrays, objects) are left to MLflow's own schema enforcement.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from mlops_sdk.backends.local.serving.payloads import Batch, PayloadError

__all__ = ["NUMBER_TYPES", "align", "check_cells", "infer_csv", "plain_numbers"]

NUMBER_TYPES = frozenset({"double", "float", "long", "integer"})
_INTEGER_BOUNDS = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


class _CellError(Exception):
    """One cell is refused; the message says why (the caller adds row and column)."""


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(text) > 24:
        return f"{text[:12]}... ({len(text)} digits)"
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} is a boolean"
    if isinstance(value, dict):
        return "a nested object"
    if isinstance(value, list):
        return "a nested list"
    if isinstance(value, str):
        return f"{_show(value)} is a string"
    return f"{_show(value)} is a {type(value).__name__}"


def _number(value: Any, csv: bool) -> Any:
    kind = type(value)
    if kind is float or value is None:
        return value
    if kind is int:
        try:
            float(value)
        except OverflowError:
            raise _CellError(f"the integer {_show(value)} is too large for a 64-bit float") from None
        return value
    if kind is str and csv:
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise _CellError(f"{_show(value)} is not a number") from None
        if math.isinf(number) and not text.lstrip("+-").lower().startswith("inf"):
            raise _CellError(f"{_show(text)} is too large for a 64-bit float")
        return number
    if kind is str:
        raise _CellError(f'{_kind(value)}, not a number (send 1.5, not "1.5")')
    raise _CellError(f"{_kind(value)}, not a number")


def _integer(bounds: tuple[int, int], name: str) -> Callable[[Any, bool], Any]:
    low, high = bounds

    def check(value: Any, csv: bool) -> Any:
        if value is None or (csv and isinstance(value, str) and not value.strip()):
            raise _CellError(f"a missing value; the {name} column takes integers only")
        if csv and isinstance(value, str):
            text = value.strip()
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    raise _CellError(f"{_show(text)} is not an integer") from None
        if type(value) is float:
            if not math.isfinite(value) or not value.is_integer():
                raise _CellError(f"{_show(value)} is not an integer")
            value = int(value)
        elif type(value) is not int:
            raise _CellError(f"{_kind(value)}, not an integer")
        if not low <= value <= high:
            raise _CellError(f"the integer {_show(value)} is out of the {name} range [{low}, {high}]")
        return value

    return check


def _boolean(value: Any, csv: bool) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if csv and isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if not text:
            return None
    raise _CellError(f"{_kind(value)}, not a boolean (true or false)")


def _string(value: Any, csv: bool) -> Any:
    if value is None or isinstance(value, str):
        return value
    raise _CellError(f"{_kind(value)}, not a string")


_CHECKS: dict[str, Callable[[Any, bool], Any]] = {
    "double": _number,
    "float": _number,
    "long": _integer(_INTEGER_BOUNDS["long"], "long"),
    "integer": _integer(_INTEGER_BOUNDS["integer"], "integer"),
    "boolean": _boolean,
    "string": _string,
}


_PLAIN = frozenset({float, int, type(None)})


def plain_numbers(rows: Sequence[Sequence[Any]]) -> bool:
    """True when every cell is a float, an int (not a bool) or null: the common case, checked fast.

    (The cell types are collected by ``map`` in C, not by a Python loop over every cell.)
    """
    return set(map(type, itertools.chain.from_iterable(rows))) <= _PLAIN


def _column(names: Sequence[str] | None, index: int) -> str:
    return f"column {names[index]!r}" if names is not None and index < len(names) else f"column {index}"


def _rectangular(rows: list[Any]) -> list[list[Any]]:
    """Rows as lists of one length; a list of single values is one column (one value per row)."""
    if not isinstance(rows[0], list):
        for number, value in enumerate(rows):
            if isinstance(value, list):
                raise PayloadError(f"row {number} is a list but row 0 is a single value; send rows of one kind")
        return [[value] for value in rows]
    width = len(rows[0])
    if set(map(type, rows)) == {list} and set(map(len, rows)) == {width}:
        return rows  # the common case, checked in C
    for number, row in enumerate(rows):
        if not isinstance(row, list):
            raise PayloadError(f"row {number} is {_kind(row)}, not a list of values like row 0")
        if len(row) != width:
            raise PayloadError(
                f"row {number} has {len(row)} values but row 0 has {width}; every row needs the same columns"
            )
    return rows


def align(
    batch: Batch, expected: Sequence[str] | None, *, optional: frozenset[str] = frozenset()
) -> tuple[list[list[Any]], list[str] | None]:
    """Equal-length rows in the order of ``expected`` (the signature's columns), and their column names.

    Named input must name only known columns and every column that is not ``optional``; positional
    input must have one value per expected column.

    Raises:
        PayloadError: no rows, ragged rows, duplicate, unknown or missing columns, wrong row width.
    """
    if not batch.rows:
        raise PayloadError("the input has no rows")
    rows = _rectangular(batch.rows)
    names = batch.columns
    if names is not None and len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise PayloadError(f"the column(s) {duplicates} appear more than once; name each column once")
    if type(expected) is list and names is not None and names == expected:
        # The usual request names the signature's columns in its order. From here on the batch holds
        # the signature's own list, so later comparisons of its columns (the capture lane's, per
        # request) match by identity instead of comparing every name's text.
        batch.columns = expected
        return rows, expected
    if expected is None:
        return rows, names
    expected = list(expected)
    if names is None:
        if len(rows[0]) != len(expected):
            raise PayloadError(
                f"each row must have {len(expected)} values ({', '.join(expected)}); row 0 has {len(rows[0])}"
            )
        return rows, expected
    if names == expected:
        return rows, names
    known = set(expected)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PayloadError(f"the input has unknown column(s) {unknown}; the model takes {expected}")
    positions = {name: index for index, name in enumerate(names)}
    missing = [name for name in expected if name not in positions and name not in optional]
    if missing:
        raise PayloadError(f"the input lacks the column(s) {missing}; the model expects {expected}")
    present = [name for name in expected if name in positions]
    order = [positions[name] for name in present]
    return [[row[index] for index in order] for row in rows], present


def check_cells(
    rows: list[list[Any]], names: Sequence[str] | None, types: Sequence[str | None], *, csv: bool
) -> list[list[Any]]:
    """Check every cell against its column's type; CSV text is converted (numbers, integers, booleans).

    ``types`` holds one MLflow type name per column (``None`` or an unknown name: not checked).

    Raises:
        PayloadError: naming the row, the column and what is wrong with the first refused cell.
    """
    checks = [_CHECKS.get(kind) if kind else None for kind in types]
    if not any(checks):
        return rows
    converted: list[list[Any]] = []
    for number, row in enumerate(rows):
        out = list(row)
        for index, check in enumerate(checks):
            if check is None:
                continue
            try:
                out[index] = check(row[index], csv)
            except _CellError as bad:
                raise PayloadError(f"row {number}, {_column(names, index)}: {bad}") from None
        converted.append(out)
    return converted


def infer_csv(rows: list[list[Any]]) -> list[list[Any]]:
    """CSV text without a signature: a column whose every value is a number becomes numbers (as pandas infers)."""
    if not rows:
        return rows
    columns = list(zip(*rows, strict=True))
    typed: list[Sequence[Any]] = []
    for column in columns:
        values = [value.strip() for value in column]
        for parse in (int, float):
            try:
                typed.append([parse(value) if value else None for value in values])
                break
            except ValueError:
                continue
        else:
            typed.append(column)
    return [list(row) for row in zip(*typed, strict=True)]
