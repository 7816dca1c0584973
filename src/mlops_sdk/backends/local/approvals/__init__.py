"""The local backend's approval gate: SQLite state, OS identities, a hash-chained audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_sdk.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mlops_sdk.backends.local import LocalBackend

__all__ = ["create_service"]


def create_service(backend: LocalBackend) -> Any:
    """Create the approvals service for ``backend`` (migrating its tables on first use).

    ``approvals_provider = "github"`` hands votes to GitHub Actions environments instead; ``"devops"``
    needs an ``azureml://`` target.
    """
    provider = backend.config.settings.approvals_provider
    if provider == "github":
        from mlops_sdk.backends.github.approvals import create_service as github_service

        return github_service(backend)
    if provider == "devops":
        raise ConfigurationError(
            "approvals_provider = 'devops' needs an azureml:// target (Azure DevOps approvals run on the Azure "
            "backend); on a local:// target use 'auto' (the local store) or 'github'",
            backend="local",
            details={"field": "approvals_provider"},
        )
    from mlops_sdk.backends.local.approvals.service import LocalApprovalService

    return LocalApprovalService(backend)
