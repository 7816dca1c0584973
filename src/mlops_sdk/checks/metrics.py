"""Metrics computed on evaluation data: a small registry users can extend.

Every metric is ``function(y_true, y_pred) -> float`` on numpy arrays plus its direction. Classification
metrics score predicted labels (what an MLflow model's ``predict`` returns); ``precision``, ``recall``
and ``f1`` treat the label ``1``/``True`` as positive.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["Metric", "available_metrics", "get_metric", "register_metric"]

MetricFunction = Callable[[Any, Any], float]


@dataclass(frozen=True)
class Metric:
    """A named metric and its direction.

    Args:
        name: Name used in checks and reports.
        function: ``function(y_true, y_pred) -> float`` on numpy arrays.
        greater_is_better: True for scores (R², accuracy), False for errors (RMSE, MAE).
        description: One line for docs and error messages.
    """

    name: str
    function: MetricFunction
    greater_is_better: bool
    description: str = ""

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Compute the metric."""
        return float(self.function(y_true, y_pred))


def _np() -> Any:
    import numpy

    return numpy


def _float(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    np = _np()
    return np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)


def _mse(y_true: Any, y_pred: Any) -> float:
    t, p = _float(y_true, y_pred)
    return float(_np().mean((t - p) ** 2))


def _rmse(y_true: Any, y_pred: Any) -> float:
    return float(_np().sqrt(_mse(y_true, y_pred)))


def _mae(y_true: Any, y_pred: Any) -> float:
    t, p = _float(y_true, y_pred)
    return float(_np().mean(_np().abs(t - p)))


def _mape(y_true: Any, y_pred: Any) -> float:
    t, p = _float(y_true, y_pred)
    np = _np()
    mask = t != 0
    if not mask.any():
        return float("nan")
    return float(np.mean(np.abs((t[mask] - p[mask]) / t[mask])))


def _max_error(y_true: Any, y_pred: Any) -> float:
    t, p = _float(y_true, y_pred)
    return float(_np().max(_np().abs(t - p)))


def _r2(y_true: Any, y_pred: Any) -> float:
    t, p = _float(y_true, y_pred)
    np = _np()
    total = float(np.sum((t - t.mean()) ** 2))
    residual = float(np.sum((t - p) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def _labels(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    np = _np()
    return np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()


def _accuracy(y_true: Any, y_pred: Any) -> float:
    t, p = _labels(y_true, y_pred)
    return float((t == p).mean())


def _error_rate(y_true: Any, y_pred: Any) -> float:
    return 1.0 - _accuracy(y_true, y_pred)


def _counts(y_true: Any, y_pred: Any) -> tuple[int, int, int]:
    t, p = _labels(y_true, y_pred)
    positive_true, positive_pred = (t == 1), (p == 1)
    true_positive = int((positive_true & positive_pred).sum())
    return true_positive, int(positive_pred.sum()) - true_positive, int(positive_true.sum()) - true_positive


def _precision(y_true: Any, y_pred: Any) -> float:
    tp, fp, _ = _counts(y_true, y_pred)
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(y_true: Any, y_pred: Any) -> float:
    tp, _, fn = _counts(y_true, y_pred)
    return tp / (tp + fn) if tp + fn else 0.0


def _f1(y_true: Any, y_pred: Any) -> float:
    tp, fp, fn = _counts(y_true, y_pred)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


_REGISTRY: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("mse", _mse, False, "mean squared error"),
        Metric("rmse", _rmse, False, "root mean squared error"),
        Metric("mae", _mae, False, "mean absolute error"),
        Metric("mape", _mape, False, "mean absolute percentage error (rows with y=0 skipped)"),
        Metric("max_error", _max_error, False, "largest absolute error"),
        Metric("r2", _r2, True, "coefficient of determination"),
        Metric("accuracy", _accuracy, True, "share of correct labels"),
        Metric("error_rate", _error_rate, False, "share of wrong labels"),
        Metric("precision", _precision, True, "binary precision, label 1 positive"),
        Metric("recall", _recall, True, "binary recall, label 1 positive"),
        Metric("f1", _f1, True, "binary F1, label 1 positive"),
    )
}
_lock = threading.Lock()


def available_metrics() -> list[str]:
    """Names of every metric that can be computed on evaluation data."""
    with _lock:
        return sorted(_REGISTRY)


def register_metric(metric: Metric) -> None:
    """Make ``metric`` available by name to every check (replaces one with the same name)."""
    if not isinstance(metric, Metric) or not metric.name:
        raise ConfigurationError("register_metric needs a Metric with a name", details={"field": "metric"})
    with _lock:
        _REGISTRY[metric.name] = metric


def find_metric(name: str) -> Metric | None:
    """The registered metric called ``name``, or ``None``."""
    with _lock:
        return _REGISTRY.get(name)


def get_metric(metric: str | Metric) -> Metric:
    """Resolve a metric by name.

    Raises:
        ConfigurationError: unknown name; the message lists the metrics that exist.
    """
    if isinstance(metric, Metric):
        return metric
    found = find_metric(metric)
    if found is None:
        names = available_metrics()
        close = difflib.get_close_matches(str(metric), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigurationError(
            f"unknown metric {metric!r}{hint}; metrics that exist: {', '.join(names)} "
            "(or register your own with mlops_sdk.checks.register_metric)",
            details={"field": "metric", "value": metric, "available": names},
        )
    return found
