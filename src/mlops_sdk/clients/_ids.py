"""Ids as people type them: the full id, or a unique prefix of one (as tables and logs show ids)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError

__all__ = ["MIN_PREFIX", "resolve_prefix"]

T = TypeVar("T")

MIN_PREFIX = 4
"""Shortest prefix looked up (like git's abbreviated commits)."""


def resolve_prefix(wanted: str, *, get: Callable[[str], T], candidates: Callable[[], Iterable[str]], what: str) -> T:
    """``get(wanted)``; when that is not found, ``get`` of the one candidate id starting with ``wanted``.

    Raises:
        ResourceNotFoundError: no id is or starts with ``wanted`` (the original error).
        ConfigurationError: several ids start with ``wanted`` (the message lists them).
    """
    try:
        return get(wanted)
    except ResourceNotFoundError:
        if len(wanted) < MIN_PREFIX:
            raise
        matches = sorted({item for item in candidates() if item.startswith(wanted)})
        if not matches:
            raise
        if len(matches) > 1:
            raise ConfigurationError(
                f"{what} id prefix {wanted!r} is ambiguous: it matches {', '.join(matches)}; give more characters",
                details={"field": "id", "matches": matches},
            ) from None
        return get(matches[0])
