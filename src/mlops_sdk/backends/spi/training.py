"""Service protocol for training: what the ``training`` module of every backend provides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mlops_sdk.backends.spi._driver import RunDriver
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.operation import OperationDriver
from mlops_sdk.models.training import TrainingJob, TrainingRun

__all__ = ["TRAIN_KIND", "LogCallback", "TrainingDriver", "TrainingService"]

LogCallback = Callable[[str], None]
"""Receives each new line the training script printed (stdout and stderr), without the newline."""

TRAIN_KIND = "training.train"
"""Operation kind of training runs (routing key of their continuation tokens)."""


class TrainingService(Protocol):
    """Runs training jobs on one backend.

    Drivers returned here have ``kind == "training.train"`` and produce a :class:`TrainingRun`.
    """

    def submit(
        self,
        job: TrainingJob,
        *,
        idempotency_key: str | None,
        lineage: Lineage,
        on_log: LogCallback | None = None,
    ) -> OperationDriver[TrainingRun]:
        """Start the job, or re-attach to the run already started with ``idempotency_key``.

        A run submitted with a key is started at most once, even across crashes of the submitter.
        """
        ...

    def attach(
        self, run_id: str, state: dict[str, Any], *, on_log: LogCallback | None = None
    ) -> OperationDriver[TrainingRun]:
        """Rebuild the driver of an existing run (from a continuation token)."""
        ...

    def get_run(self, run_id: str) -> TrainingRun:
        """Return the run; raises :class:`~mlops_sdk.core.errors.ResourceNotFoundError` if unknown."""
        ...

    def list_runs(self, *, experiment: str | None = None, limit: int = 50) -> list[TrainingRun]:
        """Most recent runs first."""
        ...

    def cancel(self, run_id: str) -> None:
        """Ask for cancellation without waiting for it."""
        ...


class TrainingDriver(RunDriver[TrainingRun]):
    """A training run's driver: ``kind == "training.train"``, the run id (Azure ML job name) as operation id.

    A subclass implements ``poll`` of :class:`~mlops_sdk.core.operation.OperationDriver`.
    """

    KIND = TRAIN_KIND
