"""Every spec users build refuses any value with a ConfigurationError naming the field, never a Python error.

A sweep over every public :class:`InputSpec` (strategies, smoke tests, jobs, pipelines, monitors,
policies, activities...) and every field, with values of the wrong type and shape: ``None``, huge and
non-finite numbers, control characters, bytes, empty and odd containers, dicts with non-text keys
(a nested spec is built from them), data frames, callables. Each constructor call either builds the
spec or raises ``ConfigurationError`` whose ``details["field"]`` names the class or the field.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlops_sdk
import mlops_sdk.checks
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.input_spec import InputSpec

SPECS = sorted(
    {
        obj
        for module in (mlops_sdk, mlops_sdk.checks)
        for obj in (getattr(module, name) for name in dir(module))  # the package exports lazily
        if inspect.isclass(obj) and issubclass(obj, InputSpec) and obj is not InputSpec
    },
    key=lambda cls: cls.__name__,
)

_ODD: list[Any] = [
    None, 0, -1, 10**30, 1.5, float("nan"), float("inf"), True, "", " ", "\x00", "a\nb", "x" * 300, b"\xff",
    [], [None], [1, "a"], {}, {"a": None}, {1: 2}, {"a": [1]}, (1,), {1, 2}, object(), Path("/nonexistent"),
    pd.DataFrame({"a": [1]}), np.float64("nan"), np.array([1.0]), len, 1j, "-1h", "a b",
]  # fmt: skip
VALUES = [*_ODD, *({key: odd} for key in ("kind", "window", "path", "type", "percent") for odd in _ODD[:20])]


def test_the_sweep_finds_the_specs() -> None:
    names = {cls.__name__ for cls in SPECS}
    assert {"Canary", "Monitor", "TrainingJob", "TrainingPipeline", "ApprovalPolicy", "Resources"} <= names


@pytest.mark.parametrize("spec", SPECS, ids=lambda cls: cls.__name__)
def test_any_value_of_any_field_builds_or_is_a_configuration_error(spec: type[InputSpec]) -> None:
    refused = 0
    for field in spec.model_fields:
        for value in VALUES:
            try:
                spec(**{field: value})
            except ConfigurationError as error:
                refused += 1
                named = str(error.details.get("field", ""))
                assert spec.__name__ in named or field in named, f"{spec.__name__}({field}={value!r}): {error.details}"
    assert refused  # every spec refuses something in this list
