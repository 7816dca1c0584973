"""Approval gates on Azure DevOps environment approvals, judged by OUR policy.

``create`` runs the configured pipeline (``approval_pipeline``: its gated stage targets an
environment with an *Approvals* check) with the model, the report digest and the whole request
(policy included, as JSON) as template parameters, so the run itself is the durable record. Inside
a running Azure DevOps job without ``approval_pipeline``, the request attaches to the current run
instead and is stored as a build property.

Votes are the steps of the run's approvals (``_apis/pipelines/approvals``, found through the run's
timeline records of type ``Checkpoint.Approval``). Identities come from Azure DevOps. Every vote is
checked against the request's policy: an approval Azure DevOps accepted from someone the policy
does not list, or from the requester, does not count. ``approve`` / ``reject`` refuse such a vote
before anything is sent, then PATCH the approvals as the authenticated user.

Nothing is stored locally: every look re-derives the decision from the run, so any process (a
notebook, a CI step, ``mlops approvals show``) sees the same answer.
"""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from mlops_sdk.backends.azure._devops import DevOps, current_run_id, devops_call, devops_errors
from mlops_sdk.backends.spi.approval_policy import (
    Outcome,
    RecordedRequest,
    counted_vote,
    overruled,
    parse_time,
    provider_vote,
    request_record,
    select_requests,
)
from mlops_sdk.backends.spi.approvals import ApprovalDraft, check_cancelable, check_key_owner
from mlops_sdk.core.errors import ConfigurationError, ConflictError, ResourceNotFoundError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.models.approvals import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    ApproverIdentity,
    AuditVerification,
)

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["REQUEST_PARAMETER", "AzureApprovalService", "create_service"]

REQUEST_PARAMETER = "mlopsRequest"
"""Template parameter (and build property) holding the request as JSON."""
MODEL_PARAMETER = "mlopsModel"
REPORT_PARAMETER = "mlopsReport"
_PROPERTY = "mlops.approvalRequest"
_APPROVAL_RECORD = "checkpoint.approval"
_LIST_LIMIT = 50
_SERVICE_CLOSED: dict[str, Literal["rejected", "timed_out"]] = {
    "rejected": "rejected",
    "canceled": "rejected",
    "failed": "rejected",
    "skipped": "rejected",
    "timedout": "timed_out",
}
_log = get_logger(__name__)


def create_service(backend: AzureBackend) -> AzureApprovalService:
    """Create the approvals service for ``backend``."""
    return AzureApprovalService(backend)


def _run_id(request_id: str) -> int:
    text = request_id.removeprefix("run-")
    if not text.isdigit():
        raise ResourceNotFoundError(
            f"approval request {request_id!r} is not an Azure DevOps run ('run-<id>'); requests the policy decided "
            "at request time (blocked or auto-approved) were never sent to Azure DevOps: their decision is on the "
            "model version's mlops.approval.* tags",
            backend="azure",
            operation_id=request_id,
        )
    return int(text)


def _identity(ref: Any) -> dict[str, Any]:
    return ref if isinstance(ref, dict) else {}


def _vote_from_step(step: dict[str, Any]) -> ApprovalVote | None:
    status = str(step.get("status", "")).lower()
    if status not in ("approved", "rejected"):
        return None
    actual = _identity(step.get("actualApprover")) or _identity(step.get("lastModifiedBy"))
    assigned = _identity(step.get("assignedApprover"))
    unique = str(actual.get("uniqueName") or actual.get("displayName") or actual.get("id") or "unknown")
    groups: tuple[str, ...] = ()
    if assigned and (assigned.get("isContainer") or (assigned.get("id") and assigned.get("id") != actual.get("id"))):
        # Azure DevOps let this user act for the group the step was assigned to: membership established.
        groups = tuple(str(assigned[key]) for key in ("displayName", "uniqueName") if assigned.get(key))
    at = parse_time(step.get("lastModifiedOn")) or parse_time(step.get("initiatedOn")) or datetime.now(timezone.utc)
    return ApprovalVote(
        approver=ApproverIdentity(
            name=unique,
            email=unique if "@" in unique else None,
            display_name=actual.get("displayName"),
            groups=groups,
            source="devops",
        ),
        decision="approve" if status == "approved" else "reject",
        comment=step.get("comment") or None,
        at=at,
    )


class AzureApprovalService:
    """The ``approvals`` capability of the Azure backend (Azure DevOps environment approvals)."""

    def __init__(self, backend: AzureBackend) -> None:
        self._backend = backend
        self._devops = DevOps.from_backend(backend)
        self._pipeline_id = backend.config.settings.approval_pipeline
        self._specs: dict[int, tuple[dict[str, Any], int | None]] = {}
        self._lock = threading.Lock()

    @property
    def _project(self) -> str:
        return self._devops.project.project

    # -- identity ------------------------------------------------------------------------------------

    def whoami(self) -> ApproverIdentity:
        """The Azure DevOps identity the configured credentials act as."""
        user = self._devops.authenticated_user()
        return ApproverIdentity(
            name=user["name"], email=user["email"], display_name=user["display_name"], source="devops"
        )

    # -- requests ------------------------------------------------------------------------------------

    def create(self, draft: ApprovalDraft) -> ApprovalRequest:
        """Run the approval pipeline (or attach to the current run); decided drafts are not sent."""
        now = self._backend.clock.now()
        spec = request_record(draft, now)
        if draft.decided is not None:
            decision = draft.decided.model_copy(update={"requested_at": now, "decided_at": now})
            return self._recorded(decision.request_id, spec).request(
                ApprovalStatus(decision.status), (), decision, {"sent_to_devops": "no: decided by policy at request"}
            )
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
        if self._pipeline_id is not None:
            from azure.devops.v7_1.pipelines.models import RunPipelineParameters

            parameters = {
                MODEL_PARAMETER: f"{draft.model_name}@{draft.model_version}",
                REPORT_PARAMETER: draft.report.digest if draft.report else "none",
                REQUEST_PARAMETER: text,
            }
            pipeline_id = self._pipeline_id

            def attempt() -> Any:
                existing = self._find_by_key(draft) if draft.idempotency_key else None
                if existing is not None:
                    return existing
                with devops_errors(
                    f"running approval pipeline {pipeline_id} for {draft.model_name}@{draft.model_version}"
                ):
                    return self._devops.pipelines().run_pipeline(
                        RunPipelineParameters(template_parameters=parameters), self._project, pipeline_id
                    )

            # The POST is repeated only with an idempotency key, after the key's lookup found no run: a
            # POST whose answer was lost may have started one, and only the key can find it.
            run = self._backend.retry_policy.call(attempt) if draft.idempotency_key else attempt()
            if isinstance(run, ApprovalRequest):
                return run
            run_id = int(run.id)
            with self._lock:
                self._specs[run_id] = (spec, self._pipeline_id)
            _log.info(
                "approval request run-%s: pipeline %s run for %s@%s",
                run_id,
                self._pipeline_id,
                draft.model_name,
                draft.model_version,
            )
        else:
            current = current_run_id(self._devops.project)
            if current is None:
                raise ConfigurationError(
                    "approvals on Azure need the Azure DevOps pipeline whose stage targets an environment with an "
                    "approval check: set approval_pipeline = <pipeline id> (mlops.toml, MLOPS_APPROVAL_PIPELINE), "
                    "or call request() from inside that pipeline's run",
                    backend="azure",
                    details={"field": "approval_pipeline"},
                )
            from azure.devops.v7_1.build.models import JsonPatchOperation

            patch = [JsonPatchOperation(op="add", path=f"/{_PROPERTY}", value=text)]
            with devops_errors(f"attaching the approval request to the current run {current}"):
                self._devops.build().update_build_properties(patch, self._project, current)
            run_id = current
            with self._lock:
                self._specs[run_id] = (spec, None)
        return self.get(f"run-{run_id}")

    def _find_by_key(self, draft: ApprovalDraft) -> ApprovalRequest | None:
        for run_id in self._recent_runs():
            try:
                spec = self._spec(run_id)
            except ResourceNotFoundError:
                continue
            if spec.get("idempotency_key") == draft.idempotency_key:
                request_id = f"run-{run_id}"
                check_key_owner(draft, request_id, spec.get("model_name"), spec.get("model_version"), backend="azure")
                return self.get(request_id)
        return None

    def _recent_runs(self) -> builtins.list[int]:
        if self._pipeline_id is None:
            return []
        pipeline_id = self._pipeline_id
        runs = devops_call(
            self._backend.retry_policy,
            f"listing runs of approval pipeline {pipeline_id}",
            self._devops.pipelines().list_runs,
            self._project,
            pipeline_id,
        )
        ids = sorted((int(run.id) for run in runs or []), reverse=True)
        return ids[:_LIST_LIMIT]

    def _spec(self, run_id: int) -> dict[str, Any]:
        with self._lock:
            cached = self._specs.get(run_id)
        if cached is not None:
            return cached[0]
        what = f"reading approval request run-{run_id}"
        build = self._devops.build()
        info = devops_call(
            self._backend.retry_policy, what, build.get_build, self._project, run_id, operation_id=f"run-{run_id}"
        )
        definition = getattr(getattr(info, "definition", None), "id", None)
        text: Any = None
        if definition is not None:
            run = devops_call(
                self._backend.retry_policy,
                what,
                self._devops.pipelines().get_run,
                self._project,
                int(definition),
                run_id,
                operation_id=f"run-{run_id}",
            )
            text = (run.template_parameters or {}).get(REQUEST_PARAMETER)
        if not text:
            properties = devops_call(
                self._backend.retry_policy,
                what,
                build.get_build_properties,
                self._project,
                run_id,
                filter=[_PROPERTY],
                operation_id=f"run-{run_id}",
            )
            found = properties.get("value", properties) if isinstance(properties, dict) else {}
            value = found.get(_PROPERTY) if isinstance(found, dict) else None
            text = value.get("$value") if isinstance(value, dict) else value
        if not text:
            raise ResourceNotFoundError(
                f"run {run_id} carries no mlops approval request (no '{REQUEST_PARAMETER}' template parameter or "
                f"'{_PROPERTY}' property)",
                backend="azure",
                operation_id=f"run-{run_id}",
            )
        spec = json.loads(text) if isinstance(text, str) else dict(text)
        with self._lock:
            self._specs[run_id] = (spec, int(definition) if definition is not None else None)
        return spec

    def _definition(self, run_id: int) -> int | None:
        with self._lock:
            cached = self._specs.get(run_id)
        return cached[1] if cached else None

    def _approvals(self, run_id: int) -> builtins.list[dict[str, Any]]:
        request_id = f"run-{run_id}"
        timeline = devops_call(
            self._backend.retry_policy,
            f"reading the timeline of run {run_id}",
            self._devops.build().get_build_timeline,
            self._project,
            run_id,
            operation_id=request_id,
        )
        ids = [
            str(record.id)
            for record in (getattr(timeline, "records", None) or [])
            if str(getattr(record, "type", "")).lower() == _APPROVAL_RECORD
        ]
        if not ids:
            return []
        data = self._backend.retry_policy.call(
            self._devops.rest,
            "GET",
            "pipelines/approvals",
            params={"approvalIds": ",".join(ids), "$expand": "steps"},
            what=f"reading the approvals of run {run_id}",
            operation_id=request_id,
        )
        return list((data or {}).get("value", []))

    def _run_state(self, run_id: int) -> tuple[str, str | None, str | None]:
        request_id = f"run-{run_id}"
        definition = self._definition(run_id)
        if definition is not None:
            run = devops_call(
                self._backend.retry_policy,
                f"reading run {run_id}",
                self._devops.pipelines().get_run,
                self._project,
                definition,
                run_id,
                operation_id=request_id,
            )
            url = getattr(getattr(run, "_links", None), "additional_properties", {}) or {}
            web = url.get("web", {}).get("href") if isinstance(url.get("web"), dict) else None
            return str(run.state or "unknown"), (str(run.result) if run.result else None), web or run.url
        build = devops_call(
            self._backend.retry_policy,
            f"reading run {run_id}",
            self._devops.build().get_build,
            self._project,
            run_id,
            operation_id=request_id,
        )
        state = {"completed": "completed", "cancelling": "canceling"}.get(str(build.status).lower(), "inProgress")
        return state, (str(build.result) if build.result else None), None

    def _recorded(self, request_id: str, spec: dict[str, Any]) -> RecordedRequest:
        return RecordedRequest(request_id, spec, backend="azure", now=self._backend.clock.now())

    def get(self, request_id: str) -> ApprovalRequest:
        """The request as Azure DevOps has it now, judged by the request's policy."""
        run_id = _run_id(request_id)
        recorded = self._recorded(request_id, self._spec(run_id))
        state, result, web = self._run_state(run_id)
        approvals = self._approvals(run_id)
        votes = tuple(
            vote for approval in approvals for step in approval.get("steps") or [] if (vote := _vote_from_step(step))
        )
        external = {
            "devops_project": self._devops.project.url,
            "run_id": str(run_id),
            "run_state": state if result is None else f"{state}/{result}",
            "approval_ids": ",".join(str(a.get("id")) for a in approvals),
            "devops_status": ",".join(str(a.get("status")) for a in approvals),
        }
        if web:
            external["run_url"] = str(web)
        status, decision = self._decide(recorded, votes, approvals, state, result)
        return recorded.request(status, votes, decision, external)

    def _decide(
        self,
        recorded: RecordedRequest,
        votes: tuple[ApprovalVote, ...],
        approvals: builtins.list[dict[str, Any]],
        state: str,
        result: str | None,
    ) -> tuple[ApprovalStatus, ApprovalDecision | None]:
        tally, decided_at = recorded.tally(votes)
        status: Outcome = tally.status
        reason = tally.reason
        if status == "pending" and state.lower() == "completed" and (result or "").lower() == "canceled":
            return ApprovalStatus.CANCELED, None
        if status == "pending":
            closed = [str(a.get("status", "")) for a in approvals if str(a.get("status", "")).lower() != "pending"]
            if closed and len(closed) == len(approvals):
                status, reason = overruled(
                    tally,
                    closed[0],
                    service="Azure DevOps",
                    approved="the run",
                    ended="approval",
                    none_counted="too few counted approvals",
                    closed_as=_SERVICE_CLOSED,
                )
                stamps = [parse_time(a.get("lastModifiedOn")) for a in approvals]
                decided_at = max((stamp for stamp in stamps if stamp is not None), default=recorded.now)
            elif state.lower() == "completed" and not approvals:
                status = "rejected"
                reason = f"the pipeline run ended {result or 'without a result'} before any approval was requested"
        return recorded.outcome(tally, votes, status=status, reason=reason, decided_at=decided_at)

    def list(
        self, *, status: ApprovalStatus | None = None, model_name: str | None = None, model_version: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Requests among the approval pipeline's most recent runs, newest first."""
        return select_requests(
            self._recorded_runs(), self.get, status=status, model_name=model_name, model_version=model_version
        )

    def _recorded_runs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for run_id in self._recent_runs():
            try:
                yield f"run-{run_id}", self._spec(run_id)
            except ResourceNotFoundError:
                continue  # a run started by hand, not by mlops

    # -- votes ---------------------------------------------------------------------------------------

    def vote(
        self,
        request_id: str,
        decision: Literal["approve", "reject"],
        *,
        comment: str | None,
        on_behalf_of: str | None = None,
    ) -> ApprovalRequest:
        """Check the vote against the policy as the authenticated user, then PATCH the run's approvals."""
        request = self.get(request_id)
        me = provider_vote(
            request,
            self.whoami,
            on_behalf_of=on_behalf_of,
            backend="azure",
            own_credentials=(
                "Azure DevOps records every approval under the authenticated identity, so votes on behalf of "
                "someone else cannot be cast there; that person approves with their own credentials"
            ),
        )
        run_id = _run_id(request_id)
        pending = [a for a in self._approvals(run_id) if str(a.get("status", "")).lower() == "pending"]
        if not pending:
            raise ConflictError(
                f"run {run_id} has no pending Azure DevOps approval yet (the gated stage has not been reached); "
                "vote once the stage waits for approval",
                backend="azure",
                operation_id=request_id,
            )
        groups = tuple(
            str(step["assignedApprover"]["displayName"])
            for approval in pending
            for step in approval.get("steps") or []
            if isinstance(step.get("assignedApprover"), dict)
            and step["assignedApprover"].get("isContainer")
            and step["assignedApprover"].get("displayName")
        )
        counted_vote(
            request,
            me.model_copy(update={"groups": groups}),
            decision,
            comment=comment,
            at=self._backend.clock.now(),
            backend="azure",
        )
        body = [
            {
                "approvalId": approval["id"],
                "status": "approved" if decision == "approve" else "rejected",
                "comment": comment or "",
            }
            for approval in pending
        ]
        # PATCH is not retried: Azure DevOps answers 409/400 for an approval already acted on.
        self._devops.rest(
            "PATCH",
            "pipelines/approvals",
            body=body,
            what=f"{decision} of Azure DevOps approvals of run {run_id}",
            operation_id=request_id,
        )
        return self.get(request_id)

    def cancel(self, request_id: str, *, comment: str | None = None) -> ApprovalRequest:
        """Cancel the approval run (its pending approval goes with it)."""
        check_cancelable(self.get(request_id), backend="azure")
        from azure.devops.v7_1.build.models import Build

        run_id = _run_id(request_id)
        with devops_errors(f"canceling run {run_id}", operation_id=request_id):
            self._devops.build().update_build(Build(status="cancelling"), self._project, run_id)
        return self.get(request_id)

    def verify_audit(self) -> AuditVerification:
        """Azure DevOps keeps the approval history itself; there is no local trail to verify."""
        raise ConfigurationError(
            "the Azure backend keeps no local audit trail: Azure DevOps records every approval (who, when, comment) "
            "in the run's checks history and the organization's audit log; `mlops approvals verify` checks the "
            "local:// store",
            backend="azure",
        )

    def close(self) -> None:
        """Release the REST session."""
        self._devops.close()
