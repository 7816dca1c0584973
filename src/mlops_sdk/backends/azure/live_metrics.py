"""Guardrail metrics of Azure ML online deployments, from the endpoint's Azure Monitor platform metrics.

Two ``GET {endpoint id}/providers/Microsoft.Insights/metrics?api-version=2024-02-01`` calls (the
official ``Metrics_List``) per evaluation, over the window's ``timespan`` with ``interval=FULL`` (one
data point for the whole window), filtered to the deployment:

* ``RequestsPerMinute`` with ``aggregation=Total`` split by ``statusCodeClass`` (``$filter=deployment
  eq 'green' and statusCodeClass eq '*'``): the requests of the window, and the failed ones (``5xx``);
* ``RequestLatency_P95,RequestLatency_P99`` with ``aggregation=Maximum``: the worst per-minute
  percentile of the window (milliseconds), a conservative reading of a minute-grained metric.

Azure Monitor ingests platform metrics at one-minute grain with a delay of a minute or more, so
windows (and bakes) on Azure should be several minutes long. Predictions are not among the
endpoint's metrics: the prediction-shift guardrail is refused on Azure (see docs/deployments.md).
Plain azure-core with the backend's credential, CA bundle and retry policy, like the autoscale call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlops_sdk.backends.azure.errors import azure_errors
from mlops_sdk.models.guardrails import GuardrailObservation

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["METRICS_API_VERSION", "PREDICTION_SHIFT_UNSUPPORTED", "observe", "query_metrics"]

METRICS_API_VERSION = "2024-02-01"
REQUESTS_METRIC = "RequestsPerMinute"
LATENCY_METRICS = {"p95_ms": "RequestLatency_P95", "p99_ms": "RequestLatency_P99"}
PREDICTION_SHIFT_UNSUPPORTED = (
    "Azure ML endpoint metrics carry no predictions; on Azure the shift will come from the data "
    "collector's captured outputs, which rollouts do not read yet. Use prediction_shift on local "
    "endpoints, or leave it out (error_rate, p95_ms and p99_ms are watched on Azure)"
)


def _timespan(start: datetime, end: datetime) -> str:
    def iso(moment: datetime) -> str:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    return f"{iso(start)}/{iso(end)}"


def query_metrics(
    backend: AzureBackend,
    resource_id: str,
    *,
    names: list[str],
    aggregation: str,
    start: datetime,
    end: datetime,
    filter: str | None = None,
) -> dict[str, Any]:
    """One ``Metrics_List`` call over ``[start, end]`` with a single data point (retried when transient)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy
    from azure.core.rest import HttpRequest

    url = f"{backend.cloud.resource_manager.rstrip('/')}{quote(resource_id)}/providers/Microsoft.Insights/metrics"
    params = {
        "api-version": METRICS_API_VERSION,
        "metricnames": ",".join(names),
        "aggregation": aggregation,
        "timespan": _timespan(start, end),
        "interval": "FULL",
    }
    if filter:
        params["$filter"] = filter
    client: Any = PipelineClient(
        base_url=backend.cloud.resource_manager,
        policies=[
            HeadersPolicy(),
            RetryPolicy(retry_total=0),  # the SDK's own policy retries (and honours Retry-After)
            BearerTokenCredentialPolicy(backend.get_credential(), backend.cloud.arm_scope),
        ],
    )

    def get() -> dict[str, Any]:
        with azure_errors(f"reading the Azure Monitor metrics {', '.join(names)}"):
            response = client.send_request(
                HttpRequest("GET", url, params=params), connection_verify=backend.connection_verify
            )
            response.raise_for_status()
            answer: dict[str, Any] = response.json()
            return answer

    try:
        result: dict[str, Any] = backend.retry_policy.call(get)
        return result
    finally:
        client.close()


def _points(answer: Mapping[str, Any], metric: str, aggregation: str) -> list[tuple[dict[str, str], float]]:
    """``(dimension values, value)`` of every time series of ``metric`` (missing data points skipped)."""
    found: list[tuple[dict[str, str], float]] = []
    for item in answer.get("value") or []:
        if (item.get("name") or {}).get("value", "").lower() != metric.lower():
            continue
        for series in item.get("timeseries") or []:
            dimensions = {
                str((entry.get("name") or {}).get("value", "")).lower(): str(entry.get("value", ""))
                for entry in series.get("metadatavalues") or []
            }
            for point in series.get("data") or []:
                value = point.get(aggregation.lower())
                if value is not None:
                    found.append((dimensions, float(value)))
    return found


def observe(
    backend: AzureBackend, endpoint_id: str, deployment: str, since: Mapping[str, Any], *, now: datetime
) -> tuple[dict[str, Any], GuardrailObservation]:
    """Requests, failures and latency percentiles of ``deployment`` from ``since["at"]`` to ``now``."""
    start = datetime.fromisoformat(str(since["at"]))
    quoted = deployment.replace("'", "''")
    counts = query_metrics(
        backend,
        endpoint_id,
        names=[REQUESTS_METRIC],
        aggregation="Total",
        start=start,
        end=now,
        filter=f"deployment eq '{quoted}' and statusCodeClass eq '*'",
    )
    requests = errors = 0.0
    for dimensions, value in _points(counts, REQUESTS_METRIC, "Total"):
        requests += value
        if dimensions.get("statuscodeclass", "").startswith("5"):
            errors += value
    latency = query_metrics(
        backend,
        endpoint_id,
        names=list(LATENCY_METRICS.values()),
        aggregation="Maximum",
        start=start,
        end=now,
        filter=f"deployment eq '{quoted}'",
    )
    values: dict[str, float] = {}
    if requests > 0:
        values["error_rate"] = errors / requests
    for name, metric in LATENCY_METRICS.items():
        points = [value for _, value in _points(latency, metric, "Maximum")]
        if points:
            values[name] = max(points)
    observation = GuardrailObservation(
        window_start=start, window_end=now, requests=int(requests), errors=int(errors), values=values
    )
    return {"at": now.isoformat()}, observation
