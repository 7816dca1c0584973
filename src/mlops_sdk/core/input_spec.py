"""The base of every value type users build (strategies, smoke tests, jobs, policies, monitors...).

An :class:`InputSpec` refuses unknown keywords (a typo must never silently fall back to a default:
``BlueGreen(step=[10, 100])`` would otherwise roll out in the default steps) and its constructor
raises :class:`~mlops_sdk.core.errors.ConfigurationError` naming the class and every bad field, with
a "did you mean" for a misspelled one, instead of pydantic's ``ValidationError``. Results the SDK
returns are plain frozen models: they are read back from stored data and stay tolerant.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_sdk.core.invalid_input import inside, invalid_input, is_nested, location

__all__ = ["InputSpec"]


class InputSpec(BaseModel):
    """A frozen pydantic model users construct: unknown keys are refused, errors are typed.

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
                super().__init__(**data)
        except ValidationError as error:
            if not outermost:
                raise
            name = type(self).__name__
            field = ".".join([name, *(str(part) for part in location(error))])
            raise invalid_input(error, what=name, field=field, root=name, model=type(self)) from None
