"""Fault injection for the ``memory://`` backend: fail, hang, or drop the answer of chosen operations.

Operations are named ``<capability>.<method>`` (``"models.register"``, ``"training.submit"``,
``"approvals.vote"``, ``"deployments.set_traffic"``, ...), plus two long-running ones: ``"training.run"``
for the training script itself and ``"deployments.provision"`` for a new deployment starting up.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from mlops_sdk.core.errors import MlopsError, ServerError, ServiceRequestError, ServiceResponseError

__all__ = ["LONG_RUNNING", "FaultInjector"]

LONG_RUNNING = frozenset({"training.run", "deployments.provision"})
"""Work that a :meth:`FaultInjector.hang` leaves in progress (a wait then times out) instead of blocking a call."""


@dataclass
class _Plan:
    failures: list[MlopsError] = field(default_factory=list)
    drops: list[int | None] = field(default_factory=list)  # per dropped answer: the status it fails with
    hang: threading.Event | None = None


class FaultInjector:
    """Faults planned for the next calls of named operations, and a count of every call made.

    Args:
        hang_limit: Real seconds a hung *call* blocks before it gives up with
            :class:`ServiceRequestError` (long-running work hangs without blocking; see :meth:`hang`).
    """

    def __init__(self, *, hang_limit: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, _Plan] = {}
        self.hang_limit = hang_limit
        self.calls: Counter[str] = Counter()
        """How often each operation was called (faulted calls included)."""

    def fail_next(self, operation: str, times: int = 1, *, error: MlopsError | None = None) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error`` before doing anything.

        The default error is a :class:`ServerError` (HTTP 503) naming the operation.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            plan = self._plans.setdefault(operation, _Plan())
            for _ in range(times):
                plan.failures.append(
                    error or ServerError(f"injected fault: {operation} failed (503)", backend="memory", status_code=503)
                )

    def drop_answer(self, operation: str, times: int = 1, *, status_code: int | None = None) -> None:
        """Let the next ``times`` calls of ``operation`` take effect, then lose their answer.

        The caller sees :class:`ServiceResponseError` although the side effect happened: exactly the
        case idempotency keys exist for. With ``status_code`` (e.g. 503, a gateway that timed out
        after the service acted) it is a retryable :class:`ServerError`: the caller tries again and
        finds its change already made.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._plans.setdefault(operation, _Plan()).drops.extend([status_code] * times)

    def hang(self, operation: str) -> None:
        """Make ``operation`` hang until :meth:`release`.

        A call blocks (up to ``hang_limit`` real seconds, then :class:`ServiceRequestError`);
        The :data:`LONG_RUNNING` operations instead stay in progress (a training run RUNNING, a new
        deployment provisioning), so waits time out on a fake clock.
        """
        with self._lock:
            self._plans.setdefault(operation, _Plan()).hang = threading.Event()

    def release(self, operation: str) -> None:
        """End a :meth:`hang` of ``operation``."""
        with self._lock:
            plan = self._plans.get(operation)
            event = plan.hang if plan is not None else None
            if plan is not None:
                plan.hang = None
        if event is not None:
            event.set()

    def is_hung(self, operation: str) -> bool:
        """True while ``operation`` hangs."""
        with self._lock:
            plan = self._plans.get(operation)
            return plan is not None and plan.hang is not None

    def clear(self) -> None:
        """Forget every planned fault (and release hangs); the call counts stay."""
        with self._lock:
            plans, self._plans = self._plans, {}
        for plan in plans.values():
            if plan.hang is not None:
                plan.hang.set()

    # -- used by the services -------------------------------------------------------------------------

    def before(self, operation: str) -> None:
        """Count the call; raise a planned failure, or block while the operation hangs."""
        with self._lock:
            self.calls[operation] += 1
            plan = self._plans.get(operation)
            failure = plan.failures.pop(0) if plan and plan.failures else None
            event = plan.hang if plan else None
        if failure is not None:
            raise failure
        if event is not None and operation not in LONG_RUNNING and not event.wait(self.hang_limit):
            raise ServiceRequestError(
                f"injected fault: {operation} hung for {self.hang_limit:g}s without an answer", backend="memory"
            )

    def after(self, operation: str) -> None:
        """Raise :class:`ServiceResponseError` when the answer of this call is to be dropped."""
        with self._lock:
            plan = self._plans.get(operation)
            drop = plan is not None and bool(plan.drops)
            status = plan.drops.pop(0) if plan is not None and drop else None
        if not drop:
            return
        message = f"injected fault: the answer of {operation} was lost after it took effect"
        if status is not None:
            raise ServerError(message, backend="memory", status_code=status)
        raise ServiceResponseError(message, backend="memory")
