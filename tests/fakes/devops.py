"""A fake Azure DevOps organization for the REAL azure-devops client and raw REST calls.

Built from ../shared/azure-rest-specs/azure-devops/: pipelines 7.1 (Runs - Run/Get/List), build 7.1
(Builds - Get/Update, Timeline - Get, Properties - Get/Update) and approvalsAndChecks 7.1
(Approvals - Query/Get/Update, the recorded examples' shapes). Location discovery answers
``OPTIONS /{org}/_apis`` with the route templates the client needs, and ``ResourceAreas`` with an empty
list (on-premises style), so the client never leaves the loopback server.

The organization has one project and one approval pipeline whose stage targets an environment with
an Approvals check: running it creates a pending approval assigned to ``check_approvers``. Callers are
identified from their PAT or bearer token (``identities``). Like the real service, the fake lets any
assigned approver act; ``service_allows_anyone`` makes it accept anybody (to prove OUR policy still
refuses), and :meth:`FakeDevOps.act` records a vote made in the web UI by someone else.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fakes.server import FakeService, Request, Response

ORG = "fabrikam"
PROJECT = "RM"
PIPELINE_ID = 7

_LOCATIONS = [
    # (id, area, resource, route template, resource version)
    (
        "7859261e-d2e9-4a68-b820-a5d84cc5bb3d",
        "pipelines",
        "runs",
        "{project}/_apis/pipelines/{pipelineId}/runs/{runId}",
        1,
    ),
    ("0cd358e1-9217-4d94-8269-1c1ee6f93dcf", "build", "builds", "{project}/_apis/build/builds/{buildId}", 7),
    (
        "8baac422-4c6e-4de5-8532-db96d92acffa",
        "build",
        "Timeline",
        "{project}/_apis/build/builds/{buildId}/Timeline/{timelineId}",
        2,
    ),
    (
        "0a6312e9-0627-49b7-8083-7d74a64849c9",
        "build",
        "properties",
        "{project}/_apis/build/builds/{buildId}/properties",
        1,
    ),
    ("00d9565f-ed9c-4a06-9a50-00e7896ccab4", "Location", "ConnectionData", "_apis/connectionData", 1),
    ("e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas", "_apis/ResourceAreas/{areaId}", 1),
]


def identity(unique_name: str, display_name: str | None = None, *, group: bool = False) -> dict[str, Any]:
    """An IdentityRef as Azure DevOps returns it."""
    return {
        "displayName": display_name or unique_name,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, unique_name)),
        "uniqueName": unique_name,
        "descriptor": f"{'vssgp' if group else 'aad'}.{unique_name}",
        **({"isContainer": True} if group else {}),
    }


def _stamp(when: datetime) -> str:
    # The service sends 7 fractional digits.
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass
class FakeRun:
    id: int
    pipeline_id: int
    template_parameters: dict[str, str]
    created: datetime
    state: str = "inProgress"
    result: str | None = None
    approval_ids: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    ref_name: str = "refs/heads/main"
    variables: dict[str, str] = field(default_factory=dict)
    failed_tasks: list[tuple[str, str]] = field(default_factory=list)


class FakeDevOps:
    """State and routes of the fake organization."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.lock = threading.Lock()
        self.identities: dict[str, dict[str, Any]] = {}
        self.check_approvers: list[dict[str, Any]] = []
        self.min_required = 1
        self.service_allows_anyone = False
        self.create_approval_on_run = True
        self.runs: dict[int, FakeRun] = {}
        self.pipelines: dict[int, str] = {PIPELINE_ID: "model-approval"}
        self.approvals: dict[str, dict[str, Any]] = {}
        self.oidc_tokens: list[str] = []
        """Federated tokens handed out by the OIDC endpoint, in order."""
        self._next_run = 100
        self._register()

    # -- test helpers ------------------------------------------------------------------------------

    @property
    def org_url(self) -> str:
        return f"{self.service.url}/{ORG}"

    @property
    def project_url(self) -> str:
        return f"{self.org_url}/{PROJECT}"

    def add_user(self, secret: str, unique_name: str, display_name: str | None = None) -> dict[str, Any]:
        """Accept ``secret`` (a PAT or bearer token) as ``unique_name``."""
        ref = identity(unique_name, display_name)
        self.identities[secret] = ref
        return ref

    def add_job_run(self) -> int:
        """A run started outside the SDK (the job the SDK runs inside), with a pending approval."""
        with self.lock:
            run = self._new_run(PIPELINE_ID, {})
        return run.id

    def add_pipeline(self, pipeline_id: int, name: str) -> None:
        """Another YAML pipeline of the project (its runs carry no approval)."""
        self.pipelines[pipeline_id] = name

    def finish(self, run_id: int, result: str, failed_tasks: list[tuple[str, str]] | None = None) -> None:
        """Complete a run with ``result``; failed tasks appear in its timeline with their issue message."""
        with self.lock:
            run = self.runs[run_id]
            run.state, run.result = "completed", result
            run.failed_tasks = list(failed_tasks or [])

    def act(self, approval_id: str, who: dict[str, Any], status: str, comment: str) -> None:
        """Record an approve/reject made by ``who`` in the web UI."""
        with self.lock:
            self._apply(self.approvals[approval_id], who, status, comment)

    # -- routes ------------------------------------------------------------------------------------

    def _register(self) -> None:
        org = rf"/{ORG}"
        proj = rf"/{ORG}/{PROJECT}"
        route = self.service.route
        route("OPTIONS", rf"{org}/_apis", self._options)
        route("GET", rf"{org}/_apis/ResourceAreas", lambda r, m: Response(200, {"count": 0, "value": []}))
        route("GET", rf"{org}/_apis/connectionData", self._connection_data)
        route("POST", rf"{proj}/_apis/pipelines/(?P<pid>\d+)/runs", self._run_pipeline)
        route("GET", rf"{proj}/_apis/pipelines/(?P<pid>\d+)/runs/(?P<rid>\d+)", self._get_run)
        route("GET", rf"{proj}/_apis/pipelines/(?P<pid>\d+)/runs", self._list_runs)
        route("GET", rf"{proj}/_apis/build/builds/(?P<rid>\d+)", self._get_build)
        route("PATCH", rf"{proj}/_apis/build/builds/(?P<rid>\d+)", self._update_build)
        route("GET", rf"{proj}/_apis/build/builds/(?P<rid>\d+)/Timeline", self._timeline)
        route("GET", rf"{proj}/_apis/build/builds/(?P<rid>\d+)/properties", self._get_properties)
        route("PATCH", rf"{proj}/_apis/build/builds/(?P<rid>\d+)/properties", self._update_properties)
        route("GET", rf"{proj}/_apis/pipelines/approvals", self._query_approvals)
        route("GET", rf"{proj}/_apis/pipelines/approvals/(?P<aid>[0-9a-f-]+)", self._get_approval)
        route("PATCH", rf"{proj}/_apis/pipelines/approvals", self._update_approvals)
        route(
            "POST",
            rf"{proj}/_apis/distributedtask/hubs/build/plans/(?P<plan>[^/]+)/jobs/(?P<job>[^/]+)/oidctoken",
            self._oidc_token,
        )

    def _caller(self, request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            secret = base64.b64decode(header[6:]).decode().split(":", 1)[-1]
        elif header.startswith("Bearer "):
            secret = header[7:]
        else:
            return None
        return self.identities.get(secret)

    def _authorized(self, request: Request) -> dict[str, Any] | Response:
        caller = self._caller(request)
        if caller is None:
            return Response(
                401,
                {
                    "$id": "1",
                    "innerException": None,
                    "message": "TF400813: The user is not authorized to access this resource.",
                    "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException",
                    "typeKey": "UnauthorizedRequestException",
                    "errorCode": 0,
                    "eventId": 3000,
                },
            )
        return caller

    def _options(self, request: Request, match: re.Match[str]) -> Response:
        value = [
            {
                "id": lid,
                "area": area,
                "resourceName": resource,
                "routeTemplate": template,
                "resourceVersion": version,
                "minVersion": 1.0,
                "maxVersion": 7.1,
                "releasedVersion": "7.0",
            }
            for lid, area, resource, template, version in _LOCATIONS
        ]
        return Response(200, {"count": len(value), "value": value})

    def oidc_request_uri(self, plan: str = "plan-1", job: str = "job-1") -> str:
        """``SYSTEM_OIDCREQUESTURI`` of a job of this project (what Azure Pipelines puts in a step's environment)."""
        return f"{self.project_url}/_apis/distributedtask/hubs/build/plans/{plan}/jobs/{job}/oidctoken"

    def _oidc_token(self, request: Request, match: re.Match[str]) -> Response:
        """A service connection's federated (OIDC) token for the job, for the job's own ``System.AccessToken``."""
        caller = self._authorized(request)
        if isinstance(caller, Response):
            return caller
        connection = request.query.get("serviceConnectionId")
        if not connection:
            return Response(400, {"message": "serviceConnectionId is required", "typeKey": "ArgumentException"})
        with self.lock:
            self.oidc_tokens.append(f"oidc.{connection}.{len(self.oidc_tokens) + 1:04d}.fake-signature")
            token = self.oidc_tokens[-1]
        return Response(200, {"oidcToken": token})

    def _connection_data(self, request: Request, match: re.Match[str]) -> Response:
        caller = self._authorized(request)
        if isinstance(caller, Response):
            return caller
        user = {
            "id": caller["id"],
            "descriptor": caller["descriptor"],
            "providerDisplayName": caller["displayName"],
            "isActive": True,
            "properties": {"Account": {"$type": "System.String", "$value": caller["uniqueName"]}},
        }
        return Response(
            200,
            {
                "authenticatedUser": user,
                "authorizedUser": user,
                "instanceId": str(uuid.uuid4()),
                "deploymentType": "hosted",
            },
        )

    def _run_json(self, run: FakeRun) -> dict[str, Any]:
        web = f"{self.project_url}/_build/results?buildId={run.id}"
        return {
            "id": run.id,
            "name": f"20260101.{run.id}",
            "state": run.state,
            **({"result": run.result} if run.result else {}),
            "createdDate": _stamp(run.created),
            "pipeline": {
                "id": run.pipeline_id,
                "name": self.pipelines[run.pipeline_id],
                "folder": "\\",
                "url": f"{self.project_url}/_apis/pipelines/{run.pipeline_id}",
            },
            "templateParameters": run.template_parameters,
            "resources": {"repositories": {"self": {"refName": run.ref_name, "version": "a1b2c3"}}},
            "url": f"{self.project_url}/_apis/pipelines/{run.pipeline_id}/runs/{run.id}",
            "_links": {"web": {"href": web}, "self": {"href": web}},
        }

    def _new_run(self, pipeline_id: int, parameters: dict[str, str]) -> FakeRun:
        self._next_run += 1
        run = FakeRun(self._next_run, pipeline_id, parameters, datetime.now(timezone.utc))
        self.runs[run.id] = run
        if self.create_approval_on_run and pipeline_id == PIPELINE_ID:
            approval_id = str(uuid.uuid4())
            now = datetime.now(timezone.utc)
            self.approvals[approval_id] = {
                "id": approval_id,
                "steps": [
                    {
                        "assignedApprover": approver,
                        "status": "pending",
                        "comment": None,
                        "order": 1,
                        "initiatedOn": _stamp(now),
                        "history": [],
                    }
                    for approver in self.check_approvers
                ],
                "status": "pending",
                "createdOn": _stamp(now),
                "lastModifiedOn": _stamp(now),
                "instructions": "Approve the model for production",
                "executionOrder": "anyOrder",
                "minRequiredApprovers": self.min_required,
                "blockedApprovers": [],
                "_links": {"self": {"href": f"{self.project_url}/_apis/pipelines/approvals/{approval_id}"}},
                "pipeline": {
                    "owner": {"id": run.id, "name": f"20260101.{run.id}"},
                    "id": str(pipeline_id),
                    "name": "model-approval",
                },
            }
            run.approval_ids.append(approval_id)
        return run

    def _run_pipeline(self, request: Request, match: re.Match[str]) -> Response:
        caller = self._authorized(request)
        if isinstance(caller, Response):
            return caller
        pipeline_id = int(match["pid"])
        if pipeline_id not in self.pipelines:
            return Response(
                404,
                {
                    "message": f"Pipeline with id {pipeline_id} not found.",
                    "typeKey": "PipelineNotFoundException",
                    "typeName": "PipelineNotFoundException",
                },
            )
        body = request.json or {}
        with self.lock:
            run = self._new_run(pipeline_id, dict(body.get("templateParameters") or {}))
            ref = (((body.get("resources") or {}).get("repositories") or {}).get("self") or {}).get("refName")
            if ref:
                run.ref_name = ref
            run.variables = {name: item.get("value") for name, item in (body.get("variables") or {}).items()}
        return Response(200, self._run_json(run))

    def _run(self, match: re.Match[str]) -> FakeRun | Response:
        run = self.runs.get(int(match["rid"]))
        if run is None:
            return Response(404, {"message": f"Run {match['rid']} not found", "typeKey": "RunNotFoundException"})
        return run

    def _get_run(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(match)
        return run if isinstance(run, Response) else Response(200, self._run_json(run))

    def _list_runs(self, request: Request, match: re.Match[str]) -> Response:
        runs = [self._run_json(run) for run in self.runs.values() if run.pipeline_id == int(match["pid"])]
        for item in runs:
            item.pop("templateParameters", None)  # the list answer carries no parameters
        return Response(200, {"count": len(runs), "value": runs})

    def _build_json(self, run: FakeRun) -> dict[str, Any]:
        status = {"inProgress": "inProgress", "canceling": "cancelling", "completed": "completed"}[run.state]
        return {
            "id": run.id,
            "buildNumber": f"20260101.{run.id}",
            "status": status,
            **({"result": run.result} if run.result else {}),
            "definition": {"id": run.pipeline_id, "name": self.pipelines[run.pipeline_id], "type": "build"},
            "project": {"name": PROJECT},
            "queueTime": _stamp(run.created),
        }

    def _get_build(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(match)
        return run if isinstance(run, Response) else Response(200, self._build_json(run))

    def _update_build(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(match)
        if isinstance(run, Response):
            return run
        if (request.json or {}).get("status") == "cancelling":
            with self.lock:
                run.state, run.result = "completed", "canceled"
                for approval_id in run.approval_ids:
                    if self.approvals[approval_id]["status"] == "pending":
                        self.approvals[approval_id]["status"] = "canceled"
        return Response(200, self._build_json(run))

    def _timeline(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(match)
        if isinstance(run, Response):
            return run
        stage = str(uuid.uuid5(uuid.NAMESPACE_OID, f"stage-{run.id}"))
        records: list[dict[str, Any]] = [
            {"id": stage, "type": "Stage", "name": "Deploy", "identifier": "deploy", "state": "pending", "order": 2}
        ]
        for name, message in run.failed_tasks:
            records.append(
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"task-{run.id}-{name}")),
                    "parentId": stage,
                    "type": "Task",
                    "name": name,
                    "state": "completed",
                    "result": "failed",
                    "issues": [{"type": "error", "category": "General", "message": message}],
                }
            )
        for approval_id in run.approval_ids:
            checkpoint = str(uuid.uuid5(uuid.NAMESPACE_OID, f"checkpoint-{approval_id}"))
            records.append(
                {"id": checkpoint, "parentId": stage, "type": "Checkpoint", "name": "Checkpoint", "state": "inProgress"}
            )
            records.append(
                {
                    "id": approval_id,
                    "parentId": checkpoint,
                    "type": "Checkpoint.Approval",
                    "name": "Checkpoint.Approval",
                    "state": "inProgress",
                }
            )
        return Response(200, {"records": records, "id": str(uuid.uuid4()), "changeId": 3})

    def _get_properties(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(match)
        if isinstance(run, Response):
            return run
        wanted = set(filter(None, request.query.get("filter", "").split(",")))
        value = {
            key: {"$type": "System.String", "$value": item}
            for key, item in run.properties.items()
            if not wanted or key in wanted
        }
        return Response(200, {"count": len(value), "value": value})

    def _update_properties(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(match)
        if isinstance(run, Response):
            return run
        if not request.headers.get("content-type", "").startswith("application/json-patch+json"):
            return Response(415, {"message": "expected application/json-patch+json"})
        for operation in request.json or []:
            if operation.get("op") == "add":
                run.properties[str(operation["path"]).lstrip("/")] = operation["value"]
        return self._get_properties(request, match)

    def _query_approvals(self, request: Request, match: re.Match[str]) -> Response:
        if isinstance(self._authorized(request), Response):
            return Response(401, {"message": "TF400813"})
        ids = [item for item in request.query.get("approvalIds", "").split(",") if item]
        expand = request.query.get("$expand") == "steps"
        found = [self._approval_json(self.approvals[item], expand) for item in ids if item in self.approvals]
        return Response(200, {"count": len(found), "value": found})

    def _approval_json(self, approval: dict[str, Any], expand: bool) -> dict[str, Any]:
        return {**approval, "steps": [dict(step) for step in approval["steps"]] if expand else []}

    def _get_approval(self, request: Request, match: re.Match[str]) -> Response:
        approval = self.approvals.get(match["aid"])
        if approval is None:
            return Response(404, {"message": "approval not found"})
        return Response(200, self._approval_json(approval, request.query.get("$expand") == "steps"))

    def _update_approvals(self, request: Request, match: re.Match[str]) -> Response:
        caller = self._authorized(request)
        if isinstance(caller, Response):
            return caller
        updated = []
        with self.lock:
            for item in request.json or []:
                approval = self.approvals.get(item.get("approvalId"))
                if approval is None:
                    return Response(404, {"message": f"approval {item.get('approvalId')} not found"})
                if approval["status"] != "pending":
                    return Response(409, {"message": "The approval is already completed."})
                problem = self._apply(approval, caller, item.get("status", ""), item.get("comment") or "")
                if problem:
                    return Response(403, {"message": problem})
                updated.append(self._approval_json(approval, True))
        return Response(200, {"count": len(updated), "value": updated})

    def _apply(self, approval: dict[str, Any], who: dict[str, Any], status: str, comment: str) -> str | None:
        """Record ``who``'s decision on the step assigned to them (or to their group); the service's own rules."""
        step = next(
            (
                s
                for s in approval["steps"]
                if s["status"] == "pending"
                and (s["assignedApprover"]["id"] == who["id"] or s["assignedApprover"].get("isContainer"))
            ),
            None,
        )
        if step is None and self.service_allows_anyone:
            step = {"assignedApprover": who, "status": "pending", "order": len(approval["steps"]) + 1, "history": []}
            approval["steps"].append(step)
        if step is None:
            return f"{who['uniqueName']} is not an approver of this check"
        now = datetime.now(timezone.utc) + timedelta(milliseconds=len(approval["steps"]))
        step.update(
            {
                "status": status,
                "comment": comment,
                "actualApprover": who,
                "lastModifiedBy": who,
                "lastModifiedOn": _stamp(now),
            }
        )
        approved = sum(1 for s in approval["steps"] if s["status"] == "approved")
        if status == "rejected":
            approval["status"] = "rejected"
        elif approved >= approval["minRequiredApprovers"]:
            approval["status"] = "approved"
        approval["lastModifiedOn"] = _stamp(now)
        return None
