"""The ``local://`` backend class (imported lazily by the package, see its docstring)."""

from __future__ import annotations

import shutil
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from mlops_sdk.backends.base import Backend, DoctorCheck, pip_install_command, require_modules
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.config import Config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.operation import PollingOptions
from mlops_sdk.core.store import LocalStore
from mlops_sdk.core.targets import LocalTarget, Target

__all__ = ["LOCAL_EXTRA_MODULES", "LocalBackend"]

LOCAL_EXTRA_MODULES = ("mlflow", "duckdb", "pyarrow", "starlette", "uvicorn")


class LocalBackend(Backend):
    """Everything under one folder: ``mlops.db``, ``mlflow.db``, ``artifacts/``, ``datasets/``, ``endpoints/``."""

    name: ClassVar[str] = "local"
    target_type: ClassVar[type[Target]] = LocalTarget
    # A local poll is one SQLite read: look often, so a finished run is noticed within half a second.
    polling: ClassVar[PollingOptions] = PollingOptions(initial_interval=0.05, max_interval=0.5, factor=1.3)

    def __init__(self, target: Target, config: Config, *, credential: Any = None, clock: Clock | None = None):
        if not isinstance(target, LocalTarget):
            raise ConfigurationError(f"the local backend needs a local:// target, got {target}")
        super().__init__(target.resolved(config.base_dir), config, credential=credential, clock=clock)
        self.local_target: LocalTarget = self.target  # type: ignore[assignment]

    @property
    def folder(self) -> Path:
        """The store folder (absolute)."""
        return self.local_target.folder

    @property
    def state_folder(self) -> Path:
        """The store folder (absolute)."""
        return self.folder

    @cached_property
    def store(self) -> LocalStore:
        """The SQLite store, opened on first use."""
        return LocalStore(self.folder)

    def require_extra(self, purpose: str, modules: tuple[str, ...] = LOCAL_EXTRA_MODULES) -> None:
        """Raise a :class:`ConfigurationError` naming ``pip install 'mlops-sdk[local]'`` if a module is missing."""
        require_modules(modules, extra="local", purpose=purpose)

    def doctor(self) -> list[DoctorCheck]:
        """Extras installed, folder writable, database readable."""
        checks = []
        try:
            self.require_extra("the local backend")
            checks.append(DoctorCheck("local extra", True, "mlflow, duckdb, pyarrow, starlette, uvicorn installed"))
        except ConfigurationError as error:
            checks.append(DoctorCheck("local extra", False, error.message, pip_install_command("local")))
        try:
            self.store.schema_version("store")
            free = shutil.disk_usage(self.folder).free / 2**30
            checks.append(DoctorCheck("local store", True, f"{self.store.path} ({free:.1f} GiB free)"))
        except (OSError, sqlite3.Error, ConfigurationError) as error:
            if isinstance(error, ConfigurationError):
                fix = "follow the message above"
            elif isinstance(error, sqlite3.Error):
                fix = f"{self.folder / 'mlops.db'} is not a usable SQLite database: move it aside or use another folder"
            else:
                fix = f"make {self.folder} writable, or point the target at a writable folder"
            checks.append(DoctorCheck("local store", False, f"{self.folder}: {error}", fix))
        return checks

    def close(self) -> None:
        """Close services, then the store."""
        super().close()
        if "store" in self.__dict__:
            self.store.close()
