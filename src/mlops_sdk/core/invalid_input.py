"""Turning pydantic's ``ValidationError`` into our :class:`~mlops_sdk.core.errors.ConfigurationError`, once.

Users pass the SDK's value types or plain dicts; a dict that does not validate must surface as the
SDK's own typed error (never a pydantic exception), naming every bad field and what was wrong with it.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["ThreadFlag", "inside", "invalid_input", "is_nested", "problems", "unknown_key_hint", "validate_input"]

M = TypeVar("M", bound=BaseModel)

# A model-level check names the field it is about first: "activities: two activities are named 'x'".
_LEADING_FIELD = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_.]*): (?P<message>.+)$", re.S)


class ThreadFlag:
    """A per-thread flag that nested ``with flag.raised():`` blocks hold up (true while any is open)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __bool__(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def raised(self) -> Iterator[None]:
        """The flag is true inside the block (and in blocks nested in it, in this thread)."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth


_nesting = ThreadFlag()


def is_nested() -> bool:
    """True while a value is validated inside another (or inside :func:`validate_input`)."""
    return bool(_nesting)


def inside() -> contextlib.AbstractContextManager[None]:
    """Validation of a value inside another: an input spec's constructor then leaves its problems
    pydantic's (with their path), so the outermost caller reports all of them as one ConfigurationError."""
    return _nesting.raised()


def _models_in(annotation: Any) -> set[type[BaseModel]]:
    """The pydantic models an annotation can hold (through unions, lists, dicts, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    found: set[type[BaseModel]] = set()
    for argument in get_args(annotation):
        found |= _models_in(argument)
    return found


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Every keyword ``model`` accepts (field names and their string aliases) -> the field name."""
    keys: dict[str, str] = {}
    for name, info in model.model_fields.items():
        keys[name] = name
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                keys[alias] = name
    return keys


def unknown_key_hint(model: Any, loc: tuple[str | int, ...]) -> str:
    """What to say about the unknown key at ``loc`` of a ``model`` (a class, or an annotation such as
    a union of classes): ``did you mean `steps`?``, else the accepted keys."""
    models = _models_in(model)
    for part in loc[:-1]:  # follow the path to the model the key was given to
        inner = {
            found
            for current in models
            if isinstance(part, str) and part in _keys(current)
            for found in _models_in(current.model_fields[_keys(current)[part]].annotation)
        }
        models = inner or models  # a list index, dict key or union tag stays at the same models
    keys = sorted({key for current in models for key in _keys(current)})
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.7) if loc else []
    return f"did you mean `{close[0]}`?" if close else f"accepted: {', '.join(keys)}"


def problems(error: ValidationError, *, root: str, model: Any = None) -> list[str]:
    """One ``"<field path>: <message>"`` line per problem; ``root`` names a problem of the whole value.

    With ``model`` (the class validated), an unknown key's line says which key was probably meant.
    """
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and model is not None:
            message = f"{message}; {unknown_key_hint(model, tuple(item['loc']))}"
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
    model: Any = None,
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
    lines = problems(error, root=root or field or what, model=model)
    place = f" in {where}" if where else ""
    extra: dict[str, Any] = {"field": field} if field else {}
    return ConfigurationError(
        f"invalid {what}{place}: " + "; ".join(lines), details={**extra, "errors": lines, **(details or {})}
    )


def validate_input(model: type[M], data: Any, *, what: str, field: str | None = None, where: str | None = None) -> M:
    """``model.model_validate(data)``, with a failure raised as :func:`invalid_input`'s error."""
    try:
        with inside():
            return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error, what=what, field=field, where=where, model=model) from error
