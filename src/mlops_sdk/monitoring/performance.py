"""Model performance on captured rows joined to their late labels (DuckDB), with the validation metric
registry (:mod:`mlops_sdk.checks.metrics`): which rows are scored, and labels and predictions of one kind."""

from __future__ import annotations

import math
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.monitoring import MetricValue, ModelPerformance, SignalResult

__all__ = ["joined_labels", "performance"]

PREDICTION = "_prediction"
ID = "_id"


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type))


def joined_labels(current: Any, labels: Any) -> Any:
    """``(prediction, label)`` of every captured id that has a label: the latest label of an id wins, and
    an id captured more than once (a caller resending its own correlation id, a batch job logging its
    inferences again after a retry) counts once, with its latest answer."""
    import duckdb

    from mlops_sdk.monitoring.engine import arrow_result

    connection = duckdb.connect()
    try:
        stamped = "_ts" in current.column_names
        connection.register("captured", current.select([ID, PREDICTION, *(["_ts"] if stamped else [])]))
        connection.register("labels", labels)
        latest = "arg_max(_prediction, _ts)" if stamped else "any_value(_prediction)"
        return arrow_result(
            connection,
            f"""
            SELECT c.prediction AS prediction, l.label AS label
            FROM (SELECT _id, {latest} AS prediction FROM captured GROUP BY _id) c
            JOIN (SELECT _id, arg_max(label, _logged_at) AS label FROM labels GROUP BY _id) l USING (_id)
            """,  # noqa: S608 - fixed text, no values
        )
    finally:
        connection.close()


def _kind(column: Any) -> str:
    """``numbers``, ``text`` or the Arrow type's name (lists, structs, ... which no metric takes)."""
    import pyarrow as pa

    if _is_numeric(column.type) or pa.types.is_boolean(column.type) or pa.types.is_null(column.type):
        return "numbers"
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return "text"
    return str(column.type)


def _comparable(truth: Any, predicted: Any, endpoint: str) -> tuple[Any, Any]:
    """Labels and predictions as numpy arrays of one kind; text that is all numbers counts as numbers
    (labels logged as numbers in one part and text in another are read back as text, as are
    predictions whose values did not share one type in a capture file)."""
    import numpy as np
    import pandas

    columns = {"labels": truth, "predictions": predicted}
    kinds = {name: _kind(column) for name, column in columns.items()}
    for name, kind in kinds.items():
        if kind not in ("numbers", "text"):
            raise ConfigurationError(
                f"model_performance on {endpoint}: the {name} are {kind}; a metric compares numbers or classes "
                "(text). Capture a plain prediction per row, or compute this metric yourself from read_captures",
                details={"field": name},
            )
    values = {name: column.to_pandas() for name, column in columns.items()}
    if len(set(kinds.values())) > 1:
        for name, kind in kinds.items():
            if kind == "text":
                parsed = pandas.to_numeric(values[name], errors="coerce")
                if parsed.isna().sum() > values[name].isna().sum():
                    other = "predictions" if name == "labels" else "labels"
                    example = values[name][parsed.isna() & values[name].notna()].iloc[0]
                    advice = (
                        "log labels of the predictions' type (labels logged once as numbers and once as text "
                        "are read back as text)"
                        if name == "labels"
                        else "log labels of the predictions' type, or capture one number per row as the prediction"
                    )
                    raise ConfigurationError(
                        f"model_performance on {endpoint}: the {name} are text (e.g. {str(example)[:60]!r}) but the "
                        f"{other} are numbers; {advice}",
                        details={"field": "labels"},
                    )
                values[name] = parsed
    truth_values, predicted_values = values["labels"], values["predictions"]
    known = (truth_values.notna() & predicted_values.notna()).to_numpy()
    as_array = {True: lambda v: v.to_numpy(dtype=float), False: lambda v: v.to_numpy(dtype=object)}
    numeric = kinds["labels"] == "numbers" or kinds["predictions"] == "numbers"
    return (
        np.asarray(as_array[numeric](truth_values))[known],
        np.asarray(as_array[numeric](predicted_values))[known],
    )


def performance(signal: ModelPerformance, current: Any, labels: Any, endpoint: str) -> tuple[SignalResult, int]:
    """The signal's metrics on the labelled captured rows of the window, and how many rows were scored."""
    from mlops_sdk.checks.metrics import get_metric

    if PREDICTION not in current.column_names or labels is None or labels.num_rows == 0 or current.num_rows == 0:
        why = "no predictions captured" if PREDICTION not in current.column_names else "no ground truth logged"
        return SignalResult(
            name=signal.name, kind=signal.kind, passed=True, skipped=True, message=why, thresholds=signal.thresholds
        ), 0
    pairs = joined_labels(current, labels)
    # rows whose prediction is missing (the model answered null / NaN) have nothing to score
    truth, predicted = _comparable(pairs.column("label"), pairs.column("prediction"), endpoint)
    count = len(truth)
    if count < signal.min_labels:
        return SignalResult(
            name=signal.name, kind=signal.kind, passed=True, skipped=True, thresholds=signal.thresholds,
            message=f"{count} labelled rows with a prediction in the window, fewer than min_labels={signal.min_labels}",
        ), count  # fmt: skip
    values = []
    for name, bound in signal.thresholds.items():
        metric = get_metric(name)
        try:
            value = float(metric(truth, predicted))
        except (ValueError, TypeError, ArithmeticError) as error:
            raise ConfigurationError(
                f"model_performance on {endpoint}: {name} cannot be computed on the {count} labelled rows "
                f"({str(error).splitlines()[0][:200]}); pick a metric for this kind of model (e.g. accuracy / f1 "
                "for classes, rmse / mae for numbers)",
                details={"field": f"{signal.name}.thresholds.{name}"},
            ) from None
        if not math.isfinite(value):
            return SignalResult(
                name=signal.name, kind=signal.kind, passed=True, skipped=True, thresholds=signal.thresholds,
                message=f"{name} is undefined on these {count} labelled rows (e.g. r2 of a constant truth)",
            ), count  # fmt: skip
        alert = value < bound if metric.greater_is_better else value > bound
        values.append(
            MetricValue(
                metric=name,
                value=value,
                threshold=bound,
                greater_is_better=metric.greater_is_better,
                labeled_rows=count,
                alert=alert,
            )
        )
    bad = [item.metric for item in values if item.alert]
    message = (
        f"{', '.join(bad)} crossed the bound on {count} labelled rows" if bad else f"within bounds on {count} rows"
    )
    return SignalResult(
        name=signal.name,
        kind=signal.kind,
        passed=not bad,
        message=message,
        thresholds=signal.thresholds,
        metrics=tuple(values),
    ), count
