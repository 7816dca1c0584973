"""The local backend's approval gate: SQLite state, OS identities, a hash-chained audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_sdk.backends.local import LocalBackend
    from mlops_sdk.backends.local.approvals.service import LocalApprovalService

__all__ = ["create_service"]


def create_service(backend: LocalBackend) -> LocalApprovalService:
    """Create the approvals service for ``backend`` (migrating its tables on first use)."""
    from mlops_sdk.backends.local.approvals.service import LocalApprovalService

    return LocalApprovalService(backend)
