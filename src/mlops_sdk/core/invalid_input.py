"""Turning pydantic's ``ValidationError`` into our :class:`~mlops_sdk.core.errors.ConfigurationError`, once.

Users pass the SDK's value types or plain dicts; a dict that does not validate must surface as the
SDK's own typed error (never a pydantic exception), naming every bad field and what was wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["invalid_input", "problems", "validate_input"]

M = TypeVar("M", bound=BaseModel)

# A model-level check names the field it is about first: "activities: two activities are named 'x'".
_LEADING_FIELD = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_.]*): (?P<message>.+)$", re.S)


def problems(error: ValidationError, *, root: str) -> list[str]:
    """One ``"<field path>: <message>"`` line per problem; ``root`` names a problem of the whole value."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if not path:
            leading = _LEADING_FIELD.match(message)
            path, message = (leading["field"], leading["message"]) if leading else (root, message)
        lines.append(f"{path}: {message}")
    return lines


def location(error: ValidationError) -> tuple[str | int, ...]:
    """Where the first problem of ``error`` is (``()`` for the whole value)."""
    found = error.errors()
    return tuple(found[0]["loc"]) if found else ()


def invalid_input(
    error: ValidationError,
    *,
    what: str,
    field: str | None = None,
    where: str | None = None,
    root: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ConfigurationError:
    """The :class:`ConfigurationError` for ``error``: ``invalid <what>[ in <where>]: <field>: <problem>; ...``.

    A :class:`ConfigurationError` raised inside a validator is returned as it is (it already says
    what to do). A problem of the whole value is reported under ``root`` (default: ``field``, else
    ``what``). ``details`` carries ``field`` (when given) and ``errors`` (the problem lines).
    """
    for item in error.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigurationError):
            return cause
    lines = problems(error, root=root or field or what)
    place = f" in {where}" if where else ""
    extra: dict[str, Any] = {"field": field} if field else {}
    return ConfigurationError(
        f"invalid {what}{place}: " + "; ".join(lines), details={**extra, "errors": lines, **(details or {})}
    )


def validate_input(model: type[M], data: Any, *, what: str, field: str | None = None, where: str | None = None) -> M:
    """``model.model_validate(data)``, with a failure raised as :func:`invalid_input`'s error."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error, what=what, field=field, where=where) from error
