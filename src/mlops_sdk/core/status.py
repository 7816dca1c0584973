"""The one status enum for everything, and the maps from each service's native states onto it."""

from __future__ import annotations

from enum import Enum

__all__ = ["Status", "status_from_adf", "status_from_aml", "status_from_devops"]


class Status(str, Enum):
    """Lifecycle state of any run, job, request or deployment."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        """True once the state can no longer change."""
        return self in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    def __str__(self) -> str:
        return self.value


def _lookup(table: dict[str, Status], native: str, service: str) -> Status:
    try:
        return table[native.replace(" ", "").lower()]
    except KeyError:
        raise ValueError(f"unknown {service} status {native!r}; known: {sorted(table)}") from None


_ADF = {
    "queued": Status.NOT_STARTED,
    "inprogress": Status.RUNNING,
    "canceling": Status.RUNNING,  # still running until the service says Cancelled
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELED,
    "canceled": Status.CANCELED,
}

_AML = {
    "notstarted": Status.NOT_STARTED,
    "queued": Status.NOT_STARTED,
    "preparing": Status.NOT_STARTED,
    "provisioning": Status.NOT_STARTED,
    "starting": Status.NOT_STARTED,
    "running": Status.RUNNING,
    "finalizing": Status.RUNNING,
    "cancelrequested": Status.RUNNING,
    "completed": Status.SUCCEEDED,
    "finished": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "notresponding": Status.FAILED,
    "canceled": Status.CANCELED,
    "paused": Status.RUNNING,
    "unknown": Status.RUNNING,
    # online endpoint / deployment provisioning states
    "creating": Status.RUNNING,
    "updating": Status.RUNNING,
    "deleting": Status.RUNNING,
    "scaling": Status.RUNNING,
    "succeeded": Status.SUCCEEDED,
}

_DEVOPS = {
    "notstarted": Status.NOT_STARTED,
    "postponed": Status.NOT_STARTED,
    "inprogress": Status.RUNNING,
    "cancelling": Status.RUNNING,
    "canceling": Status.RUNNING,
    "succeeded": Status.SUCCEEDED,
    "partiallysucceeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "canceled": Status.CANCELED,
    "cancelled": Status.CANCELED,
}


def status_from_adf(native: str) -> Status:
    """Map an Azure Data Factory run status (``Queued``, ``Canceling``, ``Cancelled``, ...)."""
    return _lookup(_ADF, native, "Data Factory")


def status_from_aml(native: str) -> Status:
    """Map an Azure ML job or provisioning status (``Completed``, ``Finalizing``, ...)."""
    return _lookup(_AML, native, "Azure ML")


def status_from_devops(state: str, result: str | None = None) -> Status:
    """Map an Azure DevOps run ``state`` (+ ``result`` once ``completed``) onto :class:`Status`."""
    if state.lower() == "completed":
        return _lookup(_DEVOPS, result or "failed", "Azure DevOps")
    return _lookup(_DEVOPS, state, "Azure DevOps")
