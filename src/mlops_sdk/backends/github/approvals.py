"""Approval gates on GitHub Actions environments with required reviewers, judged by OUR policy.

``create`` attaches the request to a workflow run (``github_run_id``, else ``GITHUB_RUN_ID``: the run
this job belongs to) whose deployment job targets an environment with required reviewers. The request
(model, requester, reason, policy, report digest) is kept as a JSON record (:mod:`._records`); its id
is ``gh-<run id>``.

Votes are the run's deployment reviews (``GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals``).
Every vote is checked against the request's policy exactly as on Azure DevOps: a review GitHub accepted
from someone the policy does not list, or from the requester, does not count, and once GitHub let the
deployment through on such a review the decision is ``rejected`` ("GitHub approved the deployment, but
not under the policy"). ``approve`` / ``reject`` refuse a vote the policy would not count before anything
is sent, then review the run's waiting deployments
(``POST .../pending_deployments`` with ``environment_ids``, ``state``, ``comment``) as the token's user.

GitHub's review history carries no timestamps: a review cast through the SDK is stamped when it was
sent, one cast in GitHub's web UI when the SDK first saw it (both kept in the record).
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from mlops_sdk.backends.azure._http import HttpConfig
from mlops_sdk.backends.base import Backend
from mlops_sdk.backends.github._api import GitHubApi
from mlops_sdk.backends.github._records import RequestRecords
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
from mlops_sdk.backends.spi.approvals import ApprovalDraft, check_cancelable
from mlops_sdk.core.errors import ConfigurationError, ConflictError, PermissionDeniedError, ResourceNotFoundError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.models.approvals import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    ApproverIdentity,
    AuditVerification,
)

__all__ = ["REQUEST_PREFIX", "GitHubApprovalService", "create_service", "records_folder"]

REQUEST_PREFIX = "gh-"
"""Request ids are ``gh-<workflow run id>``."""
_log = get_logger(__name__)


def records_folder(backend: Backend) -> Path:
    """``approval_records`` if set, else ``<local store>/approvals-github`` (or ``.mlops/approvals-github``)."""
    configured = backend.config.settings.approval_records
    if configured is not None:
        return configured if configured.is_absolute() else backend.config.base_dir / configured
    folder = getattr(backend, "folder", None)
    if isinstance(folder, Path):
        return folder / "approvals-github"
    return backend.config.base_dir / ".mlops" / "approvals-github"


def create_service(backend: Backend, env: Mapping[str, str] | None = None) -> GitHubApprovalService:
    """The GitHub approvals service for ``backend``'s settings, HTTP configuration, clock and retry policy."""
    http = getattr(backend, "http", None)
    if not isinstance(http, HttpConfig):
        http = HttpConfig.from_settings(backend.config.settings)
    api = GitHubApi.from_settings(backend.config.settings, http=http, retry=backend.retry_policy, env=env)
    return GitHubApprovalService(backend, api, RequestRecords(records_folder(backend)), env=env)


def _run_id(request_id: str) -> int:
    text = request_id.removeprefix(REQUEST_PREFIX)
    if not request_id.startswith(REQUEST_PREFIX) or not text.isdigit():
        raise ResourceNotFoundError(
            f"approval request {request_id!r} is not attached to a GitHub workflow run ('gh-<run id>')",
            backend="github",
            operation_id=request_id,
        )
    return int(text)


def _review_key(review: Mapping[str, Any]) -> str:
    environments = sorted(int(env.get("id", 0)) for env in review.get("environments") or [])
    user = (review.get("user") or {}).get("login", "")
    return f"{user}|{review.get('state')}|{review.get('comment', '')}|{environments}"


class GitHubApprovalService:
    """The ``approvals`` capability on GitHub Actions environments (see the module docstring)."""

    def __init__(
        self, backend: Backend, api: GitHubApi, records: RequestRecords, *, env: Mapping[str, str] | None = None
    ) -> None:
        self._backend = backend
        self._api = api
        self._records = records
        self._env = os.environ if env is None else env
        self._environment = backend.config.settings.github_environment
        self._lock = threading.Lock()
        self._me: ApproverIdentity | None = None

    # -- identity ------------------------------------------------------------------------------------

    def whoami(self) -> ApproverIdentity:
        """The GitHub user the token acts as (login; e-mail when public)."""
        if self._me is None:
            user = self._api.user()
            email = user.get("email") or None
            self._me = ApproverIdentity(
                name=str(user["login"]), email=email, display_name=user.get("name") or None, source="github"
            )
        return self._me

    # -- requests ------------------------------------------------------------------------------------

    def _current_run(self) -> int:
        configured = self._backend.config.settings.github_run_id
        if configured is not None:
            return configured
        run = self._env.get("GITHUB_RUN_ID", "")
        same_repo = (
            self._env.get("GITHUB_REPOSITORY", self._api.repository).casefold() == self._api.repository.casefold()
        )
        if run.isdigit() and same_repo:
            return int(run)
        raise ConfigurationError(
            "a GitHub approval request attaches to the workflow run whose deployment job waits on the environment: "
            "call request() inside that run (GITHUB_RUN_ID), or set github_run_id (MLOPS_GITHUB_RUN_ID)",
            backend="github",
            details={"field": "github_run_id"},
        )

    def create(self, draft: ApprovalDraft) -> ApprovalRequest:
        """Record the request for the run (decided drafts are recorded, never sent to GitHub)."""
        now = self._backend.clock.now()
        record = {
            **request_record(draft, now),
            "repository": self._api.repository,
            "environment": self._environment,
            "seen": {},
        }
        if draft.decided is not None:
            decision = draft.decided.model_copy(update={"requested_at": now, "decided_at": now})
            record["decision"] = decision.model_dump(mode="json")
            with self._lock:
                self._records.save(decision.request_id, record)
            return self.get(decision.request_id)
        if draft.policy.min_approvals > 1:
            raise ConfigurationError(
                f"the policy needs {draft.policy.min_approvals} approvals, but a GitHub environment lets the "
                "deployment job proceed after ONE required reviewer approves, so GitHub cannot hold it for more; use "
                "min_approvals=1 with GitHub environments (the Azure DevOps check and the local store count more)",
                backend="github",
                details={"field": "policy.min_approvals"},
            )
        if draft.idempotency_key:
            for known in self._records.ids():
                other = self._records.load(known) or {}
                if other.get("idempotency_key") == draft.idempotency_key:
                    self._same_model(known, other, draft)
                    return self.get(known)
        run_id = self._current_run()
        request_id = f"{REQUEST_PREFIX}{run_id}"
        record["run_id"] = run_id
        if self._records.load(request_id) is None and self._environment is not None:
            self._check_environment(self._environment)
        with self._lock:
            existing = self._records.load(request_id)
            if existing is None:
                self._records.save(request_id, record)
        if existing is not None:
            self._same_model(request_id, existing, draft)
        else:
            _log.info(
                "approval request %s: run %s of %s for %s@%s",
                request_id,
                run_id,
                self._api.repository,
                draft.model_name,
                draft.model_version,
            )
        return self.get(request_id)

    def _check_environment(self, name: str) -> None:
        """The environment exists and has required reviewers (else GitHub would deploy without waiting)."""
        try:
            environment = self._api.environment(name)
        except ResourceNotFoundError as error:
            raise ConfigurationError(
                f"GitHub has no environment {name!r} in {self._api.repository}: create it (Settings > Environments) "
                "with required reviewers, or correct github_environment",
                backend="github",
                details={"field": "github_environment"},
            ) from error
        rules = [
            rule
            for rule in environment.get("protection_rules") or []
            if rule.get("type") == "required_reviewers" and rule.get("reviewers")
        ]
        if not rules:
            raise ConfigurationError(
                f"environment {name!r} of {self._api.repository} has no required reviewers, so GitHub would run the "
                "deployment job without waiting for anyone; add required reviewers to it (Settings > Environments)",
                backend="github",
                details={"field": "github_environment"},
            )

    @staticmethod
    def _same_model(request_id: str, record: Mapping[str, Any], draft: ApprovalDraft) -> None:
        if (record.get("model_name"), record.get("model_version")) != (draft.model_name, draft.model_version):
            raise ConflictError(
                f"{request_id} already asks approval of {record.get('model_name')}@{record.get('model_version')}: "
                "one workflow run gates one model version; request "
                f"{draft.model_name}@{draft.model_version} from its own run",
                backend="github",
                operation_id=request_id,
            )

    def _record(self, request_id: str) -> dict[str, Any]:
        record = self._records.load(request_id)
        if record is None:
            raise ResourceNotFoundError(
                f"no GitHub approval request {request_id!r} in {self._records.folder} (requests are recorded where "
                "approval_records points; a request made on another machine is not there)",
                backend="github",
                operation_id=request_id,
            )
        return record

    def _ours(self, environment: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
        wanted = record.get("environment") or self._environment
        return wanted is None or str(environment.get("name", "")).casefold() == str(wanted).casefold()

    def _pending(self, run_id: int, record: Mapping[str, Any], request_id: str) -> builtins.list[dict[str, Any]]:
        return [
            item
            for item in self._api.pending_deployments(run_id, operation_id=request_id)
            if self._ours(item.get("environment") or {}, record)
        ]

    def _reviews(self, run_id: int, record: Mapping[str, Any], request_id: str) -> builtins.list[dict[str, Any]]:
        return [
            review
            for review in self._api.reviews(run_id, operation_id=request_id)
            if str(review.get("state")) in ("approved", "rejected")
            and any(self._ours(env, record) for env in review.get("environments") or [])
        ]

    def get(self, request_id: str) -> ApprovalRequest:
        """The request as GitHub has it now, judged by the request's policy."""
        record = self._record(request_id)
        recorded = RecordedRequest(request_id, record, backend="github", now=self._backend.clock.now())
        if record.get("decision") is not None:
            decided = ApprovalDecision.model_validate(record["decision"])
            return recorded.request(ApprovalStatus(decided.status), (), decided, {})
        run_id = _run_id(request_id)
        external = {
            "repository": str(record.get("repository")),
            "run_id": str(run_id),
            "run_url": self._run_url(record, run_id),
        }
        if record.get("status") == ApprovalStatus.CANCELED.value:
            return recorded.request(ApprovalStatus.CANCELED, (), None, external)
        pending = self._pending(run_id, record, request_id)
        reviews = self._reviews(run_id, record, request_id)
        votes = self._votes(request_id, record, reviews)
        names = {str((item.get("environment") or {}).get("name")) for item in pending}
        names |= {str(env.get("name")) for review in reviews for env in review.get("environments") or []}
        external["environments"] = ",".join(sorted(name for name in names if name != "None"))
        external["github_status"] = "waiting" if pending else ("reviewed" if reviews else "not waiting yet")
        status, decision = self._decide(recorded, votes, reviews, waiting=bool(pending))
        return recorded.request(status, votes, decision, external)

    def _run_url(self, record: Mapping[str, Any], run_id: int) -> str:
        server = self._env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        return f"{server}/{record.get('repository')}/actions/runs/{run_id}"

    def _votes(
        self, request_id: str, record: dict[str, Any], reviews: builtins.list[dict[str, Any]]
    ) -> tuple[ApprovalVote, ...]:
        seen: dict[str, str] = dict(record.get("seen") or {})
        now = self._backend.clock.now()
        votes = []
        for review in reviews:
            key = _review_key(review)
            if key not in seen:
                seen[key] = now.isoformat()
            user = review.get("user") or {}
            votes.append(
                ApprovalVote(
                    approver=ApproverIdentity(
                        name=str(user.get("login", "unknown")),
                        email=user.get("email") or None,
                        display_name=user.get("name") or None,
                        source="github",
                    ),
                    decision="approve" if review.get("state") == "approved" else "reject",
                    comment=review.get("comment") or None,
                    at=parse_time(seen[key]) or now,
                )
            )
        if seen != (record.get("seen") or {}):
            with self._lock:
                fresh = self._records.load(request_id) or record
                fresh["seen"] = {**seen, **(fresh.get("seen") or {})}
                self._records.save(request_id, fresh)
        return tuple(votes)

    @staticmethod
    def _decide(
        recorded: RecordedRequest,
        votes: tuple[ApprovalVote, ...],
        reviews: builtins.list[dict[str, Any]],
        *,
        waiting: bool,
    ) -> tuple[ApprovalStatus, ApprovalDecision | None]:
        tally, decided_at = recorded.tally(votes)
        status: Outcome = tally.status
        reason = tally.reason
        if status == "pending" and reviews and not waiting:
            # GitHub closed the review on votes the policy does not count.
            status, reason = overruled(
                tally,
                str(reviews[-1].get("state")),
                service="GitHub",
                approved="the deployment",
                ended="deployment review",
                none_counted="no counted approval",
            )
            decided_at = max((vote.at for vote in votes), default=recorded.now)
        return recorded.outcome(tally, votes, status=status, reason=reason, decided_at=decided_at)

    def list(
        self, *, status: ApprovalStatus | None = None, model_name: str | None = None, model_version: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Recorded requests, newest first, each judged against GitHub now."""
        records = ((request_id, self._records.load(request_id) or {}) for request_id in self._records.ids())
        return select_requests(records, self.get, status=status, model_name=model_name, model_version=model_version)

    # -- votes ---------------------------------------------------------------------------------------

    def vote(
        self,
        request_id: str,
        decision: Literal["approve", "reject"],
        *,
        comment: str | None,
        on_behalf_of: str | None = None,
    ) -> ApprovalRequest:
        """Check the vote against the policy as the token's user, then review the run's waiting deployments."""
        request = self.get(request_id)
        me = provider_vote(
            request,
            self.whoami,
            on_behalf_of=on_behalf_of,
            backend="github",
            own_credentials=(
                "GitHub records every deployment review under the token's user, so votes on behalf of someone else "
                "cannot be cast there; that person reviews with their own token"
            ),
        )
        candidate = counted_vote(request, me, decision, comment=comment, at=self._backend.clock.now(), backend="github")
        run_id = _run_id(request_id)
        record = self._record(request_id)
        pending = self._pending(run_id, record, request_id)
        if not pending:
            raise ConflictError(
                f"run {run_id} has no deployment waiting for review yet (the job that targets the environment has not "
                "started); vote once GitHub shows it waiting",
                backend="github",
                operation_id=request_id,
            )
        mine = [item for item in pending if item.get("current_user_can_approve")]
        if not mine:
            names = ", ".join(str((item.get("environment") or {}).get("name")) for item in pending)
            raise PermissionDeniedError(
                f"GitHub does not let {me} review the deployment to {names} "
                "(not a required reviewer of the environment)",
                backend="github",
                operation_id=request_id,
            )
        state = "approved" if decision == "approve" else "rejected"
        environments = [int((item.get("environment") or {})["id"]) for item in mine]
        # Not retried: a review GitHub already applied is refused the second time.
        self._api.review(
            run_id, environment_ids=environments, state=state, comment=comment or "", operation_id=request_id
        )
        review = {
            "user": {"login": me.name},
            "state": state,
            "comment": comment or "",
            "environments": [{"id": env_id} for env_id in environments],
        }
        with self._lock:
            fresh = self._records.load(request_id) or record
            fresh.setdefault("seen", {})[_review_key(review)] = candidate.at.isoformat()
            self._records.save(request_id, fresh)
        return self.get(request_id)

    def cancel(self, request_id: str, *, comment: str | None = None) -> ApprovalRequest:
        """Withdraw the request here (the workflow run is left to GitHub: cancel it there to stop the job)."""
        check_cancelable(self.get(request_id), backend="github")
        with self._lock:
            record = self._record(request_id)
            record["status"] = ApprovalStatus.CANCELED.value
            record["canceled_comment"] = comment
            self._records.save(request_id, record)
        return self.get(request_id)

    def verify_audit(self) -> AuditVerification:
        """GitHub keeps the review history itself; there is no local trail to verify."""
        raise ConfigurationError(
            "GitHub approvals keep no local audit trail: GitHub records every deployment review (who, state, comment) "
            "in the run's review history and the organization's audit log; `mlops approvals verify` checks the "
            "local:// store",
            backend="github",
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._api.close()
