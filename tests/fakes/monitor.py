"""A fake of Azure Monitor autoscale settings (``Microsoft.Insights/autoscalesettings``, api-version 2022-10-01).

Built from ``shared/azure-rest-specs/azure-monitor/.../2022-10-01/autoscale_API.json`` and its
``createOrUpdateAutoscaleSetting.json`` example: ``PUT`` answers 201 when created and 200 when
replaced, with the resource (``id``, ``name``, ``type``, ``location``, ``tags``, ``properties``);
``GET`` answers it or 404; ``DELETE`` answers 200 or 204. A body without ``location`` or
``properties.profiles`` (required by the spec) is a 400, as the service answers.
"""

from __future__ import annotations

import copy
import re
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
