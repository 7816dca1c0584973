"""Signals over a window of captured traffic against a baseline: the computation every backend shares.

Backends only supply Arrow tables (the captured rows of the window, the labels, the baseline); this
module computes drift with :mod:`mlops_sdk.checks.stats` (numpy, one sort per feature, features on
threads since numpy releases the GIL) and data quality rates; model performance on the joined labels
is :mod:`mlops_sdk.monitoring.performance`.

Captured tables carry metadata columns starting with ``_`` (``_id``, ``_ts``, ``_deployment``,
``_model``, ``_prediction``); every other column is a model input.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.monitoring import (
    CaptureStats,
    DataDrift,
    DataQuality,
    FeatureStats,
    ModelPerformance,
    Monitor,
    MonitorReport,
    PredictionDrift,
    SignalResult,
)
from mlops_sdk.monitoring.performance import performance

__all__ = ["BaselineData", "arrow_result", "feature_columns", "run_signals"]

PREDICTION = "_prediction"
ID = "_id"


@dataclass
class BaselineData:
    """What "normal" is, as Arrow data.

    Attributes:
        table: Baseline rows (its input columns are compared with the captured ones).
        predictions: Column of ``table`` holding the baseline predictions / labels for prediction drift.
        description: Shown in the report (``kind``, ``version``, ``rows``, ...).
    """

    table: Any
    predictions: str | None = None
    description: dict[str, Any] = field(default_factory=dict)


def feature_columns(table: Any) -> list[str]:
    """The input columns of a captured table (those not starting with ``_``)."""
    return [name for name in table.column_names if not name.startswith("_")]


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type))
        and not pa.types.is_boolean(arrow_type)
    )


def _as_float(column: Any) -> tuple[Any, int]:
    """Float values (NaN for missing or non-numeric) and how many non-null values were not numbers."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if _is_numeric(column.type):
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), 0
    if pa.types.is_boolean(column.type):
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), 0
    import pandas

    text = column.to_pandas()
    values = pandas.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    errors = int(np.count_nonzero(np.isnan(values) & text.notna().to_numpy()))
    return values, errors


def _plain(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _drift_alerts(stats: FeatureStats, thresholds: dict[str, float]) -> tuple[str, ...]:
    alerts = []
    for name, bound in thresholds.items():
        value = stats.stat(name)
        if value is None:
            continue
        if name == "chi2_pvalue":
            if value < bound:
                alerts.append(f"chi2 p-value {value:.3g} < {bound:g}")
        elif value > bound:
            alerts.append(f"{name} {value:.4g} > {bound:g}")
    return tuple(alerts)


def _feature_drift(
    name: str, reference: Any, current: Any, categorical: bool, bins: int, thresholds: dict[str, float]
) -> FeatureStats:
    import numpy as np

    from mlops_sdk.checks.stats import category_counts, chi2_counts, js_distance, numeric_drift, psi_from_shares

    if not categorical:
        ref, _ = _as_float(reference)
        cur, _ = _as_float(current)
        with np.errstate(all="ignore"):  # infinite inputs: the statistics say so, no warning on stderr
            drift = numeric_drift(ref, cur, bins=bins)
        stats = FeatureStats(
            feature=name,
            kind="numeric",
            rows=int(np.count_nonzero(~np.isnan(cur))),
            psi=_plain(drift.psi),
            js=_plain(drift.js),
            wasserstein=_plain(drift.wasserstein),
            ks_statistic=_plain(drift.ks_statistic),
            ks_pvalue=_plain(drift.ks_pvalue),
        )
    else:
        ref_values = [v for v in reference.to_pylist() if v is not None]
        cur_values = [v for v in current.to_pylist() if v is not None]
        _, ref_counts, cur_counts = category_counts(ref_values, cur_values)
        if not ref_values or not cur_values:
            return FeatureStats(feature=name, kind="categorical", rows=len(cur_values))
        chi2, pvalue = chi2_counts(ref_counts, cur_counts)
        stats = FeatureStats(
            feature=name,
            kind="categorical",
            rows=len(cur_values),
            psi=_plain(psi_from_shares(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())),
            js=_plain(js_distance(ref_counts, cur_counts)),
            chi2_statistic=_plain(chi2),
            chi2_pvalue=_plain(pvalue),
        )
    # alerts see the raw values; the report keeps finite numbers only (JSON has no infinity: a report
    # holding one could not be read back), e.g. Wasserstein over a constant baseline (std 0) is inf
    alerts = _drift_alerts(stats, thresholds)
    infinite = {
        key: None for key, value in stats.model_dump().items() if isinstance(value, float) and math.isinf(value)
    }
    return stats.model_copy(update={"alerts": alerts, **infinite})


def _map(function: Callable[..., FeatureStats], jobs: Sequence[tuple[Any, ...]]) -> list[FeatureStats]:
    if len(jobs) <= 1:
        return [function(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 2, 8)) as pool:
        return list(pool.map(lambda job: function(*job), jobs))


def _compared(stats: FeatureStats) -> bool:
    """Whether drift statistics could be computed (values on both sides)."""
    return stats.psi is not None or stats.js is not None or stats.ks_statistic is not None


def _watched(signal: DataDrift | DataQuality, current: Any, baseline: Any) -> list[str]:
    captured = feature_columns(current)
    if signal.features is not None:
        missing = [f for f in signal.features if f not in captured or f not in baseline.column_names]
        if missing:
            raise ConfigurationError(
                f"{signal.name}: features {missing} are not in both the captured inputs ({captured}) and the "
                f"baseline ({[c for c in baseline.column_names if not c.startswith('_')]})",
                details={"field": f"{signal.name}.features"},
            )
        return list(signal.features)
    watched = [name for name in captured if name in baseline.column_names]
    stray = sorted(set(getattr(signal, "categorical", ())) - set(watched))
    if stray:
        raise ConfigurationError(
            f"{signal.name}: categorical names {stray}, which are not features both the captured inputs and the "
            f"baseline have ({watched}); fix the names or remove them",
            details={"field": f"{signal.name}.categorical"},
        )
    return watched


def _data_drift(signal: DataDrift, current: Any, baseline: BaselineData) -> SignalResult:
    features = _watched(signal, current, baseline.table)
    if not features:
        return SignalResult(
            name=signal.name, kind=signal.kind, passed=True, skipped=True, thresholds=signal.thresholds,
            message="no captured input column is also in the baseline (capture inputs, or pick the baseline)",
        )  # fmt: skip
    jobs = [
        (
            name,
            baseline.table.column(name),
            current.column(name),
            name in signal.categorical or not _is_numeric(baseline.table.schema.field(name).type),
            signal.bins,
            signal.thresholds,
        )
        for name in features
    ]
    stats = _map(_feature_drift, jobs)
    drifted = [item.feature for item in stats if item.alert]
    uncompared = [item.feature for item in stats if not _compared(item)]
    message = f"drift in {', '.join(drifted)}" if drifted else f"no drift in {len(stats) - len(uncompared)} features"
    if uncompared:
        # a feature with no values on one side has no statistics: say so instead of counting it as "no drift"
        message += f"; not compared (no values to compare in the window or the baseline): {', '.join(uncompared)}"
    return SignalResult(
        name=signal.name,
        kind=signal.kind,
        passed=not drifted,
        skipped=len(uncompared) == len(stats),
        message=message,
        thresholds=signal.thresholds,
        features=tuple(stats),
    )


def _prediction_drift(signal: PredictionDrift, current: Any, baseline: BaselineData) -> SignalResult:
    column = baseline.predictions
    if PREDICTION not in current.column_names or column is None or column not in baseline.table.column_names:
        why = (
            "the captured rows hold no predictions (capture outputs)"
            if PREDICTION not in current.column_names
            else "the baseline has no predictions: use a window baseline, or name the label column "
            "(TrainingBaseline(target=...) / DataBaseline(target=...))"
        )
        return SignalResult(
            name=signal.name, kind=signal.kind, passed=True, skipped=True, message=why, thresholds=signal.thresholds
        )
    categorical = signal.categorical or not _is_numeric(baseline.table.schema.field(column).type)
    stats = _feature_drift(
        "prediction", baseline.table.column(column), current.column(PREDICTION), categorical, signal.bins,
        signal.thresholds,
    )  # fmt: skip
    if not _compared(stats):
        return SignalResult(
            name=signal.name, kind=signal.kind, passed=True, skipped=True, thresholds=signal.thresholds,
            message=f"no captured prediction is comparable with the baseline's {column!r} (captured: "
            f"{current.column(PREDICTION).type}, baseline: {baseline.table.schema.field(column).type}, "
            f"{'categorical' if categorical else 'numeric'}); set PredictionDrift(categorical=True) or name the "
            "baseline's label column",
        )  # fmt: skip
    return SignalResult(
        name=signal.name,
        kind=signal.kind,
        passed=not stats.alert,
        message="; ".join(stats.alerts) or "predictions are distributed as in the baseline",
        thresholds=signal.thresholds,
        features=(stats,),
    )


def _quality(signal: DataQuality, current: Any, baseline: BaselineData) -> SignalResult:
    import numpy as np

    features = _watched(signal, current, baseline.table)
    rows = current.num_rows
    results = []
    for name in features:
        column = current.column(name)
        reference = baseline.table.column(name)
        nulls = column.null_count
        numeric = _is_numeric(reference.type)
        type_errors: int | None
        outside: int | None
        if numeric:
            values, type_errors = _as_float(column)
            ref, _ = _as_float(reference)
            ref = ref[~np.isnan(ref)]
            valid = values[~np.isnan(values)]
            outside = int(np.count_nonzero((valid < ref.min()) | (valid > ref.max()))) if ref.size else None
        else:
            known = {str(v) for v in reference.to_pylist() if v is not None}
            # a baseline column with no values has no type and no categories to hold the window against
            type_errors = 0 if known else None
            outside = sum(1 for v in column.to_pylist() if v is not None and str(v) not in known) if known else None
        stats = FeatureStats(
            feature=name,
            kind="numeric" if numeric else "categorical",
            rows=rows,
            null_rate=nulls / rows if rows else 0.0,
            type_error_rate=None if type_errors is None else (type_errors / rows if rows else 0.0),
            out_of_range_rate=None if outside is None else (outside / rows if rows else 0.0),
        )
        alerts = tuple(
            f"{key} {getattr(stats, key):.3g} > {bound:g}"
            for key, bound in signal.thresholds.items()
            if getattr(stats, key) is not None and getattr(stats, key) > bound
        )
        results.append(stats.model_copy(update={"alerts": alerts}))
    bad = [item.feature for item in results if item.alert]
    return SignalResult(
        name=signal.name,
        kind=signal.kind,
        passed=not bad,
        message=f"quality problems in {', '.join(bad)}" if bad else f"{len(results)} features within bounds",
        thresholds=signal.thresholds,
        features=tuple(results),
    )


def arrow_result(connection: Any, query: str, parameters: list[Any] | None = None) -> Any:
    """The rows of ``query`` as an Arrow table, without the copy a DB-API result makes
    (``to_arrow_table`` in DuckDB 1.4+, ``arrow`` before)."""
    relation = connection.sql(query, params=parameters or None)
    to_table = getattr(relation, "to_arrow_table", None) or relation.arrow
    return to_table()


def run_signals(
    monitor: Monitor,
    *,
    current: Any,
    baseline: BaselineData | None,
    labels: Any,
    window: tuple[datetime, datetime],
    capture: CaptureStats | None,
    backend: str,
    now: datetime,
) -> MonitorReport:
    """Compute every signal of ``monitor`` and build the report.

    Args:
        monitor: The policy.
        current: Captured rows of the window (Arrow table).
        baseline: The baseline (``None`` only when no signal needs one).
        labels: Ground truth (Arrow table ``_id``, ``label``, ``_logged_at``) or ``None``.
        window: The resolved window.
        capture: Capture counters to show (drops), when known.
        backend: Backend name for the report.
        now: Report time.
    """
    results: list[SignalResult] = []
    labeled = 0
    for signal in monitor.signals:
        if current.num_rows == 0:
            results.append(
                SignalResult(
                    name=signal.name,
                    kind=signal.kind,
                    passed=True,
                    skipped=True,
                    thresholds=signal.thresholds,
                    message="no captured rows in the window (is capture on? was the endpoint called?)",
                )
            )
            continue
        if isinstance(signal, ModelPerformance):
            result, labeled = performance(signal, current, labels, monitor.endpoint)
            results.append(result)
            continue
        if baseline is None:
            raise ConfigurationError(f"{signal.name} needs a baseline", details={"field": "baseline"})
        if baseline.table.num_rows == 0:
            raise ConfigurationError(
                f"{signal.name}: the baseline ({baseline.description.get('kind', 'data')}) has no rows, so there is "
                "nothing to compare the window with; choose a baseline with data",
                details={"field": "baseline"},
            )
        if isinstance(signal, DataDrift):
            results.append(_data_drift(signal, current, baseline))
        elif isinstance(signal, PredictionDrift):
            results.append(_prediction_drift(signal, current, baseline))
        else:
            results.append(_quality(signal, current, baseline))
    return MonitorReport.build(
        monitor=monitor.name,
        endpoint=monitor.endpoint,
        deployment=monitor.deployment,
        window_start=window[0],
        window_end=window[1],
        baseline=baseline.description if baseline is not None else {},
        rows=current.num_rows,
        labeled_rows=labeled,
        signals=results,
        capture=capture,
        backend=backend,
        created_at=now,
    )
