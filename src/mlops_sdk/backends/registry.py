"""Backends registered by URI scheme.

The built-in schemes (``local``, ``azureml``, ``memory``) resolve without scanning anything. Any other scheme is
looked up in the ``mlops_sdk.backends`` entry-point group, so a third-party package adds a backend
with one line in its ``pyproject.toml``::

    [project.entry-points."mlops_sdk.backends"]
    mycloud = "my_package.backend:MyCloudBackend"
"""

from __future__ import annotations

import difflib
import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from mlops_sdk.backends.base import Backend
from mlops_sdk.core.clock import Clock
from mlops_sdk.core.config import Config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.targets import LocalTarget, Target, split_scheme

__all__ = ["ENTRY_POINT_GROUP", "backend_class", "create_backend", "parse_target", "supported_schemes"]

ENTRY_POINT_GROUP = "mlops_sdk.backends"

_BUILTIN = {
    "local": "mlops_sdk.backends.local:LocalBackend",
    "azureml": "mlops_sdk.backends.azure:AzureBackend",
    "memory": "mlops_sdk.backends.memory:MemoryBackend",
}


@cache
def _plugins() -> dict[str, Any]:
    return {ep.name.lower(): ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name.lower() not in _BUILTIN}


def supported_schemes() -> list[str]:
    """Every scheme a target URI may use: the built-ins and those installed plugins register."""
    return sorted({*_BUILTIN, *_plugins()})


def backend_class(scheme: str) -> type[Backend]:
    """Return the backend class registered for ``scheme``."""
    scheme = scheme.lower()
    if scheme in _BUILTIN:
        module_name, _, class_name = _BUILTIN[scheme].partition(":")
        loaded: Any = getattr(importlib.import_module(module_name), class_name)
    elif scheme in _plugins():
        try:
            loaded = _plugins()[scheme].load()
        except Exception as error:  # a broken plugin must not look like our bug
            raise ConfigurationError(
                f"the backend plugin for scheme {scheme!r} failed to load: {error}", details={"scheme": scheme}
            ) from error
    else:
        close = difflib.get_close_matches(scheme, supported_schemes(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigurationError(
            f"no backend for scheme {scheme!r}; {hint}supported schemes: {', '.join(supported_schemes())}",
            details={
                "field": "target",
                "scheme": scheme,
                "supported": supported_schemes(),
                "suggested_scheme": close[0] if close else None,
            },
        )
    if not (isinstance(loaded, type) and issubclass(loaded, Backend)):
        raise ConfigurationError(f"the backend registered for {scheme!r} is not an mlops_sdk Backend subclass")
    return loaded


def parse_target(uri: str, *, base_dir: Any = None) -> Target:
    """Parse a target URI with the backend registered for its scheme.

    Relative ``local://`` folders resolve against ``base_dir`` (a :class:`pathlib.Path`) when given.
    """
    target = backend_class(split_scheme(uri)).target_type.parse(uri)
    if isinstance(target, LocalTarget) and base_dir is not None:
        return target.resolved(base_dir)
    return target


def create_backend(config: Config, *, credential: Any = None, clock: Clock | None = None) -> Backend:
    """Create the backend for ``config.settings.target``."""
    target = parse_target(config.settings.target, base_dir=config.base_dir)
    cls = backend_class(target.scheme)
    return cls(target, config, credential=credential, clock=clock)
