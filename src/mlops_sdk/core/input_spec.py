"""The base of every value type users build (strategies, smoke tests, jobs, policies, monitors...).

An :class:`InputSpec` refuses unknown keywords (a typo must never silently fall back to a default:
``BlueGreen(step=[10, 100])`` would otherwise roll out in the default steps) and its constructor
raises :class:`~mlops_sdk.core.errors.ConfigurationError` naming the class and every bad field, with
a "did you mean" for a misspelled one, instead of pydantic's ``ValidationError``. Results the SDK
returns are plain frozen models: they are read back from stored data and stay tolerant.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.invalid_input import ThreadFlag, inside, invalid_input, is_nested, location

__all__ = ["InputSpec", "read_stored", "stored_data"]

M = TypeVar("M", bound=BaseModel)

_stored = ThreadFlag()


def stored_data() -> contextlib.AbstractContextManager[None]:
    """Validation of data the SDK stored (a local row, an operation token, a service's properties):
    input specs inside ignore keys they do not know, which another SDK version may have written."""
    return _stored.raised()


def read_stored(model: type[M], data: Any) -> M:
    """``model`` read back from stored ``data`` (a mapping, or JSON text), tolerant of unknown keys.

    Raises:
        ValidationError: the stored data is not a valid ``model`` (callers say which record it was).
    """
    with stored_data(), inside():
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)


class InputSpec(BaseModel):
    """A frozen pydantic model users construct: unknown keys are refused, errors are typed.

    Read stored copies back with :func:`read_stored` (or inside :func:`stored_data`): keys written by
    another SDK version are then ignored instead of refused.

    Raises:
        ConfigurationError: (from the constructor) a value is invalid or a keyword is unknown; the
            message reads ``invalid <Class>: <field>: <problem>`` (``did you mean `<field>`?`` for a
            misspelled keyword). A spec nested in another spec reports under the outer one's path.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        # pydantic calls this __init__ for nested values too (a Guardrails dict inside a Canary): an
        # inner failure stays pydantic's so the outermost spec reports all problems, with full paths.
        outermost = not is_nested()
        try:
            with inside():
                if _stored:
                    self.__pydantic_validator__.validate_python(data, self_instance=self, extra="ignore")
                else:
                    super().__init__(**data)
        except ValidationError as error:
            if not outermost:
                raise
            name = type(self).__name__
            field = ".".join([name, *(str(part) for part in location(error))])
            raise invalid_input(error, what=name, field=field, root=name, model=type(self)) from None
        except TypeError:
            # pydantic builds a nested spec from a dict as Spec(**value): keys that are not text fail in
            # Python's call itself, before any validator could name the field
            path = _non_text_keys(data) if outermost else None
            if path is None:
                raise
            name = type(self).__name__
            field = ".".join([name, *path])
            raise ConfigurationError(
                f"invalid {name}: {'.'.join(path) or name}: keys must be field names (text); use the spec class "
                "or a dict of its fields",
                details={"field": field},
            ) from None


def _non_text_keys(value: Any, path: tuple[str, ...] = ()) -> list[str] | None:
    """The path to the first dict in ``value`` (nested dicts and lists) with a key that is not text."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return list(path)
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_text_keys(item, (*path, str(key)))
        if found is not None:
            return found
    return None
