"""The embedded ``local://`` backend: really trains, stores, serves and audits on one machine.

:class:`LocalBackend` is loaded on first use: the endpoint server and the training supervisor live in
this package and start as their own processes, which then never pay for the backend's configuration
machinery (pydantic-settings, tenacity) they do not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_sdk.backends.local._backend import LOCAL_EXTRA_MODULES, LocalBackend

__all__ = ["LOCAL_EXTRA_MODULES", "LocalBackend"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mlops_sdk.backends.local import _backend

        return getattr(_backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
