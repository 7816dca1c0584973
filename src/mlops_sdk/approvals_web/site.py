"""What the review page works on: one local store's clients, its approvals service and invite store.

Also used by ``mlops approvals invite``, which needs the invite store but no web server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_sdk.approvals_web.invites import InviteStore
from mlops_sdk.approvals_web.pages import RequestView
from mlops_sdk.approvals_web.secret import load_secret
from mlops_sdk.core.errors import ConfigurationError, MlopsError
from mlops_sdk.models.validation.render import to_html

if TYPE_CHECKING:
    from mlops_sdk.backends.local.approvals.service import LocalApprovalService
    from mlops_sdk.clients.hub import MLOpsClient

__all__ = ["ReviewSite"]


@dataclass
class ReviewSite:
    """The clients of one ``local://`` store, its approvals service and its invite store.

    Build it with :meth:`open`. ``tls`` says whether the page is served over HTTPS (cookies are
    then marked ``Secure`` and HSTS is sent).
    """

    client: MLOpsClient
    service: LocalApprovalService
    invites: InviteStore
    tls: bool = False

    @classmethod
    def open(cls, client: MLOpsClient, *, tls: bool = False) -> ReviewSite:
        """The site of ``client``'s store.

        Raises:
            ConfigurationError: the target is not a ``local://`` store (Azure DevOps and GitHub have
                their own approval pages), or the store's review key is unusable.
        """
        from mlops_sdk.backends.local import LocalBackend
        from mlops_sdk.backends.local.approvals.service import LocalApprovalService

        backend = client.approvals._context.backend
        if not isinstance(backend, LocalBackend):
            raise ConfigurationError(
                f"the review page serves a local:// store; the target is {client.target}. On Azure, approvers "
                "vote in Azure DevOps (the environment's Approvals check)",
                details={"field": "--target"},
            )
        service = backend.service("approvals", LocalApprovalService)
        invites = InviteStore(backend.store, backend.clock, load_secret(backend.folder))
        return cls(client, service, invites, tls)

    def view(self, request_id: str) -> RequestView:
        """Gather one request's page: the request, the tally now, its report, lineage and audit trail."""
        approvals = self.client.approvals
        request = approvals.get(request_id)
        now = approvals.now()
        tally = request.policy.evaluate(
            request.votes, requester=request.requester, requested_at=request.created_at, now=now
        )
        report_html = missing = None
        report_lineage, data_versions = None, {}
        if request.report is not None:
            try:
                report = self.client.validation.get_report(request.report.digest)
                report_html = to_html(report, fragment=True)
                report_lineage, data_versions = report.lineage, dict(report.data_versions)
            except MlopsError:
                missing = (
                    f"The validation report {request.report.digest} ({request.report.outcome}) is not recorded in "
                    "this store: it was made elsewhere. Ask the requester for it."
                )
        else:
            missing = "The request carries no validation report."
        try:
            model_lineage = self.client.models.get(request.model_name, request.model_version).lineage
        except MlopsError:
            model_lineage = None  # not registered in this store: the request's own lineage still shows
        trail = self.service.audit_trail(request.id)
        return RequestView(
            request, tally, now, report_html, missing, model_lineage, report_lineage, data_versions, trail
        )
