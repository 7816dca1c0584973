"""The built-in checks' constructors check their arguments like every input spec does.

The checks are frozen dataclasses (cheap to build, hashable, compared by value). :func:`checked_arguments`
puts an :class:`~mlops_sdk.core.input_spec.InputSpec` built from a check's fields in front of its
constructor, so a misspelled keyword (``MetricThreshold("r2", mn=0.3)``), a value of the wrong type
(``min="high"``, ``greater_is_better="maybe"``) or a NaN bound (every comparison with NaN is false: the
check could never fail) raises :class:`~mlops_sdk.core.errors.ConfigurationError` naming the class and
the field, with a "did you mean", instead of being accepted and failing (or silently passing) at run time.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ConfigDict, Field, ValidationInfo, create_model, field_validator

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.input_spec import InputSpec

__all__ = ["checked_arguments"]

C = TypeVar("C", bound=type)


class _Arguments(InputSpec):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("*")
    @classmethod
    def _no_nan(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[info.field_name] if info.field_name else None
        if field is not None and "float" in repr(field.annotation) and _has_nan(value):
            raise ValueError("must be a number, not NaN (a NaN bound passes or fails every comparison)")
        return value


def _has_nan(value: Any) -> bool:
    """Whether ``value``, or a number in the dicts, lists and tuples it is made of, is NaN."""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(map(_has_nan, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_has_nan, value))
    return False


def checked_arguments(cls: C) -> C:
    """Class decorator, outside ``@dataclass``: the constructor validates its arguments first.

    Scalar values come out as validated (``max="60"`` from a hand-written dict becomes ``60.0``);
    containers and objects are handed on as given (a tuple stays a tuple, a DataFrame is not copied).
    """
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    names = [item.name for item in dataclasses.fields(cls) if item.init]

    @functools.wraps(init)
    def checked_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise ConfigurationError(
                f"{cls.__name__} takes at most {len(names)} positional arguments ({', '.join(names)}), got {len(args)}",
                details={"field": names[-1] if names else None},
            )
        for name, value in zip(names, args, strict=False):
            if name in kwargs:
                raise ConfigurationError(
                    f"{cls.__name__} got two values for `{name}` (positional and keyword)", details={"field": name}
                )
            kwargs[name] = value
        validated = _model(cls)(**kwargs)
        values = {
            name: getattr(validated, name) if isinstance(value, bool | int | float | str) else value
            for name, value in kwargs.items()
        }
        init(self, **values)

    cls.__init__ = checked_init  # type: ignore[misc]
    return cls


@functools.cache
def _model(cls: type) -> type[InputSpec]:
    """The input spec of ``cls``'s constructor arguments (built on first use: importing stays cheap)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=item.default_factory)
        else:
            default = ...
        fields[item.name] = (hints[item.name], default)
    with warnings.catch_warnings():  # DataQuality's `schema` shadows BaseModel.schema: harmless here
        warnings.filterwarnings("ignore", message="Field name .* shadows an attribute", category=UserWarning)
        model: type[InputSpec] = create_model(cls.__name__, __base__=_Arguments, __module__=cls.__module__, **fields)
    return model
