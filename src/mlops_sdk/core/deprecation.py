"""Deprecated names keep working for one release and say what replaces them."""

from __future__ import annotations

import warnings

__all__ = ["deprecated"]


def deprecated(old: str, new: str) -> None:
    """Warn (``DeprecationWarning``, pointing at the caller's line) that ``old`` is replaced by ``new``."""
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=4,  # deprecated() <- the deprecated method <- the tracing wrapper <- the user's line
    )
