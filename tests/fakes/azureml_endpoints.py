"""A loopback fake of Azure ML online endpoints and deployments, for the REAL MLClient.

Built from ``shared/azure-rest-specs/azure-machinelearning`` (api-version 2025-12-01):
``Workspace/OnlineEndpoint/{createOrUpdate,get}.json``, ``OnlineDeployment/ManagedOnlineDeployment/
{createOrUpdate,get}.json``, ``OnlineDeployment/getLogs.json`` and the paths of ``openapi.json``:

* ``PUT {ws}/onlineEndpoints/{e}`` -> 201 + ``Azure-AsyncOperation`` (LRO, final state via the original URI);
* ``GET {ws}/onlineEndpoints[/{e}]``, ``DELETE`` -> 202 + ``Location``;
* ``POST {ws}/onlineEndpoints/{e}/listKeys`` -> ``{primaryKey, secondaryKey}`` (its example is missing upstream;
  the shape is the spec's ``EndpointAuthKeys``);
* ``POST {ws}/onlineEndpoints/{e}/regenerateKeys`` (``RegenerateEndpointKeysRequest``: ``keyType``, optional
  ``keyValue`` = "the value the key is set to", else a new random key) -> 202 + ``Location`` (final state via location);
* ``PUT/GET/DELETE {ws}/onlineEndpoints/{e}/deployments/{d}``, ``GET .../deployments``,
  ``POST .../deployments/{d}/getLogs`` -> ``{content}``;
* the scoring URI (``POST /score/{e}`` on this server): bearer key, ``azureml-model-deployment``
  routing, else the traffic weights. A deployment of model version N answers ``[N.0] * rows``.

Every LRO answers ``retry-after-ms: 20`` so azure-core polls fast. The service's own behaviour that
clients trip over is kept: a traffic map must name existing deployments and sum to 100 (or be empty),
and the service fills in ``provisioningState``, ``scoringUri``, ``scaleSettings`` etc.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from typing import Any

from tests.fakes.azureml import SYSTEM_DATA
from tests.fakes.server import FakeService, Request, Response

PRIMARY_KEY = "fake-endpoint-primary-key-8f1c2d3e4f"
SECONDARY_KEY = "fake-endpoint-secondary-key-0a9b8c7d"
LRO_HEADERS = {"retry-after-ms": "20"}
IDENTITY = "00000000-1111-2222-3333-444444444444"


class FakeOnlineEndpoints:
    """Online endpoints on a :class:`FakeService` (workspace routes come from ``FakeAzureML``)."""

    def __init__(self, service: FakeService, ws: str) -> None:
        self.service = service
        self.ws = ws
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, dict[str, Any]]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.failing_models: set[str] = set()
        self.logs: dict[str, str] = {}
        self.create_headers: dict[str, str] = dict(LRO_HEADERS)
        """Extra headers of the 200/201 that starts an endpoint or deployment LRO (e.g. ``Retry-After``)."""
        self.failure_error: dict[str, str] = {
            "code": "DeploymentFailed",
            "message": "The model failed to load; see the logs.",
        }
        """The ``error`` of a failed deployment operation (its ARM code decides the SDK's error class)."""
        self.keys = {"primaryKey": PRIMARY_KEY, "secondaryKey": SECONDARY_KEY}
        self._lock = threading.Lock()
        base = re.escape(ws) + r"/onlineEndpoints"
        route = service.route
        route("GET", base, self._list_endpoints)
        route("GET", base + r"/(?P<e>[^/]+)", self._get_endpoint)
        route("PUT", base + r"/(?P<e>[^/]+)", self._put_endpoint)
        route("DELETE", base + r"/(?P<e>[^/]+)", self._delete_endpoint)
        route("POST", base + r"/(?P<e>[^/]+)/listKeys", self._list_keys)
        route("POST", base + r"/(?P<e>[^/]+)/regenerateKeys", self._regenerate_keys)
        route("GET", base + r"/(?P<e>[^/]+)/deployments", self._list_deployments)
        route("GET", base + r"/(?P<e>[^/]+)/deployments/(?P<d>[^/]+)", self._get_deployment)
        route("PUT", base + r"/(?P<e>[^/]+)/deployments/(?P<d>[^/]+)", self._put_deployment)
        route("DELETE", base + r"/(?P<e>[^/]+)/deployments/(?P<d>[^/]+)", self._delete_deployment)
        route("POST", base + r"/(?P<e>[^/]+)/deployments/(?P<d>[^/]+)/getLogs", self._get_logs)
        route("GET", r"/operations/(?P<op>[^/]+)", self._operation_status)
        route("GET", r"/locations/(?P<op>[^/]+)", self._location_status)
        route("POST", r"/score/(?P<e>[^/]+)", self._score)

    # -- helpers ---------------------------------------------------------------------------------------

    def traffic_puts(self, endpoint: str) -> list[dict[str, int]]:
        """The ``properties.traffic`` of every endpoint PUT received, in order."""
        return [
            (request.json["properties"].get("traffic") or {})
            for request in self.service.requests_to("PUT", rf"/onlineEndpoints/{endpoint}$")
        ]

    def _lro(self, kind: str, resource: dict[str, Any], *, fail: str | None = None) -> str:
        op = uuid.uuid4().hex
        self.operations[op] = {"kind": kind, "resource": resource, "polls": 0, "fail": fail}
        return op

    def _finish(self, op: dict[str, Any]) -> str:
        op["polls"] += 1
        if op["polls"] < 2:
            return "InProgress"
        resource = op["resource"]
        if op["fail"]:
            resource["properties"]["provisioningState"] = "Failed"
            return "Failed"
        if op["kind"] == "delete-deployment":
            endpoint, name = resource["_endpoint"], resource["name"]
            self.deployments.get(endpoint, {}).pop(name, None)
        elif op["kind"] == "delete-endpoint":
            self.endpoints.pop(resource["name"], None)
            self.deployments.pop(resource["name"], None)
        else:
            resource["properties"]["provisioningState"] = "Succeeded"
        return "Succeeded"

    def _advance(self, resource: dict[str, Any]) -> None:
        """A GET of a resource being created also moves its provisioning on, as on the real service.

        Azure ML provisions whether or not anyone polls the operation URL; a client that lost its poller
        (a failed status request) and reads the resource instead must still see it finish.
        """
        with self._lock:
            for op in self.operations.values():
                if op["resource"] is resource and op["kind"] in ("endpoint", "deployment") and op["polls"] < 2:
                    self._finish(op)

    def _async_headers(self, op: str) -> dict[str, str]:
        return {"Azure-AsyncOperation": f"{self.service.url}/operations/{op}", **self.create_headers}

    @staticmethod
    def _public(resource: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in resource.items() if not key.startswith("_")}

    # -- endpoints -------------------------------------------------------------------------------------

    def _endpoint_resource(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        properties = dict(body.get("properties") or {})
        properties.update(
            {
                "provisioningState": "Creating" if name not in self.endpoints else "Updating",
                "scoringUri": f"{self.service.url}/score/{name}",
                "swaggerUri": f"{self.service.url}/swagger/{name}",
                "authMode": properties.get("authMode", "Key"),
                "traffic": properties.get("traffic") or {},
                "mirrorTraffic": properties.get("mirrorTraffic") or {},
            }
        )
        return {
            "id": f"{self.ws}/onlineEndpoints/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "location": body.get("location", "westeurope"),
            "kind": body.get("kind") or "Managed",
            "identity": body.get("identity")
            or {"type": "SystemAssigned", "principalId": IDENTITY, "tenantId": IDENTITY},
            "properties": properties,
            "tags": body.get("tags") or {},
            "systemData": SYSTEM_DATA,
        }

    def _list_endpoints(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"value": [copy.deepcopy(e) for e in self.endpoints.values()]})

    def _get_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        name = match["e"]
        if name not in self.endpoints:
            return Response(404, {"error": {"code": "UserError", "message": f"Endpoint {name} not found."}})
        self._advance(self.endpoints[name])
        return Response(200, copy.deepcopy(self.endpoints[name]))

    def _put_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        name = match["e"]
        body = request.json or {}
        traffic = (body.get("properties") or {}).get("traffic") or {}
        mirror = (body.get("properties") or {}).get("mirrorTraffic") or {}
        known = self.deployments.get(name, {})
        for key in (*traffic, *mirror):
            if key not in known:
                return Response(
                    400,
                    {
                        "error": {
                            "code": "BadArgument",
                            "message": f"Deployment {key} does not exist for endpoint {name}.",
                        }
                    },
                )
        if traffic and sum(traffic.values()) != 100:
            return Response(400, {"error": {"code": "BadArgument", "message": "Traffic must sum to 100."}})
        with self._lock:
            created = name not in self.endpoints
            resource = self._endpoint_resource(name, body)
            self.endpoints[name] = resource
            self.deployments.setdefault(name, {})
            op = self._lro("endpoint", resource)
        return Response(201 if created else 200, copy.deepcopy(resource), self._async_headers(op))

    def _delete_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        name = match["e"]
        if name not in self.endpoints:
            return Response(204)
        op = self._lro("delete-endpoint", self.endpoints[name])
        return Response(202, None, {"Location": f"{self.service.url}/locations/{op}", **LRO_HEADERS})

    def _list_keys(self, request: Request, match: re.Match[str]) -> Response:
        if match["e"] not in self.endpoints:
            return Response(404, {"error": {"code": "UserError", "message": "Endpoint not found."}})
        return Response(200, dict(self.keys))

    def _regenerate_keys(self, request: Request, match: re.Match[str]) -> Response:
        if match["e"] not in self.endpoints:
            return Response(404, {"error": {"code": "UserError", "message": "Endpoint not found."}})
        body = request.json or {}
        kind = str(body.get("keyType", ""))
        if kind not in ("Primary", "Secondary"):
            return Response(400, {"error": {"code": "UserError", "message": "keyType must be Primary or Secondary."}})
        self.keys[f"{kind.lower()}Key"] = body.get("keyValue") or f"fake-regenerated-{uuid.uuid4().hex}"
        op = self._lro("regenerate-keys", self.endpoints[match["e"]])
        return Response(202, None, {"Location": f"{self.service.url}/locations/{op}", **LRO_HEADERS})

    # -- deployments -----------------------------------------------------------------------------------

    def _deployment_resource(self, endpoint: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        properties = dict(body.get("properties") or {})
        properties.setdefault("scaleSettings", {"scaleType": "Default"})
        properties.setdefault("endpointComputeType", "Managed")
        properties["provisioningState"] = "Creating"
        return {
            "id": f"{self.ws}/onlineEndpoints/{endpoint}/deployments/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "location": body.get("location", "westeurope"),
            "kind": body.get("kind") or "Managed",
            "sku": body.get("sku") or {"name": "Default", "tier": "Standard", "capacity": 1},
            "properties": properties,
            "tags": body.get("tags") or {},
            "systemData": SYSTEM_DATA,
            "_endpoint": endpoint,
        }

    def _list_deployments(self, request: Request, match: re.Match[str]) -> Response:
        items = self.deployments.get(match["e"], {}).values()
        return Response(200, {"value": [self._public(copy.deepcopy(item)) for item in items]})

    def _get_deployment(self, request: Request, match: re.Match[str]) -> Response:
        item = self.deployments.get(match["e"], {}).get(match["d"])
        if item is None:
            return Response(404, {"error": {"code": "UserError", "message": f"Deployment {match['d']} not found."}})
        self._advance(item)
        return Response(200, self._public(copy.deepcopy(item)))

    def _put_deployment(self, request: Request, match: re.Match[str]) -> Response:
        endpoint, name = match["e"], match["d"]
        if endpoint not in self.endpoints:
            return Response(404, {"error": {"code": "UserError", "message": f"Endpoint {endpoint} not found."}})
        body = request.json or {}
        model = str((body.get("properties") or {}).get("model") or "")
        with self._lock:
            created = name not in self.deployments[endpoint]
            resource = self._deployment_resource(endpoint, name, body)
            self.deployments[endpoint][name] = resource
            failing = next((m for m in self.failing_models if m in model), None)
            op = self._lro("deployment", resource, fail=failing)
            if failing:
                self.logs[name] = (
                    f"Traceback (most recent call last):\nmlflow.exceptions.MlflowException: cannot load {model}"
                )
        return Response(201 if created else 200, self._public(copy.deepcopy(resource)), self._async_headers(op))

    def _delete_deployment(self, request: Request, match: re.Match[str]) -> Response:
        endpoint, name = match["e"], match["d"]
        item = self.deployments.get(endpoint, {}).get(name)
        if item is None:
            return Response(204)
        if self.endpoints[endpoint]["properties"]["traffic"].get(name):
            return Response(400, {"error": {"code": "BadArgument", "message": "Deployment has traffic."}})
        op = self._lro("delete-deployment", item)
        return Response(202, None, {"Location": f"{self.service.url}/locations/{op}", **LRO_HEADERS})

    def _get_logs(self, request: Request, match: re.Match[str]) -> Response:
        tail = int((request.json or {}).get("tail") or 0)
        text = self.logs.get(match["d"], "Booting inference server\nListening on 0.0.0.0:5001")
        lines = text.splitlines()
        return Response(200, {"content": "\n".join(lines[-tail:] if tail else lines)})

    # -- LRO status ------------------------------------------------------------------------------------

    def _operation_status(self, request: Request, match: re.Match[str]) -> Response:
        op = self.operations.get(match["op"])
        if op is None:
            return Response(404, {"error": {"code": "NotFound", "message": "no such operation"}})
        status = self._finish(op)
        body: dict[str, Any] = {"status": status}
        if status == "Failed":
            body["error"] = dict(self.failure_error)
        return Response(200, body, dict(LRO_HEADERS))

    def _location_status(self, request: Request, match: re.Match[str]) -> Response:
        op = self.operations.get(match["op"])
        if op is None:
            return Response(404, {"error": {"code": "NotFound", "message": "no such operation"}})
        status = self._finish(op)
        if status == "InProgress":
            return Response(202, None, {"Location": f"{self.service.url}/locations/{match['op']}", **LRO_HEADERS})
        return Response(200, None)

    # -- scoring ---------------------------------------------------------------------------------------

    def _score(self, request: Request, match: re.Match[str]) -> Response:
        endpoint = self.endpoints.get(match["e"])
        if endpoint is None:
            return Response(404, {"message": "no endpoint"})
        if request.headers.get("authorization") not in {f"Bearer {key}" for key in self.keys.values()}:
            return Response(401, {"message": "key missing or wrong"})
        name = request.headers.get("azureml-model-deployment")
        if not name:
            traffic = endpoint["properties"]["traffic"]
            name = max(traffic, key=lambda key: traffic[key]) if traffic else None
        deployment = self.deployments.get(match["e"], {}).get(name or "")
        if deployment is None or deployment["properties"]["provisioningState"] != "Succeeded":
            return Response(404, {"message": f"deployment {name} not ready"})
        rows = (request.json or {}).get("input_data") or []
        version = str(deployment["properties"].get("model", "")).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        value = float(version) if version.replace(".", "").isdigit() else 0.0
        return Response(200, [value] * len(rows if isinstance(rows, list) else rows.get("data", [])))
