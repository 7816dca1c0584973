"""The ``memory://`` backend: the whole SPI in process and in memory, for unit tests.

No subprocess, no server, no database: training scripts run in this process, the registry and the
approvals live in dictionaries, time comes from the client's clock, and :class:`FaultInjector` makes
chosen operations fail, hang, or lose their answer. ``memory://NAME`` shares one store between every
client naming it in this process; ``memory://`` gives each backend a private one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

from mlops_sdk.backends.base import Backend, DoctorCheck
from mlops_sdk.backends.memory.faults import FaultInjector
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.config import Config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.operation import PollingOptions
from mlops_sdk.core.targets import Target, split_scheme
from mlops_sdk.models.approvals import ApproverIdentity

__all__ = ["FaultInjector", "MemoryBackend", "MemoryStore", "MemoryTarget", "reset_memory_stores"]


class MemoryTarget(Target):
    """``memory://`` (a private store) or ``memory://NAME`` (shared by name within the process)."""

    scheme: ClassVar[str] = "memory"
    namespace: str = ""

    @classmethod
    def parse(cls, uri: str) -> MemoryTarget:
        """Parse a ``memory://`` URI."""
        if split_scheme(uri) != cls.scheme:
            raise ConfigurationError(f"{uri!r} is not a {cls.scheme}:// target")
        rest = uri.split("://", 1)[1].strip("/")
        if rest and not rest.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigurationError(
                f"memory target {uri!r} is invalid; use memory:// or memory://NAME (letters, digits, '-', '_', '.')",
                details={"field": "target", "value": uri},
            )
        return cls(uri=f"{cls.scheme}://{rest}", namespace=rest)


class MemoryStore:
    """Everything one memory backend holds: services' state, faults, identity and a scratch folder.

    Training outputs are real files (models are folders), kept in a temporary folder removed by
    :meth:`close`.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.identity: ApproverIdentity | None = None
        self.state: dict[str, Any] = {}
        self._scratch: Path | None = None

    @property
    def scratch(self) -> Path:
        """The folder training outputs are written to (created on first use)."""
        with self.lock:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="mlops-memory-"))
            return self._scratch

    def close(self) -> None:
        """Drop the state and remove the scratch folder."""
        with self.lock:
            scratch, self._scratch = self._scratch, None
            self.state.clear()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


_SHARED: dict[str, MemoryStore] = {}
_SHARED_LOCK = threading.Lock()


def reset_memory_stores() -> None:
    """Forget every named ``memory://NAME`` store of this process (call between tests)."""
    with _SHARED_LOCK:
        stores = list(_SHARED.values())
        _SHARED.clear()
    for store in stores:
        store.close()


class MemoryBackend(Backend):
    """The in-process backend. Its services live in this package, one module per capability."""

    name: ClassVar[str] = "memory"
    target_type: ClassVar[type[Target]] = MemoryTarget
    polling: ClassVar[PollingOptions] = PollingOptions(initial_interval=0.01, max_interval=0.05, factor=1.5)

    def __init__(self, target: Target, config: Config, *, credential: Any = None, clock: Clock | None = None):
        if not isinstance(target, MemoryTarget):
            raise ConfigurationError(f"the memory backend needs a memory:// target, got {target}")
        super().__init__(target, config, credential=credential, clock=clock)
        if target.namespace:
            with _SHARED_LOCK:
                self.store = _SHARED.setdefault(target.namespace, MemoryStore())
            self._owns_store = False
        else:
            self.store = MemoryStore()
            self._owns_store = True

    @property
    def faults(self) -> FaultInjector:
        """The fault injector of this backend's store."""
        return self.store.faults

    def doctor(self) -> list[DoctorCheck]:
        """Nothing can be missing: the memory backend needs no extra."""
        return [DoctorCheck("memory backend", True, "in-process, nothing to install")]

    def close(self) -> None:
        """Close the services; a private store is dropped with the backend."""
        super().close()
        if self._owns_store:
            self.store.close()
