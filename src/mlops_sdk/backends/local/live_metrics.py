"""Guardrail metrics of local endpoints: read the server's ``/metrics`` and measure a window of it.

The server's counters are cumulative (Prometheus style), so a marker is the parsed counters of one
deployment at a moment, and an observation is the difference between two markers: requests and
errors, latency quantiles from the latency histogram, and the shift of the prediction histogram
against the baseline deployment's (all its predictions on this server so far).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.backends.spi.guardrails import histogram_quantile, shift
from mlops_sdk.core.errors import ConfigurationError, error_for_status
from mlops_sdk.models.guardrails import GuardrailObservation

__all__ = ["Counters", "observe", "parse_metrics", "read_counters"]

Counters = dict[str, Any]
"""One deployment's cumulative counters: ``requests``, ``errors``, ``latency`` and ``predictions``
(cumulative bucket counts), ``bounds`` of both histograms."""


def _empty() -> Counters:
    return {"requests": 0, "errors": 0, "latency": [], "predictions": []}


def parse_metrics(text: str, source: str | None = None) -> dict[str, Counters]:
    """Per-deployment counters from the Prometheus text (``source``: ``live``/``mirror``, None for both)."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError as error:
        raise ConfigurationError(
            "guardrails on local endpoints read the server's Prometheus metrics, which needs prometheus-client; "
            "pip install 'mlops-sdk[local]'",
            details={"field": "guardrails"},
        ) from error

    found: dict[str, Counters] = {}
    latency: dict[str, dict[float, float]] = {}
    predictions: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            name = labels.get("deployment")
            if name is None or (source is not None and labels.get("source") != source):
                continue
            counters = found.setdefault(name, _empty())
            if sample.name == "mlops_requests_total":
                count = int(sample.value)
                counters["requests"] += count
                if int(labels["status"]) >= 500:
                    counters["errors"] += count
            elif sample.name in ("mlops_request_latency_seconds_bucket", "mlops_prediction_value_bucket"):
                target = latency if sample.name.startswith("mlops_request") else predictions
                bound = math.inf if labels["le"] == "+Inf" else float(labels["le"])
                buckets = target.setdefault(name, {})
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    for name, counters in found.items():
        counters["latency"] = sorted(latency.get(name, {}).items())
        counters["predictions"] = sorted(predictions.get(name, {}).items())
    return found


def read_counters(server: EndpointServer) -> dict[str, Counters]:
    """GET ``/metrics`` with the admin key and parse it (every source of every deployment)."""
    info = server._require_running()
    answer = server._request(info, "GET", "/metrics", headers={"Authorization": f"Bearer {server.keys()['admin_key']}"})
    if answer.status != 200:
        raise error_for_status(
            answer.status, f"endpoint {server.name!r}: GET /metrics failed: {answer.message}", backend="local"
        )
    return parse_metrics(answer.body.decode("utf-8"))


def _minus(now: list[Any], then: list[Any]) -> list[tuple[float, float]]:
    before = {float(bound): float(count) for bound, count in then}
    return [(float(bound), float(count) - before.get(float(bound), 0.0)) for bound, count in now]


def _non_cumulative(buckets: list[tuple[float, float]]) -> list[float]:
    counts, previous = [], 0.0
    for _, count in buckets:
        counts.append(count - previous)
        previous = count
    return counts


def observe(
    current: Mapping[str, Counters],
    deployment: str,
    since: Mapping[str, Any],
    *,
    baseline: str | None,
    shift_metric: str,
    now: datetime,
) -> tuple[dict[str, Any], GuardrailObservation]:
    """The window between marker ``since`` and ``current`` counters (read at ``now``), and the marker of now."""
    mine = current.get(deployment, _empty())
    then = since.get("counters") or _empty()
    requests = mine["requests"] - then["requests"]
    errors = mine["errors"] - then["errors"]
    values: dict[str, float] = {}
    if requests > 0:
        values["error_rate"] = errors / requests
    latency = _minus(mine["latency"], then["latency"])
    for quantile, name in ((0.95, "p95_ms"), (0.99, "p99_ms")):
        seconds = histogram_quantile(quantile, latency)
        if seconds is not None:
            values[name] = seconds * 1000
    window = _non_cumulative(_minus(mine["predictions"], then["predictions"]))
    predicted = int(sum(window))
    reference = current.get(baseline) if baseline else None
    if reference is not None and predicted > 0 and reference["predictions"]:
        ref_counts = _non_cumulative([(float(b), float(c)) for b, c in reference["predictions"]])
        if sum(ref_counts) > 0 and len(ref_counts) == len(window):
            values["prediction_shift"] = shift(ref_counts, window, shift_metric)
    started = since.get("at")
    observation = GuardrailObservation(
        window_start=datetime.fromisoformat(started) if started else now,
        window_end=now,
        requests=int(requests),
        errors=int(errors),
        predictions=predicted,
        values=values,
    )
    return {"at": now.isoformat(), "counters": mine}, observation
