"""A fake Azure Data Factory (api-version 2018-06-01) for the REAL DataFactoryManagementClient.

Built from ../shared/azure-rest-specs/azure-datafactory (datafactory.json + the recorded examples):
pipelines (get, list, createRun), pipeline runs (get, cancel, queryPipelineRuns with filters,
ordering and continuation tokens), activity runs (queryActivityruns) and triggers (put, get, list,
delete, start, stop, subscribeToEvents). Answers use the examples' shapes: ``parameters`` of a run
come back as strings, timestamps with 7 fractional digits, status ``Cancelled`` with two l's.

Runs follow a scripted :class:`RunPlan` on a (fake) clock: each state lasts some simulated
seconds, so a client that sleeps on the same ``FakeClock`` sees ``Queued -> InProgress -> ...``
without anyone really waiting. ``lastUpdated`` changes (in real UTC time) whenever a run's state does.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fakes.server import FakeService, Request, Response

API_VERSION = "2018-06-01"
FACTORY_PATH = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.DataFactory/factories/(?P<factory>[^/]+)"
)
PAGE_SIZE = 100

# The activity runs of ActivityRuns_QueryByPipelineRun.json (the Copy one), used as a template.
COPY_ACTIVITY = {
    "activityName": "ExampleCopyActivity",
    "activityType": "Copy",
    "durationInMs": 17172,
    "retryAttempt": None,
    "error": {"errorCode": "", "message": "", "failureType": "", "target": "ExampleCopyActivity"},
    "input": {"source": {"type": "BlobSource"}, "sink": {"type": "BlobSink"}, "dataIntegrationUnits": 32},
    "linkedServiceName": "",
    "output": {"dataRead": 142000, "dataWritten": 142000, "filesRead": 1, "filesWritten": 1, "copyDuration": 6},
    "userProperties": {},
    "status": "Succeeded",
}


def iso(moment: datetime) -> str:
    """``2018-06-16T00:37:44.6257014Z`` style (7 fractional digits, like the service)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_iso(text: str) -> datetime:
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


@dataclass
class RunPlan:
    """How runs of a pipeline behave.

    Args:
        states: ``(status, seconds)`` pairs; the last state lasts forever (its seconds are ignored).
        activities: Activity run JSON (example shape) reported for the run; ``status`` per activity.
        message: The run's ``message`` once it ends.
    """

    states: list[tuple[str, float]] = field(
        default_factory=lambda: [("Queued", 2.0), ("InProgress", 5.0), ("Succeeded", 0.0)]
    )
    activities: list[dict[str, Any]] = field(default_factory=lambda: [copy.deepcopy(COPY_ACTIVITY)])
    message: str = ""


def failing_plan(
    activity: str = "TransformSales",
    activity_type: str = "ExecuteDataFlow",
    error_code: str = "DF-Executor-SourceInvalidPayload",
    message: str = "Column 'amount' not found in source schema",
) -> RunPlan:
    """A plan whose second activity fails with a service error."""
    failed = {
        **copy.deepcopy(COPY_ACTIVITY),
        "activityName": activity,
        "activityType": activity_type,
        "status": "Failed",
        "output": {},
        "error": {"errorCode": error_code, "message": message, "failureType": "UserError", "target": activity},
    }
    return RunPlan(
        states=[("Queued", 1.0), ("InProgress", 3.0), ("Failed", 0.0)],
        activities=[copy.deepcopy(COPY_ACTIVITY), failed],
        message=f"Operation on target {activity} failed: {message}",
    )


@dataclass
class _Run:
    body: dict[str, Any]
    plan: RunPlan
    created: float
    state_index: int = 0
    canceled_at: float | None = None


class FakeDataFactory:
    """Routes of one factory on a :class:`FakeService`; state lives in memory."""

    def __init__(self, service: FakeService, clock: Any, *, page_size: int = PAGE_SIZE) -> None:
        self.service = service
        self.clock = clock
        self.page_size = page_size
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, RunPlan] = {}
        self.runs: dict[str, _Run] = {}
        self.triggers: dict[str, dict[str, Any]] = {}
        self.visibility_delay = 0.0
        """Seconds (fake clock) before a new run shows in ``queryPipelineRuns`` (GET sees it at once)."""
        self._lock = threading.RLock()
        p = FACTORY_PATH
        service.route("GET", p + r"/pipelines", self._list_pipelines)
        service.route("GET", p + r"/pipelines/(?P<name>[^/]+)", self._get_pipeline)
        service.route("POST", p + r"/pipelines/(?P<name>[^/]+)/createRun", self._create_run)
        service.route("POST", p + r"/queryPipelineRuns", self._query_runs)
        service.route("GET", p + r"/pipelineruns/(?P<run>[^/]+)", self._get_run)
        service.route("POST", p + r"/pipelineruns/(?P<run>[^/]+)/cancel", self._cancel)
        service.route("POST", p + r"/pipelineruns/(?P<run>[^/]+)/queryActivityruns", self._query_activities)
        service.route("GET", p + r"/triggers", self._list_triggers)
        service.route("PUT", p + r"/triggers/(?P<name>[^/]+)", self._put_trigger)
        service.route("GET", p + r"/triggers/(?P<name>[^/]+)", self._get_trigger)
        service.route("DELETE", p + r"/triggers/(?P<name>[^/]+)", self._delete_trigger)
        service.route("POST", p + r"/triggers/(?P<name>[^/]+)/start", self._runtime("Started"))
        service.route("POST", p + r"/triggers/(?P<name>[^/]+)/stop", self._runtime("Stopped"))
        service.route("POST", p + r"/triggers/(?P<name>[^/]+)/subscribeToEvents", self._subscribe)

    # -- set-up helpers ------------------------------------------------------------------------------

    def add_pipeline(
        self, name: str, *, parameters: dict[str, dict[str, Any]] | None = None, plan: RunPlan | None = None
    ) -> None:
        """Declare a pipeline (shape of Pipelines_Create.json); ``mlops_request_id`` is always declared."""
        declared = {"mlops_request_id": {"type": "String"}, **(parameters or {})}
        self.pipelines[name] = {
            "id": f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.DataFactory/factories/f/pipelines/{name}",
            "name": name,
            "type": "Microsoft.DataFactory/factories/pipelines",
            "properties": {
                "activities": [{"name": "ExampleCopyActivity", "type": "Copy", "typeProperties": {}}],
                "parameters": declared,
            },
            "etag": "0a0069d4-0000-0000-0000-5b245bd50000",
        }
        self.plans[name] = plan or RunPlan()

    def seed_runs(self, pipeline: str, count: int) -> None:
        """Start ``count`` runs of ``pipeline`` directly (no request recorded), e.g. a busy pipeline's past."""
        for number in range(count):
            body = json.dumps({"mlops_request_id": f"seeded-{number}"}).encode()
            request = Request("POST", f"/pipelines/{pipeline}/createRun", {}, {}, body)
            self._create_run(request, re.match(r"(?P<name>.+)", pipeline))  # type: ignore[arg-type]

    def runs_of(self, pipeline: str) -> list[dict[str, Any]]:
        """Current JSON of every run of ``pipeline``."""
        with self._lock:
            return [self._materialise(run) for run in self.runs.values() if run.body["pipelineName"] == pipeline]

    # -- internals -------------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: str, message: str) -> Response:
        return Response(status, {"error": {"code": code, "message": message}})

    def _now(self) -> float:
        return float(self.clock.monotonic())

    def _materialise(self, run: _Run) -> dict[str, Any]:
        """Bring a run's state up to the fake clock; touch ``lastUpdated`` when it changed."""
        if run.body["status"] in ("Succeeded", "Failed", "Cancelled"):
            return copy.deepcopy(run.body)  # final states never change
        states = run.plan.states
        elapsed = self._now() - run.created
        index = 0
        for position, (_, seconds) in enumerate(states[:-1]):
            if elapsed < seconds:
                break
            elapsed -= seconds
            index = position + 1
        else:
            index = len(states) - 1
        status = states[index][0]
        if run.canceled_at is not None:
            status = "Canceling" if self._now() - run.canceled_at < 2.0 else "Cancelled"
        if status != run.body["status"]:
            now = datetime.now(timezone.utc)
            run.body["status"] = status
            run.body["lastUpdated"] = iso(now)
            if status in ("Succeeded", "Failed", "Cancelled"):
                run.body["runEnd"] = iso(now)
                run.body["durationInMs"] = int((now - parse_iso(run.body["runStart"])).total_seconds() * 1000)
                run.body["message"] = run.plan.message if status == "Failed" else ""
        return copy.deepcopy(run.body)

    def _list_pipelines(self, request: Request, match: re.Match[str]) -> Response:
        # PipelineListResponse: one page of ``page_size`` and a ``nextLink`` to the next (Pipelines_ListByFactory).
        offset = int(request.query.get("$skipToken") or 0)
        pipelines = list(self.pipelines.values())
        answer: dict[str, Any] = {"value": pipelines[offset : offset + self.page_size]}
        if offset + self.page_size < len(pipelines):
            next_offset = offset + self.page_size
            answer["nextLink"] = f"{self.service.url}{request.path}?api-version={API_VERSION}&$skipToken={next_offset}"
        return Response(200, answer)

    def _get_pipeline(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if name not in self.pipelines:
            return self._error(404, "NotFound", f"Entity {name} not found")
        return Response(200, self.pipelines[name])

    def _create_run(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if name not in self.pipelines:
            return self._error(404, "NotFound", f"Entity {name} not found")
        with self._lock:
            run_id = str(uuid.uuid4())
            reference = request.query.get("referencePipelineRunId")
            if reference:
                if reference not in self.runs:
                    return self._error(400, "BadRequest", f"Pipeline run {reference} not found")
                base = self.runs[reference].body
                parameters = dict(base["parameters"])
                group = base["runGroupId"] if request.query.get("isRecovery") == "true" else run_id
            else:
                body = request.json or {}
                parameters = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
                group = run_id
            now = datetime.now(timezone.utc)
            self.runs[run_id] = _Run(
                body={
                    "runId": run_id,
                    "runGroupId": group,
                    "isLatest": True,
                    "pipelineName": name,
                    "parameters": parameters,
                    "invokedBy": {"id": uuid.uuid4().hex, "name": "Manual", "invokedByType": "Manual"},
                    "runStart": iso(now),
                    "runEnd": None,
                    "durationInMs": None,
                    "status": "",
                    "message": "",
                    "lastUpdated": iso(now),
                    "annotations": [],
                    "runDimension": {},
                },
                plan=self.plans[name],
                created=self._now(),
            )
            self._materialise(self.runs[run_id])
        return Response(200, {"runId": run_id})

    def _get_run(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            run = self.runs.get(match["run"])
            if run is None:
                return self._error(404, "NotFound", f"Pipeline run {match['run']} not found")
            return Response(200, self._materialise(run))

    def _cancel(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            run = self.runs.get(match["run"])
            if run is None:
                return self._error(404, "NotFound", f"Pipeline run {match['run']} not found")
            if self._materialise(run)["status"] in ("Queued", "InProgress") and run.canceled_at is None:
                run.canceled_at = self._now()
                self._materialise(run)
        return Response(200, None)

    @staticmethod
    def _matches(run: dict[str, Any], flt: dict[str, Any]) -> bool:
        operand = flt["operand"]
        field_name = {
            "PipelineName": "pipelineName",
            "Status": "status",
            "RunGroupId": "runGroupId",
            "RunStart": "runStart",
            "RunEnd": "runEnd",
        }.get(operand)
        if field_name is None:
            raise ValueError(f"unsupported operand {operand}")
        value = run.get(field_name)
        values = flt["values"]
        operator = flt["operator"]
        if operator in ("Equals", "In"):
            return value in values
        if operator in ("NotEquals", "NotIn"):
            return value not in values
        raise ValueError(f"unsupported operator {operator}")

    def _query_runs(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json or {}
        if "lastUpdatedAfter" not in body or "lastUpdatedBefore" not in body:
            return self._error(400, "InvalidRequest", "lastUpdatedAfter and lastUpdatedBefore are required")
        after, before = parse_iso(body["lastUpdatedAfter"]), parse_iso(body["lastUpdatedBefore"])
        with self._lock:
            now = self._now()
            runs = [self._materialise(run) for run in self.runs.values() if now - run.created >= self.visibility_delay]
        selected = [
            run
            for run in runs
            if after <= parse_iso(run["lastUpdated"]) <= before
            and all(self._matches(run, flt) for flt in body.get("filters") or [])
        ]
        for order in reversed(body.get("orderBy") or []):
            key = {"RunStart": "runStart", "RunEnd": "runEnd", "PipelineName": "pipelineName", "Status": "status"}[
                order["orderBy"]
            ]
            selected.sort(key=lambda run: str(run.get(key) or ""), reverse=order["order"] == "DESC")
        offset = int(body.get("continuationToken") or 0)
        page = selected[offset : offset + self.page_size]
        answer: dict[str, Any] = {"value": page}
        if offset + self.page_size < len(selected):
            answer["continuationToken"] = str(offset + self.page_size)
        return Response(200, answer)

    def _query_activities(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json or {}
        if "lastUpdatedAfter" not in body or "lastUpdatedBefore" not in body:
            return self._error(400, "InvalidRequest", "lastUpdatedAfter and lastUpdatedBefore are required")
        with self._lock:
            run = self.runs.get(match["run"])
            if run is None:
                return self._error(404, "NotFound", f"Pipeline run {match['run']} not found")
            state = self._materialise(run)
        if state["status"] in ("Queued",):
            return Response(200, {"value": []})
        start = parse_iso(state["runStart"])
        items = []
        for position, template in enumerate(run.plan.activities):
            item = copy.deepcopy(template)
            item.update(
                {
                    "activityRunId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{state['runId']}/{position}")),
                    "pipelineName": state["pipelineName"],
                    "pipelineRunId": state["runId"],
                    "activityRunStart": iso(start + timedelta(seconds=position + 1)),
                    "activityRunEnd": iso(start + timedelta(seconds=position + 2)),
                }
            )
            if state["status"] in ("InProgress", "Canceling") and position == len(run.plan.activities) - 1:
                item["status"] = "InProgress"
                item["activityRunEnd"] = None
            if state["status"] == "Cancelled" and item["status"] == "Succeeded" and position > 0:
                item["status"] = "Cancelled"
            items.append(item)
        return Response(200, {"value": items})

    # -- triggers ------------------------------------------------------------------------------------

    def _list_triggers(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"value": list(self.triggers.values())})

    def _put_trigger(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        existing = self.triggers.get(name)
        if existing is not None and existing["properties"].get("runtimeState") == "Started":
            return self._error(
                400,
                "TriggerEnabledCannotUpdate",
                f"Cannot update enabled Trigger; it needs to be stopped. Trigger name: {name}",
            )
        properties = copy.deepcopy((request.json or {}).get("properties") or {})
        properties["runtimeState"] = "Stopped"
        self.triggers[name] = {
            "id": f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.DataFactory/factories/f/triggers/{name}",
            "name": name,
            "type": "Microsoft.DataFactory/factories/triggers",
            "properties": properties,
            "etag": uuid.uuid4().hex,
        }
        return Response(200, self.triggers[name])

    def _get_trigger(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if name not in self.triggers:
            return self._error(404, "NotFound", f"Entity {name} not found")
        return Response(200, self.triggers[name])

    def _delete_trigger(self, request: Request, match: re.Match[str]) -> Response:
        if self.triggers.pop(match["name"], None) is None:
            return Response(204, None)
        return Response(200, None)

    def _runtime(self, state: str) -> Any:
        def handler(request: Request, match: re.Match[str]) -> Response:
            name = match["name"]
            if name not in self.triggers:
                return self._error(404, "NotFound", f"Entity {name} not found")
            self.triggers[name]["properties"]["runtimeState"] = state
            return Response(200, None)

        return handler

    def _subscribe(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if name not in self.triggers:
            return self._error(404, "NotFound", f"Entity {name} not found")
        return Response(200, {"triggerName": name, "status": "Enabled"})
