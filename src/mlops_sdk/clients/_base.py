"""What every public client shares: configuration, one lazily created backend, operations, closing.

A client is either standalone (``TrainingClient("local://.mlops")``, which owns its backend) or a
sub-client of :class:`~mlops_sdk.MLOpsClient` (sharing the hub's backend, which the hub closes).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

from mlops_sdk.backends.base import Backend
from mlops_sdk.backends.spi.keys import ServiceKey
from mlops_sdk.core.arguments import ArgumentChecker, argument_checker
from mlops_sdk.core.clock import Clock, default_clock
from mlops_sdk.core.config import Config, load_config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.operation import (
    Operation,
    OperationDriver,
    PollingOptions,
    ProgressEvent,
    decode_token,
    require_kind,
    token_matches_target,
)
from mlops_sdk.core.tracing import traced

__all__ = ["BaseClient", "ClientContext"]

T = TypeVar("T")
S = TypeVar("S")
C = TypeVar("C", bound="BaseClient")


class ClientContext:
    """Configuration, credential, clock and the (lazily created) backend shared by a set of clients."""

    def __init__(self, config: Config, *, credential: Any = None, clock: Clock | None = None) -> None:
        self.config = config
        self.credential = credential
        self.clock: Clock = clock or default_clock()
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        target: str | None = None,
        *,
        credential: Any = None,
        clock: Clock | None = None,
        profile: str | None = None,
        config_file: str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> ClientContext:
        """Resolve the configuration (arguments > env > file > defaults) and build a context.

        ``credential`` is a credential object (anything with ``get_token``), or the name of a credential
        kind (``"client_secret"``, ``"managed_identity"``, ...), which is the ``credential`` setting given
        as an argument and checked like it.
        """
        overrides = {**(settings or {}), "target": target}
        if isinstance(credential, str):
            overrides["credential"], credential = credential, None
        elif credential is not None and not callable(getattr(credential, "get_token", None)):
            raise ConfigurationError(
                f"credential must be a token credential (an object with get_token, e.g. from azure.identity) or "
                f"the name of a credential kind such as 'client_secret'; got {type(credential).__name__}",
                details={"field": "credential"},
            )
        return cls(load_config(overrides, profile=profile, config_file=config_file), credential=credential, clock=clock)

    @property
    def backend(self) -> Backend:
        """The backend for the configured target, created on first use."""
        with self._lock:
            if self._backend is None:
                from mlops_sdk.backends.registry import create_backend

                self._backend = create_backend(self.config, credential=self.credential, clock=self.clock)
            return self._backend

    @property
    def target(self) -> str:
        """The target URI string."""
        return self.config.settings.target

    def close(self) -> None:
        """Close the backend if it was created (idempotent)."""
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()


class BaseClient:
    """Base of every public client.

    Args:
        target: Target URI; default from configuration (``local://.mlops`` when nothing is set).
        credential: An azure-identity credential for Azure targets, or the name of a credential kind
            (``"client_secret"``, ...: the ``credential`` setting); default: chosen from the config.
        clock: Time source (tests pass a fake clock).
        profile: Config profile to apply.
        config_file: Config file to read instead of searching for ``mlops.toml`` / ``pyproject.toml``.
        settings: Further settings as arguments (highest precedence), e.g. ``{"data_factory": "f"}``.
        context: Share another client's context instead (used by :class:`~mlops_sdk.MLOpsClient`).
    """

    _capability: str = ""
    """The backend capability this client drives (``"training"``, ...)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap every public method of a client in one OpenTelemetry span (``mlops.<capability>.<method>``),
        inside which its arguments are checked against its annotations (:mod:`mlops_sdk.core.arguments`)."""
        super().__init_subclass__(**kwargs)
        prefix = cls._capability or cls.__name__.lower()
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(member) or getattr(member, "__mlops_traced__", False):
                continue
            check = argument_checker(member, f"{cls.__name__}.{name}")
            setattr(cls, name, traced(f"{prefix}.{name}", before=check)(member))

    def __init__(
        self,
        target: str | None = None,
        *,
        credential: Any = None,
        clock: Clock | None = None,
        profile: str | None = None,
        config_file: str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
        context: ClientContext | None = None,
    ) -> None:
        _check_constructor(type(self).__name__, target, credential, clock, profile, config_file, settings, context)
        self._owns_context = context is None
        self._context = context or ClientContext.create(
            target, credential=credential, clock=clock, profile=profile, config_file=config_file, settings=settings
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._context.target!r})"

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def target(self) -> str:
        """The target URI this client works on."""
        return self._context.target

    @property
    def backend_name(self) -> str:
        """Name of the backend in use (``"local"``, ``"azure"``, or a plugin's)."""
        return self._context.backend.name

    @property
    def state_folder(self) -> Path | None:
        """The folder on this machine where the backend keeps its state (the ``local://`` store folder),
        or ``None`` for a remote or in-memory backend. Composition helpers (flows) keep their journal there."""
        return self._context.backend.state_folder

    def close(self) -> None:
        """Release what this client opened (a sub-client leaves that to its hub)."""
        if self._owns_context:
            self._context.close()

    # -- helpers for subclasses --------------------------------------------------------------------

    @overload
    def _service(self, key: ServiceKey[S]) -> S: ...

    @overload
    def _service(self, key: type[S]) -> S: ...

    def _service(self, key: ServiceKey[S] | type[S]) -> S:
        """The backend's service for ``key`` (a typed key; a protocol class means this client's capability)."""
        if isinstance(key, ServiceKey):
            return self._context.backend.service(key)
        return self._context.backend.service(self._capability, key)

    def _polling(self, default: PollingOptions | None = None) -> PollingOptions:
        """Polling intervals: the configured ones win, else ``default``, else the backend's."""
        settings = self._context.config.settings
        base = default or self._context.backend.polling
        return replace(
            base,
            initial_interval=settings.poll_interval or base.initial_interval,
            max_interval=settings.poll_max_interval or base.max_interval,
        )

    def _operation(
        self,
        driver: OperationDriver[T],
        *,
        description: str,
        progress: Callable[[ProgressEvent], None] | None = None,
        show_progress: bool | None = None,
        cancel_on_interrupt: bool | None = None,
        polling: PollingOptions | None = None,
    ) -> Operation[T]:
        settings = self._context.config.settings
        return Operation(
            driver,
            target=self.target,
            clock=self._context.clock,
            polling=self._polling(polling),
            progress=progress,
            show_progress=settings.show_progress if show_progress is None else show_progress,
            cancel_on_interrupt=cancel_on_interrupt,
            description=description,
        )

    def _resume(
        self, token: str, resumers: Mapping[str, Callable[[str, dict[str, Any]], Operation[Any]]]
    ) -> Operation[Any]:
        """Decode ``token``, check it belongs to this target and kind, and rebuild the operation."""
        decoded = decode_token(token)
        token_matches_target(decoded, self.target)
        require_kind(decoded, resumers)
        return resumers[decoded.kind](decoded.id, decoded.state)


_constructor = ArgumentChecker(BaseClient.__init__, "client")


def _check_constructor(name: str, *values: Any) -> None:
    """The constructor's arguments checked like every method's (the message names the client class)."""
    keywords = ("target", "credential", "clock", "profile", "config_file", "settings", "context")
    _constructor.check((None, values[0]), dict(zip(keywords[1:], values[1:], strict=True)), qualified=name)
