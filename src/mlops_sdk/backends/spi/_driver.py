"""The shape every run driver shares: a run id as operation id, result and cancel through its service."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Protocol, TypeVar

__all__ = ["RunDriver", "RunService"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class RunService(Protocol[T_co]):
    """What a driver needs of its service: read a run and ask it to stop."""

    def get_run(self, run_id: str) -> T_co:
        """The run as it is now."""
        ...

    def cancel(self, run_id: str) -> None:
        """Ask for cancellation without waiting for it."""
        ...


class RunDriver(Generic[T]):
    """Base of the drivers that follow one run by its id (training runs, training pipeline runs).

    A subclass sets ``KIND`` (the routing key of continuation tokens) and implements ``poll`` of
    :class:`~mlops_sdk.core.operation.OperationDriver`; ``result``, ``cancel`` and ``state`` go
    through the service, and the run id is all a continuation token needs.
    """

    KIND: ClassVar[str]
    _run_id: str
    _service: RunService[T]

    def __init__(self, service: RunService[T], run_id: str) -> None:
        self._service = service
        self._run_id = run_id

    @property
    def kind(self) -> str:
        """The operation kind (``KIND``)."""
        return self.KIND

    @property
    def id(self) -> str:
        """The run id (the job name on Azure ML)."""
        return self._run_id

    def result(self) -> T:
        """The finished run."""
        return self._service.get_run(self._run_id)

    def cancel(self) -> None:
        """Ask the backend to cancel the run."""
        self._service.cancel(self._run_id)

    def state(self) -> dict[str, Any]:
        """Nothing beyond the run id is needed to re-attach."""
        return {}
