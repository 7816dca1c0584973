"""Per-deployment live metrics of the endpoint server, exposed in Prometheus format at ``GET /metrics``.

For every deployment the server counts requests by status code and keeps two histograms: the
server-side latency of each answer and the numeric predictions it returned (each row's value, so
the distribution of outputs can be compared between deployments). Mirrored (shadow) requests count
under the shadow deployment with ``source="mirror"``. Rollout guardrails read these; any Prometheus
scraper can too.

Recording an answer is one append of a tuple to a deque (no lock, no arithmetic, no conversion of a
numpy answer): every 1,024 answers, or when ``/metrics`` is read, the pending answers are counted in
one vectorized step per (deployment, source): latency buckets and prediction buckets by one numpy
``searchsorted``/``bincount`` each. The deque's append and pop are atomic, so answers recorded by the
shadow threads while a flush runs are counted by the next one, never lost. The exposition text is
built only when ``/metrics`` is read, by a ``prometheus_client`` collector. Series:

* ``mlops_requests_total{deployment, source, status}`` (counter)
* ``mlops_request_latency_seconds{deployment, source}`` (histogram)
* ``mlops_prediction_value{deployment, source}`` (histogram; numeric outputs only)

``MLOPS_ENDPOINT_METRICS=0`` in the server's environment turns recording off (``/metrics`` answers
404 then); it exists so the cost of the bookkeeping can be measured.
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter, deque
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
    """Counters of one (deployment, source): statuses, the latency and the prediction histograms."""

    __slots__ = ("latency", "latency_sum", "prediction_sum", "predictions", "statuses")

    def __init__(self, numpy: Any) -> None:
        self.statuses: dict[int, int] = {}
        self.latency = numpy.zeros(len(LATENCY_BOUNDS) + 1, dtype=numpy.int64)
        self.latency_sum = 0.0
        self.predictions = numpy.zeros(len(PREDICTION_BOUNDS) + 1, dtype=numpy.int64)
        self.prediction_sum = 0.0


_FLUSH = 1024
"""Answers wait in the deque until this many are pending (or ``/metrics`` is read), then are counted
together: a few numpy calls per flush instead of a dozen Python operations per answer."""

_Answer = tuple[str, str, int, float, Any]
"""(deployment, source, status, seconds, predictions) of one recorded answer."""


class EndpointMetrics:
    """The counters of every deployment of one endpoint server, and their Prometheus exposition."""

    def __init__(self) -> None:
        import numpy

        self._np = numpy
        self._latency_bounds = numpy.asarray(LATENCY_BOUNDS)
        self._bounds = numpy.asarray(PREDICTION_BOUNDS)
        self._series: dict[tuple[str, str], _Series] = {}
        self._pending: deque[_Answer] = deque()
        self._lock = threading.Lock()  # one flush at a time; recording never takes it

    def record(
        self, deployment: str, status: int, seconds: float, predictions: Any = None, source: str = "live"
    ) -> None:
        """Count one answer: its status, its latency and (for 200s) its numeric predictions."""
        pending = self._pending
        pending.append((deployment, source, status, seconds, predictions))
        if len(pending) >= _FLUSH:
            with self._lock:
                self._flush()

    def _flush(self) -> None:
        """Count every pending answer (called with the lock held)."""
        pending = self._pending
        answers = [pending.popleft() for _ in range(len(pending))]  # later appends wait for the next flush
        if not answers:
            return
        deployments, sources = {answer[0] for answer in answers}, {answer[1] for answer in answers}
        if len(deployments) == 1 and len(sources) == 1:  # the usual case: one series
            self._count((answers[0][0], answers[0][1]), answers)
            return
        groups: dict[tuple[str, str], list[_Answer]] = {}
        for answer in answers:
            groups.setdefault((answer[0], answer[1]), []).append(answer)
        for key, group in groups.items():
            self._count(key, group)

    def _count(self, key: tuple[str, str], answers: list[_Answer]) -> None:
        np = self._np
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(np)
        _, _, statuses, seconds, outputs = zip(*answers, strict=True)
        counted = series.statuses
        for status, count in Counter(statuses).items():
            counted[status] = counted.get(status, 0) + count
        latencies = np.asarray(seconds, dtype=np.float64)
        series.latency += np.bincount(
            np.searchsorted(self._latency_bounds, latencies, side="left"), minlength=len(series.latency)
        )
        series.latency_sum += float(latencies.sum())
        values = self._values([output for output in outputs if output is not None])
        if values is None:
            return
        with np.errstate(invalid="ignore", over="ignore"):
            total = float(values.sum())
        if not math.isfinite(total):  # rare: drop the NaN and infinite values first
            values = values[np.isfinite(values)]
            total = float(values.sum())
        series.predictions += np.bincount(
            np.searchsorted(self._bounds, values, side="left"), minlength=len(series.predictions)
        )
        series.prediction_sum += total

    def _values(self, outputs: list[Any]) -> Any:
        """The numeric predictions of ``outputs`` as one float64 array (``None`` when there are none).

        The fast scoring paths answer numeric numpy arrays: one ``concatenate`` flattens them all.
        Anything else (JSON-ready lists, text or object arrays) is sorted out answer by answer.
        """
        np = self._np
        if not outputs:
            return None
        if all(type(output) is np.ndarray for output in outputs):
            joined = np.concatenate(outputs, axis=None)
            if joined.dtype.kind in "fiu":
                return joined.astype(np.float64, copy=False)
        arrays: list[Any] = []
        plain: list[float] = []
        for output in outputs:
            dtype = getattr(output, "dtype", None)
            if dtype is None:
                plain.extend(_numbers(output))
            elif dtype.kind in "fiu":
                arrays.append(np.ravel(output).astype(np.float64, copy=False))
        if plain:
            arrays.append(np.asarray(plain, dtype=np.float64))
        return np.concatenate(arrays) if arrays else None

    def forget(self, deployment: str) -> None:
        """Drop a removed deployment's counters (a new deployment of that name starts from zero)."""
        with self._lock:
            self._flush()
            for key in [key for key in self._series if key[0] == deployment]:
                del self._series[key]

    def exposition(self) -> bytes:
        """The Prometheus text format of every series (``prometheus_client`` writes it)."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return bytes(generate_latest(registry))

    def snapshot(self) -> list[tuple[str, str, dict[int, int], list[int], float, list[int], float]]:
        """A consistent copy of every series (taken under the lock, pending answers counted first)."""
        with self._lock:
            self._flush()
            return [
                (
                    deployment,
                    source,
                    dict(series.statuses),
                    series.latency.tolist(),
                    series.latency_sum,
                    series.predictions.tolist(),
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
