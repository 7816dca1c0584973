"""Per-deployment live metrics of the endpoint server, exposed in Prometheus format at ``GET /metrics``.

For every deployment the server counts requests by status code and keeps two histograms: the
server-side latency of each answer and the numeric predictions it returned (each row's value, so
the distribution of outputs can be compared between deployments). Mirrored (shadow) requests count
under the shadow deployment with ``source="mirror"``. Rollout guardrails read these; any Prometheus
scraper can too.

Recording is a few additions under one lock per answer (the latency bucket by :mod:`bisect`); a
model's numpy answer is only appended to a list, and every 256 answers (or when ``/metrics`` is
read) all pending predictions are bucketed by one numpy ``searchsorted``/``bincount``. The exposition
text is built only when ``/metrics`` is read, by a ``prometheus_client`` collector. Series:

* ``mlops_requests_total{deployment, source, status}`` (counter)
* ``mlops_request_latency_seconds{deployment, source}`` (histogram)
* ``mlops_prediction_value{deployment, source}`` (histogram; numeric outputs only)

``MLOPS_ENDPOINT_METRICS=0`` in the server's environment turns recording off (``/metrics`` answers
404 then); it exists so the cost of the bookkeeping can be measured.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
from collections.abc import Iterator
from typing import Any

__all__ = [
    "LATENCY_BOUNDS",
    "PREDICTION_BOUNDS",
    "EndpointMetrics",
    "metrics_enabled",
]

LATENCY_BOUNDS: tuple[float, ...] = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds (seconds) of the latency histogram; a ``+Inf`` bucket follows."""


def _prediction_bounds() -> tuple[float, ...]:
    """Symmetric log grid: 0 and +-10^(k/10) for k in -30..60 (1e-3 .. 1e6, 10 bounds per decade)."""
    positive = [10 ** (k / 10) for k in range(-30, 61)]
    return (*(-value for value in reversed(positive)), 0.0, *positive)


PREDICTION_BOUNDS: tuple[float, ...] = _prediction_bounds()
"""Upper bounds of the prediction histogram (fine enough to merge into reference-quantile bins for PSI)."""


def metrics_enabled() -> bool:
    """False when ``MLOPS_ENDPOINT_METRICS`` is ``0``/``false``/``off``."""
    return os.environ.get("MLOPS_ENDPOINT_METRICS", "1").strip().lower() not in ("0", "false", "off", "no")


class _Series:
    """Counters of one (deployment, source).

    Prediction buckets are counted in two places added up when read: a list for answers of a few
    values (one Python increment each) and a numpy array for batches (one vector add).
    """

    __slots__ = ("latency", "latency_sum", "pending", "prediction_sum", "predictions", "predictions_few", "statuses")

    def __init__(self, numpy: Any) -> None:
        self.pending: list[Any] = []
        self.statuses: dict[int, int] = {}
        self.latency = [0] * (len(LATENCY_BOUNDS) + 1)
        self.latency_sum = 0.0
        self.predictions = numpy.zeros(len(PREDICTION_BOUNDS) + 1, dtype=numpy.int64)
        self.predictions_few = [0] * (len(PREDICTION_BOUNDS) + 1)
        self.prediction_sum = 0.0


_FLUSH = 256
"""Numpy answers wait in a list until this many are pending (or ``/metrics`` is read), then are bucketed
together: one ``searchsorted`` over all of them instead of several numpy calls per answer."""


class EndpointMetrics:
    """The counters of every deployment of one endpoint server, and their Prometheus exposition."""

    def __init__(self) -> None:
        import numpy

        self._np = numpy
        self._bounds = numpy.asarray(PREDICTION_BOUNDS)
        self._series: dict[tuple[str, str], _Series] = {}
        self._lock = threading.Lock()
        self._pending = 0

    def record(
        self, deployment: str, status: int, seconds: float, predictions: Any = None, source: str = "live"
    ) -> None:
        """Count one answer: its status, its latency and (for 200s) its numeric predictions."""
        index = bisect.bisect_left(LATENCY_BOUNDS, seconds)
        with self._lock:
            series = self._series.get((deployment, source))
            if series is None:
                series = self._series[(deployment, source)] = _Series(self._np)
            statuses = series.statuses
            statuses[status] = statuses.get(status, 0) + 1
            series.latency[index] += 1
            series.latency_sum += seconds
            if predictions is not None:
                self._add_predictions(series, predictions)

    def _add_predictions(self, series: _Series, predictions: Any) -> None:
        dtype = getattr(predictions, "dtype", None)
        if dtype is not None:
            if dtype.kind in "fiu":
                series.pending.append(predictions)
                self._pending += 1
                if self._pending >= _FLUSH:
                    self._flush()
            return
        values = _numbers(predictions)
        few = series.predictions_few
        for value in values:
            if -math.inf < value < math.inf:  # also False for NaN
                few[bisect.bisect_left(PREDICTION_BOUNDS, value)] += 1
                series.prediction_sum += value

    def _flush(self) -> None:
        """Bucket every pending numpy answer (called with the lock held)."""
        np = self._np
        for series in self._series.values():
            if not series.pending:
                continue
            values = np.concatenate([item.ravel() for item in series.pending]).astype(np.float64, copy=False)
            series.pending.clear()
            total = float(values.sum())
            if not math.isfinite(total):  # rare: drop the NaN and infinite values first
                values = values[np.isfinite(values)]
                total = float(values.sum())
            series.predictions += np.bincount(np.searchsorted(self._bounds, values), minlength=len(series.predictions))
            series.prediction_sum += total
        self._pending = 0

    def forget(self, deployment: str) -> None:
        """Drop a removed deployment's counters (a new deployment of that name starts from zero)."""
        with self._lock:
            for key in [key for key in self._series if key[0] == deployment]:
                del self._series[key]

    def exposition(self) -> bytes:
        """The Prometheus text format of every series (``prometheus_client`` writes it)."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return bytes(generate_latest(registry))

    def snapshot(self) -> list[tuple[str, str, dict[int, int], list[int], float, list[int], float]]:
        """A consistent copy of every series (taken under the lock, pending answers bucketed first)."""
        with self._lock:
            self._flush()
            return [
                (
                    deployment,
                    source,
                    dict(series.statuses),
                    list(series.latency),
                    series.latency_sum,
                    [a + b for a, b in zip(series.predictions.tolist(), series.predictions_few, strict=True)],
                    series.prediction_sum,
                )
                for (deployment, source), series in sorted(self._series.items())
            ]


def _numbers(predictions: Any) -> list[float]:
    """The finite numeric scalars of JSON-ready predictions (rows of numbers, or one number per row)."""
    if isinstance(predictions, dict):  # {"predictions": [...]}, or a named output
        predictions = predictions.get("predictions", next(iter(predictions.values()), None))
    if not isinstance(predictions, list):
        predictions = [predictions]
    values: list[float] = []
    for item in predictions:
        if isinstance(item, list):  # one row of several outputs: every output counts
            values.extend(float(x) for x in item if isinstance(x, (int, float)) and not isinstance(x, bool))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            values.append(float(item))
    return [value for value in values if math.isfinite(value)]


class _Collector:
    """A ``prometheus_client`` custom collector over :class:`EndpointMetrics`."""

    def __init__(self, metrics: EndpointMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "mlops_requests", "Scoring answers per deployment and status", labels=["deployment", "source", "status"]
        )
        latency = HistogramMetricFamily(
            "mlops_request_latency_seconds", "Server-side latency of scoring answers", labels=["deployment", "source"]
        )
        prediction = HistogramMetricFamily(
            "mlops_prediction_value", "Numeric predictions returned", labels=["deployment", "source"]
        )
        for deployment, source, statuses, lat, lat_sum, preds, pred_sum in self._metrics.snapshot():
            for status, count in sorted(statuses.items()):
                requests.add_metric([deployment, source, str(status)], count)
            latency.add_metric([deployment, source], _cumulative(LATENCY_BOUNDS, lat), lat_sum)
            prediction.add_metric([deployment, source], _cumulative(PREDICTION_BOUNDS, preds), pred_sum)
        yield requests
        yield latency
        yield prediction


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    total = 0
    buckets: list[tuple[str, float]] = []
    for bound, count in zip((*bounds, math.inf), counts, strict=True):
        total += count
        buckets.append(("+Inf" if math.isinf(bound) else repr(bound), float(total)))
    return buckets
