"""``ApprovalClient``: policy + human approval of a model version, with identity, timeout and audit."""

from __future__ import annotations

import builtins
import shlex
import sys
import uuid
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from mlops_sdk.backends.spi.approvals import WAIT_KIND, ApprovalDraft, ApprovalService, ApprovalWaitDriver
from mlops_sdk.backends.spi.keys import APPROVALS, MODELS
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.clients._ids import resolve_prefix
from mlops_sdk.core.context import ambient_idempotency_key
from mlops_sdk.core.deprecation import deprecated
from mlops_sdk.core.errors import ConfigurationError, MlopsError, ResourceNotFoundError
from mlops_sdk.core.invalid_input import inside, invalid_input, validate_input
from mlops_sdk.core.lineage import collect_lineage, current_identity
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import check_idempotency_key
from mlops_sdk.core.operation import Operation, PollingOptions, ProgressEvent
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.tracing import annotate
from mlops_sdk.core.user_files import is_existing_path, read_text_file
from mlops_sdk.models.approvals import (
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    ApproverIdentity,
    AuditVerification,
    PlannedRollout,
    ReportFacts,
    normalize_identity,
)
from mlops_sdk.models.registry import ModelRef, ModelVersion
from mlops_sdk.notifications.events import EventKind, event_for
from mlops_sdk.notifications.sender import Notifier

__all__ = ["POLICY_FILE", "ApprovalClient", "parse_model_ref"]

T = TypeVar("T")

POLICY_FILE = "approvals.toml"
"""Default file of :meth:`ApprovalClient.load_policy` (written by ``mlops init``)."""
_log = get_logger(__name__)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def parse_model_ref(model: ModelVersion | str) -> tuple[str, str, str | None]:
    """``(name, version, created_by)`` of a :class:`ModelVersion` or a ``"name@version"`` string."""
    if isinstance(model, ModelVersion):
        return model.name, model.version, model.created_by
    ref = ModelRef.try_parse(model) if isinstance(model, str) else None
    if ref is not None and ref.version is not None:
        return ref.name, ref.version, None
    raise ConfigurationError(
        f"model must be a ModelVersion or a 'name@version' string, got {model!r}; "
        "resolve an alias first with client.models.get_by_alias(name, alias)",
        details={"field": "model"},
    )


def _policy(policy: ApprovalPolicy | Mapping[str, Any]) -> ApprovalPolicy:
    if isinstance(policy, ApprovalPolicy):
        return policy
    return validate_input(ApprovalPolicy, policy, what="approval policy", field="policy")


def _rollout(rollout: PlannedRollout | Mapping[str, Any] | None) -> PlannedRollout | None:
    if rollout is None or isinstance(rollout, PlannedRollout):
        return rollout
    return validate_input(
        PlannedRollout,
        rollout,
        what="planned rollout (build it with PlannedRollout.of(endpoint, strategy))",
        field="rollout",
    )


# People answer in minutes, not milliseconds: poll like a remote service even on the local backend.
_HUMAN_POLLING = PollingOptions(initial_interval=1.0, max_interval=15.0)


class ApprovalClient(BaseClient):
    """Approval gates: a policy says who may approve a model version, how many must, and until when.

    Locally, requests and votes live in SQLite with a hash-chained audit log and voters are the OS
    user (plus git ``user.email``). On Azure, ``request`` runs the configured Azure DevOps pipeline
    whose stage targets an environment with an approval check, and votes are that check's approvals.
    Both backends apply the same policy, so a vote the policy does not allow never counts.
    """

    _capability = "approvals"

    @property
    def _approvals(self) -> ApprovalService:
        return self._service(APPROVALS)

    def now(self) -> Any:
        """The current time on this client's clock (tests use a fake clock)."""
        return self._context.clock.now()

    # -- requests ------------------------------------------------------------------------------------

    def request(
        self,
        model: ModelVersion | str,
        *,
        policy: ApprovalPolicy | Mapping[str, Any],
        report: Any = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
        rollout: PlannedRollout | Mapping[str, Any] | None = None,
    ) -> ApprovalRequest:
        """Ask for approval of a model version under ``policy``.

        Args:
            model: A :class:`ModelVersion` or ``"name@version"``. The requester (barred from approving
                under ``forbid_self_approval``) is the version's ``created_by``, else whoever runs this.
            policy: The :class:`ApprovalPolicy` (or a dict of its fields).
            report: The validation report (anything with ``passed``, ``outcome``, ``digest``).
            reason: Why approval is requested (shown to approvers, kept in the audit trail).
            idempotency_key: Requests with the same key are one request: re-running a script attaches to it.
            rollout: The planned rollout, shown to approvers on the review page and kept in the audit
                trail (``PlannedRollout.of("churn", BlueGreen(...), rollback_to="churn@11")``).

        Returns:
            The request. When the policy decides at once (failed validation with
            ``require_validation_passed``, or an ``auto_approve_when`` rule holds) it already carries
            its ``decision`` and no person is asked.

        Raises:
            ConfigurationError: bad model reference, policy or report (one validating another model
                version included); or the policy requires a passed validation and no report was given.
        """
        name, version, created_by = parse_model_ref(model)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        rules = _policy(policy)
        facts: ReportFacts | None = None
        if report is not None:
            try:
                facts = ReportFacts.of(report)
            except (TypeError, ValidationError) as error:
                raise ConfigurationError(f"invalid report: {error}", details={"field": "report"}) from error
            validated = _reported_model(report)
            if validated is not None and validated != (name, str(version)):
                # Another version's passed report must never open (or auto-approve) this one's gate.
                raise ConfigurationError(
                    f"the report validates {validated[0]}@{validated[1]}, not {name}@{version}; pass the report "
                    f"of client.validation.validate('{name}@{version}', ...)",
                    details={"field": "report", "report_model": f"{validated[0]}@{validated[1]}"},
                )
        if rules.require_validation_passed and facts is None:
            raise ConfigurationError(
                f"the approval policy requires a passed validation (require_validation_passed=True) but no report "
                f"was given for {name}@{version}; pass report=client.validation.validate(...) or set "
                "require_validation_passed=False in the policy",
                details={"field": "report"},
            )
        plan = _rollout(rollout)
        requester = created_by or current_identity()
        profile = self._context.config.settings.profile
        draft = ApprovalDraft(
            model_name=name,
            model_version=version,
            requester=requester,
            reason=redact(reason) if reason else reason,
            policy=rules,
            report=facts,
            lineage=collect_lineage().with_inputs(validation_digest=facts.digest if facts else None),
            profile=profile,
            idempotency_key=idempotency_key or ambient_idempotency_key(),
            decided=self._decided_at_request(name, version, requester, rules, facts, profile),
            rollout=plan,
        )
        annotate({"model": f"{name}@{version}"})
        started = self.now()
        created = self._approvals.create(draft)
        if created.decision is not None:
            self._record_on_model(created.decision)
        if created.created_at >= started:  # not a re-run attaching to the request it already made
            self._notify("decided" if created.decision is not None else "requested", created)
        return created

    def _decided_at_request(
        self,
        name: str,
        version: str,
        requester: str | None,
        policy: ApprovalPolicy,
        report: ReportFacts | None,
        profile: str | None,
    ) -> ApprovalDecision | None:
        now = self.now()
        common: dict[str, Any] = {
            "request_id": str(uuid.uuid4()),
            "model_name": name,
            "model_version": version,
            "requester": requester,
            "requested_at": now,
            "decided_at": now,
            "policy": policy,
            "report_digest": report.digest if report else None,
        }
        if report is not None and not report.passed and policy.require_validation_passed:
            return ApprovalDecision(
                status="rejected",
                reason=(
                    f"blocked: validation report {report.digest} did not pass (outcome {report.outcome!r}) and the "
                    "policy requires a passed validation (require_validation_passed=True)"
                ),
                **common,
            )
        rule = policy.matching_rule(profile=profile, model_name=name, report=report)
        if rule is not None:
            return ApprovalDecision(
                status="auto_approved",
                reason=f"auto-approved: rule '{rule.describe()}' holds (profile {profile or '-'})",
                **common,
            )
        return None

    def get(self, request_id: str) -> ApprovalRequest:
        """The request with its votes and, once decided, its decision.

        Raises:
            ResourceNotFoundError: no such request.
        """
        return self._by_id(request_id, self._approvals.get)

    def _by_id(self, request_id: str, call: Callable[[str], T]) -> T:
        """``call(id)``; when the id is not found, ``call`` on the one request id it is a unique prefix of."""
        return resolve_prefix(
            _check_id(request_id),
            get=call,
            candidates=lambda: [item.id for item in self._approvals.list()],
            what="approval request",
        )

    def list(
        self, status: ApprovalStatus | str | None = "pending", *, model: ModelVersion | str | None = None
    ) -> ItemPaged[ApprovalRequest]:
        """Deprecated: use :meth:`list_requests` (same arguments, same result)."""
        deprecated("ApprovalClient.list()", "ApprovalClient.list_requests()")
        return self.list_requests(status, model=model)

    def list_requests(
        self, status: ApprovalStatus | str | None = "pending", *, model: ModelVersion | str | None = None
    ) -> ItemPaged[ApprovalRequest]:
        """Requests, newest first. ``status`` is ``"pending"`` (default), another status, or ``"all"``/``None``.

        ``model`` takes the same forms as in :meth:`list_pending` (``"name@3"``, ``"name:alias"``, ``"name"``).
        """
        wanted: ApprovalStatus | None
        if status is None or status == "all":
            wanted = None
        else:
            try:
                wanted = ApprovalStatus(status)
            except ValueError:
                known = ", ".join([item.value for item in ApprovalStatus] + ["all"])
                raise ConfigurationError(
                    f"unknown status {status!r}; use one of {known}", details={"field": "status"}
                ) from None
        name = version = None
        if model is not None:
            name, version = self._model_filter(model)
        return ItemPaged.of(self._approvals.list(status=wanted, model_name=name, model_version=version))

    def decisions_for(self, model: ModelVersion | str) -> builtins.list[ApprovalDecision]:
        """Every decision recorded for a model version, newest first (the promotion audit of that version)."""
        return [request.decision for request in self.list_requests("all", model=model) if request.decision is not None]

    # -- votes -----------------------------------------------------------------------------------------

    def list_pending(
        self, model: ModelVersion | str | None = None, *, requester: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Pending requests, newest first, each with its requester's ``reason``.

        Args:
            model: Only requests for this model: a :class:`ModelVersion`, ``"name@3"``, ``"name:alias"``
                (the version the alias points at now) or a bare ``"name"`` (every version).
            requester: Only requests made by this identity (compared case-insensitively).
        """
        name = version = None
        if model is not None:
            name, version = self._model_filter(model)
        found = self._approvals.list(status=ApprovalStatus.PENDING, model_name=name, model_version=version)
        if requester is not None:
            found = [
                item
                for item in found
                if item.requester and normalize_identity(item.requester) == normalize_identity(requester)
            ]
        return found

    def _model_filter(self, model: ModelVersion | str) -> tuple[str, str | None]:
        if isinstance(model, ModelVersion):
            return model.name, model.version
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(
                f"model must be a ModelVersion, 'name@version', 'name:alias' or 'name', got {model!r}",
                details={"field": "model"},
            )
        text = model.strip()
        if "@" not in text and ":" not in text:
            return text, None  # a bare name: every version of it
        ref = ModelRef.parse(text, field="model")
        if ref.alias is not None:
            resolved = self._context.backend.service(MODELS).get_by_alias(ref.name, ref.alias)
            return resolved.name, resolved.version
        return ref.name, ref.version

    def _request_for(self, request: str | ModelVersion) -> str:
        """The id ``request`` names: a request id (or prefix), or the ONE pending request of a model reference."""
        if isinstance(request, str) and "@" not in request and ":" not in request:
            return request
        found = self.list_pending(request)
        shown = f"{request.name}@{request.version}" if isinstance(request, ModelVersion) else request
        if not found:
            raise ResourceNotFoundError(
                f"no pending approval request for {shown}; list them with client.approvals.list_pending() "
                "or `mlops approvals list`",
                details={"field": "request", "model": str(shown)},
            )
        if len(found) > 1:
            ids = ", ".join(f"{item.id} ({item.model_ref})" for item in found)
            raise ConfigurationError(
                f"{shown} names {len(found)} pending approval requests ({ids}); pass the request id instead",
                details={"field": "request", "candidates": [item.id for item in found]},
            )
        return found[0].id

    def approve(
        self, request_id: str | ModelVersion, *, comment: str, on_behalf_of: str | None = None
    ) -> ApprovalRequest:
        """Approve as the caller's identity (OS user locally, the Azure DevOps user on Azure).

        Args:
            request_id: The request id (or a unique prefix of it), or a model reference
                (``"name@3"``, ``"name:alias"``, a :class:`ModelVersion`) naming exactly one pending request.
            comment: Why (kept in the audit trail).
            on_behalf_of: Record the vote for another identity; refused unless the policy allows delegation.

        Raises:
            PermissionDeniedError: the policy does not allow this identity to approve (not listed,
                the requester, or delegation not allowed). The refusal is audited; nothing else changes.
            ConflictError: the request is already decided.
            ResourceNotFoundError: no such request, or no pending request for the model reference.
            ConfigurationError: the model reference names more than one pending request (the message lists them).
        """
        return self._vote(request_id, "approve", comment, on_behalf_of)

    def reject(
        self, request_id: str | ModelVersion, *, comment: str, on_behalf_of: str | None = None
    ) -> ApprovalRequest:
        """Reject as the caller's identity; one counted rejection decides the request. See :meth:`approve`."""
        return self._vote(request_id, "reject", comment, on_behalf_of)

    def _vote(
        self,
        request_id: str | ModelVersion,
        decision: Literal["approve", "reject"],
        comment: str,
        on_behalf_of: str | None,
    ) -> ApprovalRequest:
        if not isinstance(comment, str) or not comment.strip():
            raise ConfigurationError(
                f"{decision} needs a comment saying why (it goes into the audit trail)", details={"field": "comment"}
            )
        if on_behalf_of is not None and not on_behalf_of.strip():
            raise ConfigurationError("on_behalf_of must name an identity", details={"field": "on_behalf_of"})
        if not isinstance(request_id, ModelVersion):
            _check_id(request_id)
        request_id = self._request_for(request_id)
        annotate({"request_id": request_id})
        text = redact(comment.strip())  # the audit log keeps it forever: never a secret
        request = self._by_id(
            request_id,
            lambda full_id: self._approvals.vote(full_id, decision, comment=text, on_behalf_of=on_behalf_of),
        )
        if request.decision is not None:
            self._record_on_model(request.decision)
        cast = [vote for vote in request.votes if vote.decision == decision and vote.comment == text]
        self._notify("voted", request, vote=cast[-1] if cast else None)
        if request.decision is not None:
            self._notify("decided", request)
        return request

    def cancel(self, request_id: str, *, comment: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request (status ``canceled``; waiting on it raises ``OperationCanceledError``).

        Raises:
            ResourceNotFoundError: no request with this id (or unique id prefix).
            ConflictError: the request is already decided or canceled.
        """
        text = redact(comment) if comment else comment
        return self._by_id(request_id, lambda full_id: self._approvals.cancel(full_id, comment=text))

    def load_policy(self, path: str | Path = POLICY_FILE) -> ApprovalPolicy:
        """The approval policy declared in a TOML file for this client's profile.

        The file's top-level keys are the policy's fields (``approvers``, ``min_approvals``,
        ``forbid_self_approval``, ``timeout`` in seconds, ...); a ``[profiles.<name>]`` table replaces
        them for that profile (a profile without a table gets the top-level policy). ``mlops init``
        writes one naming you as the approver of the local project (self-approval allowed and
        recorded) and a release manager for the ``azure`` profile.
        A relative path is read from the project folder (where ``mlops.toml`` is).

        Raises:
            ConfigurationError: the file is missing or not TOML, has an unknown key, or declares an
                invalid policy (the message names the field and the file).
        """
        file = Path(path)
        if not file.is_absolute():
            file = self._context.config.base_dir / file
        if not is_existing_path(file):
            raise ConfigurationError(
                f"no approval policy file {file}; write one (approvers = [...]) or run `mlops init`",
                details={"field": "path", "path": str(file)},
            )
        text = read_text_file(file, what="approval policy file", field="path")
        try:
            table: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(
                f"path: {file} is not valid TOML: {error}", details={"field": "path", "path": str(file)}
            ) from error
        except RecursionError:  # [[[[...]]]] deeper than the parser follows
            raise ConfigurationError(
                f"path: {file} is not valid TOML: nested too deeply", details={"field": "path", "path": str(file)}
            ) from None
        profiles = table.pop("profiles", {})
        profile = self._context.config.settings.profile
        where = str(file)
        if profile and isinstance(profiles, dict) and profile in profiles:
            table, where = dict(profiles[profile]), f"{file} [profiles.{profile}]"
        try:
            with inside():
                return ApprovalPolicy.model_validate(table)
        except ValidationError as error:
            raise invalid_input(
                error,
                what="approval policy",
                where=where,
                root="policy",
                details={"path": str(file)},
                model=ApprovalPolicy,
            ) from error

    def whoami(self) -> ApproverIdentity:
        """The identity this process's votes are recorded as."""
        return self._approvals.whoami()

    def verify_audit(self) -> AuditVerification:
        """Check the audit trail for edited, deleted or reordered entries (``ok`` is False if any)."""
        return self._approvals.verify_audit()

    # -- waiting -------------------------------------------------------------------------------------

    def begin_wait(
        self,
        request_id: str,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
        cancel_on_interrupt: bool = False,
    ) -> Operation[ApprovalDecision]:
        """Wait for the decision. ``.result()`` returns the :class:`ApprovalDecision` (rejections included).

        Ctrl-C while waiting leaves the request pending (``cancel_on_interrupt=False``); resume with
        ``client.resume_operation(token)`` or ``mlops resume TOKEN``.
        """
        request = self.get(request_id)  # fail fast on an unknown id
        if request.is_pending:
            self._announce(request)
        return self._wait_operation(
            request.id, progress=progress, show_progress=show_progress, cancel_on_interrupt=cancel_on_interrupt
        )

    def approve_command(self, request: ApprovalRequest) -> str:
        """The exact ``mlops`` command that approves ``request`` against this client's target and profile."""
        config = self._context.config
        options = []
        if config.sources.get("target") == "argument":
            options += ["-t", config.settings.target]
        profile = config.settings.profile
        if profile and config.sources.get("profile") in ("argument", "env MLOPS_PROFILE"):
            options += ["-p", profile]
        words = ["mlops", *options, "approvals", "approve", request.id]
        return shlex.join(words) + ' -m "why you approve"'

    def _announce(self, request: ApprovalRequest) -> None:
        """Say once, when a wait starts, who may approve and how (a person has to act: never a silent wait).

        Logged at WARNING on ``mlops_sdk.clients.approvals`` so that it shows even when the application
        configured no logging (Python prints warnings of unconfigured loggers to stderr).
        """
        policy = request.policy
        who = ", ".join(policy.approvers) or "-"
        if policy.approver_groups:
            who += f" or members of {', '.join(policy.approver_groups)}"
        rules = f"{policy.min_approvals} approval(s) from {who}"
        if policy.forbid_self_approval and request.requester:
            rules += f"; the requester {request.requester} may not approve"
        elif not policy.forbid_self_approval:
            rules += "; self-approval allowed by the policy (recorded in the audit log)"
        deadline = f"; times out at {request.deadline:%Y-%m-%d %H:%M} UTC" if request.deadline else ""
        _log.warning(
            "approval request %s for %s is waiting for %s%s. To approve: %s",
            request.id,
            request.model_ref,
            rules,
            deadline,
            self.approve_command(request),
        )

    def _wait_operation(
        self,
        request_id: str,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
        cancel_on_interrupt: bool = False,
    ) -> Operation[ApprovalDecision]:
        return self._operation(
            ApprovalWaitDriver(self._approvals, request_id, clock=self._context.clock, on_decided=self._decided),
            description="approval request",
            progress=progress,
            show_progress=show_progress,
            cancel_on_interrupt=cancel_on_interrupt,
            polling=_HUMAN_POLLING,
        )

    def resume_operation(self, token: str) -> Operation[ApprovalDecision]:
        """Rebuild a wait from its continuation token."""
        resumed: Operation[ApprovalDecision] = self._resume(
            token, {WAIT_KIND: lambda request_id, state: self._wait_operation(request_id)}
        )
        return resumed

    def _decided(self, request: ApprovalRequest) -> None:
        """What a wait does once the request is decided: tag the model version, then notify."""
        if request.decision is not None:
            self._record_on_model(request.decision)
        self._notify("decided", request)

    # -- notifications ---------------------------------------------------------------------------------

    @cached_property
    def _notifier(self) -> Notifier:
        return Notifier(self._context.config.settings, clock=self._context.clock)

    @cached_property
    def _notified(self) -> set[str]:
        return set()

    def _notify(self, kind: EventKind, request: ApprovalRequest, *, vote: ApprovalVote | None = None) -> None:
        """Tell the configured channels (and the CI summary) about ``request``; never raises.

        A decision is sent once per client: by the call that cast the deciding vote, else by the wait.
        """
        try:
            event = event_for(
                kind, request, at=self.now(), review_url=self._context.config.settings.review_url, vote=vote
            )
            if kind == "decided":
                if event.event_id in self._notified:
                    return
                self._notified.add(event.event_id)
            self._notifier.notify(event)
        except Exception as error:  # notifications never fail an approval
            _log.warning("approval notification for %s skipped: %s", request.id, type(error).__name__)

    # -- model registry --------------------------------------------------------------------------------

    def _record_on_model(self, decision: ApprovalDecision) -> None:
        """Write ``mlops.approval.*`` tags onto the model version when the backend has a model registry."""
        try:
            models = self._service(MODELS)
        except ConfigurationError:
            return  # no registry on this backend yet: the decision stays in the approvals store
        set_tags = getattr(models, "set_tags", None)
        if not callable(set_tags):
            return
        try:
            set_tags(decision.model_name, decision.model_version, decision.to_tags())
        except MlopsError as error:
            _log.warning("could not tag %s with approval decision %s: %s", decision.model_ref, decision.status, error)


def _check_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not request_id.strip():
        raise ConfigurationError("request_id must be a non-empty string", details={"field": "request_id"})
    return request_id.strip()


def _reported_model(report: Any) -> tuple[str, str] | None:
    """``(name, version)`` of the model a validation report (or its dict) validated, when it says."""
    model = report.get("model") if isinstance(report, Mapping) else getattr(report, "model", None)
    if model is None:
        return None
    name = model.get("name") if isinstance(model, Mapping) else getattr(model, "name", None)
    version = model.get("version") if isinstance(model, Mapping) else getattr(model, "version", None)
    if not isinstance(name, str) or version is None:
        return None
    return name, str(version)
