"""Helpers reaching the ``memory://`` backend behind a client: its fault injector and its identity."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlops_sdk.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import FaultInjector, MemoryBackend

__all__ = ["act_as", "faults", "memory_backend"]


def memory_backend(client: Any) -> MemoryBackend:
    """The :class:`~mlops_sdk.backends.memory.MemoryBackend` of ``client`` (an ``MLOpsClient`` or any client).

    Raises:
        ConfigurationError: the client is not on a ``memory://`` target.
    """
    from mlops_sdk.backends.memory import MemoryBackend

    context = getattr(client, "_context", None)
    backend = getattr(context, "backend", None)
    if not isinstance(backend, MemoryBackend):
        target = getattr(client, "target", "?")
        raise ConfigurationError(
            f"fault injection and identities need a memory:// client; this one is on {target}",
            details={"field": "client", "value": str(target)},
        )
    return backend


def faults(client: Any) -> FaultInjector:
    """The fault injector of a ``memory://`` client: ``faults(client).fail_next("models.register")``."""
    return memory_backend(client).faults


@contextmanager
def act_as(client: Any, name: str, *, email: str | None = None, groups: tuple[str, ...] = ()) -> Iterator[None]:
    """Cast approval votes (and be ``whoami``) as ``name`` inside the ``with`` block, on a memory client."""
    from mlops_sdk.models.approvals import ApproverIdentity

    store = memory_backend(client).store
    previous = store.identity
    store.identity = ApproverIdentity(name=name, email=email, groups=groups, source="memory")
    try:
        yield
    finally:
        store.identity = previous
