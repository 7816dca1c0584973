"""Fakes of Azure Monitor: autoscale settings (``Microsoft.Insights/autoscalesettings``, api-version
2022-10-01) and the platform metrics of online endpoints (``Microsoft.Insights/metrics``, 2024-02-01).

Built from ``shared/azure-rest-specs/azure-monitor/.../2022-10-01/autoscale_API.json`` and its
``createOrUpdateAutoscaleSetting.json`` example: ``PUT`` answers 201 when created and 200 when
replaced, with the resource (``id``, ``name``, ``type``, ``location``, ``tags``, ``properties``);
``GET`` answers it or 404; ``DELETE`` answers 200 or 204. A body without ``location`` or
``properties.profiles`` (required by the spec) is a 400, as the service answers.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.fakes.server import FakeService, Request, Response

API_VERSION = "2022-10-01"
_PATH = (
    r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.Insights/autoscalesettings/(?P<name>[^/]+)"
)


class FakeAutoscale:
    """Autoscale settings kept in memory, on a :class:`FakeService` (paths are case-insensitive, as ARM's)."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.settings: dict[str, dict[str, Any]] = {}
        service.route("PUT", _PATH, self._put)
        service.route("GET", _PATH, self._get)
        service.route("DELETE", _PATH, self._delete)

    @staticmethod
    def _error(status: int, code: str, message: str) -> Response:
        return Response(status, {"code": code, "message": message})  # AutoscaleErrorResponse shape

    def _put(self, request: Request, match: re.Match[str]) -> Response:
        if request.api_version != API_VERSION:
            return self._error(400, "InvalidApiVersion", f"api-version {request.api_version} is not supported")
        body = request.json or {}
        properties = body.get("properties") or {}
        if not body.get("location") or not properties.get("profiles"):
            return self._error(400, "BadRequest", "location and properties.profiles are required")
        name = match["name"]
        created = name not in self.settings
        self.settings[name] = {
            "id": request.path,
            "name": name,
            "type": "Microsoft.Insights/autoscaleSettings",
            "location": body["location"],
            "tags": body.get("tags") or {},
            "properties": {"enabled": True, **copy.deepcopy(properties), "name": name},
        }
        return Response(201 if created else 200, copy.deepcopy(self.settings[name]))

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        setting = self.settings.get(match["name"])
        if setting is None:
            return self._error(404, "ResourceNotFound", f"autoscale setting {match['name']} not found")
        return Response(200, copy.deepcopy(setting))

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200 if self.settings.pop(match["name"], None) is not None else 204)


# -- platform metrics (Metrics_List, api-version 2024-02-01) -------------------------------------------

METRICS_API_VERSION = "2024-02-01"
METRICS_SPEC = (
    "azure-monitor/specification/monitor/resource-manager/Microsoft.Insights/Insights/stable/2024-02-01/"
    "metrics_API.json"
)
_METRICS_PATH = (
    r"(?P<resource>/subscriptions/.+/onlineEndpoints/(?P<endpoint>[^/]+))/providers/Microsoft\.Insights/metrics"
)
# Azure ML online endpoint metrics and their dimensions (Azure Monitor "supported metrics" for
# Microsoft.MachineLearningServices/workspaces/onlineEndpoints).
ENDPOINT_METRICS = {
    "RequestsPerMinute": {"deployment", "statuscode", "statuscodeclass", "modelstatuscode"},
    "RequestLatency": {"deployment"},
    "RequestLatency_P50": {"deployment"},
    "RequestLatency_P90": {"deployment"},
    "RequestLatency_P95": {"deployment"},
    "RequestLatency_P99": {"deployment"},
}
_AGGREGATIONS = {"average", "count", "maximum", "minimum", "total"}
_CLAUSE = re.compile(r"^\s*([\w.]+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


@dataclass
class Traffic:
    """One deployment's traffic as the fake reports it: per-minute counts by status class, latency percentiles."""

    per_minute: dict[str, float]
    p95_ms: float
    p99_ms: float
    since: datetime | None = None  # no data before (a deployment that just got traffic)


class FakeMetrics:
    """``GET {resource}/providers/Microsoft.Insights/metrics`` for online endpoints, checked against the spec.

    Query parameters must be ones the spec's ``Metrics_List`` declares; ``timespan`` must be
    ``start/end`` ISO times, ``interval`` an ISO duration or ``FULL``, ``aggregation`` known, the
    metric names known for online endpoints and the ``$filter`` a conjunction of ``dimension eq 'value'``
    over that metric's dimensions; otherwise 400, as the service answers. Values come from
    :attr:`traffic` scaled by the minutes of the timespan (``interval=FULL``: one data point).
    """

    def __init__(self, service: FakeService, allowed_params: set[str]) -> None:
        self.service = service
        self.allowed = {name.lower() for name in allowed_params}
        self.traffic: dict[tuple[str, str], Traffic] = {}
        service.route("GET", _METRICS_PATH, self._get)

    @staticmethod
    def _error(status: int, code: str, message: str) -> Response:
        return Response(status, {"code": code, "message": message})

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        query = {key.lower(): value for key, value in request.query.items()}
        if request.api_version != METRICS_API_VERSION:
            return self._error(400, "InvalidApiVersion", f"api-version {request.api_version} is not supported")
        unknown = sorted(set(query) - self.allowed)
        if unknown:
            return self._error(400, "BadRequest", f"unknown query parameters {unknown}")
        names = [name.strip() for name in query.get("metricnames", "").split(",") if name.strip()]
        if not names or any(name not in ENDPOINT_METRICS for name in names):
            return self._error(400, "BadRequest", f"unknown metric names {names}")
        aggregations = [item.strip().lower() for item in query.get("aggregation", "average").split(",")]
        if any(item not in _AGGREGATIONS for item in aggregations):
            return self._error(400, "BadRequest", f"unknown aggregation {query.get('aggregation')}")
        try:
            start_text, end_text = query["timespan"].split("/")
            start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
            end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return self._error(400, "BadRequest", f"timespan must be start/end ISO times, got {query.get('timespan')}")
        if end <= start:
            return self._error(400, "BadRequest", "timespan end must be after its start")
        interval = query.get("interval", "PT1M")
        if interval != "FULL" and not re.match(r"^PT?\d+[MHD]$", interval):
            return self._error(400, "BadRequest", f"interval {interval} is not an ISO 8601 duration or FULL")
        filters: dict[str, str] = {}
        for clause in filter(None, re.split(r"\s+and\s+", query.get("$filter", ""), flags=re.IGNORECASE)):
            found = _CLAUSE.match(clause)
            if found is None:
                return self._error(400, "BadRequest", f"invalid $filter clause {clause!r}")
            filters[found[1].lower()] = found[2].replace("''", "'")
        for name in names:
            if not set(filters) <= ENDPOINT_METRICS[name]:
                return self._error(400, "BadRequest", f"metric {name} has no dimension {sorted(set(filters))}")
        value = [self._metric(match, name, aggregations[0], filters, start, end) for name in names]
        body = {
            "cost": 0,
            "timespan": query["timespan"],
            "interval": interval,
            "namespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "resourceregion": "westeurope",
            "value": value,
        }
        return Response(200, body)

    def _metric(
        self, match: re.Match[str], name: str, aggregation: str, filters: dict[str, str], start: datetime, end: datetime
    ) -> dict[str, Any]:
        deployment = filters.get("deployment", "*")
        traffic = self.traffic.get((match["endpoint"], deployment))
        series: list[dict[str, Any]] = []
        if traffic is not None:
            begin = max(start, traffic.since) if traffic.since else start
            minutes = max(0.0, (end - begin).total_seconds() / 60)
            point_time = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            meta = [{"name": {"value": "deployment", "localizedValue": "deployment"}, "value": deployment}]
            if name == "RequestsPerMinute":
                for status_class, rate in sorted(traffic.per_minute.items()):
                    series.append(
                        {
                            "metadatavalues": [
                                *meta,
                                {
                                    "name": {"value": "statusCodeClass", "localizedValue": "statusCodeClass"},
                                    "value": status_class,
                                },
                            ],
                            "data": [{"timeStamp": point_time, aggregation: rate * minutes}] if minutes else [],
                        }
                    )
            elif minutes:
                value = traffic.p95_ms if name.endswith("P95") else traffic.p99_ms
                series.append({"metadatavalues": meta, "data": [{"timeStamp": point_time, aggregation: value}]})
        return {
            "id": f"{match['resource']}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": name},
            "unit": "Count" if name == "RequestsPerMinute" else "Milliseconds",
            "timeseries": series,
            "errorCode": "Success",
        }
