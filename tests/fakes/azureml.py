"""A loopback fake of the Azure ML workspace APIs that training and the model registry use.

Built from the official examples in ``shared/azure-rest-specs/azure-machinelearning`` (api-version
2025-12-01: ``Job/CommandJob/*.json``, ``Job/cancel.json``, ``Workspace/ModelVersion/*.json``,
``Workspace/ModelContainer/*.json``) and from what azure-ai-ml 1.35 really sends:

* jobs: ``GET/PUT {ws}/jobs/{name}``, ``POST {ws}/jobs/{name}/cancel`` (202 + Location), ``GET {ws}/jobs``;
* code upload: ``GET/PUT {ws}/codes/{name}/versions/{v}``, ``POST .../startPendingUpload`` handing out a
  SAS URL on this very server, and the blob calls azure-storage-blob makes against it;
* models: ``GET {ws}/models/{name}`` (container with ``nextVersion``), ``GET/PUT {ws}/models/{name}/versions/{v}``,
  ``GET {ws}/models/{name}/versions`` (list);
* datastores: ``GET {ws}/datastores/{name}`` and ``POST .../listSecrets`` (account key); with
  :meth:`FakeAzureML.attach_storage` the workspace's blob storage is a real emulator (Azurite): code
  uploads get a container SAS URL there and model versions registered from job outputs resolve to
  ``azureml://.../datastores/workspaceblobstore/paths/azureml/<job>/<output>/`` like the service does;
* the workspace (``GET {ws}``) with ``discoveryUrl`` and ``mlFlowTrackingUri`` pointing back here, the
  discovery document, run history ``/history/v1.0{ws}/runs/{id}/details`` (error details of failed
  jobs) and MLflow's ``/api/2.0/mlflow/runs/get`` under the tracking URI (metrics and params).

Each job follows a *plan*: the statuses successive ``GET``s report after creation.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeService, Request, Response

API_VERSION_HINT = "2025-12-01"
SYSTEM_DATA = {
    "createdAt": "2026-01-01T00:00:00.000Z",
    "createdBy": "fake-user@example.com",
    "createdByType": "User",
    "lastModifiedAt": "2026-01-01T00:00:00.000Z",
    "lastModifiedBy": "fake-user@example.com",
    "lastModifiedByType": "User",
}


def _same_path(stored: Any, sent: Any) -> bool:
    """Whether a PUT names the stored path (datastore paths with or without the workspace prefix)."""

    def normal(uri: Any) -> str:
        return re.sub(
            r"^azureml://subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/", "azureml://", str(uri)
        )

    return normal(stored) == normal(sent)


@dataclass
class JobPlan:
    """Statuses reported by successive GETs after the PUT, the last one repeating; optional failure."""

    statuses: list[str] = field(default_factory=lambda: ["NotStarted", "Running", "Completed"])
    error: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelinePlan:
    """Per step of a pipeline job: the statuses its child run reports on successive children listings.

    The pipeline job itself follows its :class:`JobPlan`; a step named in ``errors`` carries that
    run-history error (``{"code": ..., "message": ...}``) once it is ``Failed``.
    """

    steps: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeAzureML:
    """Azure ML workspace fake on a :class:`FakeService`."""

    def __init__(self, service: FakeService, subscription: str, resource_group: str, workspace: str) -> None:
        self.service = service
        self.subscription, self.resource_group, self.workspace = subscription, resource_group, workspace
        self.ws = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
        )
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_gets: dict[str, int] = {}
        self.plans: dict[str, JobPlan] = {}
        self.default_plan = JobPlan()
        self.codes: dict[tuple[str, str], dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.models: dict[str, dict[str, dict[str, Any]]] = {}
        self.canceled: set[str] = set()
        self.datastores: dict[str, dict[str, Any]] = {}
        self.datastore_secrets: dict[str, str] = {}
        self.code_container_url: Callable[[str], str] | None = None
        self.data_versions: dict[tuple[str, str], dict[str, Any]] = {}
        self.computes: set[str] = {"cpu-cluster", "cpu-small", "gpu-cluster"}
        self.components: dict[tuple[str, str], dict[str, Any]] = {}
        self.pipeline_plans: dict[str, PipelinePlan] = {}
        self._lock = threading.Lock()
        ws = re.escape(self.ws)
        route = service.route
        route("GET", ws, self._workspace)
        route("GET", "/discovery", self._discovery)
        route("GET", ws + r"/jobs", self._list_jobs)
        route("GET", ws + r"/jobs/(?P<name>[^/]+)", self._get_job)
        route("PUT", ws + r"/jobs/(?P<name>[^/]+)", self._put_job)
        route("POST", ws + r"/jobs/(?P<name>[^/]+)/cancel", self._cancel_job)
        route("GET", ws + r"/codes/(?P<name>[^/]+)/versions", self._list_codes)
        route("GET", ws + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._get_code)
        route("PUT", ws + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._put_code)
        route(
            "POST", ws + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/startPendingUpload", self._pending_upload
        )
        route("PUT", r"/blob/(?P<path>.+)", self._put_blob)
        route("HEAD", r"/blob/(?P<path>.+)", self._head_blob)
        route("GET", r"/blob/(?P<path>.*)", self._get_blob)
        route("GET", ws + r"/models", self._list_containers)
        route("GET", ws + r"/models/(?P<name>[^/]+)", self._get_container)
        route("GET", ws + r"/models/(?P<name>[^/]+)/versions", self._list_versions)
        route("GET", ws + r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._get_version)
        route("PUT", ws + r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._put_version)
        route("GET", ws + r"/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._get_data_version)
        route("PUT", ws + r"/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._put_data_version)
        route("GET", ws + r"/computes/(?P<name>[^/]+)", self._get_compute)
        route("GET", ws + r"/components/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._get_component)
        route("PUT", ws + r"/components/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", self._put_component)
        route("GET", "/history/v1.0" + ws + r"/runs/(?P<name>[^/]+)/children", self._run_children)
        route("GET", ws + r"/datastores/(?P<name>[^/]+)", self._get_datastore)
        route("POST", ws + r"/datastores/(?P<name>[^/]+)/listSecrets", self._datastore_secrets)
        route("GET", "/history/v1.0" + ws + r"/runs/(?P<name>[^/]+)/details", self._run_details)
        route("GET", "/mlflow/v1.0" + ws + r"/api/2.0/mlflow/runs/get", self._mlflow_run)

    # -- helpers for tests -------------------------------------------------------------------------

    def plan(self, name: str, plan: JobPlan) -> None:
        """Set the status plan of job ``name`` (before or after it is created)."""
        self.plans[name] = plan

    def add_job(self, name: str, body: dict[str, Any]) -> None:
        """Pretend a job was created earlier (by a crashed submitter)."""
        self.jobs[name] = self._job_resource(name, body)
        self.job_gets[name] = 0

    def add_model_version(
        self,
        name: str,
        version: str,
        *,
        tags: dict[str, str] | None = None,
        path: str = "azureml://jobs/earlier/outputs/model",
    ) -> None:
        """Pretend a model version exists."""
        body = {"properties": {"modelUri": path, "modelType": "mlflow_model", "tags": tags or {}}}
        self.models.setdefault(name, {})[version] = self._version_resource(name, version, body)

    # -- workspace, discovery, run history, MLflow -------------------------------------------------

    def _workspace(self, request: Request, match: re.Match[str]) -> Response:
        host = self.service.url.split("://", 1)[1]
        return Response(
            200,
            {
                "id": self.ws,
                "name": self.workspace,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": "westeurope",
                "kind": "Default",
                "properties": {
                    "friendlyName": self.workspace,
                    "workspaceId": "00000000-0000-0000-0000-00000000beef",
                    "discoveryUrl": f"{self.service.url}/discovery",
                    "mlFlowTrackingUri": f"azureml://{host}/mlflow/v1.0{self.ws}",
                    "provisioningState": "Succeeded",
                },
                "systemData": SYSTEM_DATA,
            },
        )

    def _discovery(self, request: Request, match: re.Match[str]) -> Response:
        url = self.service.url
        return Response(
            200,
            dict.fromkeys(
                (
                    "api",
                    "catalog",
                    "experimentation",
                    "gallery",
                    "history",
                    "hyperdrive",
                    "labeling",
                    "modelmanagement",
                    "pipelines",
                    "studio",
                ),
                url,
            ),
        )

    def _children(self, parent: str) -> list[dict[str, Any]]:
        """The child runs of pipeline job ``parent`` as the run history service lists them."""
        job = self.jobs[parent]
        plan = self.pipeline_plans.get(parent, PipelinePlan())
        listed = self.job_gets.get(f"children:{parent}", 0)
        parent_status = self._current(parent)["properties"]["status"]
        runs = []
        for node, body in (job["properties"].get("jobs") or {}).items():
            statuses = plan.steps.get(node)
            if statuses is None:
                statuses = [parent_status] if parent_status in ("Completed", "Canceled") else ["Running"]
            status = "Canceled" if parent in self.canceled else statuses[min(listed, len(statuses) - 1)]
            runs.append(
                {
                    "runId": f"{parent}-{node}-child",
                    "parentRunId": parent,
                    "rootRunId": parent,
                    "runType": "azureml.StepRun",
                    "status": status,
                    "displayName": body.get("display_name") or node,
                    "name": node,
                    "tags": body.get("tags") or {},
                    "properties": {"azureml.nodeid": node, "StepType": "CommandStep"},
                    "createdUtc": "2026-01-01T00:00:00.000Z",
                    "target": "cpu-cluster",
                }
            )
        return runs

    def _run_children(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        with self._lock:
            if name not in self.jobs:
                return Response(404, {"error": {"code": "UserError", "message": f"run {name} not found"}})
            runs = self._children(name)
            self.job_gets[f"children:{name}"] = self.job_gets.get(f"children:{name}", 0) + 1
        return Response(200, {"value": runs, "nextLink": None})

    def _child_details(self, name: str) -> Response | None:
        for parent, plan in self.pipeline_plans.items():
            for node, error in plan.errors.items():
                if name == f"{parent}-{node}-child":
                    return Response(200, {"runId": name, "status": "Failed", "error": {"error": error}})
        return None

    def _run_details(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        child = self._child_details(name)
        if child is not None:
            return child
        if name not in self.jobs:
            return Response(404, {"error": {"code": "UserError", "message": f"run {name} not found"}})
        plan = self.plans.get(name, self.default_plan)
        status = self.jobs[name]["properties"]["status"]
        body: dict[str, Any] = {"runId": name, "status": status, "target": "cpu-cluster"}
        if status == "Failed" and plan.error:
            body["error"] = {"error": plan.error}
        return Response(200, body)

    def _mlflow_run(self, request: Request, match: re.Match[str]) -> Response:
        name = request.query.get("run_id") or request.query.get("run_uuid")
        if name not in self.jobs:
            return Response(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run '{name}' not found"})
        plan = self.plans.get(name, self.default_plan)
        return Response(
            200,
            {
                "run": {
                    "info": {
                        "run_id": name,
                        "run_uuid": name,
                        "experiment_id": "1",
                        "status": "FINISHED",
                        "start_time": 1767225600000,
                        "artifact_uri": f"azureml://jobs/{name}/artifacts",
                        "lifecycle_stage": "active",
                        "run_name": name,
                    },
                    "data": {
                        "metrics": [
                            {"key": k, "value": v, "timestamp": 1767225600000, "step": 0}
                            for k, v in plan.metrics.items()
                        ],
                        "params": [{"key": k, "value": v} for k, v in plan.params.items()],
                        "tags": [],
                    },
                }
            },
        )

    # -- jobs ----------------------------------------------------------------------------------------

    def _job_resource(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        resource = copy.deepcopy(body)
        properties = resource.setdefault("properties", {})
        properties["status"] = "NotStarted"
        properties.setdefault("experimentName", "Default")
        properties["services"] = {
            "Studio": {"jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{name}?wsid={self.ws}"},
            "Tracking": {"jobServiceType": "Tracking", "endpoint": "azureml://fake/mlflow"},
        }
        for output in (properties.get("outputs") or {}).values():
            output.setdefault("mode", "ReadWriteMount")
        resource.update(
            {
                "id": f"{self.ws}/jobs/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "systemData": SYSTEM_DATA,
            }
        )
        return resource

    def _current(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        if name in self.canceled:
            job["properties"]["status"] = "Canceled"
            return job
        plan = self.plans.get(name, self.default_plan)
        index = min(self.job_gets[name], len(plan.statuses) - 1)
        job["properties"]["status"] = plan.statuses[index]
        return job

    def _get_job(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        with self._lock:
            if name not in self.jobs:
                return Response(404, {"error": {"code": "UserError", "message": f"Job {name} not found"}})
            job = self._current(name)
            self.job_gets[name] += 1
            return Response(200, copy.deepcopy(job))

    def _put_job(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        with self._lock:
            self.jobs[name] = self._job_resource(name, request.json)
            self.job_gets[name] = 0
            return Response(201, copy.deepcopy(self.jobs[name]))

    def _cancel_job(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if name not in self.jobs:
            return Response(404, {"error": {"code": "UserError", "message": f"Job {name} not found"}})
        self.canceled.add(name)
        location = f"{self.service.url}{self.ws}/jobs/{name}?api-version={request.api_version}"
        return Response(202, None, {"Location": location, "Retry-After": "0"})

    def _get_compute(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if name not in self.computes:
            return Response(404, {"error": {"code": "ResourceNotFound", "message": f"compute {name} not found"}})
        return Response(
            200,
            {
                "id": f"{self.ws}/computes/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/computes",
                "location": "westeurope",
                "properties": {
                    "computeType": "AmlCompute",
                    "provisioningState": "Succeeded",
                    "properties": {
                        "vmSize": "STANDARD_DS3_V2",
                        "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0},
                    },
                },
                "systemData": SYSTEM_DATA,
            },
        )

    def _get_component(self, request: Request, match: re.Match[str]) -> Response:
        found = self.components.get((match["name"], match["version"]))
        if found is None:
            return Response(404, {"error": {"code": "UserError", "message": "component version not found"}})
        return Response(200, copy.deepcopy(found))

    def _put_component(self, request: Request, match: re.Match[str]) -> Response:
        name, version = match["name"], match["version"]
        resource = {
            **request.json,
            "id": f"{self.ws}/components/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/components/versions",
            "systemData": SYSTEM_DATA,
        }
        self.components[(name, version)] = resource
        return Response(201, copy.deepcopy(resource))

    def _list_jobs(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            values = [copy.deepcopy(self._current(name)) for name in reversed(list(self.jobs))]
        return Response(200, {"value": values})

    # -- code assets and blobs -----------------------------------------------------------------------

    def _list_codes(self, request: Request, match: re.Match[str]) -> Response:
        wanted = request.query.get("hash")
        found = [
            code
            for code in self.codes.values()
            if wanted is None or (code.get("properties") or {}).get("properties", {}).get("hash_sha256") == wanted
        ]
        return Response(200, {"value": copy.deepcopy(found)})

    def _get_code(self, request: Request, match: re.Match[str]) -> Response:
        found = self.codes.get((match["name"], match["version"]))
        if found is None:
            return Response(404, {"error": {"code": "UserError", "message": "code version not found"}})
        return Response(200, found)

    def _put_data_version(self, request: Request, match: re.Match[str]) -> Response:
        """A data asset version (what MLClient registers for each data-collector collection); echoed
        with its id. Not spec-checked: data versions are outside the spec extract."""
        name, version = match["name"], match["version"]
        resource = {
            **request.json,
            "id": f"{self.ws}/data/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/data/versions",
            "systemData": SYSTEM_DATA,
        }
        self.data_versions[(name, version)] = resource
        return Response(201, resource)

    def _get_data_version(self, request: Request, match: re.Match[str]) -> Response:
        found = self.data_versions.get((match["name"], match["version"]))
        if found is None:
            return Response(404, {"error": {"code": "UserError", "message": f"data {match['name']} not found"}})
        return Response(200, found)

    def _put_code(self, request: Request, match: re.Match[str]) -> Response:
        name, version = match["name"], match["version"]
        resource = {
            **request.json,
            "id": f"{self.ws}/codes/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
            "systemData": SYSTEM_DATA,
        }
        self.codes[(name, version)] = resource
        return Response(201, resource)

    def _pending_upload(self, request: Request, match: re.Match[str]) -> Response:
        container = f"{self.service.url}/blob/code-{match['name']}"
        if self.code_container_url is not None:  # real storage: hand out its SAS URL, as the service does
            sas_url = self.code_container_url(f"code-{match['name']}".lower())
            blob_uri = sas_url.split("?", 1)[0]
            return Response(
                200,
                {
                    "blobReferenceForConsumption": {
                        "blobUri": blob_uri,
                        "storageAccountArmId": "/subscriptions/x/providers/Microsoft.Storage/storageAccounts/emulated",
                        "credential": {"credentialType": "SAS", "sasUri": sas_url},
                    },
                    "pendingUploadId": match["version"],
                    "pendingUploadType": "TemporaryBlobReference",
                },
            )
        return Response(
            200,
            {
                "blobReferenceForConsumption": {
                    "blobUri": container,
                    "storageAccountArmId": "/subscriptions/x/providers/Microsoft.Storage/storageAccounts/fake",
                    "credential": {"credentialType": "SAS", "sasUri": f"{container}?sv=2021-08-06&sr=c&sig=fakesig"},
                },
                "pendingUploadId": match["version"],
                "pendingUploadType": "TemporaryBlobReference",
            },
        )

    def _put_blob(self, request: Request, match: re.Match[str]) -> Response:
        if request.query.get("comp"):  # set metadata / properties on an uploaded blob
            return Response(200, None, {"ETag": '"0x2"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"})
        if request.headers.get("if-none-match") == "*" and match["path"] in self.blobs:  # as Azure Storage does
            return Response(
                409,
                {"error": {"code": "BlobAlreadyExists", "message": "The specified blob already exists."}},
                {"x-ms-error-code": "BlobAlreadyExists"},
            )
        self.blobs[match["path"]] = request.body
        return Response(
            201,
            None,
            {
                "ETag": '"0x1"',
                "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT",
                "x-ms-request-server-encrypted": "true",
            },
        )

    def _head_blob(self, request: Request, match: re.Match[str]) -> Response:
        if match["path"] not in self.blobs:
            return Response(404, None, {"x-ms-error-code": "BlobNotFound"})
        return Response(
            200,
            None,
            {"Content-Length": str(len(self.blobs[match["path"]])), "x-ms-blob-type": "BlockBlob", "ETag": '"0x1"'},
        )

    def _get_blob(self, request: Request, match: re.Match[str]) -> Response:
        if request.query.get("comp") == "list":
            return Response(200, None, {"Content-Type": "application/xml"})
        return Response(404, None, {"x-ms-error-code": "BlobNotFound"})

    # -- models --------------------------------------------------------------------------------------

    def _version_resource(self, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        resource = copy.deepcopy(body)
        properties = resource.setdefault("properties", {})
        if properties.get("modelType") == "mlflow_model":
            properties.setdefault("flavors", {"python_function": {"data": {"loader_module": "mlflow.sklearn"}}})
        properties.setdefault("flavors", {})
        properties.setdefault("properties", {})
        properties.setdefault("tags", {})
        properties["provisioningState"] = "Succeeded"
        resource.update(
            {
                "id": f"{self.ws}/models/{name}/versions/{version}",
                "name": version,
                "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
                "systemData": SYSTEM_DATA,
            }
        )
        return resource

    def _list_containers(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"value": [self._container(name) for name in sorted(self.models) if self.models[name]]})

    def _get_container(self, request: Request, match: re.Match[str]) -> Response:
        if not self.models.get(match["name"]):
            return Response(404, {"error": {"code": "UserError", "message": "model container not found"}})
        return Response(200, self._container(match["name"]))

    def _container(self, name: str) -> dict[str, Any]:
        versions = self.models[name]
        numbers = [int(v) for v in versions if v.isdigit()]
        latest = str(max(numbers)) if numbers else None
        return {
            "id": f"{self.ws}/models/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/models",
            "properties": {
                "description": None,
                "tags": {},
                "latestVersion": latest,
                "nextVersion": str((max(numbers) if numbers else 0) + 1),
                "provisioningState": "Succeeded",
            },
            "systemData": SYSTEM_DATA,
        }

    def _list_versions(self, request: Request, match: re.Match[str]) -> Response:
        versions = self.models.get(match["name"], {})
        ordered = sorted(
            versions.values(), key=lambda item: int(item["name"]) if item["name"].isdigit() else 0, reverse=True
        )
        top = request.query.get("$top")
        if top:
            ordered = ordered[: int(top)]
        return Response(200, {"value": copy.deepcopy(ordered)})

    def _get_version(self, request: Request, match: re.Match[str]) -> Response:
        found = self.models.get(match["name"], {}).get(match["version"])
        if found is None:
            return Response(404, {"error": {"code": "UserError", "message": "model version not found"}})
        return Response(200, copy.deepcopy(found))

    def _put_version(self, request: Request, match: re.Match[str]) -> Response:
        name, version = match["name"], match["version"]
        existing = self.models.get(name, {}).get(version)
        if (
            existing is not None
            and _same_path(existing["properties"].get("modelUri"), request.json["properties"].get("modelUri")) is False
        ):
            return Response(
                409, {"error": {"code": "UserError", "message": "Cannot change the path of an existing asset"}}
            )
        resource = self._version_resource(name, version, request.json)
        self._resolve_job_output(resource)
        self.models.setdefault(name, {})[version] = resource
        return Response(200 if existing else 201, copy.deepcopy(resource))

    # -- datastores ----------------------------------------------------------------------------------

    def attach_storage(
        self,
        *,
        account: str,
        key: str,
        container: str,
        code_container_url: Callable[[str], str],
        endpoint: str = "core.windows.net",
    ) -> None:
        """Back the workspace with real blob storage: the default datastore and code uploads live there."""
        self.datastores["workspaceblobstore"] = {
            "datastoreType": "AzureBlob",
            "accountName": account,
            "containerName": container,
            "endpoint": endpoint,
            "protocol": "https",
            "credentials": {"credentialsType": "AccountKey"},
            "isDefault": True,
            "serviceDataAccessAuthIdentity": "None",
            "description": None,
            "properties": {},
            "tags": {},
        }
        self.datastore_secrets["workspaceblobstore"] = key
        self.code_container_url = code_container_url

    def _get_datastore(self, request: Request, match: re.Match[str]) -> Response:
        properties = self.datastores.get(match["name"])
        if properties is None:
            return Response(404, {"error": {"code": "UserError", "message": "datastore not found"}})
        return Response(
            200,
            {
                "id": f"{self.ws}/datastores/{match['name']}",
                "name": match["name"],
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": copy.deepcopy(properties),
                "systemData": SYSTEM_DATA,
            },
        )

    def _datastore_secrets(self, request: Request, match: re.Match[str]) -> Response:
        key = self.datastore_secrets.get(match["name"])
        if key is None:
            return Response(404, {"error": {"code": "UserError", "message": "datastore not found"}})
        return Response(200, {"secretsType": "AccountKey", "key": key})

    def _resolve_job_output(self, resource: dict[str, Any]) -> None:
        """``azureml://jobs/<job>/outputs/<output>`` -> the output's path on the default datastore."""
        properties = resource["properties"]
        uri = str(properties.get("modelUri") or "")
        found = re.fullmatch(r"azureml://jobs/([^/]+)/outputs/([^/]+)/?", uri)
        if found and "workspaceblobstore" in self.datastores:
            properties["modelUri"] = (
                f"azureml:/{self.ws.replace('/providers/Microsoft.MachineLearningServices', '')}"
                f"/datastores/workspaceblobstore/paths/azureml/{found[1]}/{found[2]}/"
            )
