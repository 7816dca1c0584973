"""The backend SPI: what every backend (built-in or third-party) provides.

A backend owns a target and hands out one *service* per capability (``training``, ``models``,
``data_factory``, ...), looked up with a typed key (``backend.service(MODELS)``, keys in
``backends/spi/keys.py``). Services are found by convention: capability ``X`` of a backend whose class
lives in package ``P`` is the module ``P.X``, which exposes ``create_service(backend)``. So adding a
capability to a backend is adding one module, and a backend that lacks one answers with a clear
:class:`~mlops_sdk.core.errors.ConfigurationError` instead of an ``AttributeError``.

The capability protocols themselves live in ``backends/spi/<capability>.py``.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast, overload

from pydantic import BaseModel

from mlops_sdk.backends.spi.keys import ServiceKey
from mlops_sdk.core.clock import Clock, default_clock
from mlops_sdk.core.config import Config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.invalid_input import validate_input
from mlops_sdk.core.operation import PollingOptions
from mlops_sdk.core.retry import RetryPolicy
from mlops_sdk.core.targets import Target

__all__ = ["Backend", "DoctorCheck", "pip_install_command", "require_modules"]

S = TypeVar("S")


@dataclass(frozen=True)
class DoctorCheck:
    """One line of ``mlops doctor``: what was checked, whether it is fine, and how to fix it if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def pip_install_command(extra: str) -> str:
    """The exact command installing ``mlops-sdk[extra]`` into the environment running this code."""
    if sys.platform == "win32":
        return subprocess.list2cmdline([sys.executable, "-m", "pip", "install", f"mlops-sdk[{extra}]"])
    return shlex.join([sys.executable, "-m", "pip", "install", f"mlops-sdk[{extra}]"])


def require_modules(modules: Sequence[str], *, extra: str, purpose: str) -> None:
    """Raise :class:`ConfigurationError` naming the ``pip install`` to run when a module is missing."""
    missing = [name for name in modules if importlib.util.find_spec(name.split(".")[0]) is None]
    if not missing:
        # find_spec on a dotted name imports the parent packages: only check those that exist.
        missing = [name for name in modules if _find_dotted(name) is None]
    if missing:
        raise ConfigurationError(
            f"{purpose} needs {', '.join(missing)}, which is not installed. Run: pip install 'mlops-sdk[{extra}]'",
            details={"missing": missing, "extra": extra},
        )


def _find_dotted(name: str) -> object | None:
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def backend_section(
    config: Config, name: str, model: type[BaseModel] | None, scheme: str = ""
) -> tuple[Config, BaseModel | None]:
    """Validate ``[backends.<name>]`` (or ``[backends.<scheme>]``) with ``model`` and lay it over the flat keys.

    A key of the section that is also a flat setting (``data_factory`` for Azure) replaces the flat value
    when that came from a file or the default; arguments and ``MLOPS_*`` variables still win.
    """
    values = config.settings.backends.get(name) or config.settings.backends.get(scheme) or {}
    where = f"[backends.{name}]" + (f" of {config.file}" if config.file else "")
    if model is None:
        if values:
            raise ConfigurationError(
                f"the {name} backend takes no settings; remove {where} (keys: {', '.join(sorted(values))})",
                details={"field": f"backends.{name}", "keys": sorted(values)},
            )
        return config, None
    settings = validate_input(model, values, what=f"{name} backend settings", field=f"backends.{name}", where=where)
    given = settings.model_dump(exclude_unset=True)
    flat = {
        key: value
        for key, value in given.items()
        if key in type(config.settings).model_fields
        and not config.sources.get(key, "default").startswith(("argument", "env "))
    }
    if not flat:
        return config, settings
    sources = {**config.sources, **dict.fromkeys(flat, where)}
    return replace(config, settings=config.settings.model_copy(update=flat), sources=sources), settings


class Backend(abc.ABC):
    """Base class of every backend.

    Args:
        target: The parsed target URI.
        config: The effective configuration.
        credential: An azure-identity ``TokenCredential`` (Azure backends) or ``None``.
        clock: Where time comes from.
    """

    name: ClassVar[str]
    """Short name recorded in errors and tokens (``"local"``, ``"azure"``)."""
    target_type: ClassVar[type[Target]]
    """The :class:`Target` subclass this backend parses its URI with."""
    polling: ClassVar[PollingOptions] = PollingOptions()
    """How often operations on this backend are polled unless configured (a local poll is one SQLite read)."""
    settings_model: ClassVar[type[BaseModel] | None] = None
    """The model of this backend's own keys, read from ``[backends.<name>]`` (extra keys forbidden);
    ``None``: the backend takes none. A plugin declares its keys here without touching core config."""

    def __init__(self, target: Target, config: Config, *, credential: Any = None, clock: Clock | None = None):
        self.target = target
        # config: with this backend's [backends.<name>] keys applied; settings: those keys, validated
        self.config, self.settings = backend_section(config, self.name, type(self).settings_model, target.scheme)
        self.credential = credential
        self.clock: Clock = clock or default_clock()
        self._services: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy built from the configuration, on this backend's clock."""
        settings = self.config.settings
        return RetryPolicy(max_attempts=settings.retry_max_attempts, deadline=settings.retry_deadline, clock=self.clock)

    @overload
    def service(self, capability: ServiceKey[S]) -> S: ...

    @overload
    def service(self, capability: str, protocol: type[S]) -> S: ...

    def service(self, capability: ServiceKey[S] | str, protocol: type[S] | None = None) -> S:
        """Return this backend's service for ``capability`` (created once, on first use).

        Pass a typed key (``backend.service(MODELS)``, see :mod:`mlops_sdk.backends.spi.keys`); the
        older ``backend.service("models", ModelService)`` form still works for third-party capabilities.

        Raises:
            ConfigurationError: the backend has no such capability (yet).
        """
        if isinstance(capability, ServiceKey):
            capability = capability.name
        with self._lock:
            if self._closed:
                raise ConfigurationError(f"the {self.name} backend for {self.target} is closed")
            if capability not in self._services:
                self._services[capability] = self._create_service(capability)
            return cast(S, self._services[capability])

    def _create_service(self, capability: str) -> Any:
        # The package the backend class lives in (its own package when defined in __init__.py).
        package = sys.modules[type(self).__module__].__package__
        module_name = self._provider_module(capability) or f"{package}.{capability}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            raise ConfigurationError(
                f"{capability} is not implemented on the {self.name} backend yet",
                backend=self.name,
                details={"capability": capability},
            ) from None
        factory: Callable[[Backend], Any] = module.create_service
        return factory(self)

    def _provider_module(self, capability: str) -> str | None:
        """The module serving ``capability`` when the configuration hands it elsewhere (else None: our own).

        ``approvals_provider = "github"`` serves approvals from GitHub Actions environments on any backend;
        ``"devops"`` is the Azure backend's own service, so it is refused elsewhere.
        """
        if capability != "approvals":
            return None
        provider = self.config.settings.approvals_provider
        if provider == "github":
            return "mlops_sdk.backends.github.approvals"
        if provider == "devops" and self.name != "azure":
            raise ConfigurationError(
                f"approvals_provider = 'devops' needs an azureml:// target (Azure DevOps approvals run on the Azure "
                f"backend); on {self.target} use 'auto' (the backend's own approvals) or 'github'",
                backend=self.name,
                details={"field": "approvals_provider"},
            )
        return None

    @property
    def state_folder(self) -> Path | None:
        """The folder on this machine where the backend keeps its state, or ``None`` (remote backends)."""
        return None

    def doctor(self) -> list[DoctorCheck]:
        """Checks for ``mlops doctor``: extras installed, credentials obtainable, target reachable."""
        return []

    def close(self) -> None:
        """Close every service this backend created (idempotent)."""
        with self._lock:
            services, self._services, self._closed = list(self._services.values()), {}, True
        for service in services:
            close = getattr(service, "close", None)
            if callable(close):
                close()
